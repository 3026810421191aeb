-- The benchmark's contenders, each on its own table, in database "bench".
-- booking uses the extension's own bookings table (CREATE EXTENSION is run
-- by bench.sh); the others are what a user would write without it.

-- seed-sql and seed-plpgsql: the seed's shape, as a user would write it:
-- an id primary key plus a non-unique index on resource_id.
CREATE SCHEMA seed_sql;
CREATE TABLE seed_sql.bookings (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	resource_id bigint NOT NULL,
	user_id bigint NOT NULL,
	booked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON seed_sql.bookings (resource_id);

CREATE SCHEMA seed_plpgsql;
CREATE TABLE seed_plpgsql.bookings (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	resource_id bigint NOT NULL,
	user_id bigint NOT NULL,
	booked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON seed_plpgsql.bookings (resource_id);

-- The seed's protocol as one function: lock, check, insert; true if booked.
CREATE FUNCTION seed_plpgsql.book(p_resource_id bigint, p_user_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(p_resource_id);
	INSERT INTO seed_plpgsql.bookings (resource_id, user_id)
	SELECT p_resource_id, p_user_id
	WHERE NOT EXISTS (SELECT 1 FROM seed_plpgsql.bookings
					  WHERE resource_id = p_resource_id);
	RETURN FOUND;
END
$$;

-- unique: the leanest constraint-based design.  Its only index is the
-- primary key on resource_id; the identity id is deliberately not indexed,
-- so a booking costs one index write, like booking's.
CREATE SCHEMA uniq;
CREATE TABLE uniq.bookings (
	id bigint GENERATED ALWAYS AS IDENTITY,
	resource_id bigint PRIMARY KEY,
	user_id bigint NOT NULL,
	booked_at timestamptz NOT NULL DEFAULT now()
);

-- attached: the application's own table of issue 9 (an int resource and
-- user, a serial id primary key, a plain index on resource_id), attached to
-- booking and booked through book_resource('att.bookings', ...).
CREATE SCHEMA att;
CREATE TABLE att.bookings (
	id serial PRIMARY KEY,
	resource_id int,
	user_id int
);
CREATE INDEX ON att.bookings (resource_id);
SELECT booking_attach('att.bookings');

-- attached-plpgsql: the same logic as attached, in PL/pgSQL, on the same
-- table: lock, check, insert; true if booked.
CREATE FUNCTION att.book(p_resource_id bigint, p_user_id bigint)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
	PERFORM pg_advisory_xact_lock(p_resource_id);
	INSERT INTO att.bookings (resource_id, user_id)
	SELECT p_resource_id, p_user_id
	WHERE NOT EXISTS (SELECT 1 FROM att.bookings
					  WHERE resource_id = p_resource_id);
	RETURN FOUND;
END
$$;

-- attached-never-analysed: the same table, attached the same way, which
-- nothing ever analyses or vacuums (bench.sh loads it without ANALYZE).
CREATE SCHEMA att_na;
CREATE TABLE att_na.bookings (
	id serial PRIMARY KEY,
	resource_id int,
	user_id int
) WITH (autovacuum_enabled = false, toast.autovacuum_enabled = false);
CREATE INDEX ON att_na.bookings (resource_id);
SELECT booking_attach('att_na.bookings');
