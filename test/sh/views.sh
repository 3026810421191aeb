#!/usr/bin/env bash
# The monitoring views booking_waits and booking_locks, and the function
# counters.  First ALTER EXTENSION booking UPDATE from 1.0 brings the views,
# defined as a fresh 1.1 install defines them.  Then a holder sits idle in
# its transaction on a resource while two sessions wait for it, and another
# holds resources at the edges of the id range: the views must show exactly
# that, with holders, wait times and pg_blocking_pids.  An unprivileged role
# sees in them what pg_stat_activity shows it (no state or query of another
# role's backend), a member of pg_read_all_stats sees more.  Last,
# track_functions = 'all' counts the C functions in pg_stat_user_functions
# and 'pl' does not.
set -euo pipefail
cd "$(dirname "$0")/../.."

. test/lib.sh
track_sessions

echo "== ALTER EXTENSION booking UPDATE from 1.0"
createdb upgraded
PGDATABASE=upgraded q "CREATE EXTENSION booking VERSION '1.0'" >/dev/null
PGDATABASE=upgraded expect 0 "SELECT count(*) FROM pg_class WHERE relname IN ('booking_waits', 'booking_locks')"
PGDATABASE=upgraded q 'ALTER EXTENSION booking UPDATE' >/dev/null
PGDATABASE=upgraded expect 1.1 "SELECT extversion FROM pg_extension WHERE extname = 'booking'"
q 'CREATE EXTENSION booking' >/dev/null
# same definitions, options, comments, grants and extension membership either way
describe='SELECT string_agg(format($$%s %s %s %s %s %s$$, c.relname, c.reloptions, c.relacl,
                 obj_description(c.oid, $$pg_class$$), pg_get_viewdef(c.oid),
                 EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = $$e$$)),
                 $$ | $$ ORDER BY c.relname)
          FROM pg_class c WHERE c.relname IN ($$booking_waits$$, $$booking_locks$$)'
fresh=$(q "$describe")
updated=$(PGDATABASE=upgraded q "$describe")
[ "$fresh" = "$updated" ] || { echo "fresh: $fresh"; echo "updated: $updated"; exit 1; }
echo "$fresh" | grep -q 'security_invoker=true' || { echo "views not security_invoker: $fresh"; exit 1; }
# they work in the updated database
(echo "BEGIN; SELECT book_resource(5, 1);"; sleep 3; echo "COMMIT;") |
	PGDATABASE=upgraded psql -qAtX >/dev/null &
pids+=($!)
PGDATABASE=upgraded wait_for "SELECT EXISTS (SELECT 1 FROM booking_locks WHERE resource_id = 5)"
# ... and show only their own database's locks
expect 0 'SELECT count(*) FROM booking_locks'

echo "== a holder idle in transaction, two waiters, a holder of extreme ids"
# A holder session fed through a fifo, so that it sits idle in its open
# transaction between commands, as an application's would.
start_session() {
	local name=$1
	mkfifo "$work/$name.in"
	PGAPPNAME=$name psql -AtX <"$work/$name.in" >"$work/$name.out" 2>&1 &
	pids+=($!)
}
pid_of() { q "SELECT pid FROM pg_stat_activity WHERE application_name = '$1'"; }

start_session holder
exec 3>"$work/holder.in"
echo "BEGIN; SELECT book_resource(7, 1);" >&3
wait_for "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
          WHERE application_name = 'holder' AND state = 'idle in transaction')"
holder=$(pid_of holder)

PGAPPNAME=waiter1 psql -AtX -c 'SELECT book_resource(7, 2)' >"$work/waiter1.out" 2>&1 &
pids+=($!)
wait_for "SELECT count(*) = 1 FROM booking_waits"
PGAPPNAME=waiter2 psql -AtX -c 'SELECT book_resource(7, 3)' >"$work/waiter2.out" 2>&1 &
pids+=($!)
wait_for "SELECT count(*) = 2 FROM booking_waits"
w1=$(pid_of waiter1)
w2=$(pid_of waiter2)

# the ids' high and low halves come back together, sign included
start_session edges
exec 4>"$work/edges.in"
echo "BEGIN; SELECT book_resources('{-9223372036854775808,-1,0,4294967296,9007199254740993,9223372036854775807}', 9);" >&4
wait_for "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
          WHERE application_name = 'edges' AND state = 'idle in transaction')"
edges=$(pid_of edges)
expect '-9223372036854775808,-1,0,4294967296,9007199254740993,9223372036854775807' \
	"SELECT string_agg(resource_id::text, ',' ORDER BY resource_id) FROM booking_locks WHERE pid = $edges"

# booking_waits: one row per waiter, the holder named, the queue in blocked_by
expect "7|$w1|ExclusiveLock|waiter1|{$holder}|{\"idle in transaction\"}|{holder}|t|{$holder}|t|t" \
	"SELECT resource_id, pid, mode, application_name, holder_pids, holder_states,
	        holder_application_names, holder_idle_in_transaction, blocked_by,
	        waiting_for > '0'::interval AND waitstart <= clock_timestamp(),
	        query = 'SELECT book_resource(7, 2)'
	 FROM booking_waits WHERE pid = $w1"
expect "7|$w2|{$holder}|t|{$holder,$w1}" \
	"SELECT resource_id, pid, holder_pids, holder_idle_in_transaction, blocked_by
	 FROM booking_waits WHERE pid = $w2"
expect "$w1" "SELECT pid FROM booking_waits ORDER BY waitstart LIMIT 1"
# booking_locks: the holder, idle in transaction, with two waiters
expect "7|$holder|ExclusiveLock|holder|idle in transaction|2|t" \
	"SELECT resource_id, pid, mode, application_name, state, waiters, xact_start <= state_change
	 FROM booking_locks WHERE resource_id = 7"
expect 7 "SELECT count(*) FROM booking_locks"

echo "== an unprivileged role sees what pg_stat_activity shows it"
q "CREATE ROLE watcher LOGIN PASSWORD 'watcher'; CREATE ROLE stats LOGIN PASSWORD 'stats' IN ROLE pg_read_all_stats" >/dev/null
as_watcher() { PGUSER=watcher PGPASSWORD=watcher "$@"; }
as_stats() { PGUSER=stats PGPASSWORD=stats "$@"; }
# lock rows are public (pg_locks is); another role's session details are not
as_watcher expect "2|7|{$holder}|t" \
	"SELECT count(*), min(resource_id), min(holder_pids::text), bool_and(holder_states = '{NULL}')
	 FROM booking_waits"
as_watcher expect "$holder||<insufficient privilege>||holder" \
	"SELECT pid, state, query, xact_start, application_name FROM booking_locks WHERE resource_id = 7"
as_watcher expect "|<insufficient privilege>|holder" \
	"SELECT state, query, application_name FROM pg_stat_activity WHERE pid = $holder"
as_watcher expect "|<insufficient privilege>" \
	"SELECT holder_idle_in_transaction, query FROM booking_waits WHERE pid = $w1"
# every session column equals pg_stat_activity's, as each role sees it
same_as_activity="SELECT count(*) FROM booking_locks b JOIN pg_stat_activity a USING (pid)
	WHERE (b.usename, b.application_name, b.state, b.xact_start, b.state_change, b.query)
	      IS NOT DISTINCT FROM (a.usename, a.application_name, a.state, a.xact_start, a.state_change, a.query)"
for who in as_watcher as_stats ""; do
	$who expect 7 "$same_as_activity"
done
# pg_read_all_stats sees the state, as in pg_stat_activity
as_stats expect "idle in transaction|t" \
	"SELECT state, query = 'SELECT book_resource(7, 1);' FROM booking_locks WHERE resource_id = 7"
as_stats expect t "SELECT holder_idle_in_transaction FROM booking_waits WHERE pid = $w1"

echo "== the holder commits: both waiters answered false, the views empty"
echo "COMMIT;" >&3
exec 3>&-
wait_for "SELECT count(*) = 0 FROM booking_waits"
for w in waiter1 waiter2; do
	for i in $(seq 1 50); do [ -s "$work/$w.out" ] && break; sleep 0.1; done
	[ "$(cat "$work/$w.out")" = f ] || { echo "$w: $(cat "$work/$w.out")"; exit 1; }
done
echo "ROLLBACK;" >&4
exec 4>&-
wait_for "SELECT count(*) = 0 FROM booking_locks"

echo "== track_functions: C functions are counted at 'all' only"
count_calls() {
	q "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE funcname = 'book_resource'"
}
q "ALTER DATABASE postgres SET track_functions = 'pl'" >/dev/null
psql -qAtX -c 'SELECT book_resource(100, 1)' -c 'SELECT book_resource(101, 1)' \
	-c 'SELECT pg_stat_force_next_flush()' >/dev/null
sleep 0.5
[ "$(count_calls)" = 0 ] || { echo "counted at 'pl': $(count_calls)"; exit 1; }
q "ALTER DATABASE postgres SET track_functions = 'all'" >/dev/null
psql -qAtX -c 'SELECT book_resource(102, 1)' -c 'SELECT book_resource(102, 2)' \
	-c 'SELECT try_book_resource(103, 1)' >/dev/null
wait_for "SELECT (SELECT calls FROM pg_stat_user_functions WHERE funcname = 'book_resource') = 2
          AND (SELECT calls FROM pg_stat_user_functions WHERE funcname = 'try_book_resource') = 1"
q "SELECT funcname, calls, total_time > 0, self_time > 0 FROM pg_stat_user_functions ORDER BY 1"
expect "t" "SELECT bool_and(total_time > 0 AND self_time > 0) FROM pg_stat_user_functions"
echo "ok"
