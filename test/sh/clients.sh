#!/usr/bin/env bash
# The client-library examples of the README, run as they are: psycopg2,
# psycopg 3, asyncpg (Debian packages) and node-postgres (npm, installed by
# test/setup.sh into test/client/node).  Each runs against a database of its
# own with booking freshly created, and its output must be exactly
# test/client/expected/<example>.out: every answer it prints is asserted.
set -euo pipefail
cd "$(dirname "$0")/../.."

# Debian's python3-psycopg* and -asyncpg serve Debian's python3, which need
# not be the first python3 on PATH (pyenv and the like).
py=
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import psycopg2, psycopg, asyncpg' 2>/dev/null; then py=$p; break; fi
done
[ -n "$py" ] || { echo "no python3 with psycopg2, psycopg and asyncpg (test/setup.sh installs them)"; exit 1; }
[ -d test/client/node/node_modules/pg ] ||
	{ echo "node-postgres missing: run test/setup.sh (npm ci in test/client/node)"; exit 1; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT
failed=0
run() {
	local name=$1 rc=0
	shift
	echo "== $name"
	createdb "$name"
	psql -qX -v ON_ERROR_STOP=1 -d "$name" -c 'CREATE EXTENSION booking'
	PGDATABASE=$name "$@" >"$out" 2>&1 || rc=$?
	cat "$out"
	if [ "$rc" -ne 0 ]; then
		echo "$name exited with $rc"; failed=1
	elif ! diff -u "test/client/expected/$name.out" "$out"; then
		echo "$name: output differs from test/client/expected/$name.out"; failed=1
	fi
	# whatever it did, it left no lock and no double booking behind
	[ "$(psql -AtX -d "$name" -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" = 0 ] ||
		{ echo "$name left advisory locks"; failed=1; }
	[ "$(psql -AtX -d "$name" -c 'SELECT count(*) FROM (SELECT FROM bookings GROUP BY resource_id HAVING count(*) > 1) d')" = 0 ] ||
		{ echo "$name double-booked"; failed=1; }
}

run psycopg2_example "$py" test/client/psycopg2_example.py
run psycopg3_example "$py" test/client/psycopg3_example.py
run asyncpg_example "$py" test/client/asyncpg_example.py
run node_example node test/client/node/example.js
[ "$failed" -eq 0 ]
echo "ok"
