#!/usr/bin/env bash
# Benchmark book_resource against what users write without the extension.
#
#   test/bench/bench.sh                  full run (~35 min on 2 cores)
#   test/bench/bench.sh --quick          2 s runs, 1 round, fewer workloads (~2 min)
#   test/bench/bench.sh --copy-plot PATH also copy the plot to PATH (for the README)
#   test/bench/bench.sh --report-only    rebuild results.md and the plot from out/raw.tsv
#
# Run as root (pg_virtualenv -t).  It starts its own throwaway PostgreSQL 15
# cluster with the settings below (printed, and written to the results),
# runs pgbench for every contender and workload, then a default-configured
# cluster for the lock limit of book_resources.  Results go to
# test/bench/out/: results.md (median TPS, ratios, targets), tps-vs-clients.png,
# raw.tsv (every run) and logs/ (every pgbench output).
#
# Environment (defaults; --quick changes the starred ones):
#   BENCH_SECONDS=10*         pgbench -T of each run
#   BENCH_ROUNDS=3*           rounds; contenders rotate order every measurement
#   BENCH_CLIENTS="1 8 32"*   client counts
#   BENCH_SYNC="on off"*      synchronous_commit values
#   BENCH_BIG_ROWS=5000000*   rows preloaded for the table-growth runs
#   BENCH_SMALL_ROWS=10000    rows preloaded for the small-table run
#   BENCH_GROWTH_CLIENTS=8    clients of the table-growth runs
#   BENCH_MEM_CALLS=1000000*  book_resource calls of the memory check
#   BENCH_MAX_OTHER=0.2       a run during which other work on the machine took
#   BENCH_RETRIES=15*         more of its CPU than this is run again, while
#                             this many retries remain; before each run it
#   BENCH_WAIT=300*           waits (up to 20 s, this many s in all) for such
#                             work to calm down
#   BENCH_BASE_ROWS=100000    rows (analysed) each contender's table holds at
#                             the start of every main run
#   BENCH_PIN_ONE_CLIENT=1    1-client runs: pgbench and its backend on CPU 0
#   BENCH_PHASES="main growth memory lock"   the parts to run
#   BENCH_CONTENDERS="booking seed-sql seed-plpgsql unique attached
#     attached-plpgsql attached-never-analysed"   contenders of the main matrix
#                             (floor is added to it); booking first
#   BENCH_PORT=5651, BENCH_LOCK_PORT=5652   ports of the two clusters
#   BENCH_EXISTING=0          1: instead of starting a cluster, benchmark the
#                             server of the PG* environment (set up by the
#                             caller with the settings below; the server's own
#                             values are recorded) and skip the lock phase;
#                             PG_CONFIG names its pg_config
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=${BENCH_OUT:-$here/out}
raw=$out/raw.tsv
export PATH=/usr/lib/postgresql/15/bin:$PATH

# Settings of the benchmark cluster.  pg_virtualenv turns fsync off unless
# told otherwise; shared_buffers holds the 5M-row table and its index, so
# the growth runs measure the lookup, not the disk; checkpoints are
# requested before each run rather than left to chance mid-run.
SETTINGS=(
	fsync=on
	synchronous_commit=on
	full_page_writes=on
	shared_buffers=1GB
	max_connections=100
	max_wal_size=4GB
	checkpoint_timeout=30min
	autovacuum=on
)
SHOWN_SETTINGS="fsync synchronous_commit full_page_writes wal_level shared_buffers
	work_mem max_connections max_locks_per_transaction max_wal_size checkpoint_timeout
	autovacuum autovacuum_naptime jit huge_pages listen_addresses"

read -r -a CONTENDERS <<< "${BENCH_CONTENDERS:-booking seed-sql seed-plpgsql unique attached attached-plpgsql attached-never-analysed}"

usage()
{
	sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
	exit "${1:-0}"
}

# Append one tab-separated record to the raw results.
emit()
{
	local IFS=$'\t'
	echo "$*" >> "$raw"
}

q()
{
	psql -X -v ON_ERROR_STOP=1 -qAt "$@"
}

elapsed()
{
	local s=$(( $(date +%s) - ${BENCH_STARTED:-$(date +%s)} ))
	printf '%dm%02ds' $((s / 60)) $((s % 60))
}

table_of()
{
	case $1 in
		booking) echo public.bookings ;;
		seed-sql) echo seed_sql.bookings ;;
		seed-plpgsql) echo seed_plpgsql.bookings ;;
		unique) echo uniq.bookings ;;
		attached|attached-plpgsql) echo att.bookings ;;
		attached-never-analysed) echo att_na.bookings ;;
		*) echo "" ;;
	esac
}

# CPU time, in clock ticks: of the whole machine (busy and steal, from
# /proc/stat), and of this benchmark's cluster (the postmaster, its live
# children, and the children it has reaped, so backends that exited count).
machine_ticks()
{
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9 }' /proc/stat
}

cluster_ticks()
{
	local p
	{
		sed 's/^.*) //' "/proc/$PM_PID/stat" | awk '{ print $12 + $13 + $14 + $15 }'
		for p in $(pgrep -P "$PM_PID"); do
			sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 + $14 + $15 }'
		done
	} | awk '{ s += $1 } END { print s + 0 }'
}

# Seconds of CPU used by this shell's waited-for children, from the output
# of the times builtin (which must run in the shell that waited for them,
# not in a subshell: a subshell starts counting from zero).
children_seconds()
{
	tail -n 1 "$1" | awk '{
		t = 0
		for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }
		print t }'
}

# pin_note: with one client, a round trip wakes the other side, and on
# this VM a wake-up across virtual CPUs costs ~80 us (SELECT 1 runs at ~12k
# TPS across CPUs, ~100k on one CPU, and unpinned it lands on either,
# mostly across), which drowns the server-side cost being compared.  So
# 1-client runs put pgbench and the backends forked meanwhile on CPU 0
# (BENCH_PIN_ONE_CLIENT=0 turns this off).

# One pgbench run; prints its TPS (excluding connection time) and the share
# of the machine's CPU that processes outside the benchmark (other work on
# this machine) and the hypervisor (steal) took during the run.  A run with
# failed transactions or no TPS line stops the benchmark: a contender that
# errors is not a contender.
pgbench_run()
{
	local db=$1 script=$2 clients=$3 rmax=$4 sync=$5 log=$6
	local rc=0 tps m0 m1 c0 c1 p0 p1 t0 t1
	local -a pin

	read -r -a m0 < <(machine_ticks)
	c0=$(cluster_ticks)
	t0=$(date +%s.%N)
	times > "$log.times0"
	pin=()
	if [ "$clients" = 1 ] && [ "$BENCH_PIN_ONE_CLIENT" = 1 ]; then
		# One client and its backend on one CPU: see pin_note below.
		taskset -pc 0 "$PM_PID" > /dev/null
		pin=(taskset -c 0)
	fi
	PGOPTIONS="-c synchronous_commit=$sync" \
		"${pin[@]}" pgbench -n -M prepared -T "$BENCH_SECONDS" -c "$clients" -j 2 \
		-D rmax="$rmax" -f "$here/$script.sql" "$db" > "$log" 2>&1 || rc=$?
	times > "$log.times1"
	[ ${#pin[@]} = 0 ] || taskset -pc "0-$((NPROC - 1))" "$PM_PID" > /dev/null
	sleep 0.2	# let the postmaster reap the run's backends
	c1=$(cluster_ticks)
	read -r -a m1 < <(machine_ticks)
	t1=$(date +%s.%N)
	p0=$(children_seconds "$log.times0")
	p1=$(children_seconds "$log.times1")
	rm -f "$log.times0" "$log.times1"
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$log")
	if [ "$rc" -ne 0 ] || [ -z "$tps" ] ||
		! grep -q '^number of failed transactions: 0 ' "$log"; then
		echo "pgbench failed (exit $rc), see $log:" >&2
		tail -n 20 "$log" >&2
		exit 1
	fi
	awk -v tps="$tps" -v hz="$CLK_TCK" -v n="$NPROC" -v wall="$(echo "$t1 - $t0" | bc)" \
		-v busy=$((m1[0] - m0[0])) -v steal=$((m1[1] - m0[1])) -v ours=$((c1 - c0)) \
		-v pgb="$(echo "$p1 - $p0" | bc)" 'BEGIN {
		others = (busy - ours) / hz - pgb
		if (others < 0) others = 0
		printf "%s %.3f %.3f\n", tps, others / (wall * n), steal / hz / (wall * n) }'
}

# Before a run, wait (up to 20 s, and BENCH_WAIT seconds over the whole
# benchmark) until other work leaves the machine's CPU mostly idle: our
# own cluster is idle between runs, so whatever is busy is someone else.
wait_quiet()
{
	local a b waited=0
	while [ "$WAIT_LEFT" -gt 0 ] && [ $waited -lt 20 ]; do
		read -r -a a < <(machine_ticks)
		sleep 0.5
		read -r -a b < <(machine_ticks)
		[ "$(echo "($((b[0] - a[0])) / $CLK_TCK / 0.5 / $NPROC) > $BENCH_MAX_OTHER" | bc -l)" = 1 ] || break
		sleep 0.5
		waited=$((waited + 1))
		WAIT_LEFT=$((WAIT_LEFT - 1))
	done
	if [ $waited -gt 0 ]; then
		emit waited "$waited"
		echo "  (waited ${waited} s for other work on the machine to calm down; ${WAIT_LEFT} s of waiting left)"
	fi
}

# A pgbench run that other work on this (shared) machine disturbed, taking
# more than BENCH_MAX_OTHER of its CPU, is run again after a pause, while
# BENCH_RETRIES retries remain for the whole benchmark.  $1 names a function
# that puts the run's tables back in their starting state; the rest are
# pgbench_run's arguments.  Sets tps, others and steal in the caller.
measured_run()
{
	local prep=$1
	shift
	while :; do
		$prep
		wait_quiet
		read -r tps others steal < <(pgbench_run "$@" || echo FAILED)
		[ "$tps" != FAILED ] || exit 1
		if [ "$(echo "$others > $BENCH_MAX_OTHER" | bc)" = 1 ] && [ "$RETRIES_LEFT" -gt 0 ]; then
			RETRIES_LEFT=$((RETRIES_LEFT - 1))
			emit retried "$(basename "$6" .log)" "$tps" "$others"
			printf '  (%s: other work took %.0f%% of the CPU, %.0f tps discarded; again in 5 s, %d retries left)\n' \
				"$(basename "$6" .log)" "$(echo "$others * 100" | bc)" "$tps" "$RETRIES_LEFT"
			sleep 5
			continue
		fi
		return
	done
}

# No contender may ever hold two bookings of one resource.
check_no_double_booking()
{
	local db=$1 tbl=$2 dup
	dup=$(q -d "$db" -c "SELECT count(*) - count(DISTINCT resource_id) FROM $tbl")
	if [ "$dup" != 0 ]; then
		echo "DOUBLE BOOKING: $tbl in $db has $dup duplicate resource_id rows" >&2
		exit 1
	fi
}

setup_contenders()
{
	local n
	q -c "CREATE DATABASE bench"
	q -d bench -c "CREATE EXTENSION booking"
	q -d bench -f "$here/setup.sql"

	# The contenders are what they claim to be.
	n=$(q -d bench -c "SELECT count(*) FROM pg_index WHERE indrelid = 'uniq.bookings'::regclass")
	[ "$n" = 1 ] || { echo "uniq.bookings has $n indexes, expected only its primary key" >&2; exit 1; }
	n=$(q -d bench -c "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'uniq.bookings'::regclass AND indisprimary")
	case $n in
		*"(resource_id)") ;;
		*) echo "uniq.bookings primary key is not (resource_id): $n" >&2; exit 1 ;;
	esac
	for t in seed_sql seed_plpgsql; do
		n=$(q -d bench -c "SELECT string_agg(pg_get_indexdef(indexrelid), '; ' ORDER BY indisprimary) FROM pg_index WHERE indrelid = '$t.bookings'::regclass")
		case $n in
			*"btree (resource_id); "*"btree (id)") ;;
			*) echo "$t.bookings indexes are not (resource_id) + PRIMARY KEY (id): $n" >&2; exit 1 ;;
		esac
	done
	n=$(q -d bench -c "SELECT prorettype::regtype FROM pg_proc WHERE oid = 'seed_plpgsql.book(bigint,bigint)'::regprocedure")
	[ "$n" = boolean ] || { echo "seed_plpgsql.book returns $n" >&2; exit 1; }
	# The attached tables: issue 9's shape, attached, with only their
	# primary key and resource index; the never-analysed one never analysed.
	for t in att att_na; do
		n=$(q -d bench -c "SELECT string_agg(pg_get_indexdef(indexrelid), '; ' ORDER BY indisprimary) FROM pg_index WHERE indrelid = '$t.bookings'::regclass")
		case $n in
			*"btree (resource_id); "*"btree (id)") ;;
			*) echo "$t.bookings indexes are not (resource_id) + PRIMARY KEY (id): $n" >&2; exit 1 ;;
		esac
		n=$(q -d bench -c "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '$t.bookings'::regclass AND attname = 'resource_id'")
		[ "$n" = integer ] || { echo "$t.bookings.resource_id is $n" >&2; exit 1; }
		n=$(q -d bench -c "SELECT count(*) FROM booking_tables WHERE tbl = '$t.bookings'::regclass")
		[ "$n" = 1 ] || { echo "$t.bookings is not attached" >&2; exit 1; }
	done
	n=$(q -d bench -c "SELECT reloptions::text FROM pg_class WHERE oid = 'att_na.bookings'::regclass")
	[ "$n" = "{autovacuum_enabled=false}" ] || { echo "att_na.bookings options: $n" >&2; exit 1; }

	# Each writing script books a free resource once and loses the second
	# attempt; one pgbench transaction per script, on resource 1.
	for c in "${CONTENDERS[@]}"; do
		local tbl
		tbl=$(table_of "$c")
		q -d bench -c "TRUNCATE $tbl"
		for attempt in 1 2; do
			pgbench -n -M prepared -t 1 -c 1 -D rmax=1 -f "$here/$c.sql" bench \
				> "$out/logs/check-$c-$attempt.log" 2>&1 ||
				{ cat "$out/logs/check-$c-$attempt.log" >&2; exit 1; }
		done
		n=$(q -d bench -c "SELECT count(*) FILTER (WHERE resource_id = 1) || '/' || count(*) FROM $tbl")
		[ "$n" = 1/1 ] || { echo "$c: after two attempts on resource 1: $n rows, expected 1/1" >&2; exit 1; }
	done
}

# Before each run, reset the contender's table to the same starting state
# whatever ran before it: BENCH_BASE_ROWS bookings of resources above
# 10,000,000 (never hit by the runs), then ANALYZE, as a table in use would
# be.  An empty, never analysed table would instead hand the seeds' cached
# plans the trap the growth runs measure for booking (a plan made on an
# empty table scans it sequentially as it grows).  A hot run also gets its
# ten resources pre-booked, so every attempt loses, as in steady state.
prepare_table()
{
	local c=$1 workload=$2 tbl
	tbl=$(table_of "$c")
	[ -n "$tbl" ] || return 0
	q -d bench -c "TRUNCATE $tbl"
	q -d bench -c "INSERT INTO $tbl (resource_id, user_id)
		SELECT g, 0 FROM generate_series(10000001, 10000000 + $BENCH_BASE_ROWS) g"
	if [ "$workload" = hot ]; then
		q -d bench -c "INSERT INTO $tbl (resource_id, user_id) SELECT g, 0 FROM generate_series(1, 10) g"
	fi
	# never analysed: no ANALYZE, and autovacuum is off for the table
	# (TRUNCATE leaves it with relpages 0, reltuples -1 and no statistics)
	[ "$c" = attached-never-analysed ] || q -d bench -c "ANALYZE $tbl"
}

# Uses the caller's who and workload.
prepare_main_run()
{
	prepare_table "$who" "$workload"
	q -d bench -c "CHECKPOINT"
}

main_matrix()
{
	local r workload sync c rmax cell=0 i n off who tps tbl rows others steal
	local floor_sync=${BENCH_SYNC##* }
	local -a list

	for ((r = 1; r <= BENCH_ROUNDS; r++)); do
		for workload in uncontended hot; do
			if [ $workload = hot ]; then rmax=10; else rmax=10000000; fi
			for sync in $BENCH_SYNC; do
				for c in $BENCH_CLIENTS; do
					list=("${CONTENDERS[@]}")
					# SELECT 1 writes nothing: workload and
					# synchronous_commit cannot matter, so it runs in one
					# cell per client count and is shown in all.
					if [ $workload = uncontended ] && [ "$sync" = "$floor_sync" ]; then
						list+=(floor)
					fi
					n=${#list[@]}
					off=$(( (r - 1 + cell) % n ))
					cell=$((cell + 1))
					for ((i = 0; i < n; i++)); do
						who=${list[$(( (i + off) % n ))]}
						measured_run prepare_main_run bench "$who" "$c" "$rmax" "$sync" \
							"$out/logs/r$r-$workload-sync_$sync-c$c-$who.log"
						tbl=$(table_of "$who")
						rows=
						if [ -n "$tbl" ]; then
							check_no_double_booking bench "$tbl"
							rows=$(q -d bench -c "SELECT count(*) FROM $tbl")
						fi
						emit tps "$r" "$who" "$workload" "$sync" "$c" "$tps" "$rows" "$others" "$steal"
						printf '[%s] round %d/%d %-11s sync=%-3s c=%-2s %-12s %10.1f tps  (others %2.0f%%, steal %2.0f%%)\n' \
							"$(elapsed)" "$r" "$BENCH_ROUNDS" "$workload" "$sync" "$c" "$who" "$tps" \
							"$(echo "$others * 100" | bc)" "$(echo "$steal * 100" | bc)"
					done
				done
			done
		done
	done
}

preload()
{
	local db=$1 rows=$2
	# Resource ids above 10,000,000 never collide with the runs' 1..10,000,000.
	q -d "$db" -c "INSERT INTO bookings (resource_id, user_id)
		SELECT g, g FROM generate_series(10000001, 10000000 + $rows) g"
}

no_autovacuum()
{
	q -d "$1" -c "ALTER TABLE bookings SET (autovacuum_enabled = false, toast.autovacuum_enabled = false)"
}

# Uses the caller's who; sets its rows.
prepare_growth_run()
{
	case $who in
		small)
			# back to its preloaded size before every run
			q -d grow_small -c "TRUNCATE bookings"
			preload grow_small "$BENCH_SMALL_ROWS"
			q -d grow_small -c "VACUUM ANALYZE bookings"
			;;
		empty_never_analysed)
			# right after CREATE EXTENSION: the run's backends plan (if
			# they plan) on an empty, never analysed table
			q -d "grow_$who" -c "DROP EXTENSION booking"
			q -d "grow_$who" -c "CREATE EXTENSION booking"
			no_autovacuum "grow_$who"
			;;
	esac
	rows=$(q -d "grow_$who" -c "SELECT count(*) FROM bookings")
	q -d "grow_$who" -c "CHECKPOINT"
}

# The uncontended booking run (synchronous_commit=off) on tables of
# different sizes and histories, each in its own database: the extension's
# table is one per database.
table_growth()
{
	local db r i n off who tps rows t0 others steal
	local -a cases=(small big never_analysed empty_never_analysed)

	for db in "${cases[@]}"; do
		q -c "CREATE DATABASE grow_$db"
		q -d "grow_$db" -c "CREATE EXTENSION booking"
	done
	t0=$(date +%s)
	preload grow_big "$BENCH_BIG_ROWS"
	q -d grow_big -c "VACUUM ANALYZE bookings"
	# Never analysed: no ANALYZE, no VACUUM, no autovacuum, ever.
	no_autovacuum grow_never_analysed
	preload grow_never_analysed "$BENCH_BIG_ROWS"
	echo "[$(elapsed)] preloaded 2 x $BENCH_BIG_ROWS rows in $(( $(date +%s) - t0 )) s"

	n=${#cases[@]}
	for ((r = 1; r <= BENCH_ROUNDS; r++)); do
		off=$(( (r - 1) % n ))
		for ((i = 0; i < n; i++)); do
			who=${cases[$(( (i + off) % n ))]}
			measured_run prepare_growth_run "grow_$who" booking "$BENCH_GROWTH_CLIENTS" \
				10000000 off "$out/logs/r$r-growth-$who.log"
			check_no_double_booking "grow_$who" bookings
			emit growth "$r" "$who" "$rows" "$BENCH_GROWTH_CLIENTS" "$tps" "$others" "$steal"
			printf '[%s] round %d/%d growth %-21s rows=%-8s c=%s %10.1f tps  (others %2.0f%%, steal %2.0f%%)\n' \
				"$(elapsed)" "$r" "$BENCH_ROUNDS" "$who" "$rows" "$BENCH_GROWTH_CLIENTS" "$tps" \
				"$(echo "$others * 100" | bc)" "$(echo "$steal * 100" | bc)"
		done
	done

	# Evidence of each table's statistics history.
	for db in "${cases[@]}"; do
		emit growthstats "$db" "$(q -d "grow_$db" -F $'\t' -c "
			SELECT c.relpages, c.reltuples, s.n_live_tup,
				   s.vacuum_count + s.autovacuum_count, s.analyze_count + s.autoanalyze_count
			FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid
			WHERE c.oid = 'bookings'::regclass")"
	done
}

rss_query="SELECT concat_ws(E'\t', (regexp_match(s, 'VmRSS:\s+(\d+)'))[1],
	(regexp_match(s, 'RssAnon:\s+(\d+)'))[1], (regexp_match(s, 'RssShmem:\s+(\d+)'))[1])
	FROM pg_read_file('/proc/' || pg_backend_pid() || '/status') s"

# Backend memory over BENCH_MEM_CALLS book_resource calls in one session,
# 100 calls per statement (each statement its own transaction).  The
# backend reads its own /proc/<pid>/status.  VmRSS also counts the shared
# buffers the backend touches, which grows with every new table page; the
# backend's private memory is RssAnon.
memory_check()
{
	local script=$out/logs/memory.sql batch=100 warm=20000 lo hi before after booked
	q -c "CREATE DATABASE mem"
	q -d mem -c "CREATE EXTENSION booking"
	{
		echo '\o /dev/null'
		for ((lo = 1; lo <= warm; lo += batch)); do
			echo "SELECT count(*) FILTER (WHERE book_resource(g, 1)) FROM generate_series($lo, $((lo + batch - 1))) g;"
		done
		echo '\o'
		echo "$rss_query;"
		echo '\o /dev/null'
		for ((lo = 1000001; lo <= 1000000 + BENCH_MEM_CALLS; lo += batch)); do
			echo "SELECT count(*) FILTER (WHERE book_resource(g, 1)) FROM generate_series($lo, $((lo + batch - 1))) g;"
		done
		echo '\o'
		echo "$rss_query;"
	} > "$script"
	hi=$( { PGOPTIONS="-c synchronous_commit=off" q -d mem -F $'\t' -f "$script"; } )
	before=$(sed -n 1p <<< "$hi")
	after=$(sed -n 2p <<< "$hi")
	booked=$(q -d mem -c "SELECT count(*) FROM bookings WHERE resource_id > 1000000")
	emit memory "$BENCH_MEM_CALLS" "$booked" "$before" "$after"
	echo "[$(elapsed)] memory: $BENCH_MEM_CALLS calls ($booked booked); VmRSS RssAnon RssShmem kB before: $before, after: $after"
}

in_cluster()
{
	local s
	PM_PID=$(head -n 1 "$(q -c 'SHOW data_directory')/postmaster.pid")
	CLK_TCK=$(getconf CLK_TCK)
	RETRIES_LEFT=$BENCH_RETRIES
	WAIT_LEFT=$BENCH_WAIT
	NPROC=$(nproc)
	for s in $SHOWN_SETTINGS; do
		emit setting "$s" "$(q -c "SHOW $s")"
	done
	emit info "server" "$(q -c 'SELECT version()')"
	emit info "connection" "PGHOST=$PGHOST (TCP), PGPORT=$PGPORT"
	echo "== benchmark cluster settings"
	q -c "SELECT name || ' = ' || setting || coalesce(' ' || unit, '') FROM pg_settings
		WHERE name = ANY (string_to_array('$(echo $SHOWN_SETTINGS)', ' ')) ORDER BY name"

	setup_contenders
	if [[ " $BENCH_PHASES " == *" main "* ]]; then
		echo "== contenders checked; main matrix ($BENCH_ROUNDS rounds x ${BENCH_SECONDS}s runs)"
		main_matrix
		# Evidence of the attached tables' statistics history.
		for s in att att_na; do
			emit attstats "$s.bookings" "$(q -d bench -F $'\t' -c "
				SELECT c.relpages, c.reltuples, s.n_live_tup,
					   s.vacuum_count + s.autovacuum_count, s.analyze_count + s.autoanalyze_count,
					   (SELECT count(*) FROM pg_statistic WHERE starelid = c.oid)
				FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid
				WHERE c.oid = '$s.bookings'::regclass")"
		done
	fi
	if [[ " $BENCH_PHASES " == *" growth "* ]]; then
		echo "== table growth"
		table_growth
	fi
	if [[ " $BENCH_PHASES " == *" memory "* ]]; then
		echo "== memory"
		memory_check
	fi
}

lock_attempt()
{
	q -c "BEGIN" -c "SELECT book_resources(array(SELECT generate_series(1, $1)::bigint), 1)" \
		-c "ROLLBACK" 2>&1 || true
}

# How many resources one book_resources call can lock on a server with
# default settings, read from the error's DETAIL, then checked: that many
# succeed.  Also the raw pg_advisory_xact_lock count, for comparison.
lock_limit()
{
	local err n m ok raw_n lo hi mid
	q -c "CREATE EXTENSION booking"
	emit setting_default max_locks_per_transaction "$(q -c 'SHOW max_locks_per_transaction')"
	emit setting_default max_connections "$(q -c 'SHOW max_connections')"
	emit setting_default max_prepared_transactions "$(q -c 'SHOW max_prepared_transactions')"
	err=$(q -c "SELECT book_resources(array(SELECT generate_series(1, 100000)::bigint), 1)" 2>&1 || true)
	echo "$err"
	n=$(sed -n 's/.*filled after \([0-9]*\) of the \([0-9]*\) resources.*/\1/p' <<< "$err")
	m=$(sed -n 's/.*filled after \([0-9]*\) of the \([0-9]*\) resources.*/\2/p' <<< "$err")
	if [ -z "$n" ]; then
		# the message changed: still find the real limit below 100000
		echo "could not read the lock count from: $err" >&2
		n=99999
		m=100000
	fi
	# The DETAIL counts the locks taken; the inserts that follow need room
	# in the lock table too, so find the largest call that really succeeds
	# (each attempt rolled back).
	lo=0
	hi=$((n + 1))
	while [ $((hi - lo)) -gt 1 ]; do
		mid=$(( (lo + hi) / 2 ))
		if [ "$(lock_attempt "$mid")" = t ]; then lo=$mid; else hi=$mid; fi
	done
	ok=$(lock_attempt "$n" | tr '\n' ' ')
	raw_n=$(q -c "DO \$\$
		DECLARE i int := 0;
		BEGIN
			LOOP
				PERFORM pg_advisory_xact_lock(i + 1);
				i := i + 1;
			END LOOP;
		EXCEPTION WHEN out_of_memory THEN
			RAISE NOTICE 'advisory locks taken: %', i;
		END \$\$" 2>&1 | sed -n 's/.*advisory locks taken: \([0-9]*\).*/\1/p')
	emit lock "$n" "$m" "$ok" "$raw_n" "$(tr '\n' ' ' <<< "$err")" "$lo"
	echo "lock limit: book_resources locked $n of $m before the lock table filled; $n ids in one call: $ok"
	echo "largest book_resources call that succeeds: $lo ids; plain advisory locks in one transaction: $raw_n"
}

report()
{
	/usr/bin/python3 "$here/report.py" "$out"
	if (cd "$out" && gnuplot "$here/plot.gp"); then
		echo "plot: $out/tps-vs-clients.png"
		if [ -n "${copy_plot:-}" ]; then
			cp "$out/tps-vs-clients.png" "$copy_plot"
			echo "plot copied to $copy_plot"
		fi
	else
		echo "gnuplot failed" >&2
	fi
	echo "results: $out/results.md"
}

mode=run
quick=0
copy_plot=
while [ $# -gt 0 ]; do
	case $1 in
		--quick) quick=1 ;;
		--copy-plot) copy_plot=$(realpath -m "$2"); shift ;;
		--report-only) mode=report ;;
		--in-cluster) mode=in_cluster ;;
		--lock-limit) mode=lock_limit ;;
		-h|--help) usage 0 ;;
		*) echo "unknown option $1" >&2; usage 1 ;;
	esac
	shift
done

case $mode in
	in_cluster) in_cluster; exit ;;
	lock_limit) lock_limit; exit ;;
	report) report; exit ;;
esac

user_env=$(env | grep '^BENCH_' | sort | sed "s/=\(.*\)/='\1'/" | tr '\n' ' ' || true)
if [ $quick = 1 ]; then
	: "${BENCH_SECONDS:=2}" "${BENCH_ROUNDS:=1}" "${BENCH_CLIENTS:=1 8}" "${BENCH_SYNC:=off}"
	: "${BENCH_BIG_ROWS:=500000}" "${BENCH_MEM_CALLS:=100000}" "${BENCH_RETRIES:=3}" "${BENCH_WAIT:=20}"
fi
: "${BENCH_SECONDS:=10}" "${BENCH_ROUNDS:=3}" "${BENCH_CLIENTS:=1 8 32}" "${BENCH_SYNC:=on off}"
: "${BENCH_BIG_ROWS:=5000000}" "${BENCH_SMALL_ROWS:=10000}" "${BENCH_GROWTH_CLIENTS:=8}"
: "${BENCH_MEM_CALLS:=1000000}" "${BENCH_PORT:=5651}" "${BENCH_LOCK_PORT:=5652}"
: "${BENCH_MAX_OTHER:=0.2}" "${BENCH_RETRIES:=15}" "${BENCH_WAIT:=300}"
: "${BENCH_PIN_ONE_CLIENT:=1}" "${BENCH_PHASES:=main growth memory lock}" "${BENCH_BASE_ROWS:=100000}"
BENCH_STARTED=$(date +%s)
export BENCH_SECONDS BENCH_ROUNDS BENCH_CLIENTS BENCH_SYNC BENCH_BIG_ROWS BENCH_SMALL_ROWS
export BENCH_GROWTH_CLIENTS BENCH_MEM_CALLS BENCH_STARTED BENCH_OUT=$out BENCH_MAX_OTHER BENCH_RETRIES BENCH_WAIT
export BENCH_PIN_ONE_CLIENT BENCH_PHASES BENCH_BASE_ROWS BENCH_CONTENDERS="${CONTENDERS[*]}"

[ "$(id -u)" = 0 ] || { echo "run as root (pg_virtualenv -t)" >&2; exit 1; }
rm -rf "$out/logs" "$raw"
mkdir -p "$out/logs"

so=$(${PG_CONFIG:-pg_config} --pkglibdir)/booking.so
cmdline="${user_env}test/bench/bench.sh"
[ $quick = 1 ] && cmdline+=" --quick"
emit info command "$cmdline"
emit info started "$(date -u '+%Y-%m-%d %H:%M UTC')"
emit info nproc "$(nproc)"
emit info cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
emit info memory "$(awk '/^MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo)"
emit info kernel "$(uname -sr)"
emit info pgbench "$(pgbench --version)"
emit info booking_so_md5_start "$(md5sum < "$so" | cut -d' ' -f1)"
for v in BENCH_SECONDS BENCH_ROUNDS BENCH_CLIENTS BENCH_SYNC BENCH_BIG_ROWS BENCH_SMALL_ROWS \
		BENCH_GROWTH_CLIENTS BENCH_MEM_CALLS BENCH_MAX_OTHER BENCH_RETRIES BENCH_WAIT BENCH_PIN_ONE_CLIENT BENCH_PHASES BENCH_BASE_ROWS \
		BENCH_CONTENDERS; do
	emit param "$v" "${!v}"
done
if [ "${BENCH_EXISTING:-0}" = 1 ]; then
	emit info cluster_options "an existing server (BENCH_EXISTING=1) started with ${SETTINGS[*]}"
else
	emit info cluster_options "${SETTINGS[*]}"
fi
# This machine may be shared: say what else was running when we started.
emit info other_postgres_at_start "$(pgrep -c -x postgres -P 1 || true) postmasters, load average $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(pgbench --version)"
echo "== runs: ${BENCH_SECONDS}s x $BENCH_ROUNDS rounds, clients: $BENCH_CLIENTS, synchronous_commit: $BENCH_SYNC"
echo "== pg_virtualenv options: ${SETTINGS[*]}"

opts=()
for s in "${SETTINGS[@]}"; do
	opts+=(-o "$s")
done
status=0
if [ "${BENCH_EXISTING:-0}" = 1 ]; then
	bash "$here/bench.sh" --in-cluster || status=$?
else
	PGPORT=$BENCH_PORT pg_virtualenv -t -v 15 "${opts[@]}" bash "$here/bench.sh" --in-cluster || status=$?
fi
if [ $status = 0 ] && [[ " $BENCH_PHASES " == *" lock "* ]] && [ "${BENCH_EXISTING:-0}" != 1 ]; then
	echo "== lock limit (default-configured cluster)"
	PGPORT=$BENCH_LOCK_PORT pg_virtualenv -t -v 15 bash "$here/bench.sh" --lock-limit || status=$?
fi

emit info booking_so_md5_end "$(md5sum < "$so" | cut -d' ' -f1)"
emit info finished "$(date -u '+%Y-%m-%d %H:%M UTC')"
emit info load_at_end "load average $(cut -d' ' -f1-3 /proc/loadavg)"
emit info elapsed "$(elapsed)"
[ $status = 0 ] || emit info incomplete "a phase failed (exit $status); results are partial"
echo "== done in $(elapsed)"
report
exit $status
