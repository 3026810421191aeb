#!/usr/bin/env bash
# Bad input through the client path: NULLs, text out of range for bigint,
# non-numbers, wrong types, empty, 2-D and huge arrays sent by a client
# (psql, one session).  Each must get a clear error with the right SQLSTATE,
# the same session must keep working after each one (no backend crash), and
# nothing may be half-written: no booking, no lock left behind.
set -euo pipefail
cd "$(dirname "$0")/../.."

psql -qX -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION booking'
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

. test/lib.sh

# A 200,000-id array literal, written out by the client: far more ids than
# the lock table holds on a default server (about 12,800).
huge=$(seq -s, 1000001 1200000)
# 5,000 ids that fit, the last of them already booked: all or nothing.
big=$(seq -s, 2000001 2005000)

# name | SQLSTATE | part of the message | statement
cases=(
	"null resource|22004|resource_id must not be null|SELECT book_resource(NULL, 1)"
	"null user|22004|user_id must not be null|SELECT book_resource(1, NULL)"
	"try null|22004|resource_id must not be null|SELECT try_book_resource(NULL, 1)"
	"release null|22004|user_id must not be null|SELECT release_resource(1, NULL)"
	"holder null|22004|resource_id must not be null|SELECT resource_holder(NULL)"
	"null array|22004|resource_ids must not be null|SELECT book_resources(NULL, 1)"
	"null element|22004|must not contain null|SELECT book_resources(ARRAY[1, NULL], 1)"
	"multi null user|22004|user_id must not be null|SELECT book_resources('{1}', NULL)"
	"out of range|22003|out of range for type bigint|SELECT book_resource('9223372036854775808', 1)"
	"out of range user|22003|out of range for type bigint|SELECT book_resource(1, '-9223372036854775809')"
	"out of range element|22003|out of range for type bigint|SELECT book_resources('{1,9223372036854775808}', 1)"
	"not a number|22P02|invalid input syntax for type bigint|SELECT book_resource('abc', 1)"
	"fraction|22P02|invalid input syntax for type bigint|SELECT book_resource('1.5', 1)"
	"empty text|22P02|invalid input syntax for type bigint|SELECT release_resource('', 1)"
	"numeric argument|42883|does not exist|SELECT book_resource(9223372036854775808, 1)"
	"boolean argument|42883|does not exist|SELECT book_resource(true, 1)"
	"text argument|42883|does not exist|SELECT book_resource('1'::text, 1)"
	"scalar for array|42883|does not exist|SELECT book_resources(1, 1)"
	"empty array|22023|resource_ids must not be empty|SELECT book_resources('{}', 1)"
	"2-D array|2202E|one-dimensional|SELECT book_resources('{{1,2},{3,4}}', 1)"
	"huge array|53200|too many resources to lock in one transaction|SELECT book_resources('{$huge}', 1)"
	"read-only|25006|read-only transaction|BEGIN READ ONLY; SELECT book_resource(1, 1)"
)

{
	echo '\set VERBOSITY verbose'
	echo 'SELECT pg_backend_pid() AS start_pid \gset'
	for c in "${cases[@]}"; do
		IFS='|' read -r name state msg sql <<<"$c"
		echo "\\echo @@ $name"
		echo "$sql;"
		echo "ROLLBACK;"
		echo "SELECT 'alive' AS after;"
	done
	# valid calls the bad ones must not have disturbed
	echo '\echo @@ valid'
	echo "SELECT book_resource(-9223372036854775808, 1), book_resource(9223372036854775807, 2);"
	echo "SELECT book_resources(array_fill(7::bigint, ARRAY[200000]), 3);"
	echo "SELECT book_resource(2005000, 4);"
	echo "SELECT book_resources('{$big}', 5);"
	echo '\echo @@ end'
	echo 'SELECT pg_backend_pid() = :start_pid AS same_backend;'
} >"$work/in.sql"

psql -X -At -f "$work/in.sql" >"$work/out" 2>&1 || true

# the output of one case: from its marker to the next
block() {
	awk -v want="@@ $1" '$0 == want { on = 1; next } /^@@ / { on = 0 } on' "$work/out"
}

fail=0
for c in "${cases[@]}"; do
	IFS='|' read -r name state msg sql <<<"$c"
	out=$(block "$name")
	if ! grep -q "^psql:.*ERROR:  $state: .*$msg" <<<"$out"; then
		echo "case '$name': want $state '$msg', got:"
		head -n 5 <<<"$out" | sed 's/^/    /'
		fail=1
	elif ! grep -qx alive <<<"$out"; then
		echo "case '$name': the session did not answer afterwards"
		fail=1
	fi
done
grep -q 'HINT:  .*max_locks_per_transaction' <<<"$(block "huge array")" ||
	{ echo "huge array: no hint naming max_locks_per_transaction"; fail=1; }
[ "$(block valid)" = "$(printf 't|t\nt\nt\nf')" ] ||
	{ echo "valid calls after the bad ones:"; block valid; fail=1; }
[ "$(block end)" = t ] || { echo "the session's backend changed or died"; cat "$work/out"; fail=1; }
[ "$fail" = 0 ] || exit 1

# Nothing half-written: only the five valid bookings exist, no lock is held,
# and a fresh session books normally.
expect 0 "SELECT count(*) FROM bookings WHERE resource_id BETWEEN 1000001 AND 1200000"
expect 0 "SELECT count(*) FROM bookings WHERE resource_id BETWEEN 2000001 AND 2004999"
expect "-9223372036854775808|1 7|3 2005000|4 9223372036854775807|2" \
	"SELECT string_agg(resource_id || '|' || user_id, ' ' ORDER BY resource_id) FROM bookings"
expect 0 "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
expect t "SELECT book_resource(1, 1)"
echo "ok"
