--
-- try_book_resource, book_resources, release_resource, resource_holder:
-- results, errors and edge cases.  Blocking behaviour is covered by the
-- isolation specs.  The extension is created by pg_regress.
--
-- No output depends on ids, booked_at or the server's lock table size.
\set VERBOSITY default
\set SHOW_CONTEXT never
TRUNCATE bookings;

CREATE TEMP VIEW my_advisory_locks AS
SELECT classid, objid, objsubid, mode, granted
  FROM pg_locks
 WHERE locktype = 'advisory'
   AND pid = pg_backend_pid()
   AND database = (SELECT oid FROM pg_database WHERE datname = current_database());

--
-- resource_holder: the holder's user_id, or NULL.
--
SELECT resource_holder(1) IS NULL AS free;
SELECT book_resource(1, 100);
SELECT resource_holder(1);
SELECT resource_holder(-9223372036854775808) IS NULL AS free;
-- it takes no lock
BEGIN;
SELECT resource_holder(1), resource_holder(2);
SELECT count(*) AS locks FROM my_advisory_locks;
COMMIT;
-- it sees this transaction's own uncommitted changes
BEGIN;
SELECT book_resource(2, 200);
SELECT resource_holder(2);
ROLLBACK;
SELECT resource_holder(2) IS NULL AS free_after_rollback;

--
-- try_book_resource: as book_resource when nobody else holds the lock.
--
SELECT try_book_resource(10, 1);
SELECT try_book_resource(10, 1);   -- same user: false
SELECT try_book_resource(10, 2);
SELECT try_book_resource(1, 2);    -- booked by book_resource
SELECT book_resource(10, 3);       -- booked by try_book_resource
SELECT resource_holder(10);
SELECT try_book_resource(-9223372036854775808, 4),
       try_book_resource(9223372036854775807, 4),
       try_book_resource(0, 4);
-- its lock is the advisory lock, held to the end of the transaction
BEGIN;
SELECT try_book_resource(11, 1);
SELECT * FROM my_advisory_locks;
ROLLBACK;
SELECT resource_holder(11) IS NULL AS free_after_rollback;
-- a lock this transaction already holds is no obstacle
BEGIN;
SELECT pg_advisory_xact_lock(12);
SELECT try_book_resource(12, 1);
SELECT count(*) AS advisory_rows FROM my_advisory_locks;
COMMIT;
SELECT resource_holder(12);

--
-- book_resources: all or nothing.
--
SELECT book_resources('{20,21,22}', 5);
SELECT resource_id, user_id FROM bookings
 WHERE resource_id BETWEEN 20 AND 22 ORDER BY resource_id;
-- unsorted input works; every id locked, in one transaction
BEGIN;
SELECT book_resources('{32,30,31}', 6);
SELECT classid, objid, objsubid, mode FROM my_advisory_locks ORDER BY objid;
COMMIT;
SELECT resource_id, user_id FROM bookings
 WHERE resource_id BETWEEN 30 AND 32 ORDER BY resource_id;
-- duplicates count once
SELECT book_resources('{5,5,5}', 7);
SELECT count(*) AS rows_for_5 FROM bookings WHERE resource_id = 5;
SELECT book_resources('{33,34,33,34}', 7);
SELECT resource_id, count(*) FROM bookings
 WHERE resource_id IN (33, 34) GROUP BY resource_id ORDER BY resource_id;
-- a single element, extreme ids, a non-default lower bound
SELECT book_resources('{35}', 8);
SELECT book_resources(ARRAY[-9223372036854775807, 9223372036854775806, -35]::bigint[], 8);
SELECT book_resources('[3:4]={36,37}'::bigint[], 8);
SELECT resource_id, user_id FROM bookings
 WHERE resource_id IN (35, 36, 37, -35, -9223372036854775807, 9223372036854775806)
 ORDER BY resource_id;
-- one id of the set booked (by anyone, the same user too): false, nothing written
SELECT count(*) AS rows_before FROM bookings \gset
SELECT book_resources('{40,41,20}', 9);
SELECT book_resources('{40,41,20}', 5);
SELECT book_resources('{9223372036854775807,40}', 9);
SELECT book_resources('{40,5,41}', 9);
SELECT count(*) - :rows_before AS rows_added FROM bookings;
SELECT resource_holder(40) IS NULL AND resource_holder(41) IS NULL AS both_free;
-- and the set books once all its ids are free
SELECT book_resources('{40,41}', 9);
-- a set already booked by this transaction itself
BEGIN;
SELECT book_resources('{42,43}', 9);
SELECT book_resources('{43,44}', 9);
SELECT resource_holder(44) IS NULL AS free;
COMMIT;
-- a booking rolled back to a savepoint frees the whole set
BEGIN;
SAVEPOINT sp;
SELECT book_resources('{45,46}', 9);
ROLLBACK TO SAVEPOINT sp;
SELECT count(*) AS locks_after_rollback_to FROM my_advisory_locks;
SELECT book_resources('{46,47}', 10);
COMMIT;
SELECT resource_id, user_id FROM bookings
 WHERE resource_id BETWEEN 45 AND 47 ORDER BY resource_id;

--
-- release_resource
--
SELECT book_resource(50, 1);
SELECT release_resource(50, 2);    -- someone else: false
SELECT resource_holder(50);
SELECT release_resource(50, 1);    -- the holder: true
SELECT resource_holder(50) IS NULL AS free;
SELECT release_resource(50, 1);    -- free now: false
SELECT release_resource(51, 1);    -- never booked: false
SELECT book_resource(50, 2);       -- books again
SELECT resource_holder(50);
-- release inside a transaction, undone by rollback
BEGIN;
SELECT release_resource(50, 2);
SELECT resource_holder(50) IS NULL AS free;
SELECT * FROM my_advisory_locks;
ROLLBACK;
SELECT resource_holder(50);
-- book and release in one transaction, then book again
BEGIN;
SELECT book_resource(52, 1);
SELECT release_resource(52, 1);
SELECT book_resource(52, 2);
COMMIT;
SELECT resource_id, user_id FROM bookings WHERE resource_id = 52;
-- releases one member of a set booked by book_resources
SELECT release_resource(21, 5);
SELECT resource_holder(20), resource_holder(21), resource_holder(22);
SELECT release_resource(-9223372036854775808, 4);
SELECT resource_holder(-9223372036854775808) IS NULL AS free;

--
-- NULL arguments: 22004, naming the argument.
--
SELECT count(*) AS rows_before FROM bookings \gset
SELECT try_book_resource(NULL, 1);
\echo SQLSTATE :SQLSTATE
SELECT try_book_resource(60, NULL);
\echo SQLSTATE :SQLSTATE
SELECT book_resources(NULL, 1);
\echo SQLSTATE :SQLSTATE
SELECT book_resources('{60}', NULL);
\echo SQLSTATE :SQLSTATE
SELECT book_resources('{60,NULL}', 1);
\echo SQLSTATE :SQLSTATE
SELECT book_resources(ARRAY[NULL]::bigint[], 1);
\echo SQLSTATE :SQLSTATE
SELECT release_resource(NULL, 1);
\echo SQLSTATE :SQLSTATE
SELECT release_resource(1, NULL);
\echo SQLSTATE :SQLSTATE
SELECT resource_holder(NULL);
\echo SQLSTATE :SQLSTATE

--
-- Arrays that are not a set of ids.
--
-- empty: 22023
SELECT book_resources('{}', 1);
\echo SQLSTATE :SQLSTATE
SELECT book_resources(ARRAY[]::bigint[], 1);
\echo SQLSTATE :SQLSTATE
-- multi-dimensional: a clear error (2202E)
SELECT book_resources('{{60,61},{62,63}}', 1);
\echo SQLSTATE :SQLSTATE
SELECT book_resources('{{60}}', 1);
\echo SQLSTATE :SQLSTATE
-- nothing written by any of the above
SELECT count(*) - :rows_before AS rows_added FROM bookings;

--
-- Read-only transaction: every writing function refuses with 25006, booked
-- resource or not, and writes nothing; resource_holder works.
--
BEGIN READ ONLY;
SAVEPOINT sp;
SELECT try_book_resource(60, 1);
\echo SQLSTATE :SQLSTATE
ROLLBACK TO SAVEPOINT sp;
SELECT try_book_resource(1, 1);
\echo SQLSTATE :SQLSTATE
ROLLBACK TO SAVEPOINT sp;
SELECT book_resources('{60,61}', 1);
\echo SQLSTATE :SQLSTATE
ROLLBACK TO SAVEPOINT sp;
SELECT book_resources('{1}', 1);
\echo SQLSTATE :SQLSTATE
ROLLBACK TO SAVEPOINT sp;
SELECT release_resource(1, 100);   -- would release
\echo SQLSTATE :SQLSTATE
ROLLBACK TO SAVEPOINT sp;
SELECT release_resource(60, 1);    -- would release nothing
\echo SQLSTATE :SQLSTATE
ROLLBACK TO SAVEPOINT sp;
SELECT resource_holder(1), resource_holder(60) IS NULL AS free;
COMMIT;
SET default_transaction_read_only = on;
SELECT book_resources('{60}', 1);
\echo SQLSTATE :SQLSTATE
SELECT release_resource(1, 100);
\echo SQLSTATE :SQLSTATE
SELECT resource_holder(1);
RESET default_transaction_read_only;
SELECT count(*) - :rows_before AS rows_added FROM bookings;
SELECT resource_holder(1);

--
-- An ordinary role can use every function (they write as the table's
-- owner), and its search_path cannot redirect them: a schema of its own
-- first, with a bookings table and always-true = operators for bigint and
-- tid, ahead of pg_catalog.
--
CREATE ROLE regress_booking_api_user LOGIN;
DO $$ BEGIN
  EXECUTE format('GRANT CREATE ON DATABASE %I TO regress_booking_api_user',
                 current_database());
END $$;
SET ROLE regress_booking_api_user;
CREATE SCHEMA regress_booking_api_evil;
CREATE TABLE regress_booking_api_evil.bookings (
	id bigint GENERATED ALWAYS AS IDENTITY,
	resource_id bigint NOT NULL,
	user_id bigint NOT NULL,
	booked_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (resource_id, id)
);
CREATE FUNCTION regress_booking_api_evil.always_true(bigint, bigint)
RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true';
CREATE OPERATOR regress_booking_api_evil.= (
	LEFTARG = bigint, RIGHTARG = bigint,
	FUNCTION = regress_booking_api_evil.always_true);
CREATE FUNCTION regress_booking_api_evil.always_true(tid, tid)
RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true';
CREATE OPERATOR regress_booking_api_evil.= (
	LEFTARG = tid, RIGHTARG = tid,
	FUNCTION = regress_booking_api_evil.always_true);
SET search_path = regress_booking_api_evil, pg_catalog, public;
SELECT 1::bigint = 2::bigint AS evil_operator_active;
SELECT try_book_resource(90, 9);
SELECT try_book_resource(1, 9);            -- booked in the real table
SELECT book_resources('{91,92}', 9);
SELECT book_resources('{93,1}', 9);        -- 1 is booked: nothing
SELECT release_resource(1, 9);             -- not the holder
SELECT release_resource(91, 9);            -- the holder: deletes 91 only
SELECT resource_holder(1), resource_holder(90), resource_holder(91),
       resource_holder(92), resource_holder(93);
SELECT count(*) AS evil_rows FROM regress_booking_api_evil.bookings;
RESET search_path;
RESET ROLE;
SELECT resource_id, user_id FROM public.bookings
 WHERE resource_id IN (1, 90, 91, 92, 93) ORDER BY resource_id;
DROP OWNED BY regress_booking_api_user;
DROP ROLE regress_booking_api_user;

--
-- The lock table limit.  Each id takes a slot in the shared lock table
-- (max_locks_per_transaction * (max_connections + max_prepared_transactions
-- + background processes)); a set larger than that fails with 53200 and a
-- hint, not a bare "out of shared memory".  The detail carries counts that
-- depend on the server, so it is checked, not printed.
--
SELECT count(*) AS rows_before FROM bookings \gset
\set VERBOSITY terse
SELECT book_resources(array(SELECT generate_series(1000001, 1100000)::bigint), 1);
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
DO $$
DECLARE
	state text;
	msg text;
	detail text;
	hint text;
	nlocked bigint;
BEGIN
	PERFORM book_resources(array(SELECT generate_series(1000001, 1100000)::bigint), 1);
	RAISE NOTICE 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
	RAISE NOTICE 'sqlstate %: %', state, msg;
	nlocked := substring(detail FROM 'filled after (\d+) of the 100000 resources')::bigint;
	RAISE NOTICE 'detail names how many of the 100000 were locked: %',
		coalesce(nlocked BETWEEN 1 AND 99999, false);
	RAISE NOTICE 'hint names max_locks_per_transaction: %',
		coalesce(hint LIKE '%max_locks_per_transaction (now '
			|| current_setting('max_locks_per_transaction') || ')%', false);
END
$$;
-- nothing written, no lock left behind, and the server keeps working
SELECT count(*) - :rows_before AS rows_added FROM bookings;
SELECT count(*) AS rows_in_range FROM bookings
 WHERE resource_id BETWEEN 1000001 AND 1100000;
SELECT count(*) AS locks FROM my_advisory_locks;
SELECT book_resources(array(SELECT generate_series(1000001, 1000100)::bigint), 1);
SELECT count(*) AS rows_in_range FROM bookings
 WHERE resource_id BETWEEN 1000001 AND 1100000;
SELECT book_resource(1100000, 2);
SELECT resource_holder(1100000);
-- the same limit inside a larger transaction: the error aborts it
BEGIN;
SELECT book_resource(1200000, 3);
\set VERBOSITY terse
SELECT book_resources(array(SELECT generate_series(1200001, 1300000)::bigint), 3);
\echo SQLSTATE :SQLSTATE
\set VERBOSITY default
ROLLBACK;
SELECT resource_holder(1200000) IS NULL AS free;
SELECT count(*) AS locks FROM my_advisory_locks;

--
-- Several calls in one statement see each other's writes, at every level
-- (the later call's lookup runs after the earlier call's insert or delete).
--
SELECT book_resource(1400001, 1) AS first, book_resource(1400001, 2) AS second;
SELECT book_resource(1400002, 1) AS booked, release_resource(1400002, 1) AS released,
       book_resource(1400002, 2) AS rebooked, resource_holder(1400002) AS holder;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT book_resource(1400003, 1) AS first, book_resource(1400003, 2) AS second;
SELECT book_resources('{1400004,1400005}', 1) AS set, book_resource(1400005, 2) AS member;
COMMIT;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT book_resource(1400006, 1) AS first, book_resource(1400006, 2) AS second,
       try_book_resource(1400006, 3) AS try;
SELECT book_resource(1400007, 1) AS booked, release_resource(1400007, 1) AS released,
       book_resource(1400007, 2) AS rebooked, resource_holder(1400007) AS holder;
COMMIT;
-- A row written earlier in the calling statement itself (here by the
-- table's owner, outside the protocol) counts too: the lookup makes the
-- statement's own writes visible first.
BEGIN ISOLATION LEVEL SERIALIZABLE;
WITH direct AS (
	INSERT INTO bookings (resource_id, user_id) VALUES (1400008, 1) RETURNING resource_id
)
SELECT book_resource(resource_id, 2) AS booked FROM direct;
COMMIT;
SELECT resource_id, user_id FROM bookings
 WHERE resource_id BETWEEN 1400001 AND 1400008 ORDER BY resource_id;

-- every resource has exactly one row
SELECT count(*) = count(DISTINCT resource_id) AS one_row_per_resource FROM bookings;

DROP VIEW my_advisory_locks;
