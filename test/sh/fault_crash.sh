#!/usr/bin/env bash
# Fault: the server dies in the middle of a stress run, first by an
# immediate shutdown, then (a second run) by SIGKILL of the postmaster.
# With synchronous_commit=on, after restart and crash recovery every booking
# whose COMMIT the client saw answered must be in the table (unless a later
# answered release removed it), no resource may be booked twice, and booking
# must work again.  The stress tool rides out the outage (--reconnect),
# treats a COMMIT that got no answer as "may or may not have committed",
# and checks all of that against the recovered table at the end.
#
# fsync stays as pg_virtualenv sets it (off): killing PostgreSQL's processes
# loses nothing the kernel already has, so it does not weaken this test;
# only an operating-system crash would need fsync=on.
#
# Last, a control showing the check has teeth: with synchronous_commit=off
# the same crash loses bookings whose COMMIT was answered, and the same
# check must report them.
set -euo pipefail
cd "$(dirname "$0")/../.."

make -s -C test/stress >/dev/null
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION booking'
test "$(psql -AtX -c 'SHOW synchronous_commit')" = on

datadir=$(psql -AtX -c 'SHOW data_directory')
work=$(mktemp -d)
stress_pid=
paused=
cleanup() {
	# a stopped WAL writer would hang the cluster's removal
	[ -n "$paused" ] && kill -CONT "$paused" 2>/dev/null || true
	[ -n "$stress_pid" ] && kill "$stress_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# Highest booking id so far: identity values only grow, also across a crash.
max_id() {
	psql -AtX -c 'SELECT coalesce(max(id), 0) FROM bookings' 2>/dev/null || echo -1
}

wait_for_id() {
	local target=$1 i
	for i in $(seq 1 300); do
		[ "$(max_id)" -ge "$target" ] && return 0
		kill -0 "$stress_pid" 2>/dev/null || { echo "stress run ended early"; return 1; }
		sleep 0.1
	done
	echo "no progress to booking id $target"
	return 1
}

# SIGKILL the postmaster.  Its children notice and exit on their own, and a
# new postmaster refuses to start while any of them still holds the shared
# memory, so wait for them.  The postmaster is stopped first so that it
# cannot fork a child we would not know about.
kill_postmaster() {
	local pm children c i alive
	pm=$(head -n 1 "$datadir/postmaster.pid")
	kill -STOP "$pm"
	children=$(pgrep -P "$pm" || true)
	kill -KILL "$pm"
	for i in $(seq 1 300); do
		alive=0
		for c in $children; do
			kill -0 "$c" 2>/dev/null && alive=1
		done
		[ "$alive" = 0 ] && return 0
		sleep 0.1
	done
	echo "children of the killed postmaster did not exit: $children"
	return 1
}

# Immediate shutdown, with the WAL writer paused for the last half second
# before it, so that it cannot write anything commits left to it: under
# synchronous_commit=on every backend writes its own commit record before
# answering, so nothing answered may be lost; under off, much is.
stop_with_wal_unwritten() {
	local stop_pid
	paused=$(psql -AtX -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'walwriter'")
	kill -STOP "$paused"
	sleep 0.5
	pg_ctlcluster "$PGVERSION" regress stop -m immediate &
	stop_pid=$!
	sleep 0.5
	kill -CONT "$paused" 2>/dev/null || true	# its pending SIGQUIT ends it at once
	paused=
	wait "$stop_pid"
}

# run_with_fault FAULT ok|caught [stress options]: run the stress tool,
# crash the server with FAULT once it is well under way, restart, let it
# book a good deal more, stop it, and look at its verdict.
run_with_fault() {
	local fault=$1 want=$2 before after rc=0
	shift 2
	echo "== $fault ($want)"
	test/stress/stress --clients 24 --attempts 0 --reconnect 60 --progress 1 "$@" \
		>"$work/$fault.out" 2>"$work/$fault.err" &
	stress_pid=$!

	before=$(( $(max_id) + 3000 ))
	wait_for_id "$before"
	"$fault"
	pg_ctlcluster "$PGVERSION" regress start
	# the clients reconnect by themselves; make them book a good deal more
	after=$(( $(max_id) + 3000 ))
	wait_for_id "$after"

	kill -INT "$stress_pid"
	wait "$stress_pid" || rc=$?
	stress_pid=
	cat "$work/$fault.out"
	tail -n 3 "$work/$fault.err"
	if [ "$want" = caught ]; then
		[ "$rc" -eq 1 ] || { echo "stress exited with $rc, expected 1 (violations)"; return 1; }
		grep -Eq '^check: FAILED.* (missing bookings|unexplained rows) [0-9]+' "$work/$fault.out"
		return 0
	fi
	if [ "$rc" -ne 0 ]; then
		echo "stress exited with $rc after $fault"
		return 1
	fi
	# the fault really hit the run: every client lost its connection and
	# came back, and transactions committed after that
	grep -Eq '^connections: ([0-9]+) lost' "$work/$fault.out"
	local lost reconn after_commits
	lost=$(sed -nE 's/^connections: ([0-9]+) lost.*/\1/p' "$work/$fault.out")
	reconn=$(sed -nE 's/^connections: [0-9]+ lost, ([0-9]+) reconnected.*/\1/p' "$work/$fault.out")
	after_commits=$(sed -nE 's/.* ([0-9]+) commits after the last reconnect/\1/p' "$work/$fault.out")
	[ "$lost" -ge 24 ] || { echo "only $lost connections lost"; return 1; }
	[ "$reconn" -ge 24 ] || { echo "only $reconn reconnects"; return 1; }
	[ "$after_commits" -gt 0 ] || { echo "nothing committed after the restart"; return 1; }
	grep -q '^check: OK' "$work/$fault.out"
}

run_with_fault stop_with_wal_unwritten ok --resources 5000 --seed 11
run_with_fault kill_postmaster ok --resources 5000 --seed 12

# The control: asynchronous commit loses answered COMMITs in a crash.
psql -qX -c 'ALTER SYSTEM SET synchronous_commit = off' -c 'SELECT pg_reload_conf()' >/dev/null
# Nearly every transaction a new booking, so whatever is lost is one.
run_with_fault stop_with_wal_unwritten caught --resources 10000000 --mix book=100 --rollback-rate 0 --seed 13
psql -qX -c 'ALTER SYSTEM RESET synchronous_commit' -c 'SELECT pg_reload_conf()' >/dev/null
test "$(psql -AtX -c 'SHOW synchronous_commit')" = on

# Independently of the tool: one row per resource at most, and a fresh
# resource books, then refuses a second booker.
dups=$(psql -AtX -c 'SELECT count(*) FROM (SELECT resource_id FROM bookings GROUP BY 1 HAVING count(*) > 1) d')
[ "$dups" = 0 ] || { echo "$dups resources booked twice"; exit 1; }
test "$(psql -AtX -c 'SELECT book_resource(999999, 1)')" = t
test "$(psql -AtX -c 'SELECT book_resource(999999, 2)')" = f
echo "ok"
