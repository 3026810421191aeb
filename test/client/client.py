#!/usr/bin/env python3
"""Real-client check of the booking extension, as an application uses it.

Many threads, each with its own psycopg2 connection (autocommit off, so
every call runs in a transaction the driver opens), hammer a few resources
with book_resource and release_resource, then commit or roll back at random,
recording every outcome the server reported.  Afterwards the bookings table
is checked against what committed:

  - no resource has two rows;
  - per resource and user, committed true books minus committed true
    releases is 0 or 1, at most one user per resource is at 1, and that
    user holds the row (every committed booking is present, none is
    unexplained).  The per-resource lock orders the committed writes of a
    resource into a chain book(u1) release(u1) book(u2) ..., which is what
    makes these counts exact without knowing the order; test/stress/stress.c
    explains this at length;
  - rows = committed books - committed releases.

A COMMIT that raises a connection error may or may not have committed; its
writes are allowed either way.  Exit status: 0 ok, 1 an invariant was
violated, 2 an unexpected error.
"""

import argparse
import collections
import random
import sys
import threading
import time

import psycopg2

APPNAME = "booking-client"

BOOK_SQL = "SELECT book_resource(%s, %s)"
RELEASE_SQL = "SELECT release_resource(%s, %s)"
# The broken protocol the extension replaces: check, then insert, no lock.
# A few milliseconds between the two make the race it loses certain to show
# in a short run, not merely likely.
UNSAFE_CHECK_SQL = "SELECT NOT EXISTS (SELECT 1 FROM bookings WHERE resource_id = %s)"
UNSAFE_BOOK_SQL = ("INSERT INTO bookings (resource_id, user_id) "
                   "SELECT %s, %s FROM pg_sleep(0.005)")


class Run:
    """Outcomes shared by the threads (guarded by one lock)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events = []        # (resource, user, is_release, certain)
        self.believed = {}      # resource -> user we last saw commit a booking
        self.counts = collections.Counter()
        self.errors = collections.Counter()
        self.unexpected = []
        self.slow_calls = 0
        self.failed_threads = 0


def worker(args, run, tid):
    rng = random.Random(args.seed * 1000003 + tid)
    try:
        conn = psycopg2.connect(args.dsn, application_name=APPNAME)
    except psycopg2.Error as e:
        with run.lock:
            run.unexpected.append("thread %d: connect: %s" % (tid, e))
            run.failed_threads += 1
        return
    conn.autocommit = False
    cur = conn.cursor()
    try:
        for _ in range(args.attempts):
            r = rng.randint(1, args.resources)
            release = rng.random() < args.release_rate
            with run.lock:
                holder = run.believed.get(r)
            if release and holder is not None and rng.random() >= 0.2:
                u = holder
            else:
                u = rng.randint(1, args.users)
            kind = "release" if release else "book"
            t0 = time.monotonic()
            try:
                if release:
                    cur.execute(RELEASE_SQL, (r, u))
                    ok = cur.fetchone()[0]
                elif args.unsafe:
                    cur.execute(UNSAFE_CHECK_SQL, (r,))
                    ok = cur.fetchone()[0]
                    if ok:
                        cur.execute(UNSAFE_BOOK_SQL, (r, u))
                else:
                    cur.execute(BOOK_SQL, (r, u))
                    ok = cur.fetchone()[0]
            except psycopg2.Error as e:
                conn.rollback()
                with run.lock:
                    run.counts[kind + " error"] += 1
                    run.errors[e.pgcode] += 1
                    run.unexpected.append("%s(%d, %d): %s %s"
                                          % (kind, r, u, e.pgcode, e.pgerror))
                continue
            slow = time.monotonic() - t0 > 0.001
            if ok not in (True, False):
                with run.lock:
                    run.unexpected.append("%s(%d, %d) returned %r" % (kind, r, u, ok))
                conn.rollback()
                continue

            if rng.random() < args.rollback_rate:
                conn.rollback()
                outcome = "rolled back"
            else:
                try:
                    conn.commit()
                    outcome = "committed"
                except psycopg2.OperationalError as e:
                    outcome = "in doubt"
                    with run.lock:
                        run.unexpected.append("COMMIT lost: %s" % e)
                except psycopg2.Error as e:
                    conn.rollback()
                    outcome = "commit failed"
                    with run.lock:
                        run.errors[e.pgcode] += 1
                        run.unexpected.append("COMMIT: %s %s" % (e.pgcode, e.pgerror))
            with run.lock:
                run.counts["%s %s" % (kind, "true" if ok else "false")] += 1
                run.counts[outcome] += 1
                run.slow_calls += slow
                if ok and outcome in ("committed", "in doubt"):
                    certain = outcome == "committed"
                    run.events.append((r, u, release, certain))
                    if not certain:
                        run.believed.pop(r, None)
                    elif release:
                        run.believed.pop(r, None)
                    else:
                        run.believed[r] = u
                if outcome == "in doubt":
                    break
    finally:
        conn.close()


def check(args, run):
    """Hold the table against the recorded outcomes; return the violations."""
    violations = []
    conn = psycopg2.connect(args.dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT resource_id, user_id FROM bookings")
    rows = cur.fetchall()
    cur.execute("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                "WHERE l.locktype = 'advisory' AND a.application_name = %s", (APPNAME,))
    leftover = cur.fetchone()[0]
    conn.close()
    if leftover:
        violations.append("%d advisory locks still held by the client's sessions" % leftover)

    # per (resource, user): [certain books, certain releases, in-doubt books, in-doubt releases]
    hist = collections.defaultdict(lambda: [0, 0, 0, 0])
    for r, u, release, certain in run.events:
        hist[(r, u)][(1 if release else 0) + (0 if certain else 2)] += 1
    held = collections.Counter((r, u) for r, u in rows)
    per_resource = collections.Counter(r for r, _ in rows)
    for r, n in sorted(per_resource.items()):
        if n > 1:
            violations.append("resource %d has %d bookings, users %s (double booking)"
                              % (r, n, sorted(u for rr, u in rows if rr == r)))
    sure_holders = collections.Counter()
    for key in sorted(set(hist) | set(held)):
        r, u = key
        kb, kl, ub, ul = hist[key]
        lo, hi = kb - kl - ul, kb - kl + ub
        if lo > 0:
            sure_holders[r] += 1
        if held[key] > hi:
            violations.append("resource %d: row for user %d that committed calls do not explain"
                              " (booked %d, released %d)" % (r, u, kb + ub, kl))
        elif held[key] < lo:
            violations.append("resource %d: committed booking by user %d missing"
                              " (booked %d, released %d)" % (r, u, kb, kl))
    for r, n in sorted(sure_holders.items()):
        if n > 1 and per_resource[r] <= 1:
            violations.append("resource %d: %d users hold committed, unreleased bookings"
                              " (double booking)" % (r, n))
    kb = sum(h[0] for h in hist.values())
    kl = sum(h[1] for h in hist.values())
    ub = sum(h[2] for h in hist.values())
    ul = sum(h[3] for h in hist.values())
    if not kb - kl - ul <= len(rows) <= kb - kl + ub:
        violations.append("table has %d rows, committed books %d - releases %d do not allow that"
                          % (len(rows), kb, kl))
    print("check: rows %d, committed books %d - committed releases %d (in doubt: %d, %d)"
          % (len(rows), kb, kl, ub, ul))
    return violations


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dsn", default="", help="libpq connection string (default: PG* environment)")
    p.add_argument("--threads", type=int, default=16)
    p.add_argument("--attempts", type=int, default=400, help="transactions per thread")
    p.add_argument("--resources", type=int, default=8)
    p.add_argument("--users", type=int, default=50)
    p.add_argument("--release-rate", type=float, default=0.3)
    p.add_argument("--rollback-rate", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--unsafe", action="store_true",
                   help="book with check-then-insert plain SQL and no lock (a broken protocol)")
    args = p.parse_args()

    conn = psycopg2.connect(args.dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT resource_id, user_id FROM bookings")
    run = Run()
    for r, u in cur.fetchall():         # rows already there count as committed
        run.events.append((r, u, False, True))
        run.believed[r] = u
    conn.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(args, run, i)) for i in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0

    c = run.counts
    print("psycopg2 client%s: %d threads x %d transactions over %d resources, %.1f s"
          % (" (UNSAFE plain SQL)" if args.unsafe else "", args.threads, args.attempts,
             args.resources, elapsed))
    print("book: %d true, %d false, %d errors; release: %d true, %d false, %d errors"
          % (c["book true"], c["book false"], c["book error"],
             c["release true"], c["release false"], c["release error"]))
    print("transactions: %d committed, %d rolled back, %d failed commit, %d in doubt;"
          " calls over 1 ms: %d"
          % (c["committed"], c["rolled back"], c["commit failed"], c["in doubt"], run.slow_calls))
    if run.errors:
        print("errors by SQLSTATE: %s" % dict(run.errors))
    for msg in run.unexpected[:10]:
        print("unexpected: %s" % msg)

    violations = check(args, run)
    for v in violations[:20]:
        print("VIOLATION: %s" % v)
    if violations:
        print("check: FAILED, %d violations" % len(violations))
        return 1
    print("check: OK")
    if run.unexpected or run.failed_threads:
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
