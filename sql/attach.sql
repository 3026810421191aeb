--
-- booking_attach: guarding a table the user already has (version 1.1).
--
-- The scenario of issue 9 end to end, every refusal of booking_attach with
-- its SQLSTATE, history tables (active_when, release_sets), partitioned
-- tables, triggers, row-level security, privileges, the default table,
-- detach, rename and drop, id ranges, and the lookup's use of the index on
-- a never-analysed table.
--
-- The extension is reinstalled into its own schema "booking" here (as a
-- database with its own public.bookings needs it), and put back into public
-- at the end.  Every error is followed by its SQLSTATE (psql's :SQLSTATE).
--
-- No output depends on ids, OIDs or timestamps.
\set VERBOSITY default
\set SHOW_CONTEXT never

DROP EXTENSION booking;

--
-- The scenario: the application's own public.bookings holds resource 99 for
-- user 1.  The extension's table would clash with it in public.
--
CREATE TABLE public.bookings (id serial PRIMARY KEY, resource_id int, user_id int);
INSERT INTO public.bookings (resource_id, user_id) VALUES (99, 1);
CREATE EXTENSION booking; \echo :SQLSTATE
CREATE SCHEMA booking;
GRANT USAGE ON SCHEMA booking TO PUBLIC;
CREATE EXTENSION booking SCHEMA booking;

-- not attached yet: every table-taking form says how to attach
SELECT booking.book_resource('bookings', 99, 42); \echo :SQLSTATE
SELECT booking.try_book_resource('bookings', 99, 42); \echo :SQLSTATE
SELECT booking.book_resources('bookings', '{99}', 42); \echo :SQLSTATE
SELECT booking.release_resource('bookings', 99, 1); \echo :SQLSTATE
SELECT booking.resource_holder('bookings', 99); \echo :SQLSTATE

-- refused for want of an index on the resource column; the hint says which
SELECT booking.booking_attach('bookings'); \echo :SQLSTATE
CREATE INDEX ON public.bookings (resource_id);
SELECT booking.booking_attach('bookings');
SELECT tbl, resource_column, user_column, active_when, release_sets, lock_space, is_default
  FROM booking.booking_tables;

-- resource 99 is booked by the application's row: false; 100 is free
SELECT booking.book_resource('bookings', 99, 42);
SELECT booking.book_resource('bookings', 100, 42);
SELECT booking.book_resource('bookings', 100, 43);
SELECT booking.resource_holder('bookings', 99) AS holder_99,
       booking.resource_holder('bookings', 100) AS holder_100;
SELECT resource_id, user_id FROM public.bookings ORDER BY id;

-- The two-argument form still targets the extension's own table, as in
-- 1.0 (where this "true" was the double booking of issue 9) ...
SELECT booking.book_resource(99, 42) AS own_table;
SELECT resource_id, user_id FROM booking.bookings;
TRUNCATE booking.bookings;
-- ... until the application's table is made the database's default.
SELECT booking.booking_set_default('bookings');
SELECT booking.book_resource(99, 42);
SELECT booking.book_resource(101, 42);
SELECT booking.try_book_resource(101, 43);
SELECT booking.book_resources('{102,103}', 44);
SELECT booking.book_resources('{103,104}', 45);
SELECT booking.resource_holder(99) AS holder_99, booking.resource_holder(103) AS holder_103;
SELECT booking.release_resource(103, 45) AS not_holder;
SELECT booking.release_resource(103, 44) AS released;
SELECT resource_id, user_id FROM public.bookings ORDER BY id;
SELECT count(*) AS own_rows FROM booking.bookings;
SELECT tbl, is_default FROM booking.booking_tables;
-- reset: the own table again
SELECT booking.booking_set_default(NULL);
SELECT booking.book_resource(99, 42) AS own_table;
SELECT tbl, is_default FROM booking.booking_tables;
TRUNCATE booking.bookings;

--
-- Roles: a table owner and two application users, none a superuser.
--
CREATE ROLE regress_booking_owner;
CREATE ROLE regress_booking_alice;
CREATE ROLE regress_booking_bob;
CREATE SCHEMA attach_test AUTHORIZATION regress_booking_owner;
GRANT USAGE ON SCHEMA attach_test TO regress_booking_alice, regress_booking_bob;
SET search_path = attach_test, public;

--
-- Every refusal of booking_attach, with its SQLSTATE.
--
SET ROLE regress_booking_owner;
CREATE TABLE shape (
	id bigint GENERATED ALWAYS AS IDENTITY,
	resource_id bigint,
	user_id bigint,
	label text,
	amount numeric,
	cancelled_at timestamptz,
	booked_at timestamptz NOT NULL DEFAULT now(),
	tags int[]
);
-- NULL arguments name themselves
SELECT booking.booking_attach(NULL); \echo :SQLSTATE
SELECT booking.booking_attach('shape', NULL); \echo :SQLSTATE
SELECT booking.booking_attach('shape', 'resource_id', NULL); \echo :SQLSTATE
SELECT booking.booking_attach('shape', lock_space => NULL); \echo :SQLSTATE
SELECT booking.booking_detach(NULL); \echo :SQLSTATE
-- a missing column, or one that is not smallint, integer or bigint
SELECT booking.booking_attach('shape', 'room'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', user_column => 'customer'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', 'label'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', user_column => 'amount'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', 'tags'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', 'ctid'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', 'resource_id', 'resource_id'); \echo :SQLSTATE
-- no btree index leading with the resource column: none, one on another
-- column first, a hash index, an expression index, a partial index
SELECT booking.booking_attach('shape'); \echo :SQLSTATE
CREATE INDEX shape_user_resource ON shape (user_id, resource_id);
SELECT booking.booking_attach('shape'); \echo :SQLSTATE
CREATE INDEX shape_hash ON shape USING hash (resource_id);
SELECT booking.booking_attach('shape'); \echo :SQLSTATE
CREATE INDEX shape_expr ON shape ((resource_id + 0));
SELECT booking.booking_attach('shape'); \echo :SQLSTATE
CREATE INDEX shape_partial ON shape (resource_id) WHERE cancelled_at IS NULL;
SELECT booking.booking_attach('shape'); \echo :SQLSTATE
-- a btree index leading with it, with more columns after, will do
CREATE INDEX shape_resource ON shape (resource_id, cancelled_at);
-- another NOT NULL column without a default: named
ALTER TABLE shape ADD COLUMN note text NOT NULL;
SELECT booking.booking_attach('shape'); \echo :SQLSTATE
ALTER TABLE shape ALTER COLUMN note SET DEFAULT '';
-- active_when must be one boolean condition on the table's own columns
SELECT booking.booking_attach('shape', active_when => 'amount'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => '42'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'EXISTS (SELECT 1 FROM pg_class)'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'resource_id IN (SELECT 1)'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'count(*) = 0'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'row_number() OVER () = 1'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'generate_series(1, 2) = 1'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'cancelled IS NULL'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'pg_class.relname IS NULL'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => '$1 IS NULL'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => ''); \echo :SQLSTATE
-- ... and nothing that would change the statement around it
SELECT booking.booking_attach('shape', active_when => 'true) OR (true'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'true FROM pg_class'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'true WHERE false'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'true; DROP TABLE shape'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'true, false'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'true AS x'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'true ORDER BY 1'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'true LIMIT 0'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'true UNION SELECT false'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'cancelled_at IS NULL /* unterminated'); \echo :SQLSTATE
-- release_sets must be an UPDATE's SET list for the table
SELECT booking.booking_attach('shape', active_when => 'cancelled_at IS NULL',
	release_sets => 'cancelled = now()'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'cancelled_at IS NULL',
	release_sets => 'ctid = NULL'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'cancelled_at IS NULL',
	release_sets => 'cancelled_at = 1'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'cancelled_at IS NULL',
	release_sets => 'cancelled_at = now() WHERE false'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'cancelled_at IS NULL',
	release_sets => 'cancelled_at = now() FROM pg_class'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'cancelled_at IS NULL',
	release_sets => 'cancelled_at = now() RETURNING *'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'cancelled_at IS NULL',
	release_sets => 'cancelled_at = now(); DROP TABLE shape'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'cancelled_at IS NULL',
	release_sets => 'cancelled_at = (SELECT now())'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'cancelled_at IS NULL',
	release_sets => '(cancelled_at, label) = (now(), ''x'')'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'cancelled_at IS NULL',
	release_sets => '(cancelled_at, label) = (SELECT now(), ''x'')'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'cancelled_at IS NULL',
	release_sets => 'tags[1] = 0'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'cancelled_at IS NULL',
	release_sets => 'cancelled_at = count(*)'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'cancelled_at IS NULL',
	release_sets => 'cancelled_at = now(), cancelled_at = now()'); \echo :SQLSTATE
SELECT booking.booking_attach('shape', active_when => 'cancelled_at IS NULL',
	release_sets => ''); \echo :SQLSTATE
-- release_sets needs active_when: a released row must stop being active
SELECT booking.booking_attach('shape', release_sets => 'cancelled_at = now()'); \echo :SQLSTATE
-- the lock space is 'shared' or 'private'
SELECT booking.booking_attach('shape', lock_space => 'none'); \echo :SQLSTATE
-- nothing was attached by any of the above
SELECT count(*) AS attached FROM booking.booking_tables WHERE tbl = 'shape'::regclass;
-- only the owner may attach, detach or change the settings
RESET ROLE;
SET ROLE regress_booking_alice;
SELECT booking.booking_attach('shape'); \echo :SQLSTATE
RESET ROLE;
-- a temporary table, a view, a materialized view, a sequence, an index
CREATE TEMP TABLE temp_bookings (resource_id bigint, user_id bigint);
CREATE INDEX ON temp_bookings (resource_id);
SELECT booking.booking_attach('temp_bookings'); \echo :SQLSTATE
CREATE VIEW view_bookings AS SELECT resource_id, user_id FROM public.bookings;
SELECT booking.booking_attach('view_bookings'); \echo :SQLSTATE
CREATE MATERIALIZED VIEW matview_bookings AS SELECT resource_id, user_id FROM public.bookings;
CREATE INDEX ON matview_bookings (resource_id);
SELECT booking.booking_attach('matview_bookings'); \echo :SQLSTATE
SELECT booking.booking_attach('public.bookings_id_seq'); \echo :SQLSTATE
SELECT booking.booking_attach('public.bookings_resource_id_idx'); \echo :SQLSTATE
DROP TABLE temp_bookings;
DROP VIEW view_bookings;
DROP MATERIALIZED VIEW matview_bookings;
-- the extension's own table keeps its columns and needs no settings
SELECT booking.booking_attach('booking.bookings', active_when => 'true'); \echo :SQLSTATE
SELECT booking.booking_attach('booking.bookings', 'id'); \echo :SQLSTATE
SELECT booking.booking_attach('booking.bookings', user_column => 'id'); \echo :SQLSTATE
-- a table that is not attached cannot be detached or made the default
SELECT booking.booking_detach('shape'); \echo :SQLSTATE
SELECT booking.booking_set_default('shape'); \echo :SQLSTATE
DROP TABLE shape;

--
-- A table that keeps its history: a row is a booking while it is active,
-- release marks it cancelled.  The texts are stored deparsed, a trailing
-- comment and all parentheses gone.
--
SET ROLE regress_booking_owner;
CREATE TABLE history (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	resource_id bigint NOT NULL,
	user_id bigint NOT NULL,
	booked_at timestamptz NOT NULL DEFAULT now(),
	cancelled_at timestamptz,
	cancelled_by name
);
CREATE INDEX ON history (resource_id);
SELECT booking.booking_attach('history',
	active_when => 'cancelled_at IS NULL -- only live rows',
	release_sets => 'cancelled_at = now(), cancelled_by = current_user');
SELECT active_when, release_sets FROM booking.booking_tables
 WHERE tbl = 'history'::regclass;
GRANT SELECT, INSERT, UPDATE ON history TO regress_booking_alice, regress_booking_bob;
SET ROLE regress_booking_alice;
SELECT booking.book_resource('history', 1, 10) AS booked,
       booking.book_resource('history', 1, 20) AS again,
       booking.resource_holder('history', 1) AS holder;
SELECT booking.release_resource('history', 1, 20) AS not_holder;
SELECT booking.release_resource('history', 1, 10) AS released,
       booking.resource_holder('history', 1) AS holder,
       booking.release_resource('history', 1, 10) AS released_again;
RESET ROLE;
SET ROLE regress_booking_bob;
SELECT booking.book_resource('history', 1, 20) AS rebooked,
       booking.resource_holder('history', 1) AS holder;
SELECT booking.try_book_resource('history', 1, 30) AS try,
       booking.book_resources('history', '{1,2}', 30) AS set,
       booking.book_resources('history', '{2,3}', 30) AS free_set;
RESET ROLE;
-- history kept: one active row per resource, the released one cancelled
-- by the role that released it
SELECT resource_id, user_id, cancelled_at IS NOT NULL AS cancelled, cancelled_by
  FROM history ORDER BY id;
-- a row inserted by hand as cancelled does not count as a booking
INSERT INTO history (resource_id, user_id, cancelled_at) VALUES (4, 40, now());
SELECT booking.book_resource('history', 4, 41) AS booked_over_cancelled_row;

-- release_sets that does not make the row inactive: an error, and the row
-- stays as it was
SELECT booking.booking_attach('history',
	active_when => 'cancelled_at IS NULL',
	release_sets => 'cancelled_by = current_user');
SELECT booking.release_resource('history', 1, 20); \echo :SQLSTATE
SELECT resource_id, user_id, cancelled_at IS NOT NULL AS cancelled, cancelled_by
  FROM history WHERE resource_id = 1 ORDER BY id;
SELECT booking.resource_holder('history', 1) AS holder;

-- a booking whose new row is not active by the table's own defaults:
-- an error, and no row is left behind
ALTER TABLE history ALTER COLUMN cancelled_at SET DEFAULT now();
SELECT booking.book_resource('history', 5, 50); \echo :SQLSTATE
SELECT count(*) AS rows_for_5 FROM history WHERE resource_id = 5;
ALTER TABLE history ALTER COLUMN cancelled_at DROP DEFAULT;

-- attaching again changes the settings: without active_when every row is a
-- booking, and release deletes
SELECT booking.booking_attach('history');
SELECT active_when, release_sets FROM booking.booking_tables
 WHERE tbl = 'history'::regclass;
SELECT booking.book_resource('history', 4, 42) AS cancelled_row_counts_now;
SELECT booking.release_resource('history', 2, 30) AS released;
SELECT count(*) AS rows_for_2 FROM history WHERE resource_id = 2;
-- SET DEFAULT in release_sets
SELECT booking.booking_attach('history',
	active_when => 'cancelled_by IS NULL',
	release_sets => 'cancelled_by = DEFAULT, cancelled_at = now()');
SELECT release_sets FROM booking.booking_tables WHERE tbl = 'history'::regclass;
RESET ROLE;

--
-- A hash-partitioned table: its partitioned index is the resource index,
-- bookings route to partitions, lookups find them there.
--
SET ROLE regress_booking_owner;
CREATE TABLE parted (resource_id bigint, user_id bigint, cancelled boolean NOT NULL DEFAULT false)
	PARTITION BY HASH (resource_id);
CREATE TABLE parted_0 PARTITION OF parted FOR VALUES WITH (MODULUS 3, REMAINDER 0);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES WITH (MODULUS 3, REMAINDER 1);
CREATE TABLE parted_2 PARTITION OF parted FOR VALUES WITH (MODULUS 3, REMAINDER 2);
-- an index on one partition is not an index of the table
CREATE INDEX ON parted_0 (resource_id);
SELECT booking.booking_attach('parted'); \echo :SQLSTATE
CREATE INDEX ON parted (resource_id);
SELECT booking.booking_attach('parted');
SELECT booking.book_resources('parted', '{1,2,3,4,5,6}', 10) AS booked_six;
SELECT booking.book_resource('parted', 1, 20) AS one,
       booking.book_resource('parted', 2, 20) AS two,
       booking.book_resource('parted', 3, 20) AS three,
       booking.try_book_resource('parted', 4, 20) AS four,
       booking.book_resource('parted', 7, 20) AS seven;
SELECT count(DISTINCT tableoid) AS partitions_used, count(*) AS rows FROM parted;
SELECT booking.resource_holder('parted', 3) AS holder_3,
       booking.release_resource('parted', 3, 20) AS not_holder,
       booking.release_resource('parted', 3, 10) AS released,
       booking.resource_holder('parted', 3) AS holder_after,
       booking.book_resource('parted', 3, 30) AS rebooked;
SELECT resource_id, user_id FROM parted ORDER BY resource_id;
-- with history, release_sets updates the row in its partition
SELECT booking.booking_attach('parted', active_when => 'NOT cancelled',
	release_sets => 'cancelled = true');
SELECT booking.release_resource('parted', 5, 10) AS released,
       booking.book_resource('parted', 5, 50) AS rebooked;
SELECT resource_id, user_id, cancelled FROM parted WHERE resource_id = 5 ORDER BY cancelled DESC;
RESET ROLE;

--
-- Triggers on the table fire, and the booking's writes run as the caller.
--
SET ROLE regress_booking_owner;
CREATE TABLE triggered (
	id serial PRIMARY KEY,
	resource_id int,
	user_id int,
	booked_by name NOT NULL DEFAULT 'nobody',
	note text
);
CREATE INDEX ON triggered (resource_id);
CREATE TABLE audit (op text, resource_id int, user_id int, by_role name, note text);
GRANT INSERT ON audit TO regress_booking_alice, regress_booking_bob;
CREATE FUNCTION triggered_before() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.booked_by := current_user;
	NEW.note := 'filled by trigger';
	RETURN NEW;
END $$;
CREATE FUNCTION triggered_after() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' THEN
		INSERT INTO audit VALUES (TG_OP, NEW.resource_id, NEW.user_id, current_user, NEW.note);
	ELSE
		INSERT INTO audit VALUES (TG_OP, OLD.resource_id, OLD.user_id, current_user, OLD.note);
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER triggered_before BEFORE INSERT ON triggered
	FOR EACH ROW EXECUTE FUNCTION triggered_before();
CREATE TRIGGER triggered_after AFTER INSERT OR DELETE ON triggered
	FOR EACH ROW EXECUTE FUNCTION triggered_after();
SELECT booking.booking_attach('triggered');
GRANT SELECT, INSERT, DELETE ON triggered TO regress_booking_alice, regress_booking_bob;
GRANT USAGE ON SEQUENCE triggered_id_seq TO regress_booking_alice, regress_booking_bob;
RESET ROLE;
SET ROLE regress_booking_alice;
SELECT booking.book_resource('triggered', 1, 10) AS alice_books;
RESET ROLE;
SET ROLE regress_booking_bob;
SELECT booking.book_resource('triggered', 1, 20) AS bob_too,
       booking.book_resource('triggered', 2, 20) AS bob_books,
       booking.release_resource('triggered', 2, 20) AS bob_releases;
RESET ROLE;
SELECT resource_id, user_id, booked_by, note FROM attach_test.triggered ORDER BY id;
SELECT op, resource_id, user_id, by_role, note FROM attach_test.audit ORDER BY op DESC, resource_id;
-- a BEFORE trigger that suppresses the row: an error, nothing booked
SET ROLE regress_booking_owner;
CREATE FUNCTION triggered_suppress() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RETURN NULL;
END $$;
CREATE TRIGGER triggered_suppress BEFORE INSERT ON triggered
	FOR EACH ROW WHEN (NEW.resource_id = 3) EXECUTE FUNCTION triggered_suppress();
SELECT booking.book_resource('triggered', 3, 30); \echo :SQLSTATE
SELECT count(*) AS rows_for_3 FROM triggered WHERE resource_id = 3;
RESET ROLE;

--
-- Row-level security: each user sees only their own bookings.  The lookup
-- sees every row all the same, so nobody books what someone else holds;
-- resource_holder answers only what the caller may see.
--
SET ROLE regress_booking_owner;
CREATE TABLE secret (
	resource_id int,
	user_id int,
	owner_role name NOT NULL DEFAULT current_user
);
CREATE INDEX ON secret (resource_id);
ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
ALTER TABLE secret FORCE ROW LEVEL SECURITY;
CREATE POLICY own_rows ON secret USING (owner_role = current_user);
SELECT booking.booking_attach('secret');
GRANT SELECT, INSERT, DELETE ON secret TO regress_booking_alice, regress_booking_bob;
RESET ROLE;
SET ROLE regress_booking_alice;
SELECT booking.book_resource('secret', 1, 10) AS alice_books;
SELECT booking.resource_holder('secret', 1) AS alice_sees;
RESET ROLE;
SET ROLE regress_booking_bob;
SELECT count(*) AS bob_sees_rows FROM secret;
SELECT booking.book_resource('secret', 1, 20) AS bob_books,
       booking.try_book_resource('secret', 1, 20) AS bob_tries,
       booking.book_resources('secret', '{1,2}', 20) AS bob_books_set,
       booking.resource_holder('secret', 1) AS bob_sees;
-- a release needs the row to be visible to the caller's DELETE, even with
-- the holder's user_id
SELECT booking.release_resource('secret', 1, 10); \echo :SQLSTATE
RESET ROLE;
-- the owner, under FORCE ROW LEVEL SECURITY, sees no row either, but the
-- lookup does
SET ROLE regress_booking_owner;
SELECT count(*) AS owner_sees_rows FROM secret;
SELECT booking.book_resource('secret', 1, 30) AS owner_books;
RESET ROLE;
SELECT resource_id, user_id, owner_role FROM attach_test.secret ORDER BY resource_id;

--
-- Privileges: the caller's own, checked before any lock.  Booking needs
-- INSERT, release DELETE (UPDATE where release_sets is set), resource_holder
-- SELECT; a caller who may not write gets no answer at all.
--
SET ROLE regress_booking_owner;
CREATE TABLE guarded (resource_id bigint, user_id bigint, released boolean NOT NULL DEFAULT false);
CREATE INDEX ON guarded (resource_id);
SELECT booking.booking_attach('guarded');
SELECT booking.book_resource('guarded', 1, 10) AS owner_books;
RESET ROLE;
SET ROLE regress_booking_alice;
SELECT booking.book_resource('guarded', 1, 20); \echo :SQLSTATE
SELECT booking.book_resource('guarded', 2, 20); \echo :SQLSTATE
SELECT booking.try_book_resource('guarded', 2, 20); \echo :SQLSTATE
SELECT booking.book_resources('guarded', '{2}', 20); \echo :SQLSTATE
SELECT booking.release_resource('guarded', 1, 10); \echo :SQLSTATE
SELECT booking.resource_holder('guarded', 1); \echo :SQLSTATE
RESET ROLE;
-- INSERT on the two columns is enough to book; SELECT to see the holder
GRANT INSERT (resource_id, user_id), SELECT ON attach_test.guarded TO regress_booking_alice;
SET ROLE regress_booking_alice;
SELECT booking.book_resource('guarded', 1, 20) AS taken,
       booking.book_resource('guarded', 2, 20) AS booked,
       booking.resource_holder('guarded', 2) AS holder;
SELECT booking.release_resource('guarded', 2, 20); \echo :SQLSTATE
RESET ROLE;
GRANT DELETE ON attach_test.guarded TO regress_booking_alice;
SET ROLE regress_booking_alice;
SELECT booking.release_resource('guarded', 2, 20) AS released;
RESET ROLE;
-- with release_sets, release needs UPDATE, and DELETE does not do
SET ROLE regress_booking_owner;
SELECT booking.booking_attach('guarded', active_when => 'NOT released',
	release_sets => 'released = true');
RESET ROLE;
SET ROLE regress_booking_alice;
SELECT booking.book_resource('guarded', 3, 20) AS booked;
SELECT booking.release_resource('guarded', 3, 20); \echo :SQLSTATE
RESET ROLE;
GRANT UPDATE ON attach_test.guarded TO regress_booking_alice;
SET ROLE regress_booking_alice;
SELECT booking.release_resource('guarded', 3, 20) AS released;
RESET ROLE;
-- and even the owner's own call is made with the owner's privileges
SET ROLE regress_booking_owner;
REVOKE INSERT ON guarded FROM regress_booking_owner;
SELECT booking.book_resource('guarded', 4, 10); \echo :SQLSTATE
GRANT INSERT ON guarded TO regress_booking_owner;
SELECT resource_id, user_id, released FROM guarded ORDER BY resource_id, released DESC;
RESET ROLE;

--
-- The default table: only a superuser or the extension's owner may choose
-- it, not the table's owner nor anyone else.  NULL, or the extension's own
-- table, goes back to the own table.
--
SET ROLE regress_booking_alice;
SELECT booking.booking_set_default('attach_test.guarded'); \echo :SQLSTATE
SELECT booking.booking_set_default(NULL); \echo :SQLSTATE
RESET ROLE;
SET ROLE regress_booking_owner;
SELECT booking.booking_set_default('guarded'); \echo :SQLSTATE
RESET ROLE;
SELECT booking.booking_set_default('attach_test.guarded');
SELECT booking.resource_holder(1) AS holder_1, booking.book_resource(1, 99) AS book_1,
       booking.book_resource(5, 50) AS book_5;
SELECT booking.booking_set_default('attach_test.secret');
SELECT tbl, is_default FROM booking.booking_tables WHERE is_default;
SELECT booking.book_resource(1, 99) AS secret_1;
SELECT booking.booking_set_default('booking.bookings');
SELECT count(*) AS defaults FROM booking.booking_tables WHERE is_default;
SELECT booking.book_resource(1, 99) AS own_1;
TRUNCATE booking.bookings;

--
-- Detach: the rows stay, the calls are refused and say how to attach again.
-- The default table cannot be detached, nor detached by anyone but the
-- owner.
--
SELECT booking.booking_set_default('attach_test.guarded');
SET ROLE regress_booking_owner;
SELECT booking.booking_detach('guarded'); \echo :SQLSTATE
RESET ROLE;
SELECT booking.booking_set_default(NULL);
SET ROLE regress_booking_alice;
SELECT booking.booking_detach('attach_test.guarded'); \echo :SQLSTATE
RESET ROLE;
SET ROLE regress_booking_owner;
SELECT booking.booking_detach('guarded');
SELECT booking.book_resource('guarded', 6, 60); \echo :SQLSTATE
SELECT booking.release_resource('guarded', 1, 10); \echo :SQLSTATE
SELECT booking.resource_holder('guarded', 1); \echo :SQLSTATE
SELECT booking.booking_detach('guarded'); \echo :SQLSTATE
SELECT count(*) AS rows_kept FROM guarded;
SELECT booking.booking_attach('guarded');
SELECT booking.book_resource('guarded', 6, 60) AS reattached;

--
-- Rename: calls follow the table by OID, under its new name or schema,
-- never the table that takes its old name.
--
SELECT booking.book_resource('guarded', 7, 70) AS before_rename;
ALTER TABLE guarded RENAME TO guarded_renamed;
CREATE TABLE guarded (resource_id bigint, user_id bigint);
CREATE INDEX ON guarded (resource_id);
SELECT booking.book_resource('guarded_renamed', 7, 71) AS renamed_7,
       booking.book_resource('guarded_renamed', 8, 80) AS renamed_8;
SELECT booking.book_resource('guarded', 8, 81); \echo :SQLSTATE
SELECT count(*) AS new_table_rows FROM guarded;
SELECT resource_id, user_id FROM guarded_renamed WHERE resource_id >= 6 ORDER BY resource_id;
SELECT tbl FROM booking.booking_tables WHERE tbl::text LIKE 'guarded%' ORDER BY 1;
DROP TABLE guarded;
RESET ROLE;
CREATE SCHEMA attach_moved AUTHORIZATION regress_booking_owner;
SET ROLE regress_booking_owner;
ALTER TABLE guarded_renamed SET SCHEMA attach_moved;
SELECT booking.book_resource('attach_moved.guarded_renamed', 9, 90) AS moved_9,
       booking.book_resource('attach_moved.guarded_renamed', 8, 91) AS moved_8;
RESET ROLE;
ALTER SCHEMA attach_moved RENAME TO attach_moved_again;
SET ROLE regress_booking_owner;
SELECT booking.book_resource('attach_moved_again.guarded_renamed', 9, 92) AS schema_renamed_9,
       booking.resource_holder('attach_moved_again.guarded_renamed', 9) AS holder_9;
SELECT tbl FROM booking.booking_tables WHERE tbl::text LIKE '%guarded%';
RESET ROLE;
-- the default table, renamed, is still the default
SELECT booking.booking_set_default('attach_moved_again.guarded_renamed');
SELECT booking.book_resource(10, 100) AS default_10;
ALTER TABLE attach_moved_again.guarded_renamed RENAME TO guarded_default;
SELECT booking.book_resource(10, 101) AS default_10_again,
       booking.resource_holder(10) AS holder_10;
SELECT resource_id, user_id FROM attach_moved_again.guarded_default
 WHERE resource_id = 10;
SELECT booking.booking_set_default(NULL);

--
-- Altered after attaching: a clear error at the next call, never a stale
-- plan; attaching again with the new settings mends it.
--
SET ROLE regress_booking_owner;
ALTER TABLE attach_moved_again.guarded_default RENAME COLUMN resource_id TO rid;
SELECT booking.book_resource('attach_moved_again.guarded_default', 11, 110); \echo :SQLSTATE
SELECT booking.booking_attach('attach_moved_again.guarded_default', 'rid',
	active_when => 'NOT released', release_sets => 'released = true');
SELECT booking.book_resource('attach_moved_again.guarded_default', 11, 110) AS rid_11;
-- a column active_when names, renamed
ALTER TABLE attach_moved_again.guarded_default RENAME COLUMN released TO done;
SELECT booking.book_resource('attach_moved_again.guarded_default', 12, 120); \echo :SQLSTATE
ALTER TABLE attach_moved_again.guarded_default RENAME COLUMN done TO released;
-- the user column's type changed
ALTER TABLE attach_moved_again.guarded_default ALTER COLUMN user_id TYPE numeric;
SELECT booking.book_resource('attach_moved_again.guarded_default', 12, 120); \echo :SQLSTATE
ALTER TABLE attach_moved_again.guarded_default ALTER COLUMN user_id TYPE bigint;
-- the resource index dropped
DROP INDEX attach_moved_again.guarded_resource_id_idx;
SELECT booking.book_resource('attach_moved_again.guarded_default', 12, 120); \echo :SQLSTATE
CREATE INDEX ON attach_moved_again.guarded_default (rid);
-- a NOT NULL column without a default added
ALTER TABLE attach_moved_again.guarded_default ADD COLUMN extra int NOT NULL DEFAULT 0;
ALTER TABLE attach_moved_again.guarded_default ALTER COLUMN extra DROP DEFAULT;
SELECT booking.book_resource('attach_moved_again.guarded_default', 12, 120); \echo :SQLSTATE
ALTER TABLE attach_moved_again.guarded_default DROP COLUMN extra;
SELECT booking.book_resource('attach_moved_again.guarded_default', 12, 120) AS mended;
RESET ROLE;

--
-- Drop: the registry forgets a dropped table, but the default table cannot
-- be dropped.
--
SELECT booking.booking_set_default('attach_moved_again.guarded_default');
DROP TABLE attach_moved_again.guarded_default; \echo :SQLSTATE
DROP SCHEMA attach_moved_again CASCADE; \echo :SQLSTATE
SELECT booking.booking_set_default(NULL);
SELECT count(*) AS registered FROM booking.booking_tables
 WHERE tbl = 'attach_moved_again.guarded_default'::regclass;
DROP SCHEMA attach_moved_again CASCADE;
SELECT tbl FROM booking.booking_tables ORDER BY tbl::text;
DROP TABLE attach_test.secret;
SELECT tbl FROM booking.booking_tables ORDER BY tbl::text;

--
-- smallint and integer columns: an id that does not fit is an error before
-- any lock is taken; lookups of such an id find nothing.
--
CREATE TABLE small (resource_id smallint, user_id int);
CREATE INDEX ON small (resource_id);
SELECT booking.booking_attach('small');
SELECT booking.book_resource('small', 32767, 2147483647) AS max_ids,
       booking.book_resource('small', -32768, -2147483648) AS min_ids,
       booking.book_resource('small', 32767, 1) AS taken;
SELECT booking.book_resource('small', 32768, 1); \echo :SQLSTATE
SELECT booking.book_resource('small', -32769, 1); \echo :SQLSTATE
SELECT booking.book_resource('small', 1, 2147483648); \echo :SQLSTATE
SELECT booking.try_book_resource('small', 1, -2147483649); \echo :SQLSTATE
SELECT booking.book_resources('small', '{1,65536}', 1); \echo :SQLSTATE
SELECT booking.resource_holder('small', 32767) AS holder_max,
       booking.resource_holder('small', 32768) AS holder_out_of_range,
       booking.release_resource('small', 32768, 1) AS release_out_of_range;
BEGIN;
SELECT booking.book_resource('small', 100000, 1); \echo :SQLSTATE
ROLLBACK;
BEGIN;
SELECT booking.book_resource('small', 1, 1) AS booked;
SAVEPOINT s;
SELECT booking.book_resource('small', 2, 9999999999); \echo :SQLSTATE
ROLLBACK TO s;
-- the failed call took no lock: only resource 1's is held
SELECT objid, objsubid FROM pg_locks
 WHERE locktype = 'advisory' AND pid = pg_backend_pid() ORDER BY objid;
COMMIT;
SELECT resource_id, user_id FROM small ORDER BY resource_id;
DROP TABLE small;

--
-- A private lock space: the resource locks are not pg_advisory_xact_lock's
-- (objsubid 4 in pg_locks instead of 1).
--
CREATE TABLE private_bookings (resource_id bigint, user_id bigint);
CREATE INDEX ON private_bookings (resource_id);
SELECT booking.booking_attach('private_bookings', lock_space => 'private');
SELECT lock_space FROM booking.booking_tables WHERE tbl = 'private_bookings'::regclass;
BEGIN;
SELECT booking.book_resource('private_bookings', 7, 1) AS private_7,
       booking.book_resource('public.bookings', 8, 1) AS shared_8;
SELECT objid, objsubid FROM pg_locks
 WHERE locktype = 'advisory' AND pid = pg_backend_pid() ORDER BY objid;
COMMIT;
-- attaching again goes back to the shared space
SELECT booking.booking_attach('private_bookings');
BEGIN;
SELECT booking.book_resource('private_bookings', 9, 1) AS shared_9;
SELECT objid, objsubid FROM pg_locks
 WHERE locktype = 'advisory' AND pid = pg_backend_pid() ORDER BY objid;
COMMIT;
DROP TABLE private_bookings;
-- the extension's own table may choose its lock space too
SELECT booking.booking_attach('booking.bookings', lock_space => 'private');
BEGIN;
SELECT booking.book_resource(10, 1) AS own_private;
SELECT objid, objsubid FROM pg_locks
 WHERE locktype = 'advisory' AND pid = pg_backend_pid() ORDER BY objid;
COMMIT;
SELECT booking.booking_detach('booking.bookings');
TRUNCATE booking.bookings;

--
-- The lookup uses the resource index whatever the statistics say.  The
-- table is never analysed (autovacuum is off for it, reltuples stays -1),
-- the lookup's plan is first made while it is empty, then it grows to
-- thousands of rows: every booking must scan the index, none the table.
--
CREATE TABLE unanalysed (resource_id int, user_id int) WITH (autovacuum_enabled = off);
CREATE INDEX ON unanalysed (resource_id);
SELECT booking.booking_attach('unanalysed');
SELECT booking.book_resource('unanalysed', 0, 1) AS booked_while_empty;
INSERT INTO unanalysed SELECT g, g FROM generate_series(1, 5000) g;
SELECT reltuples FROM pg_class WHERE oid = 'unanalysed'::regclass;
SELECT pg_stat_force_next_flush();
CREATE TEMP TABLE scans_before AS
SELECT seq_scan, idx_scan FROM pg_stat_user_tables WHERE relid = 'unanalysed'::regclass;
SELECT booking.book_resource('unanalysed', 4999, 2) AS booked,
       booking.book_resource('unanalysed', 5001, 2) AS free,
       booking.release_resource('unanalysed', 5001, 2) AS released,
       booking.resource_holder('unanalysed', 2500) AS holder;
SELECT pg_stat_force_next_flush();
SELECT s.seq_scan - b.seq_scan AS seq_scans, s.idx_scan - b.idx_scan >= 4 AS index_scans
  FROM pg_stat_user_tables s, scans_before b WHERE s.relid = 'unanalysed'::regclass;
-- the same from a new session, whose plan is made with the table grown
\c -
SET search_path = attach_test, public;
SELECT pg_stat_force_next_flush();
CREATE TEMP TABLE scans_before AS
SELECT seq_scan, idx_scan FROM pg_stat_user_tables WHERE relid = 'unanalysed'::regclass;
SELECT booking.book_resource('unanalysed', 3000, 2) AS booked,
       booking.book_resource('unanalysed', 5002, 2) AS free,
       booking.release_resource('unanalysed', 5002, 2) AS released,
       booking.resource_holder('unanalysed', 2500) AS holder;
SELECT pg_stat_force_next_flush();
SELECT s.seq_scan - b.seq_scan AS seq_scans, s.idx_scan - b.idx_scan >= 4 AS index_scans
  FROM pg_stat_user_tables s, scans_before b WHERE s.relid = 'unanalysed'::regclass;
SELECT reltuples FROM pg_class WHERE oid = 'unanalysed'::regclass;
DROP TABLE unanalysed;

--
-- Clean up, and put the extension back where pg_regress created it.
--
DROP SCHEMA attach_test CASCADE;
SELECT tbl FROM booking.booking_tables ORDER BY tbl::text;
DROP TABLE public.bookings;
DROP EXTENSION booking;
DROP SCHEMA booking;
DROP ROLE regress_booking_owner;
DROP ROLE regress_booking_alice;
DROP ROLE regress_booking_bob;
RESET search_path;
CREATE EXTENSION booking;
