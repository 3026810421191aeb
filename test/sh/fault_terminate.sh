#!/usr/bin/env bash
# Fault: the backend holding a resource (booked in a transaction it has not
# committed) is terminated with pg_terminate_backend.  Its booking must be
# gone, its lock freed, and a session already waiting on the resource must
# book it.  Then the same without a waiter: nothing is left, and
# try_book_resource gets the resource at once.
set -euo pipefail
cd "$(dirname "$0")/../.."

. test/lib.sh
track_sessions
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION booking'

# A holder session fed through a fifo, so that it sits idle in its open
# transaction between commands, as an application's would.
start_holder() {
	local name=$1
	mkfifo "$work/$name.in"
	PGAPPNAME=$name psql -AtX <"$work/$name.in" >"$work/$name.out" 2>&1 &
	pids+=($!)
	exec 3>"$work/$name.in"
}

pid_of() { q "SELECT pid FROM pg_stat_activity WHERE application_name = '$1'"; }

# The advisory lock of resource $1 as pg_locks shows it: granted/waiting count
lock_rows() {
	q "SELECT count(*) FILTER (WHERE granted) || '/' || count(*) FILTER (WHERE NOT granted)
	   FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = $1 AND objsubid = 1"
}

echo "== holder terminated while a booker waits"
start_holder holder1
echo "BEGIN; SELECT book_resource(42, 1);" >&3
wait_for "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
          WHERE application_name = 'holder1' AND state = 'idle in transaction')"
holder=$(pid_of holder1)

PGAPPNAME=waiter1 psql -AtX -c 'SELECT book_resource(42, 2)' >"$work/waiter1.out" 2>&1 &
waiter=$!
pids+=("$waiter")
wait_for "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
          WHERE application_name = 'waiter1' AND wait_event_type = 'Lock')"
[ "$(lock_rows 42)" = 1/1 ] || { echo "lock of 42: $(lock_rows 42), want 1 holder, 1 waiter"; exit 1; }
# the holder's booking is not committed: nobody else sees it
expect 0 'SELECT count(*) FROM bookings WHERE resource_id = 42'

expect t "SELECT pg_terminate_backend($holder, 10000)"
wait "$waiter"
[ "$(cat "$work/waiter1.out")" = t ] || { echo "waiter: $(cat "$work/waiter1.out")"; exit 1; }
expect 2 'SELECT string_agg(user_id::text, $$,$$) FROM bookings WHERE resource_id = 42'
expect 0 "SELECT count(*) FROM pg_stat_activity WHERE pid = $holder"
[ "$(lock_rows 42)" = 0/0 ] || { echo "lock of 42 still there: $(lock_rows 42)"; exit 1; }
exec 3>&-

echo "== holder terminated, nobody waiting"
start_holder holder2
echo "BEGIN; SELECT book_resource(43, 1); SELECT book_resources('{44,45}', 1);" >&3
wait_for "SELECT count(*) = 3 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
          WHERE a.application_name = 'holder2' AND l.locktype = 'advisory' AND l.granted"
holder=$(pid_of holder2)
expect t "SELECT pg_terminate_backend($holder, 10000)"
expect 0 'SELECT count(*) FROM pg_locks WHERE locktype = $$advisory$$'
expect 0 'SELECT count(*) FROM bookings WHERE resource_id IN (43, 44, 45)'
# free at once: try_book_resource does not wait and gets every one of them
expect t 'SELECT try_book_resource(43, 3)'
expect t "SELECT book_resources('{44,45}', 3)"
expect 3 'SELECT count(*) FROM bookings WHERE resource_id IN (43, 44, 45) AND user_id = 3'
exec 3>&-

# one row per resource, whatever happened above
expect 0 'SELECT count(*) FROM (SELECT resource_id FROM bookings GROUP BY 1 HAVING count(*) > 1) d'
echo "ok"
