/* booking--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION booking UPDATE TO '1.1'" to load this file. \quit

-- ======================================================================
-- BEGIN booking_waits / booking_locks (issue 11: seeing who waits on what)
-- ======================================================================
--
-- A resource's lock is the advisory lock pg_advisory_xact_lock(bigint)
-- takes: in pg_locks, locktype 'advisory', objsubid 1, the id's high 32
-- bits in classid and its low 32 bits in objid.  Any other bigint-keyed
-- advisory lock of the database shows here too: it shares the key space.
--
-- Visibility is PostgreSQL's own: pg_locks is readable by everyone, and
-- pg_stat_activity shows a backend's state, query and transaction times
-- only to its own role, members of that role and of pg_read_all_stats (to
-- everyone else they are NULL).  Both views are plain joins over the two,
-- evaluated with the caller's rights (security_invoker, below); nothing is
-- SECURITY DEFINER, so they show no caller more than the catalogs would.
-- Each reads pg_locks once (a CTE referenced twice is materialized), so
-- holders and waiters come from one consistent snapshot of the lock table.

CREATE VIEW @extschema@.booking_locks AS
WITH l AS (
	SELECT (l.classid::bigint << 32) | l.objid::bigint AS resource_id,
		   l.pid, l.mode, l.granted, l.waitstart
	FROM pg_catalog.pg_locks l
	WHERE l.locktype = 'advisory' AND l.objsubid = 1
	  AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
						WHERE d.datname = pg_catalog.current_database())
)
SELECT h.resource_id,
	   h.pid,
	   h.mode,
	   a.usename,
	   a.application_name,
	   a.state,
	   a.xact_start,
	   a.state_change,
	   a.query,
	   (SELECT count(*) FROM l w
		WHERE w.resource_id = h.resource_id AND NOT w.granted)::integer AS waiters
FROM l h
LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = h.pid
WHERE h.granted;

COMMENT ON VIEW @extschema@.booking_locks IS
'resource locks held now in this database: one row per holder (pid NULL: a prepared transaction), with the holder''s session as pg_stat_activity shows it to you and how many wait';

CREATE VIEW @extschema@.booking_waits AS
WITH l AS (
	SELECT (l.classid::bigint << 32) | l.objid::bigint AS resource_id,
		   l.pid, l.mode, l.granted, l.waitstart
	FROM pg_catalog.pg_locks l
	WHERE l.locktype = 'advisory' AND l.objsubid = 1
	  AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
						WHERE d.datname = pg_catalog.current_database())
),
a AS (
	SELECT pid, usename, application_name, state, xact_start, state_change, query
	FROM pg_catalog.pg_stat_activity
)
SELECT w.resource_id,
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
	WHERE g.resource_id = w.resource_id AND g.granted
) h ON true
WHERE NOT w.granted;

COMMENT ON VIEW @extschema@.booking_waits IS
'backends of this database waiting for a resource''s lock: how long, who holds it (and whether a holder sits idle in transaction), and pg_blocking_pids; sessions shown as pg_stat_activity shows them to you';

-- Evaluate with the caller's rights (PostgreSQL 15 and later); the session
-- columns are filtered by the caller's rights either way, since
-- pg_stat_activity's function checks the current user.
DO $$
BEGIN
	IF pg_catalog.current_setting('server_version_num')::integer >= 150000 THEN
		EXECUTE 'ALTER VIEW @extschema@.booking_locks SET (security_invoker = true)';
		EXECUTE 'ALTER VIEW @extschema@.booking_waits SET (security_invoker = true)';
	END IF;
END
$$;

GRANT SELECT ON @extschema@.booking_locks, @extschema@.booking_waits TO PUBLIC;

-- ======================================================================
-- END booking_waits / booking_locks
-- ======================================================================
