/* booking--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION booking UPDATE TO '1.1'" to load this file. \quit

-- The registry of tables under the protocol: the extension's own bookings
-- table needs no row (it may have one, to choose its lock space); any other
-- table is guarded once booking_attach has put it here.  Written only by
-- booking_attach, booking_detach and booking_set_default; the protocol's
-- settings are no secret, so anyone may read it.
CREATE TABLE @extschema@.booking_tables (
	tbl regclass PRIMARY KEY,
	resource_column name NOT NULL,
	user_column name NOT NULL,
	active_when text,
	release_sets text,
	lock_space text NOT NULL DEFAULT 'shared'
		CHECK (lock_space IN ('shared', 'private')),
	is_default boolean NOT NULL DEFAULT false,
	CHECK (release_sets IS NULL OR active_when IS NOT NULL)
);

CREATE UNIQUE INDEX booking_tables_one_default
	ON @extschema@.booking_tables (is_default) WHERE is_default;

COMMENT ON TABLE @extschema@.booking_tables IS
'tables under the booking protocol and their settings; written by booking_attach, booking_detach and booking_set_default';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.booking_tables', '');

REVOKE ALL ON @extschema@.booking_tables FROM PUBLIC;
GRANT SELECT ON @extschema@.booking_tables TO PUBLIC;

-- pg_dump reads the identity's position of every dumped table: without this
-- a database owner who is not a superuser could not dump the bookings.
GRANT SELECT ON SEQUENCE @extschema@.bookings_id_seq TO PUBLIC;

CREATE FUNCTION @extschema@.booking_attach(tbl regclass,
	resource_column name DEFAULT 'resource_id',
	user_column name DEFAULT 'user_id',
	active_when text DEFAULT NULL,
	release_sets text DEFAULT NULL,
	lock_space text DEFAULT 'shared')
RETURNS void
AS 'MODULE_PATHNAME', 'booking_attach'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.booking_attach(regclass, name, name, text, text, text) IS
'put a table under the booking protocol, or change its settings; only its owner may';

CREATE FUNCTION @extschema@.booking_detach(tbl regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'booking_detach'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.booking_detach(regclass) IS
'take a table out from under the booking protocol; its rows stay';

CREATE FUNCTION @extschema@.booking_set_default(tbl regclass)
RETURNS void
AS 'MODULE_PATHNAME', 'booking_set_default'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.booking_set_default(regclass) IS
'make an attached table the target of the functions that take no table; NULL goes back to the own table';

CREATE FUNCTION @extschema@.book_resource(tbl regclass, resource_id bigint, user_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'book_resource'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.book_resource(regclass, bigint, bigint) IS
'book a resource in a table, waiting for its lock; true if booked, false if already booked';

CREATE FUNCTION @extschema@.try_book_resource(tbl regclass, resource_id bigint, user_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'try_book_resource'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.try_book_resource(regclass, bigint, bigint) IS
'book a resource in a table without waiting; false if it is booked or its lock is held';

CREATE FUNCTION @extschema@.book_resources(tbl regclass, resource_ids bigint[], user_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'book_resources'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.book_resources(regclass, bigint[], bigint) IS
'book every resource of a set in a table or none; locks them in ascending order';

CREATE FUNCTION @extschema@.release_resource(tbl regclass, resource_id bigint, user_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'release_resource'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.release_resource(regclass, bigint, bigint) IS
'cancel the booking of a resource in a table if user_id holds it; true if released';

CREATE FUNCTION @extschema@.resource_holder(tbl regclass, resource_id bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'resource_holder'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.resource_holder(regclass, bigint) IS
'user_id holding a resource in a table as the caller may see it, or NULL; takes no resource lock';

-- A dropped table leaves the registry with it (a dangling regclass would
-- break the next dump's restore), except the default table: dropping that
-- would silently send every two-argument call to another table.
CREATE FUNCTION @extschema@.booking_forget_dropped()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	dflt text;
BEGIN
	IF pg_catalog.to_regclass('@extschema@.booking_tables') IS NULL THEN
		RETURN;					-- the extension itself is being dropped
	END IF;
	SELECT d.object_identity INTO dflt
	FROM pg_catalog.pg_event_trigger_dropped_objects() d
	JOIN @extschema@.booking_tables t ON t.tbl::oid = d.objid
	WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0
	  AND t.is_default;
	IF FOUND THEN
		RAISE EXCEPTION 'cannot drop table % because it is the default booking table', dflt
			USING ERRCODE = 'dependent_objects_still_exist',
				  HINT = 'Reset the default first with SELECT booking_set_default(NULL).';
	END IF;
	DELETE FROM @extschema@.booking_tables t
	USING pg_catalog.pg_event_trigger_dropped_objects() d
	WHERE t.tbl::oid = d.objid
	  AND d.classid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0;
END
$$;

COMMENT ON FUNCTION @extschema@.booking_forget_dropped() IS
'event trigger: drop the registry row of a dropped table; refuse to drop the default table';

CREATE EVENT TRIGGER booking_forget_dropped ON sql_drop
	EXECUTE FUNCTION @extschema@.booking_forget_dropped();

-- ======================================================================
-- booking_waits and booking_locks: who holds and who waits for a resource
-- ======================================================================
--
-- A resource's lock is the advisory lock pg_advisory_xact_lock(bigint)
-- takes: in pg_locks, locktype 'advisory', objsubid 1, the id's high 32
-- bits in classid and its low 32 bits in objid; in the private lock space
-- objsubid is 4.  Any other bigint-keyed advisory lock of the database
-- shows here too: it shares the key space.
--
-- Visibility is PostgreSQL's own: pg_locks is readable by everyone, and
-- pg_stat_activity shows a backend's state, query and transaction times
-- only to its own role, members of that role and of pg_read_all_stats (to
-- everyone else they are NULL).  Both views are plain joins over the two,
-- evaluated with the caller's rights (security_invoker); nothing is
-- SECURITY DEFINER, so they show no caller more than the catalogs would.
-- Each reads pg_locks once (a CTE referenced twice is materialized), so
-- holders and waiters come from one consistent snapshot of the lock table.

CREATE VIEW @extschema@.booking_locks WITH (security_invoker = true) AS
WITH l AS (
	SELECT CASE l.objsubid WHEN 4 THEN 'private' ELSE 'shared' END AS lock_space,
		   (l.classid::bigint << 32) | l.objid::bigint AS resource_id,
		   l.pid, l.mode, l.granted, l.waitstart
	FROM pg_catalog.pg_locks l
	WHERE l.locktype = 'advisory' AND l.objsubid IN (1, 4)
	  AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
						WHERE d.datname = pg_catalog.current_database())
)
SELECT h.lock_space,
	   h.resource_id,
	   h.pid,
	   h.mode,
	   a.usename,
	   a.application_name,
	   a.state,
	   a.xact_start,
	   a.state_change,
	   a.query,
	   (SELECT count(*) FROM l w
		WHERE w.lock_space = h.lock_space AND w.resource_id = h.resource_id
		  AND NOT w.granted)::integer AS waiters
FROM l h
LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = h.pid
WHERE h.granted;

COMMENT ON VIEW @extschema@.booking_locks IS
'resource locks held now in this database: one row per holder (pid NULL: a prepared transaction), with the holder''s session as pg_stat_activity shows it to you and how many wait';

CREATE VIEW @extschema@.booking_waits WITH (security_invoker = true) AS
WITH l AS (
	SELECT CASE l.objsubid WHEN 4 THEN 'private' ELSE 'shared' END AS lock_space,
		   (l.classid::bigint << 32) | l.objid::bigint AS resource_id,
		   l.pid, l.mode, l.granted, l.waitstart
	FROM pg_catalog.pg_locks l
	WHERE l.locktype = 'advisory' AND l.objsubid IN (1, 4)
	  AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
						WHERE d.datname = pg_catalog.current_database())
),
a AS (
	SELECT pid, usename, application_name, state, xact_start, state_change, query
	FROM pg_catalog.pg_stat_activity
)
SELECT w.lock_space,
	   w.resource_id,
	   w.pid,
	   w.mode,
	   wa.usename,
	   wa.application_name,
	   w.waitstart,
	   pg_catalog.clock_timestamp() - w.waitstart AS waiting_for,
	   wa.query,
	   h.holder_pids,
	   h.holder_states,
	   h.holder_application_names,
	   h.holder_idle_in_transaction,
	   h.holder_xact_start,
	   pg_catalog.pg_blocking_pids(w.pid) AS blocked_by
FROM l w
LEFT JOIN a wa ON wa.pid = w.pid
LEFT JOIN LATERAL (
	SELECT array_agg(g.pid ORDER BY g.pid) AS holder_pids,
		   array_agg(ga.state ORDER BY g.pid) AS holder_states,
		   array_agg(ga.application_name ORDER BY g.pid) AS holder_application_names,
		   bool_or(ga.state LIKE 'idle in transaction%') AS holder_idle_in_transaction,
		   min(ga.xact_start) AS holder_xact_start
	FROM l g
	LEFT JOIN a ga ON ga.pid = g.pid
	WHERE g.lock_space = w.lock_space AND g.resource_id = w.resource_id
	  AND g.granted
) h ON true
WHERE NOT w.granted;

COMMENT ON VIEW @extschema@.booking_waits IS
'backends of this database waiting for a resource''s lock: how long, who holds it (and whether a holder sits idle in transaction), and pg_blocking_pids; sessions shown as pg_stat_activity shows them to you';

GRANT SELECT ON @extschema@.booking_locks, @extschema@.booking_waits TO PUBLIC;
