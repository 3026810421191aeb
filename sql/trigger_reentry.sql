--
-- A trigger on the table that calls the API from inside a booking's own
-- INSERT, after changing the table's privileges (a GRANT invalidates the
-- table's relcache entry and every plan on it, and the invalidation is
-- processed inside the trigger).  The inner call must not free or replace
-- the plan the outer call is still executing; both bookings are made, and
-- the session goes on working.  (1.0 freed a kept plan as soon as it went
-- invalid, here the INSERT plan the outer call was still executing: a
-- use-after-free that a production build survives by luck, and that the
-- freed-memory clobbering of an assert-enabled server would expose.)  For
-- the extension's own table and an attached one.
--
\set VERBOSITY default
\set SHOW_CONTEXT never
TRUNCATE bookings;

CREATE TABLE reentry_log (tbl text, resource_id bigint, holder bigint);

-- A booking of resource r < 1000 books r + 1000 too, from its trigger.
CREATE FUNCTION reentry_own() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.resource_id < 1000 THEN
		GRANT SELECT ON bookings TO PUBLIC;
		INSERT INTO reentry_log
			VALUES ('own', NEW.resource_id + 1000,
					CASE WHEN book_resource(NEW.resource_id + 1000, NEW.user_id)
						 THEN resource_holder(NEW.resource_id + 1000) END);
		GRANT SELECT ON bookings TO PUBLIC;
		INSERT INTO reentry_log
			VALUES ('own', NEW.resource_id, resource_holder(NEW.resource_id));
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER reentry AFTER INSERT ON bookings
	FOR EACH ROW EXECUTE FUNCTION reentry_own();

-- the first call of the session prepares the plans inside the trigger
SELECT book_resource(1, 10);
-- later calls run kept plans that the GRANT invalidates
SELECT book_resource(2, 20);
SELECT book_resource(3, 30);
SELECT book_resources(ARRAY[4, 5], 40);
SELECT release_resource(1001, 10), book_resource(1001, 11);
SELECT resource_id, user_id FROM bookings ORDER BY 1;
SELECT * FROM reentry_log ORDER BY 1, 2, 3;
DROP TRIGGER reentry ON bookings;
TRUNCATE reentry_log;

-- the same on an attached table, whose trigger also reads the own table
CREATE TABLE reentry_att (id bigint GENERATED ALWAYS AS IDENTITY,
                          resource_id bigint NOT NULL,
                          user_id bigint NOT NULL);
CREATE INDEX ON reentry_att (resource_id);
SELECT booking_attach('reentry_att');
CREATE FUNCTION reentry_att() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.resource_id < 1000 THEN
		GRANT SELECT ON reentry_att TO PUBLIC;
		INSERT INTO reentry_log
			VALUES ('att', NEW.resource_id + 1000,
					CASE WHEN book_resource('reentry_att', NEW.resource_id + 1000, NEW.user_id)
						 THEN resource_holder('reentry_att', NEW.resource_id + 1000) END);
		GRANT SELECT ON reentry_att TO PUBLIC;
		INSERT INTO reentry_log
			VALUES ('att', NEW.resource_id, resource_holder('reentry_att', NEW.resource_id));
		INSERT INTO reentry_log
			VALUES ('own', NEW.resource_id, resource_holder(NEW.resource_id));
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER reentry AFTER INSERT ON reentry_att
	FOR EACH ROW EXECUTE FUNCTION reentry_att();

SELECT book_resource('reentry_att', 1, 10);
SELECT book_resource('reentry_att', 2, 20);
SELECT book_resources('reentry_att', ARRAY[4, 5], 40);
SELECT release_resource('reentry_att', 1001, 10),
       book_resource('reentry_att', 1001, 11);
SELECT resource_id, user_id FROM reentry_att ORDER BY 1;
SELECT * FROM reentry_log ORDER BY 1, 2, 3;

-- the session still works
SELECT book_resource(6, 60), resource_holder(6);

DROP TABLE reentry_att, reentry_log;
DROP FUNCTION reentry_own(), reentry_att();
TRUNCATE bookings;
