# Helpers shared by the shell tests in test/sh/ (sourced, not run).

# q SQL: one query, unaligned tuples only; errors fail the caller
q() { psql -AtX -v ON_ERROR_STOP=1 -c "$1"; }

# expect VALUE SQL: the query must return VALUE
expect() {
	local got
	got=$(q "$2")
	[ "$got" = "$1" ] || { echo "expected '$1', got '$got' from: $2"; return 1; }
}

# wait_for SQL: poll until the query returns t (at most 10 s)
wait_for() {
	local i
	for i in $(seq 1 100); do
		[ "$(q "$1")" = t ] && return 0
		sleep 0.1
	done
	echo "timed out waiting for: $1"
	return 1
}

# track_sessions: a scratch directory $work and an array $pids of background
# sessions (psql, fifos on fd 3), all killed and removed when the test exits
track_sessions() {
	work=$(mktemp -d)
	pids=()
	trap 'exec 3>&- 2>/dev/null || true
		for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
		rm -rf "$work"' EXIT
}
