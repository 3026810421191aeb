#!/usr/bin/env bash
# A book_resources set that only just fits in the shared lock table, as the
# first call of a fresh backend (no plan prepared yet) in a transaction
# that has already opened more relations than the backend's fast-path lock
# slots hold (so every further relation and catalog lock needs an entry of
# the shared table).  Whatever the set's size near the limit, the call
# books the set or fails with 53200 "too many resources to lock in one
# transaction" and its hint, never with a bare "out of shared memory" from
# the planning and inserts after the locks are taken.  (1.0 gave the bare
# error for sets a few resources below the limit.)
set -euo pipefail
cd "$(dirname "$0")/../.."

. test/lib.sh
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION booking'

# eight catalogs and their indexes: more relations than the 16 fast-path
# slots, all locked to the end of the transaction
fill="SELECT count(*) FROM pg_class, pg_attribute, pg_type, pg_proc,
      pg_namespace, pg_am, pg_index, pg_constraint WHERE false"

# attempt N: book resources 1..N in a fresh backend and roll back
attempt() {
	psql -X -At -v VERBOSITY=verbose -c "BEGIN" -c "$fill" \
		-c "SELECT book_resources(array(SELECT generate_series(1, $1)::bigint), 1)" \
		-c "ROLLBACK" 2>&1 | grep -v '^BEGIN$\|^ROLLBACK$\|^0$' || true
}

# How many locks the lock table holds in such a transaction: a set far too
# large says how many of its resources were locked when the table filled.
out=$(attempt 1000000)
limit=$(sed -n 's/.*filled after \([0-9]*\) of the 1000000 resources.*/\1/p' <<<"$out")
[ -n "$limit" ] || { echo "no limit found in: $out"; exit 1; }
echo "the lock table filled after $limit resources"

booked=0
refused=0
for n in $(seq $((limit + 1)) -1 $((limit - 12))); do
	out=$(attempt "$n")
	if [ "$out" = t ]; then
		booked=$((booked + 1))
	elif grep -q '^ERROR:  53200: too many resources to lock in one transaction' <<<"$out" &&
		grep -q '^HINT:  .*max_locks_per_transaction' <<<"$out"; then
		refused=$((refused + 1))
	else
		echo "a set of $n resources got:"
		sed 's/^/    /' <<<"$out"
		exit 1
	fi
done
echo "$booked sets booked, $refused refused with 53200"
# the sizes tried straddle the limit
[ "$booked" -gt 0 ] && [ "$refused" -gt 0 ]
expect 0 "SELECT count(*) FROM bookings"
expect 0 "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
expect t "SELECT book_resources(ARRAY[1, 2, 3], 1)"
echo "ok"
