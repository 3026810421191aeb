--
-- book_resource: booking, the advisory lock it shares with
-- pg_advisory_xact_lock, transactions, errors, search_path safety and
-- privileges.  The extension is created by pg_regress (--load-extension).
--
-- No output depends on ids or booked_at, so the file can run repeatedly.
\set VERBOSITY default
\set SHOW_CONTEXT never
TRUNCATE bookings;

-- The advisory locks this backend holds, as pg_locks shows them.
CREATE TEMP VIEW my_advisory_locks AS
SELECT locktype, classid, objid, objsubid, mode, granted
  FROM pg_locks
 WHERE locktype = 'advisory'
   AND pid = pg_backend_pid()
   AND database = (SELECT oid FROM pg_database WHERE datname = current_database());

--
-- Basic booking.  A second attempt, by another user or the same one, is false.
--
SELECT book_resource(1, 100);
SELECT book_resource(1, 200);
SELECT book_resource(1, 100);
SELECT book_resource(2, 200);
SELECT resource_id, user_id FROM bookings ORDER BY resource_id;

--
-- Any bigint is a valid id, each its own resource.
--
SELECT book_resource(0, 10);
SELECT book_resource(-1, 11);
SELECT book_resource(-2, 12);
SELECT book_resource(-9223372036854775808, 13);
SELECT book_resource(9223372036854775807, 14);
-- booked by the calls above: all false
SELECT book_resource(0, 20), book_resource(-1, 20), book_resource(-2, 20),
       book_resource(-9223372036854775808, 20),
       book_resource(9223372036854775807, 20);
SELECT resource_id, user_id FROM bookings
 WHERE resource_id NOT IN (1, 2) ORDER BY resource_id;
-- exactly one row per resource
SELECT count(*) AS rows, count(DISTINCT resource_id) AS resources FROM bookings;

--
-- The lock: advisory, 64-bit key split into classid (high 32 bits) and
-- objid (low 32 bits), objsubid 1 (the bigint key space), ExclusiveLock,
-- held to the end of the transaction.
--
BEGIN;
SELECT book_resource(42, 1);
SELECT * FROM my_advisory_locks;
COMMIT;
SELECT count(*) AS locks_after_commit FROM my_advisory_locks;

-- Already booked (committed): the answer is false whether or not a lock is
-- taken, and none is left behind at commit.
BEGIN;
SELECT book_resource(42, 2);
COMMIT;
SELECT count(*) AS locks_after_commit FROM my_advisory_locks;

-- A key above 2^32: classid carries the high half.
BEGIN;
SELECT book_resource(4294967298, 1);
SELECT * FROM my_advisory_locks;
ROLLBACK;

-- Negative ids and the extremes: the two's complement halves.
BEGIN;
SELECT book_resource(-42, 1);
SELECT * FROM my_advisory_locks;
ROLLBACK;
BEGIN;
SELECT book_resource(-9223372036854775808, 1);  -- booked: no lock needed
SELECT pg_advisory_xact_lock(-9223372036854775808);
SELECT * FROM my_advisory_locks;
ROLLBACK;
BEGIN;
SELECT book_resource(-9223372036854775807, 1);
SELECT * FROM my_advisory_locks;
ROLLBACK;
SELECT count(*) AS locks_after_rollback FROM my_advisory_locks;

-- It is the very lock pg_advisory_xact_lock takes: taking that one too adds
-- no second row, and releasing both at commit leaves none.
BEGIN;
SELECT book_resource(43, 1);
SELECT pg_advisory_xact_lock(43);
SELECT * FROM my_advisory_locks;
-- the same row pg_advisory_xact_lock(43) alone would show
SELECT classid::bigint * 4294967296 + objid::bigint AS key, objsubid
  FROM my_advisory_locks;
COMMIT;
SELECT count(*) AS locks_after_commit FROM my_advisory_locks;

-- And the other way round: the seed's plain-SQL lock first, then
-- book_resource in the same transaction does not wait on itself.
BEGIN;
SELECT pg_advisory_xact_lock(44);
SELECT book_resource(44, 1);
SELECT count(*) AS advisory_rows FROM my_advisory_locks;
COMMIT;
SELECT count(*) AS locks_after_commit FROM my_advisory_locks;

-- (int4, int4) advisory keys are a different key space (objsubid 2):
-- pg_advisory_xact_lock(0, 45) is not resource 45's lock.
BEGIN;
SELECT pg_advisory_xact_lock(0, 45);
SELECT book_resource(45, 1);
SELECT objid, objsubid FROM my_advisory_locks ORDER BY objsubid;
COMMIT;

--
-- ROLLBACK undoes the booking and frees the lock.
--
BEGIN;
SELECT book_resource(50, 1);
SELECT resource_id, user_id FROM bookings WHERE resource_id = 50;
ROLLBACK;
SELECT count(*) AS rows_for_50 FROM bookings WHERE resource_id = 50;
SELECT count(*) AS locks_after_rollback FROM my_advisory_locks;
SELECT book_resource(50, 2);
SELECT resource_id, user_id FROM bookings WHERE resource_id = 50;

--
-- ROLLBACK TO SAVEPOINT undoes the booking and frees the lock taken after
-- the savepoint; a later call in the same transaction books it.
--
BEGIN;
SAVEPOINT sp;
SELECT book_resource(51, 1);
SELECT count(*) AS rows_for_51 FROM bookings WHERE resource_id = 51;
ROLLBACK TO SAVEPOINT sp;
SELECT count(*) AS rows_for_51 FROM bookings WHERE resource_id = 51;
SELECT count(*) AS locks_after_rollback_to FROM my_advisory_locks;
SELECT book_resource(51, 2);
SELECT book_resource(51, 3);
COMMIT;
SELECT resource_id, user_id FROM bookings WHERE resource_id = 51;

-- A booking made before the savepoint survives ROLLBACK TO it.
BEGIN;
SELECT book_resource(52, 1);
SAVEPOINT sp;
SELECT book_resource(52, 2);
SELECT book_resource(53, 2);
ROLLBACK TO SAVEPOINT sp;
COMMIT;
SELECT resource_id, user_id FROM bookings
 WHERE resource_id IN (52, 53) ORDER BY resource_id;

--
-- Errors, each with its SQLSTATE.
--
SELECT count(*) AS rows_before_errors FROM bookings \gset

-- NULL arguments: 22004, naming the argument (not a silent NULL).
SELECT book_resource(NULL, 1);
\echo SQLSTATE :SQLSTATE
SELECT book_resource(60, NULL);
\echo SQLSTATE :SQLSTATE
SELECT book_resource(NULL, NULL);
\echo SQLSTATE :SQLSTATE
SELECT book_resource(1, NULL);   -- even for a booked resource
\echo SQLSTATE :SQLSTATE

-- Read-only transaction: 25006 for a free resource ...
BEGIN READ ONLY;
SELECT book_resource(61, 1);
\echo SQLSTATE :SQLSTATE
ROLLBACK;
-- ... and for a booked one, as an INSERT is refused whatever it would insert.
BEGIN READ ONLY;
SELECT book_resource(1, 1);
\echo SQLSTATE :SQLSTATE
ROLLBACK;
BEGIN;
SET TRANSACTION READ ONLY;
SELECT book_resource(61, 1);
\echo SQLSTATE :SQLSTATE
ROLLBACK;
-- default_transaction_read_only makes every implicit transaction read-only.
SET default_transaction_read_only = on;
SELECT book_resource(61, 1);
\echo SQLSTATE :SQLSTATE
SELECT book_resource(1, 1);
\echo SQLSTATE :SQLSTATE
RESET default_transaction_read_only;
-- nothing was written, no lock left behind
SELECT count(*) - :rows_before_errors AS rows_added FROM bookings;
SELECT count(*) AS rows_for_61 FROM bookings WHERE resource_id = 61;
SELECT count(*) AS locks FROM my_advisory_locks;

-- An error after a booking in the same transaction takes the booking with it.
BEGIN;
SELECT book_resource(62, 1);
SELECT book_resource(NULL, 1);
\echo SQLSTATE :SQLSTATE
COMMIT;
SELECT count(*) AS rows_for_62 FROM bookings WHERE resource_id = 62;

--
-- search_path attack.  An unprivileged role puts a schema of its own first
-- on its search_path, with its own bookings table and an always-true
-- bigint = operator, ahead of pg_catalog; and a temporary bookings table.
-- The functions still use the extension's table and the real operator.
--
CREATE ROLE regress_booking_attacker LOGIN;
DO $$ BEGIN
  EXECUTE format('GRANT CREATE ON DATABASE %I TO regress_booking_attacker',
                 current_database());
END $$;
SET ROLE regress_booking_attacker;
CREATE SCHEMA regress_booking_evil;
CREATE TABLE regress_booking_evil.bookings (
	id bigint GENERATED ALWAYS AS IDENTITY,
	resource_id bigint NOT NULL,
	user_id bigint NOT NULL,
	booked_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (resource_id, id)
);
CREATE FUNCTION regress_booking_evil.always_true(bigint, bigint)
RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true';
CREATE OPERATOR regress_booking_evil.= (
	LEFTARG = bigint, RIGHTARG = bigint,
	FUNCTION = regress_booking_evil.always_true);
CREATE TEMP TABLE bookings (LIKE regress_booking_evil.bookings);

-- Schema first, ahead of pg_catalog: unqualified names and = resolve to it.
SET search_path = regress_booking_evil, pg_catalog, public;
SELECT 1::bigint = 2::bigint AS evil_operator_active;
SELECT book_resource(70, 7);                 -- free: books
SELECT book_resource(1, 7);                  -- booked in the real table
SELECT book_resource(70, 8);                 -- booked just now
SELECT resource_holder(70), resource_holder(71);
SELECT book_resource(71, 7);                 -- = must not match resource 70
-- pg_temp first: the temporary bookings table would be found first.
SET search_path = pg_temp, regress_booking_evil, pg_catalog, public;
SELECT book_resource(72, 7);
SELECT book_resource(2, 7);
SELECT resource_holder(72);
-- the fake tables stay empty
SELECT (SELECT count(*) FROM regress_booking_evil.bookings) AS evil_rows,
       (SELECT count(*) FROM pg_temp.bookings) AS temp_rows;
RESET search_path;
-- the temporary table would otherwise shadow bookings for the rest of the session
DROP TABLE pg_temp.bookings;
RESET ROLE;
-- the rows are in the extension's table, once each
SELECT resource_id, user_id FROM public.bookings
 WHERE resource_id BETWEEN 70 AND 72 ORDER BY resource_id;
SELECT resource_id, count(*) FROM public.bookings
 WHERE resource_id IN (1, 2) GROUP BY resource_id ORDER BY resource_id;

--
-- Privileges: an ordinary role may call book_resource and read bookings,
-- but not write to the table directly (42501), so no row can bypass the
-- lock protocol.
--
CREATE ROLE regress_booking_user LOGIN;
SELECT count(*) AS rows_before FROM public.bookings \gset
SET ROLE regress_booking_user;
SELECT book_resource(80, 8);
SELECT resource_id, user_id FROM public.bookings WHERE resource_id = 80;
INSERT INTO public.bookings (resource_id, user_id) VALUES (81, 8);
\echo SQLSTATE :SQLSTATE
INSERT INTO public.bookings (resource_id, user_id) VALUES (80, 9);
\echo SQLSTATE :SQLSTATE
UPDATE public.bookings SET user_id = 9 WHERE resource_id = 80;
\echo SQLSTATE :SQLSTATE
DELETE FROM public.bookings WHERE resource_id = 80;
\echo SQLSTATE :SQLSTATE
TRUNCATE public.bookings;
\echo SQLSTATE :SQLSTATE
RESET ROLE;
-- the one booking made through the function, and nothing else
SELECT count(*) - :rows_before AS rows_added FROM public.bookings;
SELECT resource_id, user_id FROM public.bookings WHERE resource_id IN (80, 81);

--
-- Clean up, so the file can run again on the same cluster.
--
DROP OWNED BY regress_booking_attacker;
DROP OWNED BY regress_booking_user;
DROP ROLE regress_booking_attacker;
DROP ROLE regress_booking_user;
DROP VIEW my_advisory_locks;
