#!/usr/bin/env bash
# Live demo: set up, build and install booking, start a throwaway cluster of
# this machine's PostgreSQL (15 on Debian 12), and race two sessions for the
# same resource.  Session A books resource 99 and holds its transaction open
# for three seconds; session B asks for the same resource, waits on A's
# lock, and loses once A commits.
#
#   ./demo.sh             on this machine's PostgreSQL
#   ./demo.sh --pg 18     on PostgreSQL 17 or 18, in test/matrix.sh's Debian
#                         root for it (as root)
set -euo pipefail
cd "$(dirname "$0")"

if [ "${1:-}" = --pg ]; then
	[ -n "${2:-}" ] || { echo "usage: ./demo.sh [--pg VERSION]" >&2; exit 2; }
	if [ "$2" != "$(unset PGVERSION; . test/pgversion.sh && echo "$PGVERSION")" ]; then
		bash test/root.sh prepare "$2"
		exec bash test/root.sh run "$2" bash demo.sh
	fi
	export PGVERSION=$2
	shift 2
fi

if [ "${1:-}" != --inside ]; then
	. test/pgversion.sh
	bash test/setup.sh
	make -s >/dev/null && make -s install >/dev/null
	export PGPORT=${PGPORT:-5490}
	exec pg_virtualenv -t -v "$PGVERSION" bash "$0" --inside
fi

export PSQLRC=/dev/null
q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }
stamp() { date +%H:%M:%S.%3N; }

q -c "CREATE EXTENSION booking"
echo "$(stamp)  cluster up: $(q -c 'SELECT version()' | cut -d, -f1), port $PGPORT"

PGAPPNAME=A q <<'SQL' | sed -u 's/^/         A | /' &
\set ON_ERROR_STOP 1
BEGIN;
SELECT to_char(clock_timestamp(), 'HH24:MI:SS.MS') || '  book_resource(99, 1)  -> ' || booked
FROM (SELECT book_resource(99, 1) AS booked OFFSET 0) s;
SELECT to_char(clock_timestamp(), 'HH24:MI:SS.MS') || '  holding the lock for 3 s ...';
SELECT pg_sleep(3) \g /dev/null
COMMIT;
SELECT to_char(clock_timestamp(), 'HH24:MI:SS.MS') || '  COMMIT';
SQL
sleep 0.5

PGAPPNAME=B q <<'SQL' | sed -u 's/^/         B | /' &
\set ON_ERROR_STOP 1
SELECT to_char(clock_timestamp(), 'HH24:MI:SS.MS') || '  book_resource(99, 2)  waiting ...';
SELECT to_char(clock_timestamp(), 'HH24:MI:SS.MS') || '  book_resource(99, 2)  -> ' || booked
FROM (SELECT book_resource(99, 2) AS booked OFFSET 0) s;
SQL
sleep 1

echo "$(stamp)  pg_locks while B waits (session | waiting | locktype | resource_id | mode | granted):"
q -F ' | ' <<'SQL' | sed 's/^/           /'
SELECT 'session ' || a.application_name, l.pid = ANY (SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock') AS waiting,
       l.locktype, (l.classid::bigint << 32 | l.objid::bigint) AS resource_id, l.mode, l.granted
FROM pg_locks l JOIN pg_stat_activity a USING (pid)
WHERE l.locktype = 'advisory' ORDER BY l.granted DESC;
SQL
wait

echo "$(stamp)  final state:"
q -c "SELECT 'resource ' || resource_id || ' held by user ' || user_id || ' (' || count(*) OVER () || ' row)' FROM bookings" | sed 's/^/           /'
