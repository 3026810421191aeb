#!/usr/bin/env bash
# Load on an attached table that keeps its history: the libpq stress tool
# (test/stress) creates an application table (a row per booking,
# cancelled_at set on release), attaches it with
#   active_when 'cancelled_at IS NULL', release_sets 'cancelled_at = now()'
# and drives book_resource, try_book_resource, book_resources and
# release_resource through their table-taking forms from 64 connections,
# then checks: at most one active row per resource, the active rows match
# the committed outcomes, every committed booking and release is in the
# history, and no booking was made while another was active.  Last, the
# checker's own tests: the broken plain-SQL protocol (check then insert,
# no lock) on the same kind of table must be caught, and so must an
# overlap that a later release undid, which only the history shows.
set -euo pipefail
cd "$(dirname "$0")/../.."

make -s -C test/stress >/dev/null
stress=test/stress/stress
out=$(mktemp)
trap 'rm -f "$out"' EXIT

psql -qX -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION booking'

. test/lib.sh

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
	grep -q '^check: OK (at most one active row per resource' "$out"
}

# every function was called, and each booking kind and release committed
# at least once: the run exercised what it claims to
exercised_all() {
	local f n
	for f in book_resource try_book_resource book_resources release_resource; do
		n=$(awk -v f="$f" '$1 == f { print $6 }' "$out")
		[ "${n:-0}" -gt 0 ] || { echo "no committed true from $f"; exit 1; }
	done
}

# The tool makes the table on first use.
run uniform --attached hist --clients 64 --attempts 30000 --resources 2000 --seed 11
grep -q '^errors by SQLSTATE: none' "$out"
grep -q '^  table: public.hist, attached with active_when (cancelled_at IS NULL), release_sets cancelled_at = now()$' "$out"
exercised_all
expect 'hist|(cancelled_at IS NULL)|cancelled_at = now()' \
	"SELECT tbl, active_when, release_sets FROM booking_tables"
# The history is there: more rows than active ones.
[ "$(q "SELECT count(*) > 2 * count(*) FILTER (WHERE cancelled_at IS NULL) FROM hist")" = t ] ||
	{ echo "the run left too little history to check"; exit 1; }

# Hot spot, on the same table: its history so far is taken as committed
# and checked again with the new run's.  The run must have made sessions
# queue for a resource lock, or it proved nothing.
run hot-spot --attached hist --clients 64 --attempts 30000 --resources 1000 \
	--dist hot --hot 10 --seed 12
grep -q '^errors by SQLSTATE: none' "$out"
exercised_all
grep -Eq '^  rows [0-9]+ = committed books [0-9]+ \(incl\. [1-9][0-9]* there before\)' "$out"
waiters=$(sed -nE 's/.*lock waiters per 100 ms sample: mean [0-9.]+, max ([0-9]+).*/\1/p' "$out")
[ "${waiters:-0}" -gt 0 ] || { echo "hot-spot run never saw a lock waiter"; exit 1; }

run repeatable-read --attached hist --clean --clients 64 --attempts 10000 --resources 200 \
	--isolation repeatable-read --seed 13
grep -q '^errors by SQLSTATE: none' "$out"

# SERIALIZABLE may fail transactions with 40001, never double-book.
run serializable --attached hist --clients 64 --attempts 10000 --resources 200 \
	--isolation serializable --seed 14

# The checker catches a broken protocol: plain check-then-insert of an
# active row without the lock, on its own database, hot enough that bookers
# race (releases still go through release_resource).
echo "== unsafe-sql on the attached table (must be caught)"
createdb unsafe
psql -qX -d unsafe -c 'CREATE EXTENSION booking'
rc=0
"$stress" --conninfo dbname=unsafe --attached hist --progress 0 --unsafe-sql --clients 64 \
	--attempts 10000 --resources 20 --mix book=70,release=30 --rollback-rate 0 \
	--seed 15 >"$out" || rc=$?
cat "$out"
[ "$rc" -eq 1 ] || { echo "unsafe run exited with $rc, expected 1 (violations)"; exit 1; }
grep -Eq '^check: FAILED, [0-9]+ violations: double bookings [0-9]+.* overlapping bookings [0-9]+' "$out"
grep -q 'VIOLATION: resource [0-9]* has [0-9]* bookings' "$out"

# A double booking that a release undid leaves one active row, as a legal
# history would; only the history's clocks show it.  Resource 1000001
# (outside the run's ids) got two bookings, user 1's released after user 2
# booked; both rows are taken as committed, so only the overlap is wrong.
echo "== an overlap a release undid (must be caught)"
q "INSERT INTO hist (resource_id, user_id, cancelled_at, booked_clock, released_clock) VALUES
	(1000001, 1, '2026-01-01 10:00:00', '2026-01-01 10:00:00', '2026-01-01 10:00:05'),
	(1000001, 2, NULL, '2026-01-01 10:00:03', NULL),
	(1000002, 3, '2026-01-01 10:00:00', '2026-01-01 10:00:00', '2026-01-01 10:00:05'),
	(1000002, 4, NULL, '2026-01-01 10:00:05', NULL)" >/dev/null
rc=0
"$stress" --attached hist --progress 0 --clients 8 --attempts 1000 --resources 200 \
	--seed 16 >"$out" || rc=$?
cat "$out"
[ "$rc" -eq 1 ] || { echo "run over a history with an overlap exited with $rc, expected 1"; exit 1; }
grep -q '^check: FAILED, 1 violations: overlapping bookings 1$' "$out"
grep -q 'VIOLATION: resource 1000001: row id [0-9]* (user 2) was booked 2000.000 ms before row id [0-9]* (user 1) was released' "$out"
echo "ok"
