#!/usr/bin/env bash
# Major-version upgrade: a PostgreSQL 15 database with bookings, dumped by
# the newer version's pg_dump (as PostgreSQL advises) and restored into that
# version, keeps every booking and the identity's position.  Afterwards
# book_resource answers false for every booked resource and books a new one
# with an id above every id the old cluster ever issued.
#
#   test/upgrade.sh V      as root on this machine (Debian 12, PostgreSQL 15),
#                          with the root for V made by test/root.sh
#
# The source cluster runs on this machine and listens on localhost; the
# target cluster runs in the root, whose pg_dump reaches the source over TCP
# (a chroot shares the machine's network).  Ends with "ok" or "FAIL" lines
# and exits non-zero on failure.  test/matrix.sh runs it for each newer
# version.
#
# Internal steps: --source V runs inside the source cluster, --target inside
# the root, --restore inside the target cluster.
set -euo pipefail
cd "$(dirname "$0")/.."

db=regress_booking_upgrade
# booked_at prints the same in both clusters whatever their zones
export PGTZ=UTC

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

q() {
	psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$db" -c "$*"
}

expect() {
	local what=$1 want=$2 got=$3
	[ "$got" = "$want" ] || fail "$what: expected '$want', got '$got'"
	echo "ok: $what ($got)"
}

# Build and install the work tree's booking for $PGVERSION (by then set),
# from a scratch copy so the work tree keeps no build products.
install_booking() {
	local dir
	dir=$(mktemp -d)
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -z | while IFS= read -r -d '' f; do
			[ -e "$f" ] && printf '%s\0' "$f"
		done | tar --null -T - -cf - | tar -xf - -C "$dir"
	else
		# in a root, the copy test/root.sh made holds the tracked files only
		cp -a . "$dir/"
	fi
	if ! make -s -C "$dir" PG_CFLAGS="-Wextra -Werror -Wno-unused-parameter" >/dev/null ||
		! make -s -C "$dir" install >/dev/null; then
		rm -rf "$dir"
		fail "build of booking for PostgreSQL $PGVERSION failed"
	fi
	rm -rf "$dir"
}

# The source: bookings made through the API on 15, releases that leave the
# identity's position above max(id), and extreme resource ids.
source_side() {
	local target=$1
	createdb "$db"
	q "CREATE EXTENSION booking" >/dev/null
	for r in 1 2 3 -9223372036854775808 9223372036854775807; do
		expect "15: book $r" t "$(q "SELECT book_resource($r, 100 + ($r % 7))")"
	done
	expect "15: book a set" t "$(q "SELECT book_resources('{10,11,12}', 200)")"
	expect "15: release 2" t "$(q "SELECT release_resource(2, 102)")"
	for i in $(seq 1 20); do
		q "SELECT book_resource(1000 + $i, 300)" >/dev/null
	done
	# the last ids issued are released, so max(id) lags the identity
	expect "15: release the newest" 5 \
		"$(q "SELECT count(*) FILTER (WHERE release_resource(r, 300))
				FROM unnest(ARRAY(SELECT resource_id FROM bookings
								  WHERE resource_id > 1015)) r")"
	local last max
	last=$(q "SELECT last_value FROM bookings_id_seq")
	max=$(q "SELECT max(id) FROM bookings")
	[ "$last" -gt "$max" ] || fail "setup: last_value $last should be above max(id) $max"
	echo "ok: 15: $(q "SELECT count(*) FROM bookings") bookings, max(id) $max, identity at $last"

	# The target reaches this cluster over TCP on localhost.
	export BOOKING_SRC_PGHOST=localhost BOOKING_SRC_PGPORT=$PGPORT \
		BOOKING_SRC_PGUSER=$PGUSER BOOKING_SRC_PGPASSWORD=$PGPASSWORD \
		BOOKING_SRC_PGDATABASE=$db
	PGPORT=$((PGPORT + 1)) bash test/root.sh run "$target" bash test/upgrade.sh --target
}

# A psql or pg_dump of the target's version, connected to the source.
src() {
	PGHOST=$BOOKING_SRC_PGHOST PGPORT=$BOOKING_SRC_PGPORT \
		PGUSER=$BOOKING_SRC_PGUSER PGPASSWORD=$BOOKING_SRC_PGPASSWORD \
		PGDATABASE=$BOOKING_SRC_PGDATABASE PGSYSCONFDIR=/nonexistent "$@"
}

restore_side() {
	local bindir=/usr/lib/postgresql/$PGVERSION/bin
	local dump rows_sql last src_ver n
	# global: the EXIT trap runs after this function has returned
	work=$(mktemp -d)
	dump=$work/booking.dump
	trap 'rm -rf "$work"' EXIT

	expect "source is PostgreSQL 15" 15 \
		"$(src psql -XAtq -c "SELECT current_setting('server_version_num')::int / 10000")"
	src "$bindir/pg_dump" -Fc -f "$dump"
	createdb "$db"
	"$bindir/pg_restore" --exit-on-error -d "$db" "$dump"
	expect "target is PostgreSQL $PGVERSION" "$PGVERSION" \
		"$(q "SELECT current_setting('server_version_num')::int / 10000")"

	rows_sql="COPY (SELECT id, resource_id, user_id, booked_at
					FROM bookings ORDER BY id) TO STDOUT"
	src psql -X -q -v ON_ERROR_STOP=1 -c "$rows_sql" >"$work/src.rows"
	psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "$rows_sql" >"$work/dst.rows"
	diff -u "$work/src.rows" "$work/dst.rows" ||
		fail "restored rows differ from the source (diff above)"
	n=$(wc -l <"$work/src.rows")
	echo "ok: all $n bookings restored identical"

	src_ver=$(src psql -XAtq -c "SELECT extversion FROM pg_extension WHERE extname = 'booking'")
	expect "extension restored at the source's version" "$src_ver" \
		"$(q "SELECT extversion FROM pg_extension WHERE extname = 'booking'")"
	last=$(src psql -XAtq -c "SELECT last_value FROM bookings_id_seq")
	expect "identity position restored" "$last" "$(q "SELECT last_value FROM bookings_id_seq")"

	# Every booked resource is still booked: no second booking anywhere.
	expect "book_resource answers false for every booked resource" "$n|0" \
		"$(q "SELECT count(*), count(*) FILTER (WHERE book_resource(r, 999))
				FROM unnest(ARRAY(SELECT resource_id FROM bookings)) r")"
	expect "book_resources answers false on a booked member" f \
		"$(q "SELECT book_resources('{11,5000}', 999)")"
	expect "holders restored" 101 "$(q "SELECT resource_holder(1)")"

	# New bookings get fresh ids, above every id the old cluster issued.
	expect "a new resource books" t "$(q "SELECT book_resource(5000, 400)")"
	expect "a released resource books again" t "$(q "SELECT book_resource(2, 401)")"
	local id
	id=$(q "SELECT id FROM bookings WHERE resource_id = 5000")
	[ "$id" -gt "$last" ] ||
		fail "new booking got id $id, not above the last id issued before the dump ($last)"
	echo "ok: the new booking's id $id is above every id issued on 15 ($last)"
	expect "no duplicate ids" 0 "$(q "SELECT count(*) - count(DISTINCT id) FROM bookings")"
	expect "one booking per resource" 0 \
		"$(q "SELECT count(*) - count(DISTINCT resource_id) FROM bookings")"
	expect "a restored booking releases" t "$(q "SELECT release_resource(3, 103)")"
}

case ${1:-} in
	--source)
		source_side "$2"
		;;
	--target)
		. test/pgversion.sh
		bash test/setup.sh
		install_booking
		pg_virtualenv -t -v "$PGVERSION" bash test/upgrade.sh --restore
		;;
	--restore)
		restore_side
		echo "upgrade: all checks passed"
		;;
	[0-9]*)
		[ "$(id -u)" -eq 0 ] || fail "run as root (the target runs in a chroot)"
		export PGVERSION=15
		. test/pgversion.sh
		install_booking
		export PGPORT=${PGPORT:-5493}
		pg_virtualenv -t -v 15 bash test/upgrade.sh --source "$1"
		;;
	*)
		echo "usage: test/upgrade.sh VERSION" >&2
		exit 2
		;;
esac
