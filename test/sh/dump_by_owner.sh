#!/usr/bin/env bash
# pg_dump by a database owner who is not a superuser.  The owner of a
# database may dump it; pg_extension_config_dump makes pg_dump read the
# bookings and the position of their identity sequence, so both must be
# readable by that owner.  (In 1.0 the dump failed with "permission denied
# for sequence bookings_id_seq".)  A superuser restores the dump into a
# fresh database: every booking comes back, and the next booking's id
# continues after every id issued before the dump.
set -euo pipefail
cd "$(dirname "$0")/../.."

. test/lib.sh

bindir=$("${PG_CONFIG:-pg_config}" --bindir)
src=regress_booking_dbo_src
dst=regress_booking_dbo_dst
dump=$(mktemp --suffix=.dump)
work=$(mktemp -d)
trap 'rm -rf "$dump" "$work"' EXIT

# The owner logs in like the test's superuser: with its password where the
# cluster asks for one (pg_virtualenv does).
password=
[ -n "${PGPASSWORD:-}" ] && password="PASSWORD '$PGPASSWORD'"
q "DROP DATABASE IF EXISTS $src"
q "DROP DATABASE IF EXISTS $dst"
q "DROP ROLE IF EXISTS regress_dbo"
q "CREATE ROLE regress_dbo LOGIN $password"
q "CREATE DATABASE $src OWNER regress_dbo"
PGDATABASE=$src q "CREATE EXTENSION booking"

# Bookings made by the owner, with releases that leave the sequence ahead
# of max(id).
export PGDATABASE=$src
PGUSER=regress_dbo expect t "SELECT book_resource(1, 10)"
PGUSER=regress_dbo expect t "SELECT book_resources(ARRAY[2, 3, 4], 20)"
PGUSER=regress_dbo expect t "SELECT book_resource(5, 50)"
PGUSER=regress_dbo expect t "SELECT release_resource(5, 50)"
PGUSER=regress_dbo expect t "SELECT release_resource(3, 20)"
rows="COPY (SELECT id, resource_id, user_id, booked_at FROM bookings ORDER BY id) TO STDOUT"
psql -X -q -v ON_ERROR_STOP=1 -c "$rows" >"$work/src.rows"
last_issued=$(q "SELECT last_value FROM bookings_id_seq")
[ "$last_issued" -gt "$(q "SELECT max(id) FROM bookings")" ] ||
	{ echo "setup: the releases should have left the sequence ahead of max(id)"; exit 1; }

# The owner dumps its database.
if ! PGUSER=regress_dbo "$bindir/pg_dump" -Fc -d "$src" -f "$dump" 2>"$work/dump.err"; then
	echo "pg_dump by the database owner failed:"
	cat "$work/dump.err"
	exit 1
fi

# A superuser restores it into a fresh database.
q "CREATE DATABASE $dst"
"$bindir/pg_restore" --exit-on-error -d "$dst" "$dump"
export PGDATABASE=$dst
psql -X -q -v ON_ERROR_STOP=1 -c "$rows" >"$work/dst.rows"
diff -u "$work/src.rows" "$work/dst.rows" ||
	{ echo "restored bookings differ from the dumped ones"; exit 1; }
expect 3 "SELECT count(*) FROM bookings"
expect 20 "SELECT resource_holder(4)"
expect f "SELECT book_resource(1, 99)"
expect t "SELECT book_resource(6, 60)"
new_id=$(q "SELECT id FROM bookings WHERE resource_id = 6")
[ "$new_id" -gt "$last_issued" ] ||
	{ echo "new booking got id $new_id, not above $last_issued, the last issued before the dump"; exit 1; }

export PGDATABASE=postgres
q "DROP DATABASE $src"
q "DROP DATABASE $dst"
q "DROP ROLE regress_dbo"
echo "ok"
