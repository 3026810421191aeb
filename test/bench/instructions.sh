#!/usr/bin/env bash
# Instructions per uncontended booking, counted by callgrind, for the booking
# build installed in the PostgreSQL that PG_CONFIG names (default: this
# machine's).  Repeatable whatever else the machine is doing, unlike TPS.
#
#   test/bench/instructions.sh [OWN|ATTACHED|PLPGSQL]
#
# A single-user backend (no client, no network) runs 200 and then 1,200
# autocommit "SELECT book_resource(...)" statements on fresh resources, each
# on a new cluster with 100 bookings and synchronous_commit=off; the
# difference of the two totals over 1,000 is the cost of one booking
# transaction, statement parsing and planning included.  ATTACHED books into
# an attached bookings(id serial, resource_id int, user_id int) instead of
# the extension's own table; PLPGSQL runs the same protocol on that table as
# a PL/pgSQL function (pg_advisory_xact_lock, then INSERT ... WHERE NOT
# EXISTS), without the extension.  Run as root (the backend runs as postgres).
set -euo pipefail
which=${1:-OWN}
bin=$(${PG_CONFIG:-pg_config} --bindir)
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 1; }
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"' EXIT
chown postgres "$work"

call() {
	case $which in
		ATTACHED) echo "SELECT book_resource('app_bookings', $1, 1);" ;;
		PLPGSQL) echo "SELECT app_book($1, 1);" ;;
		*) echo "SELECT book_resource($1, 1);" ;;
	esac
}

total() {
	local n=$1 d=$work/data$1
	runuser -u postgres -- "$bin/initdb" -D "$d" -A trust -U postgres >/dev/null
	echo "synchronous_commit = off" >>"$d/postgresql.conf"
	{
		echo "CREATE EXTENSION booking;"
		echo "CREATE TABLE app_bookings (id serial PRIMARY KEY, resource_id int, user_id int);"
		echo "CREATE INDEX ON app_bookings (resource_id);"
		[ "$which" = ATTACHED ] && echo "SELECT booking_attach('app_bookings');"
		# one line: the single-user backend ends a statement at a newline
		echo "CREATE FUNCTION app_book(r bigint, u bigint) RETURNS boolean LANGUAGE plpgsql AS \$\$ BEGIN PERFORM pg_advisory_xact_lock(r); INSERT INTO app_bookings (resource_id, user_id) SELECT r, u WHERE NOT EXISTS (SELECT 1 FROM app_bookings WHERE resource_id = r); RETURN FOUND; END \$\$;"
		for i in $(seq 1 100); do call $((20000000 + i)); done
	} >"$work/setup.sql"
	for i in $(seq 1 "$n"); do call $((i * 7919 % 10000000)); done >"$work/run$n.sql"
	chown postgres "$work"/*.sql
	runuser -u postgres -- "$bin/postgres" --single -D "$d" postgres <"$work/setup.sql" >/dev/null 2>&1
	runuser -u postgres -- valgrind --tool=callgrind --callgrind-out-file="$work/cg$n.out" \
		"$bin/postgres" --single -D "$d" postgres <"$work/run$n.sql" >/dev/null 2>"$work/vg$n.log"
	sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/vg$n.log"
}

small=$(total 200)
large=$(total 1200)
echo "$which: $(( (large - small) / 1000 )) instructions per booking transaction ($small for 200, $large for 1200)"
