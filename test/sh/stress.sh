#!/usr/bin/env bash
# Load: the libpq stress tool (test/stress) drives book_resource,
# try_book_resource, book_resources and release_resource from many
# connections with random commits and rollbacks, then checks the table
# against every outcome the server reported (no resource booked twice, every
# committed booking present, no unexplained row, totals match).  Runs at a
# modest scale: uniform, a 10-resource hot spot, 200 connections, and the
# other isolation levels.  Last, the checker's own test: the same load with
# a deliberately broken plain-SQL protocol (check then insert, no lock) must
# be caught.
set -euo pipefail
cd "$(dirname "$0")/../.."

make -s -C test/stress >/dev/null
stress=test/stress/stress
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# Room for 200 clients (the default of 100 would refuse them).
psql -qX -c 'ALTER SYSTEM SET max_connections = 250'
pg_ctlcluster "$PGVERSION" regress restart
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION booking'

# run NAME ARGS...: the run must pass its check and report no error
run() {
	local name=$1 rc=0
	shift
	echo "== $name"
	"$stress" --progress 0 "$@" >"$out" || rc=$?
	cat "$out"
	if [ "$rc" -ne 0 ]; then
		echo "stress run '$name' exited with $rc"
		exit 1
	fi
	grep -q '^check: OK' "$out"
}

# every function was called, and each booking kind and release committed
# at least once: the run exercised what it claims to
committed_true() {
	awk -v f="$1" '$1 == f { print $6 }' "$out"
}
exercised_all() {
	local f
	for f in book_resource try_book_resource book_resources release_resource; do
		[ "$(committed_true "$f")" -gt 0 ] || { echo "no committed true from $f"; exit 1; }
	done
}

run uniform --clients 48 --attempts 40000 --resources 2000 --seed 1
grep -q '^errors by SQLSTATE: none' "$out"
exercised_all

# Hot spot: 90% of picks on 10 resources.  The run must have made sessions
# queue for a resource lock (seen in pg_locks), or it proved nothing.
run hot-spot --clients 64 --attempts 30000 --resources 1000 --dist hot --hot 10 --seed 2
grep -q '^errors by SQLSTATE: none' "$out"
exercised_all
waiters=$(sed -nE 's/.*lock waiters per 100 ms sample: mean [0-9.]+, max ([0-9]+).*/\1/p' "$out")
[ "${waiters:-0}" -gt 0 ] || { echo "hot-spot run never saw a lock waiter"; exit 1; }

# Hundreds of connections over a few resources, books and releases only.
run many-clients --clients 200 --attempts 20000 --resources 50 \
	--mix book=60,try=10,release=30 --seed 3
grep -q '^errors by SQLSTATE: none' "$out"

run repeatable-read --clients 32 --attempts 10000 --resources 200 \
	--isolation repeatable-read --seed 4
grep -q '^errors by SQLSTATE: none' "$out"

# SERIALIZABLE may fail transactions with 40001, never double-book.
run serializable --clients 32 --attempts 10000 --resources 200 \
	--isolation serializable --seed 5

# The checker catches a broken protocol: plain check-then-insert without
# the lock, on its own database, hot enough that bookers race.
echo "== unsafe-sql (must be caught)"
createdb unsafe
psql -qX -d unsafe -c 'CREATE EXTENSION booking'
rc=0
"$stress" --conninfo dbname=unsafe --progress 0 --unsafe-sql --clients 32 \
	--attempts 10000 --resources 20 --mix book=70,release=30 --rollback-rate 0 \
	--seed 6 >"$out" || rc=$?
cat "$out"
[ "$rc" -eq 1 ] || { echo "unsafe run exited with $rc, expected 1 (violations)"; exit 1; }
grep -Eq '^check: FAILED, [0-9]+ violations: double bookings [0-9]+' "$out"
grep -q 'VIOLATION: resource [0-9]* has [0-9]* bookings' "$out"
echo "ok"
