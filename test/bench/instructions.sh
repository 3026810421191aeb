#!/usr/bin/env bash
# Instructions per uncontended booking, counted by callgrind, for the booking
# build installed in the PostgreSQL that PG_CONFIG names (default: this
# machine's).  Repeatable whatever else the machine is doing, unlike TPS.
#
#   test/bench/instructions.sh [OWN|ATTACHED]
#
# A single-user backend (no client, no network) runs 200 and then 1,200
# autocommit "SELECT book_resource(...)" statements on fresh resources, each
# on a new cluster with 100 bookings and synchronous_commit=off; the
# difference of the two totals over 1,000 is the cost of one booking
# transaction, statement parsing and planning included.  ATTACHED books into
# an attached bookings(id serial, resource_id int, user_id int) instead of
# the extension's own table.  Run as root (the backend runs as postgres).
set -euo pipefail
which=${1:-OWN}
bin=$(${PG_CONFIG:-pg_config} --bindir)
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chown postgres "$work"

call() {
	if [ "$which" = ATTACHED ]; then
		echo "SELECT book_resource('app_bookings', $1, 1);"
	else
		echo "SELECT book_resource($1, 1);"
	fi
}

total() {
	local n=$1 d=$work/data$1
	runuser -u postgres -- "$bin/initdb" -D "$d" -A trust -U postgres >/dev/null
	echo "synchronous_commit = off" >>"$d/postgresql.conf"
	{
		echo "CREATE EXTENSION booking;"
		if [ "$which" = ATTACHED ]; then
			echo "CREATE TABLE app_bookings (id serial PRIMARY KEY, resource_id int, user_id int);"
			echo "CREATE INDEX ON app_bookings (resource_id);"
			echo "SELECT booking_attach('app_bookings');"
		fi
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
