#!/usr/bin/env bash
# PgBouncer in front of the cluster: booking behind a pooler.
#
# One pgbouncer (Debian's, run as postgres: it refuses root) with its own
# port, config and auth file in a temp dir, stopped on exit.  Two pools on
# the one database:
#   txn   pool_mode = transaction, 8 server connections
#   sess  pool_mode = session, server_reset_query = DISCARD ALL
# 1. The stress tool, 64 clients through the 8 transaction-pooled server
#    connections: every invariant holds, pgbouncer carried every
#    transaction, and afterwards no pooled server connection holds a lock.
# 2. Session pooling: clients take a session-level pg_advisory_lock and
#    disconnect without unlocking; DISCARD ALL drops the lock, and the same
#    server connection serves the next client.
# 3. The hazard of session state through transaction pooling: a session
#    pg_advisory_lock stays on a pooled server connection after its client
#    has gone; bookings of that resource from other clients wait for it and
#    fail with lock_timeout (55P03) -- unless they land on that very
#    connection, where they book; pg_advisory_unlock through the pool lands
#    elsewhere and answers false with a WARNING.  A session-level SET leaks
#    the same way.  booking takes transaction-level locks only, so none of
#    this happens to it.
# 4. psycopg 3's and asyncpg's prepared statements break through transaction
#    pooling with their defaults, and work with prepare_threshold=None and
#    statement_cache_size=0.
set -euo pipefail
cd "$(dirname "$0")/../.."

. test/lib.sh
track_sessions
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION booking'
make -s -C test/stress >/dev/null

# --- start pgbouncer ------------------------------------------------------
bdir=$(mktemp -d)
# a free port of our own, near the cluster's (6700-6799 when PGPORT is 57xx)
bport=$((6700 + PGPORT % 100))
while ss -Hltn "sport = :$bport" | grep -q .; do bport=$((bport + 1)); done
cat >"$bdir/pgbouncer.ini" <<EOF
[databases]
txn = host=127.0.0.1 port=$PGPORT dbname=postgres pool_mode=transaction pool_size=8
sess = host=127.0.0.1 port=$PGPORT dbname=postgres pool_mode=session pool_size=2

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $bdir/userlist.txt
admin_users = $PGUSER
max_client_conn = 200
reserve_pool_size = 0
server_reset_query = DISCARD ALL
server_reset_query_always = 0
logfile = $bdir/pgbouncer.log
pidfile = $bdir/pgbouncer.pid
EOF
printf '"%s" "%s"\n' "$PGUSER" "$PGPASSWORD" >"$bdir/userlist.txt"
chmod 600 "$bdir/userlist.txt"
as_bouncer=()
if [ "$(id -u)" -eq 0 ]; then
	chown -R postgres: "$bdir"
	as_bouncer=(runuser -u postgres --)
fi
stop_bouncer() {
	[ -f "$bdir/pgbouncer.pid" ] && kill "$(cat "$bdir/pgbouncer.pid")" 2>/dev/null
	rm -rf "$bdir"
}
trap 'stop_bouncer; exec 3>&- 2>/dev/null || true
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	rm -rf "$work"' EXIT
"${as_bouncer[@]}" pgbouncer -d -q "$bdir/pgbouncer.ini"
for i in $(seq 1 50); do
	PGPORT=$bport PGDATABASE=pgbouncer psql -qAtX -c 'SHOW VERSION' >/dev/null 2>&1 && break
	sleep 0.1
done
echo "$(PGPORT=$bport PGDATABASE=pgbouncer psql -qAtX -c 'SHOW VERSION') on port $bport"

# psql through a pool, and the admin console (a header line, then rows)
txn() { PGPORT=$bport PGDATABASE=txn psql -qAtX "$@"; }
sess() { PGPORT=$bport PGDATABASE=sess psql -qAtX "$@"; }
admin() { PGPORT=$bport PGDATABASE=pgbouncer psql -qAX -P footer=off -c "$1"; }
# show_col WHAT POOL COLUMN: one column of SHOW WHAT, by name, for one pool
show_col() {
	admin "SHOW $1" | awk -F'|' -v db="$2" -v col="$3" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
		($1 == db || $3 == db) && c { print $c }'
}
# pids of the server connections pgbouncer holds for a pool
server_pids() { show_col SERVERS "$1" remote_pid | sort -n; }
advisory_locks() { q "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"; }

echo "== 1. stress: 64 clients through 8 transaction-pooled server connections"
out=$work/stress.out
rc=0
test/stress/stress --conninfo "host=127.0.0.1 port=$bport dbname=txn" --progress 0 \
	--clients 64 --attempts 30000 --resources 500 --dist hot --hot 10 --seed 21 >"$out" || rc=$?
cat "$out"
[ "$rc" -eq 0 ] || { echo "stress through pgbouncer exited with $rc"; exit 1; }
grep -q '^check: OK' "$out"
grep -q '^errors by SQLSTATE: none' "$out"
grep -q '^booking stress: 64 clients, 30000 attempts' "$out"
# every function committed a true: the run did real work
for f in book_resource try_book_resource book_resources release_resource; do
	n=$(awk -v f="$f" '$1 == f { print $6 }' "$out")
	[ "$n" -gt 0 ] || { echo "no committed true from $f"; exit 1; }
done
# it all went through the pool: 8 server connections at most, and pgbouncer
# counted at least one transaction per attempt (BEGIN ... COMMIT/ROLLBACK)
servers=$(server_pids txn | wc -l)
xacts=$(show_col STATS txn total_xact_count)
echo "pgbouncer: $servers server connections for 64 clients, $xacts transactions"
[ "$servers" -ge 1 ] && [ "$servers" -le 8 ] || { echo "server connections: $servers"; exit 1; }
[ "$xacts" -ge 30000 ] || { echo "pgbouncer saw only $xacts transactions"; exit 1; }
# the server connections are still there, pooled, and hold no lock at all
for p in $(server_pids txn); do
	expect 1 "SELECT count(*) FROM pg_stat_activity WHERE pid = $p"
done
expect 0 "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
          WHERE l.locktype = 'advisory' AND a.backend_type = 'client backend'"
[ "$(advisory_locks)" = 0 ] || { echo "advisory locks left: $(advisory_locks)"; exit 1; }

echo "== 2. session pooling: DISCARD ALL drops a session lock its client left"
seen=()
for i in 1 2 3 4 5 6; do
	key=$((900 + i))
	# take the lock, name the backend, and go without unlocking
	p=$(sess -c "SELECT pg_advisory_lock($key), pg_backend_pid()" | cut -d'|' -f2)
	seen+=("$p")
	# the reset runs when the client has gone: the lock is dropped...
	wait_for "SELECT NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = $key)"
	# ... and not by closing the connection: the backend lives on in the pool
	expect 1 "SELECT count(*) FROM pg_stat_activity WHERE pid = $p"
	server_pids sess | grep -qx "$p" || { echo "server $p left the session pool"; exit 1; }
	# nobody has to wait for that resource
	[ "$(sess -c "SET lock_timeout = '1s'" -c "SELECT book_resource($key, $i)")" = t ]
done
distinct=$(printf '%s\n' "${seen[@]}" | sort -u | wc -l)
echo "6 clients left session locks on ${distinct} server connection(s): ${seen[*]}; all dropped"
[ "$distinct" -lt 6 ] || { echo "no server connection was reused"; exit 1; }
expect 0 "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
# the control: without its reset the lock would stay -- a client of the
# transaction pool (no reset there) shows exactly that below

echo "== 3. the hazard: session state through transaction pooling"
# fan SQL: 8 clients of the txn pool at once, each in a transaction long
# enough that they hold all 8 server connections together; client i writes
# its backend's pid and then SQL's answer (or error, with its SQLSTATE) to
# $work/fan.i
fan() {
	local i fpids=()
	for i in $(seq 1 8); do
		txn -v VERBOSITY=verbose -c 'BEGIN' -c 'SELECT pg_backend_pid(), pg_sleep(0.5)' \
			-c "${1//@i@/$i}" -c 'COMMIT' >"$work/fan.$i" 2>&1 &
		fpids+=($!)
	done
	for i in "${fpids[@]}"; do wait "$i" || true; done
	# pid|   from the first statement, then the answer
	for i in $(seq 1 8); do
		sed -i -n -e '1s/|$//p' -e '2,$p' "$work/fan.$i"
	done
}
fan_pid() { head -n 1 "$work/fan.$1"; }
fan_answer() { sed -n '2,$p' "$work/fan.$1" | grep -v '^COMMIT$' | grep -v '^BEGIN$' | tr '\n' ' '; }

p=$(txn -c "SELECT pg_advisory_lock(555), pg_backend_pid()" | cut -d'|' -f2)
# the client is gone; its lock stayed on a pooled server that sits idle, in
# no transaction (booking_waits shows such a holder's state as 'idle')
expect "$p|idle" "SELECT l.pid, a.state FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                  WHERE l.locktype = 'advisory' AND l.objid = 555 AND l.granted"

# A booker waiting for it (straight to the server) sees, in booking_waits,
# the signature of a leaked session lock: a holder that is 'idle', in no
# transaction.  Cancelled, it gets 57014 and books nothing.
PGAPPNAME=direct psql -qAtX -v VERBOSITY=verbose -c "SET lock_timeout = '20s'" \
	-c 'SELECT book_resource(555, 99)' >"$work/direct.out" 2>&1 &
direct=$!
pids+=("$direct")
wait_for "SELECT EXISTS (SELECT 1 FROM booking_waits WHERE application_name = 'direct')"
expect "555|{$p}|{idle}|f" \
	"SELECT resource_id, holder_pids, holder_states, holder_idle_in_transaction
	 FROM booking_waits WHERE application_name = 'direct'"
expect t "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'direct'"
wait "$direct" || true
grep -q 'ERROR:  57014: canceling statement due to user request' "$work/direct.out" ||
	{ cat "$work/direct.out"; exit 1; }

# bookings of 555 from 8 other clients, with a lock timeout set the only way
# that works behind transaction pooling: SET LOCAL, inside the transaction.
# (A booking that commits would answer the others false from the index
# without their queueing: the one that books holds its transaction open.)
fan "SET LOCAL lock_timeout = '1500ms'; SELECT book_resource(555, @i@), pg_sleep(2)" &
fanpid=$!
# while they wait, the view names the holder
wait_for "SELECT count(*) = 7 FROM booking_waits WHERE resource_id = 555"
expect "7|{$p}" "SELECT count(*), min(holder_pids::text) FROM booking_waits WHERE resource_id = 555"
wait "$fanpid"
waited=0
for i in $(seq 1 8); do
	echo "client $i on server $(fan_pid "$i"): $(fan_answer "$i")"
	if [ "$(fan_pid "$i")" = "$p" ]; then
		# the one that landed on the lock's own connection books: same backend
		fan_answer "$i" | grep -q '^t| ' || { echo "client $i on $p did not book"; exit 1; }
	else
		fan_answer "$i" | grep -q 'ERROR:  55P03: canceling statement due to lock timeout' ||
			{ echo "client $i was not stopped by lock_timeout"; exit 1; }
		waited=$((waited + 1))
	fi
done
[ "$waited" -eq 7 ] || { echo "$waited clients waited, want 7 (one per other server)"; exit 1; }
expect 1 "SELECT count(*) FROM bookings WHERE resource_id = 555"

# pg_advisory_unlock through the pool: on any other server connection it
# answers false with a WARNING, and the lock stays
fan "SELECT pg_advisory_unlock(555)"
elsewhere=0
for i in $(seq 1 8); do
	echo "unlock from client $i on server $(fan_pid "$i"): $(fan_answer "$i")"
	if [ "$(fan_pid "$i")" = "$p" ]; then
		fan_answer "$i" | grep -q '^t ' || { echo "unlock on $p failed"; exit 1; }
	else
		fan_answer "$i" | grep -q "^WARNING:  01000: you don't own a lock of type ExclusiveLock" ||
			{ echo "client $i: no WARNING"; exit 1; }
		fan_answer "$i" | grep -q ' f ' || { echo "client $i: unlock did not answer false"; exit 1; }
		elsewhere=$((elsewhere + 1))
	fi
done
[ "$elsewhere" -eq 7 ] || { echo "$elsewhere unlocks landed elsewhere, want 7"; exit 1; }
# one of them happened to land on the holder's connection and freed it
expect 0 "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"

# a session-level SET leaks the same way: it stays on one server connection
# and reaches whichever client lands there next
txn -c "SET lock_timeout = '4321ms'" >/dev/null
fan "SELECT current_setting('lock_timeout')"
leaked=0
for i in $(seq 1 8); do
	a=$(fan_answer "$i")
	case "$a" in
	"4321ms "*) leaked=$((leaked + 1)) ;;
	"0 "*) ;;
	*) echo "client $i: lock_timeout $a"; exit 1 ;;
	esac
done
echo "SET lock_timeout by one client: seen by $leaked of 8 later clients"
[ "$leaked" -eq 1 ] || { echo "want exactly one client on the SET's server, got $leaked"; exit 1; }

echo "== 4. drivers' prepared statements through transaction pooling"
# pgbouncer before 1.21 (Debian 12 ships 1.18) does not carry protocol-level
# prepared statements from one server connection to the next: with their
# defaults psycopg 3 (after 5 executions) and asyncpg (always) then fail.
# From 1.21 on, with max_prepared_statements (on by default since 1.22),
# pgbouncer prepares them on each server connection itself and the defaults
# work.  With the README's settings neither driver prepares, on any version.
py=
for c in /usr/bin/python3 python3; do
	if "$c" -c 'import psycopg, asyncpg' 2>/dev/null; then py=$c; break; fi
done
[ -n "$py" ] || { echo "no python3 with psycopg and asyncpg"; exit 1; }
PGPORT=$bport PGDATABASE=txn "$py" test/client/pooled_drivers.py | tee "$work/drivers.out"
bouncer_version=$(pgbouncer --version | sed -n 's/^[Pp]g[Bb]ouncer \([0-9]*\)\.\([0-9]*\).*/\1 \2/p' | head -n 1)
read -r bmaj bmin <<<"$bouncer_version"
if [ "$bmaj" -eq 1 ] && [ "$bmin" -lt 21 ]; then
	echo "pgbouncer $bmaj.$bmin: the drivers' defaults must fail"
	grep -Eq "^psycopg default .*'26000': [0-9]+" "$work/drivers.out"
	grep -Eq "^asyncpg default .*'26000': [0-9]+" "$work/drivers.out"
else
	echo "pgbouncer $bmaj.$bmin: the drivers' defaults must work"
	grep -Eq '^psycopg default .*: \{\}$' "$work/drivers.out"
	grep -Eq '^asyncpg default .*: \{\}$' "$work/drivers.out"
fi
grep -q '^psycopg prepare_threshold=None: {}$' "$work/drivers.out"
grep -q '^asyncpg statement_cache_size=0: {}$' "$work/drivers.out"

# booking itself leaves nothing behind on any pooled connection
[ "$(txn -c 'SELECT book_resource(556, 1)')" = t ]
expect 0 "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
expect 0 "SELECT count(*) FROM (SELECT FROM bookings GROUP BY resource_id HAVING count(*) > 1) d"
echo "ok"
