#!/usr/bin/env bash
# Set up, build, install and run every test of booking on throwaway
# clusters (Debian's pg_virtualenv) of this machine's PostgreSQL: the one
# its Debian release ships (15 on Debian 12), or $PGVERSION.  Ends with the
# line "N passed, M failed" and exits non-zero on any failure.
#
#   test/run.sh            everything
#   test/run.sh regress    only pg_regress and isolation specs
#
# test/matrix.sh runs this on every supported PostgreSQL version.
set -uo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
only=${1:-all}

. test/pgversion.sh
bash test/setup.sh || exit 1
echo "== PostgreSQL $("$PG_CONFIG" --version | sed 's/^PostgreSQL //') ($PG_CONFIG)"
# PGXS's own warning set, plus -Wextra, with any warning an error (as
# pgvector's CI does; PostgreSQL's headers trip -Wunused-parameter).
make -s clean >/dev/null 2>&1
if ! make -s PG_CFLAGS="${PG_CFLAGS:--Wextra -Werror -Wno-unused-parameter}" >/dev/null ||
	! make -s install >/dev/null; then
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi

# Throwaway clusters listen here; override to run beside another suite.
export PGPORT=${PGPORT:-5491}
passed=0
failed=0

# pg_regress prints one line per test: "test foo ... ok" / "... FAILED" up
# to 15, TAP's "ok 1 - foo" / "not ok 1 - foo" from 16 on.
ok_re='\.\.\. ok( |$)|^ok [0-9]+ '
bad_re='\.\.\. (FAILED|failed)|^not ok [0-9]+ '
count_pg_regress() {
	local log=$1
	local ok bad
	ok=$(grep -cE "$ok_re" "$log")
	bad=$(grep -cE "$bad_re" "$log")
	passed=$((passed + ok))
	failed=$((failed + bad))
}

run_make_check() {
	local what=$1; shift
	local log
	log=$(mktemp)
	echo "== $what"
	pg_virtualenv -t -v "$PGVERSION" make -s installcheck "$@" 2>&1 | tee "$log" | grep -E "\\.\\.\\. |$ok_re|$bad_re|tests? (passed|failed)|^[^ ].*ERROR"
	count_pg_regress "$log"
	if grep -qE "$bad_re" "$log"; then
		for d in regression.diffs output_iso/regression.diffs; do
			[ -f "$d" ] && { echo "---- $d"; head -n 200 "$d"; }
		done
	elif ! grep -qE "$ok_re" "$log"; then
		echo "$what did not run"; failed=$((failed + 1))
		tail -n 30 "$log"
	fi
	rm -f "$log"
}

run_make_check "pg_regress" ISOLATION=
run_make_check "isolation" REGRESS=

if [ "$only" = all ]; then
	for t in test/sh/*.sh; do
		[ -e "$t" ] || continue
		name=$(basename "$t" .sh)
		log=$(mktemp)
		start=$(date +%s)
		if pg_virtualenv -t -v "$PGVERSION" bash "$t" >"$log" 2>&1; then
			echo "test $name ... ok ($(( $(date +%s) - start )) s)"
			passed=$((passed + 1))
		else
			echo "test $name ... FAILED ($(( $(date +%s) - start )) s)"
			tail -n 60 "$log" | sed 's/^/    /'
			failed=$((failed + 1))
		fi
		rm -f "$log"
	done
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
