#!/usr/bin/env bash
# Real client: 16 psycopg2 threads, each with its own connection and
# autocommit off (as the seed was evaluated), book and release 8 resources
# with random commits and rollbacks; the table must match what committed
# (test/client/client.py).  Then the same check must catch the broken
# plain-SQL protocol (check then insert, no lock) on a database of its own.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Debian's python3-psycopg2 serves Debian's python3, which need not be the
# first python3 on PATH (pyenv and the like).
py=
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import psycopg2' 2>/dev/null; then py=$p; break; fi
done
[ -n "$py" ] || { echo "no python3 with psycopg2 (apt-get install python3-psycopg2)"; exit 1; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION booking'

rc=0
"$py" test/client/client.py --threads 16 --attempts 1000 --resources 8 --seed 1 >"$out" || rc=$?
cat "$out"
[ "$rc" -eq 0 ] || { echo "client check exited with $rc"; exit 1; }
grep -q '^check: OK' "$out"
# the run booked and released for real, not only bounced off booked rows
booked=$(sed -nE 's/^book: ([0-9]+) true.*/\1/p' "$out")
released=$(sed -nE 's/.*release: ([0-9]+) true.*/\1/p' "$out")
[ "$booked" -gt 100 ] && [ "$released" -gt 100 ] ||
	{ echo "too little happened: $booked bookings, $released releases"; exit 1; }

echo "== unsafe (must be caught)"
createdb unsafe
psql -qX -d unsafe -c 'CREATE EXTENSION booking'
rc=0
"$py" test/client/client.py --dsn dbname=unsafe --unsafe --threads 16 --attempts 400 \
	--resources 4 --rollback-rate 0 --seed 2 >"$out" || rc=$?
cat "$out"
[ "$rc" -eq 1 ] || { echo "unsafe client exited with $rc, expected 1 (violations)"; exit 1; }
grep -q 'double booking' "$out"
echo "ok"
