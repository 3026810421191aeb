#!/usr/bin/env bash
# Fault: a client whose book_resource is waiting for the lock disappears
# (kill -9 of its psql: the kernel closes the socket).  Afterwards nothing of
# it may be left, neither a lock (pg_locks) nor a booking, and the holder's
# commit stands.
#
# A backend blocked on a lock does not read its socket, so by default it
# notices the dead client only when it next talks to it: once the lock is
# granted and it sends its answer.  With client_connection_check_interval it
# checks while waiting and leaves at once.  Three cases:
#   A. interval set: the orphan leaves while still waiting; holder commits.
#   B. no interval, holder rolls back: the orphan gets the lock and books in
#      its open transaction, then finds its client gone; all rolled back.
#   C. no interval, holder commits: the orphan gets "false" and leaves.
#   D. interval set, the waiter in autocommit mode, holder rolls back: the
#      orphan left while waiting, so it books nothing.  (Without the interval
#      such an orphan would get the lock, book and commit: a statement whose
#      client vanished still completes, as any autocommit INSERT would.)
set -euo pipefail
cd "$(dirname "$0")/../.."

. test/lib.sh
track_sessions
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION booking'

gone() {
	wait_for "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = '$1')"
}

# Holder: books in a transaction and sits idle in it (fed through a fifo).
start_holder() {
	local name=$1 res=$2
	rm -f "$work/in"
	mkfifo "$work/in"
	PGAPPNAME=$name psql -AtX <"$work/in" >/dev/null 2>&1 &
	pids+=($!)
	exec 3>"$work/in"
	echo "BEGIN; SELECT book_resource($res, 1);" >&3
	wait_for "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	          WHERE a.application_name = '$name' AND l.locktype = 'advisory'
	          AND l.objid = $res AND l.granted AND a.state = 'idle in transaction')"
}

# Waiter: asks for the same resource in an explicit transaction and blocks;
# then its client is killed.  Prints nothing; leaves the backend behind.
start_and_kill_waiter() {
	local name=$1 res=$2 begin=${3:-BEGIN} psql_pid
	PGAPPNAME=$name psql -AtX -c "$begin" -c "SELECT book_resource($res, 2)" >/dev/null 2>&1 &
	psql_pid=$!
	pids+=("$psql_pid")
	wait_for "SELECT EXISTS (SELECT 1 FROM pg_stat_activity
	          WHERE application_name = '$name' AND wait_event_type = 'Lock')"
	kill -9 "$psql_pid"
	wait "$psql_pid" 2>/dev/null || true
}

no_advisory_locks() {
	expect 0 "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
}

echo "== A: client_connection_check_interval, holder commits"
start_holder holderA 10
PGOPTIONS='-c client_connection_check_interval=100ms' start_and_kill_waiter waiterA 10
# it leaves while the holder still holds the lock
gone waiterA
expect 1/0 "SELECT count(*) FILTER (WHERE granted) || '/' || count(*) FILTER (WHERE NOT granted)
            FROM pg_locks WHERE locktype = 'advisory' AND objid = 10"
echo "COMMIT;" >&3
exec 3>&-
wait_for "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'holderA')"
expect 1 "SELECT string_agg(user_id::text, ',') FROM bookings WHERE resource_id = 10"
no_advisory_locks

# Each insert into bookings draws an identity value, kept even when its
# transaction rolls back: that shows whether a session really booked.
last_id() { q "SELECT last_value FROM bookings_id_seq"; }

echo "== B: orphan gets the lock after the holder rolls back"
before=$(last_id)
start_holder holderB 20
start_and_kill_waiter waiterB 20
# the orphan still waits: the backend has not noticed yet
expect 1 "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'waiterB'"
echo "ROLLBACK;" >&3
gone waiterB
# it did book (holder's insert + the orphan's), and that was rolled back
[ "$(last_id)" -eq $((before + 2)) ] || { echo "orphan did not book: ids $before -> $(last_id)"; exit 1; }
exec 3>&-
gone holderB
expect 0 "SELECT count(*) FROM bookings WHERE resource_id = 20"
no_advisory_locks
expect t "SELECT book_resource(20, 3)"
expect 3 "SELECT string_agg(user_id::text, ',') FROM bookings WHERE resource_id = 20"

echo "== C: orphan gets false after the holder commits"
before=$(last_id)
start_holder holderC 30
start_and_kill_waiter waiterC 30
echo "COMMIT;" >&3
gone waiterC
[ "$(last_id)" -eq $((before + 1)) ] || { echo "orphan booked after a commit: ids $before -> $(last_id)"; exit 1; }
exec 3>&-
gone holderC
expect 1 "SELECT string_agg(user_id::text, ',') FROM bookings WHERE resource_id = 30"
no_advisory_locks

echo "== D: client_connection_check_interval, autocommit waiter, holder rolls back"
start_holder holderD 40
PGOPTIONS='-c client_connection_check_interval=100ms' start_and_kill_waiter waiterD 40 "SELECT 1"
gone waiterD
echo "ROLLBACK;" >&3
exec 3>&-
gone holderD
expect 0 "SELECT count(*) FROM bookings WHERE resource_id = 40"
no_advisory_locks

expect 0 "SELECT count(*) FROM (SELECT resource_id FROM bookings GROUP BY 1 HAVING count(*) > 1) d"
echo "ok"
