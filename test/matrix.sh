#!/usr/bin/env bash
# Every test on every supported PostgreSQL version: test/run.sh on this
# machine's PostgreSQL 15 and, in Debian roots made by test/root.sh, on 17
# (Debian 13) and 18 (Debian testing); then the upgrade test (test/upgrade.sh)
# from 15 to each newer version.  Prints each version's result and ends with
# the combined "N passed, M failed" line; exits non-zero on any failure.
#
#   test/matrix.sh             15 17 18
#   test/matrix.sh 17 18       only those
#
# Run as root (debootstrap, chroot).  The roots are cached in
# $BOOKING_ROOTS (default /var/cache/booking-matrix) and reused; a cold run
# makes them first.  Clusters listen on $PGPORT (default 5491) and the two
# ports after it.
set -uo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" -eq 0 ] || { echo "matrix: run as root" >&2; exit 1; }

# This machine's own version, the one test/run.sh uses by default.
host_version=$(unset PGVERSION; . test/pgversion.sh && echo "$PGVERSION")
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(15 17 18)
port=${PGPORT:-5491}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

passed=0
failed=0
summary=()
start_all=$(date +%s)

elapsed() { echo "$(( $(date +%s) - $1 )) s"; }

# The closing "N passed, M failed" of a leg's log.
tally() {
	local log=$1 line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
	if [ -z "$line" ]; then
		echo "0 1"
	else
		echo "$line" | sed -E 's/^([0-9]+) passed, ([0-9]+) failed$/\1 \2/'
	fi
}

# Make the roots the versions need, side by side (mostly downloads).
declare -A root_ok
pids=()
for v in "${versions[@]}"; do
	[ "$v" = "$host_version" ] && continue
	[ ${#pids[@]} -gt 0 ] || bash test/root.sh tools || break
	bash test/root.sh prepare "$v" >"$logs/prepare-$v.log" 2>&1 &
	pids+=("$!:$v")
done
for pv in "${pids[@]}"; do
	v=${pv#*:}
	if wait "${pv%%:*}"; then
		root_ok[$v]=1
	else
		root_ok[$v]=0
	fi
	sed "s/^/pg$v| /" "$logs/prepare-$v.log"
done
[ ${#pids[@]} -eq 0 ] || echo "matrix: roots ready after $(elapsed "$start_all")"

for v in "${versions[@]}"; do
	log=$logs/pg$v.log
	start=$(date +%s)
	echo "== PostgreSQL $v"
	if [ "$v" = "$host_version" ]; then
		PGVERSION=$v PGPORT=$port bash test/run.sh 2>&1 | tee "$log" | sed "s/^/pg$v| /"
	elif [ "${root_ok[$v]:-0}" = 1 ]; then
		PGPORT=$port bash test/root.sh run "$v" bash test/run.sh 2>&1 |
			tee "$log" | sed "s/^/pg$v| /"
	else
		echo "no Debian root for PostgreSQL $v" | tee "$log"
	fi
	read -r p f < <(tally "$log")
	passed=$((passed + p))
	failed=$((failed + f))
	summary+=("$(printf 'PostgreSQL %-3s %4d passed, %d failed  (%s)' "$v" "$p" "$f" "$(elapsed "$start")")")
done

# The dump of a 15 database restored into each newer version.
for v in "${versions[@]}"; do
	[ "$v" -gt "$host_version" ] || continue
	log=$logs/upgrade-$v.log
	start=$(date +%s)
	echo "== upgrade 15 -> $v"
	if [ "${root_ok[$v]:-0}" = 1 ] &&
		PGPORT=$((port + 1)) bash test/upgrade.sh "$v" >"$log" 2>&1; then
		result=ok
		passed=$((passed + 1))
		f=0
	else
		result=FAILED
		failed=$((failed + 1))
		f=1
	fi
	sed "s/^/up$v| /" "$log"
	echo "test upgrade_15_to_$v ... $result ($(elapsed "$start"))"
	summary+=("$(printf 'upgrade 15 -> %-3s %s  (%s)' "$v" "$result" "$(elapsed "$start")")")
done

echo
echo "== matrix ($(elapsed "$start_all"))"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
