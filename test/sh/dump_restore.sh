#!/usr/bin/env bash
# pg_dump / pg_restore round trip of the booking extension.
#
# Bookings are user data in an extension table (pg_extension_config_dump):
# the rows must come back identical, the identity's position with them, and
# the functions must work on the restored table.  Run inside a throwaway
# cluster: pg_virtualenv -t -v "$PGVERSION" bash test/sh/dump_restore.sh
set -euo pipefail

bindir=/usr/lib/postgresql/${PGVERSION:?run under pg_virtualenv}/bin
src=regress_booking_dump_src
dst=regress_booking_dump_dst
dump=$(mktemp --suffix=.dump)
workdir=$(mktemp -d)
trap 'rm -rf "$dump" "$workdir"' EXIT
# booked_at prints the same in both databases whatever the server's zone
export PGTZ=UTC

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# One value, no alignment; errors abort the script.
q() {
	local db=$1; shift
	psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$db" -c "$*"
}

expect() {
	local what=$1 want=$2 got=$3
	[ "$got" = "$want" ] || fail "$what: expected '$want', got '$got'"
	echo "ok: $what ($got)"
}

dropdb --if-exists "$src"
dropdb --if-exists "$dst"
createdb "$src"
q "$src" "CREATE EXTENSION booking"

# Separate transactions, so booked_at differs between rows.  Extreme ids
# and a multi-resource booking too; then releases leave gaps in id,
# including the highest id ever issued, so max(id) lags the sequence.
for r in 1 2 3 -9223372036854775808 9223372036854775807; do
	expect "book $r" t "$(q "$src" "SELECT book_resource($r, 100 + ($r % 7))")"
done
expect "book set" t "$(q "$src" "SELECT book_resources('{10,11,12}', 200)")"
expect "release 2" t "$(q "$src" "SELECT release_resource(2, 102)")"
expect "book 20" t "$(q "$src" "SELECT book_resource(20, 300)")"
expect "release 20" t "$(q "$src" "SELECT release_resource(20, 300)")"

rows_sql="COPY (SELECT id, resource_id, user_id, booked_at
                FROM bookings ORDER BY id) TO STDOUT"
psql -X -q -v ON_ERROR_STOP=1 -d "$src" -c "$rows_sql" >"$workdir/src.rows"
nrows=$(wc -l <"$workdir/src.rows")
expect "source rows" 7 "$nrows"
# Every id issued so far, released ones included.
last_issued=$(q "$src" "SELECT last_value FROM bookings_id_seq")
max_src_id=$(q "$src" "SELECT max(id) FROM bookings")
[ "$last_issued" -gt "$max_src_id" ] ||
	fail "setup: the released booking should have left last_value ($last_issued) above max(id) ($max_src_id)"
seq_state_sql="SELECT last_value, is_called FROM bookings_id_seq"
src_seq=$(q "$src" "$seq_state_sql")

"$bindir/pg_dump" -Fc -d "$src" -f "$dump"
createdb "$dst"
"$bindir/pg_restore" --exit-on-error -d "$dst" "$dump"

# Every row identical, booked_at to the microsecond.
psql -X -q -v ON_ERROR_STOP=1 -d "$dst" -c "$rows_sql" >"$workdir/dst.rows"
if ! diff -u "$workdir/src.rows" "$workdir/dst.rows"; then
	fail "restored rows differ from the source (diff above)"
fi
echo "ok: all $nrows rows (id, resource_id, user_id, booked_at) restored identical"

expect "sequence state restored" "$src_seq" "$(q "$dst" "$seq_state_sql")"
ext_sql="SELECT extversion FROM pg_extension WHERE extname = 'booking'"
expect "extension restored as an extension, at the source's version" \
	"$(q "$src" "$ext_sql")" "$(q "$dst" "$ext_sql")"

# The functions work on the restored table.
expect "restored booking is held" 101 "$(q "$dst" "SELECT resource_holder(1)")"
expect "booked resource answers false" f "$(q "$dst" "SELECT book_resource(1, 999)")"
expect "booked set member answers false" f "$(q "$dst" "SELECT book_resources('{11,13}', 999)")"
expect "released resource is free" "" "$(q "$dst" "SELECT resource_holder(2)")"
expect "new resource books" t "$(q "$dst" "SELECT book_resource(30, 400)")"
expect "released resource books again" t "$(q "$dst" "SELECT book_resource(2, 401)")"
expect "restored booking releases" t "$(q "$dst" "SELECT release_resource(3, 103)")"

# The identity position came back: new ids are above every id ever issued
# in the source, released ones included (a restart from max(id) + 1 or from
# 1 would reuse ids).
new_id=$(q "$dst" "SELECT id FROM bookings WHERE resource_id = 30")
[ "$new_id" -gt "$last_issued" ] ||
	fail "new booking got id $new_id, not above the source's last issued id $last_issued"
echo "ok: new booking's id $new_id is above every id issued before the dump ($last_issued)"
expect "no duplicate ids" 0 \
	"$(q "$dst" "SELECT count(*) - count(DISTINCT id) FROM bookings")"
expect "one row per resource" 0 \
	"$(q "$dst" "SELECT count(*) - count(DISTINCT resource_id) FROM bookings")"

dropdb "$src"
dropdb "$dst"
echo "dump_restore: all checks passed"
