#!/usr/bin/python3
"""Turn test/bench/out/raw.tsv into results.md and the plot's data files.

Usage: report.py OUTDIR
Medians over rounds; ratios are contender / booking; targets from issue 5.
"""
import os
import statistics
import sys
from collections import defaultdict

ALL_CONTENDERS = ["booking", "seed-sql", "seed-plpgsql", "unique",
                  "attached", "attached-plpgsql", "attached-never-analysed", "floor"]
# the plot's columns (plot.gp names them)
PLOT_CONTENDERS = ["booking", "seed-sql", "seed-plpgsql", "unique", "floor"]
GROWTH_CASES = [
    ("small", "preloaded, VACUUM ANALYZE"),
    ("big", "preloaded, VACUUM ANALYZE"),
    ("never_analysed", "preloaded right after CREATE EXTENSION; never analysed or vacuumed (autovacuum off for the table)"),
    ("empty_never_analysed", "empty right after CREATE EXTENSION, never analysed (autovacuum off); grows during the run"),
]

out = sys.argv[1]
info, params, settings, defaults = {}, {}, [], []
tps = defaultdict(list)          # (contender, workload, sync, clients) -> [tps]
tps_round = defaultdict(dict)    # same key -> {round: tps}
attstats = {}
rows_after = defaultdict(list)
growth = defaultdict(list)       # case -> [tps]
growth_rows = defaultdict(list)
growth_clients = None
growthstats = {}
others = defaultdict(list)       # same key as tps -> [share of CPU used outside the benchmark]
growth_others = defaultdict(list)
all_others = []                  # (others, steal, run)
waited = []
retried = []                     # runs discarded for other load: (run, tps, others)
memory = None
lock = None

with open(os.path.join(out, "raw.tsv")) as f:
    for line in f:
        r = line.rstrip("\n").split("\t")
        kind = r[0]
        if kind == "info":
            info[r[1]] = r[2]
        elif kind == "param":
            params[r[1]] = r[2]
        elif kind == "setting":
            settings.append((r[1], r[2]))
        elif kind == "setting_default":
            defaults.append((r[1], r[2]))
        elif kind == "tps":
            _, rnd, who, workload, sync, clients, t, rows = r[:8]
            tps[(who, workload, sync, int(clients))].append(float(t))
            tps_round[(who, workload, sync, int(clients))][int(rnd)] = float(t)
            if len(r) > 9:
                others[(who, workload, sync, int(clients))].append(float(r[8]))
                all_others.append((float(r[8]), float(r[9]), f"round {rnd} {workload} sync {sync} {clients} clients {who}"))
            if rows:
                rows_after[(who, workload, sync, int(clients))].append(int(rows))
        elif kind == "growth":
            _, rnd, case, rows, clients, t = r[:6]
            growth[case].append(float(t))
            if len(r) > 7:
                growth_others[case].append(float(r[6]))
                all_others.append((float(r[6]), float(r[7]), f"round {rnd} growth {case}"))
            growth_rows[case].append(int(rows))
            growth_clients = clients
        elif kind == "waited":
            waited.append(int(r[1]))
        elif kind == "retried":
            retried.append(r[1:])
        elif kind == "attstats":
            attstats[r[1]] = r[2:]
        elif kind == "growthstats":
            growthstats[r[1]] = r[2:]
        elif kind == "memory":
            memory = r[1:]
        elif kind == "lock":
            lock = r[1:]


def med(xs):
    return statistics.median(xs) if xs else None


def cell(who, workload, sync, clients):
    """Median TPS; floor is measured in one cell per client count."""
    if who == "floor":
        xs = [v for (w, _, _, c), vs in tps.items() if w == "floor" and c == clients for v in vs]
        return med(xs)
    return med(tps.get((who, workload, sync, clients), []))


def ratio(a, b):
    return a / b if a is not None and b else None


def round_ratios(a, b, wl, s, c):
    """Ratios a / b of runs made in the same round of one cell, side by side."""
    ra, rb = tps_round.get((a, wl, s, c), {}), tps_round.get((b, wl, s, c), {})
    return [ra[r] / rb[r] for r in sorted(ra) if r in rb and rb[r]]


# contenders measured, in the report's order (booking first)
CONTENDERS = [x for x in ALL_CONTENDERS if any(k[0] == x for k in tps)] or PLOT_CONTENDERS


def fmt_tps(x):
    return "–" if x is None else f"{x:,.0f}"


def fmt_ratio3(x):
    return "–" if x is None else f"{x:.3f}"


def fmt_ratio(x):
    return "–" if x is None else f"{x:.2f}"


workloads = [w for w in ("uncontended", "hot") if any(k[1] == w for k in tps)]
syncs = [s for s in ("on", "off") if any(k[2] == s for k in tps)]
clients_list = sorted({k[3] for k in tps})
rounds = max((len(v) for v in tps.values()), default=0)

md = []
w = md.append
w("# booking benchmark results")
w("")
quick = "--quick" in info.get("command", "")
w(f"Command: `{info.get('command', '?')}`" + ("  (quick mode: a smoke test, not a measurement)" if quick else ""))
w(f"Started {info.get('started', '?')}, finished {info.get('finished', '?')}, took {info.get('elapsed', '?')}.")
if "incomplete" in info:
    w("")
    w(f"**INCOMPLETE: {info['incomplete']}**")
w("")
w("## Machine and settings")
w("")
w(f"- {info.get('nproc', '?')} CPUs: {info.get('cpu', '?')}; {info.get('memory', '?')} RAM; {info.get('kernel', '?')}")
w(f"- {info.get('server', '?')}; {info.get('pgbench', '?')}")
if info.get("cluster_options", "").startswith("an existing server"):
    w(f"- cluster: {info['cluster_options']}; clients connect over {info.get('connection', '?')}")
else:
    w(f"- cluster: `pg_virtualenv -t -v 15` with `-o` {' '.join('`' + s + '`' for s in info.get('cluster_options', '').split())}; "
      f"clients connect over {info.get('connection', '?')}")
w("- server settings as shown by the server: " + ", ".join(f"{k}={v}" for k, v in settings))
w(f"- pgbench `-n -M prepared -T {params.get('BENCH_SECONDS', '?')} -j 2 -c N`, "
  f"{params.get('BENCH_ROUNDS', '?')} rounds; synchronous_commit set per run with `PGOPTIONS='-c synchronous_commit=…'`")
so_start, so_end = info.get("booking_so_md5_start"), info.get("booking_so_md5_end")
note = "" if so_start == so_end else f" — **CHANGED during the run (end: {so_end}); results mix builds**"
w(f"- installed booking.so md5 {so_start}{note}")
w("")
w("Method: every measurement cell runs each contender once per round, in an order rotated from cell to cell "
  "and round to round; the table shows the median TPS over rounds (pgbench's TPS without connection time). "
  + (f"Before every run the contender's table is TRUNCATEd, loaded with {int(params['BENCH_BASE_ROWS']):,} bookings "
     "of resources above 10,000,000 (never hit by the runs) and ANALYZEd, as a table in use would be (a hot run also "
     "gets its 10 resources pre-booked, so every attempt loses, as in steady state), "
     if "BENCH_BASE_ROWS" in params else
     "Before every run the contender's table is TRUNCATEd and left empty and never analysed (a hot run then gets its "
     "10 resources pre-booked) — **so the seeds' cached plans are made on an empty table and may scan it "
     "sequentially as it grows during the run, which understates seed-sql and seed-plpgsql**, ") +
  "and a CHECKPOINT is taken, so no run inherits another's table or checkpoint debt. "
  "After every run the table is checked for double bookings (none may exist). Uncontended: "
  "`rid = random(1, 10000000)`; hot: `random(1, 10)`; `uid = random(1, 1000000)`. "
  "floor (`SELECT 1`) writes nothing, so synchronous_commit and the workload cannot affect it: it is measured "
  "once per client count per round (in the uncontended cell) and shown in every row.")
if params.get("BENCH_PIN_ONE_CLIENT") == "1":
    w("1-client runs pin pgbench and the backend to CPU 0 (`taskset`): on this VM a wake-up across virtual CPUs "
      "costs ~80 µs per round trip (SELECT 1: ~12k TPS across CPUs, ~100k on one), which otherwise drowns the "
      "server-side cost and flips at random between runs. Runs with 8 and 32 clients are not pinned.")
elif params:
    w("1-client runs are not pinned: client and backend may land on different CPUs, and on a VM a wake-up across "
      "CPUs can cost more than the work being measured; expect 1-client results to be noisy and compressed.")
w("")
w("Contenders: **booking** `SELECT book_resource(:rid, :uid)`; **seed-sql** `BEGIN; SELECT pg_advisory_xact_lock(:rid); "
  "INSERT … SELECT … WHERE NOT EXISTS (…); COMMIT;` on an `id` primary key + non-unique `resource_id` index; "
  "**seed-plpgsql** the same as one PL/pgSQL function on the same shape; **unique** `INSERT … ON CONFLICT DO NOTHING` "
  "into a table whose only index is `PRIMARY KEY (resource_id)`; **attached** `SELECT book_resource('att.bookings', :rid, :uid)` "
  "on an application's table `att.bookings(id serial PRIMARY KEY, resource_id int, user_id int)` + a `resource_id` index, "
  "attached with `booking_attach`; **attached-plpgsql** the same logic as attached in PL/pgSQL (`pg_advisory_xact_lock` + "
  "`INSERT … WHERE NOT EXISTS`) on the same table; **attached-never-analysed** attached on a second such table that is "
  "never analysed (no ANALYZE, autovacuum off for it); **floor** `SELECT 1`. "
  "Scripts: `test/bench/*.sql`.")

w("")
w("## Median TPS")
w("")
def max_others(wl, s, c):
    xs = [v for (w_, k_wl, k_s, k_c), vs in others.items() for v in vs
          if k_c == c and ((k_wl, k_s) == (wl, s) or w_ == "floor")]
    return f"{max(xs):.0%}" if xs else "?"


w("| workload | sync commit | clients | " + " | ".join(CONTENDERS) + " | max other load |")
w("|---|---|---:|" + "---:|" * len(CONTENDERS) + "---:|")
for wl in workloads:
    for s in syncs:
        for c in clients_list:
            w(f"| {wl} | {s} | {c} | " + " | ".join(fmt_tps(cell(x, wl, s, c)) for x in CONTENDERS)
              + f" | {max_others(wl, s, c)} |")
w("")
w("*max other load*: the largest share of the machine's CPU that processes outside the benchmark "
  "(other work on this shared machine) used during any run of the row, from /proc/stat minus the "
  "benchmark cluster's and pgbench's own CPU time. Rows with a high value are less trustworthy.")
w("")
w("## Ratio to booking (contender TPS / booking TPS; below 1 means booking is faster)")
w("")
w("| workload | sync commit | clients | " + " | ".join(CONTENDERS[1:]) + " |")
w("|---|---|---:|" + "---:|" * (len(CONTENDERS) - 1))
for wl in workloads:
    for s in syncs:
        for c in clients_list:
            b = cell("booking", wl, s, c)
            w(f"| {wl} | {s} | {c} | " + " | ".join(fmt_ratio(ratio(cell(x, wl, s, c), b)) for x in CONTENDERS[1:]) + " |")
w("")
if all_others:
    oo = sorted(all_others, reverse=True)
    busy = [o for o in oo if o[0] > 0.10]
    w(f"Other load: during the median run, processes outside the benchmark used {statistics.median(o[0] for o in oo):.0%} "
      f"of the machine's CPU (hypervisor steal {statistics.median(o[1] for o in oo):.0%}); "
      f"{len(busy)} of {len(oo)} runs saw more than 10 % (worst {oo[0][0]:.0%}: {oo[0][2]}). "
      f"At start: {info.get('other_postgres_at_start', '?')}; at the end: {info.get('load_at_end', '?')}. "
      f"{len(retried)} runs were discarded and run again because other work took more than "
      f"{float(params.get('BENCH_MAX_OTHER', 0)):.0%} of the CPU (retry budget {params.get('BENCH_RETRIES', '?')}); "
      f"before runs, the benchmark waited {sum(waited)} s in all for other work to calm down (budget {params.get('BENCH_WAIT', '?')} s).")
    w("")
# Noise: spread of each cell's rounds.
if rounds > 1:
    spreads = []
    for k, vs in tps.items():
        if len(vs) > 1:
            spreads.append(((max(vs) - min(vs)) / statistics.median(vs), k))
    spreads.sort(reverse=True)
    w(f"Noise: across rounds, the median cell's (max − min) / median is "
      f"{statistics.median(s for s, _ in spreads):.0%}; the worst is {spreads[0][0]:.0%} "
      f"({' '.join(map(str, spreads[0][1]))}). Every run: `out/raw.tsv`, `out/logs/`.")
    w("")

w(f"![TPS vs clients](tps-vs-clients.png)")
w("")

ATT = ("attached", "attached-plpgsql", "attached-never-analysed")
if any(x in CONTENDERS for x in ATT):
    w("## Booking on an attached table (issue 9)")
    w("")
    w("Each ratio is given twice: of the cell's median TPS, and as the median of the per-round ratios "
      "(runs of one round are made back to back, so they share the machine's conditions). "
      "Per-round ratios in brackets, round 1 first.")
    w("")
    w("| workload | sync commit | clients | attached TPS | attached ÷ attached-plpgsql | "
      "attached-never-analysed ÷ attached | attached ÷ booking (own table) |")
    w("|---|---|---:|---:|---|---|---|")

    def both(a, b, wl, s, c):
        m = ratio(cell(a, wl, s, c), cell(b, wl, s, c))
        rr = round_ratios(a, b, wl, s, c)
        if m is None:
            return "–"
        return (f"{m:.3f} (rounds: median {statistics.median(rr):.3f} ["
                + ", ".join(f"{x:.3f}" for x in rr) + "])") if rr else f"{m:.3f}"

    for wl in workloads:
        for s in syncs:
            for c in clients_list:
                if cell("attached", wl, s, c) is None:
                    continue
                w(f"| {wl} | {s} | {c} | {fmt_tps(cell('attached', wl, s, c))} | "
                  f"{both('attached', 'attached-plpgsql', wl, s, c)} | "
                  f"{both('attached-never-analysed', 'attached', wl, s, c)} | "
                  f"{both('attached', 'booking', wl, s, c)} |")
    w("")
    if attstats:
        w("Statistics of the attached tables at the end of the matrix (relpages / reltuples / n_live_tup / "
          "vacuums / analyzes / pg_statistic rows): "
          + "; ".join(f"{t}: {' / '.join(v)}" for t, v in sorted(attstats.items())) + ".")
        w("")

w("## Table growth (booking, uncontended, synchronous_commit=off, "
  f"{growth_clients or '?'} clients)")
w("")
w("Preloaded resource ids are above 10,000,000, the runs' ids 1..10,000,000. The small table is reset to its "
  "preload before every run; the big ones keep what earlier runs added (rows at start shown as min–max over rounds).")
w("")
w("| table | rows at start | history | median TPS | ratio to small | relpages / reltuples at end | vacuums / analyzes at end | max other load |")
w("|---|---:|---|---:|---:|---|---|---:|")
g_small = med(growth.get("small", []))
for case, hist in GROWTH_CASES:
    if case not in growth:
        continue
    rs = growth_rows[case]
    rr = f"{min(rs):,}" if min(rs) == max(rs) else f"{min(rs):,}–{max(rs):,}"
    st = growthstats.get(case)
    sts = f"{st[0]} / {st[1]}" if st else "?"
    va = f"{st[3]} / {st[4]}" if st else "?"
    go = f"{max(growth_others[case]):.0%}" if growth_others.get(case) else "?"
    w(f"| {case} | {rr} | {hist} | {fmt_tps(med(growth[case]))} | {fmt_ratio(ratio(med(growth[case]), g_small))} | {sts} | {va} | {go} |")
w("")

w("## Memory")
w("")
rss_growth_kb = None
if memory:
    calls, booked, b_rss, b_anon, b_shm, a_rss, a_anon, a_shm = memory
    rss_growth_kb = int(a_anon) - int(b_anon)
    w(f"One session, after a 20,000-call warm-up, made {int(calls):,} `book_resource` calls on fresh resources "
      f"(100 per statement, each statement its own transaction, synchronous_commit=off; {int(booked):,} booked). "
      "The backend read its own `/proc/<pid>/status`. VmRSS includes the shared buffers the backend touched "
      "(RssShmem), which grows with every table and index page it writes; its private memory is RssAnon.")
    w("")
    w("| kB | VmRSS | RssAnon (private) | RssShmem (shared buffers) |")
    w("|---|---:|---:|---:|")
    w(f"| before | {int(b_rss):,} | {int(b_anon):,} | {int(b_shm):,} |")
    w(f"| after | {int(a_rss):,} | {int(a_anon):,} | {int(a_shm):,} |")
    w(f"| growth | {int(a_rss) - int(b_rss):+,} | {int(a_anon) - int(b_anon):+,} | {int(a_shm) - int(b_shm):+,} |")
else:
    w("not measured")
w("")

w("## Lock limit")
w("")
lock_n = None
if lock and lock[0]:
    n, m, ok, raw_n, err = lock[:5]
    best = lock[5] if len(lock) > 5 else ""
    lock_n = int(best) if best else int(n)
    w(f"On a default-configured cluster (`pg_virtualenv -t -v 15`, no `-o`: "
      + ", ".join(f"{k}={v}" for k, v in defaults)
      + f"), one `book_resources` call over {int(m):,} ids failed with: `{err.strip()}`")
    w("")
    w(f"**The largest `book_resources` call that succeeded: {lock_n:,} resources** (binary search, each attempt "
      f"rolled back). A call over exactly the {int(n):,} ids of the DETAIL returned: `{ok.strip()}`. "
      f"For comparison, one transaction took {raw_n or '?'} plain `pg_advisory_xact_lock` locks before "
      "\"out of shared memory\".")
else:
    w(f"not measured {lock}")
w("")

# Targets of issue 5.
w("## Targets (issues 5 and 9)")
w("")
w("| target | measured | verdict |")
w("|---|---|---|")


def verdict(x, need):
    if x is None:
        return "n/a (not measured)"
    return "**met**" if x >= need else "**NOT met**"


for s in syncs:
    if s != "off":
        continue
    for c in (8, 32):
        x = ratio(cell("booking", "uncontended", "off", c), cell("unique", "uncontended", "off", c))
        w(f"| uncontended, sync off, {c} clients: booking ≥ 0.95 × unique | {fmt_ratio3(x)} × | {verdict(x, 0.95)} |")
for s in syncs:
    x = ratio(cell("booking", "uncontended", s, 1), cell("seed-sql", "uncontended", s, 1))
    w(f"| uncontended, sync {s}, 1 client: booking ≥ 2 × seed-sql | {fmt_ratio3(x)} × | {verdict(x, 2.0)} |")
    x = ratio(cell("booking", "uncontended", s, 1), cell("seed-plpgsql", "uncontended", s, 1))
    w(f"| uncontended, sync {s}, 1 client: booking ≥ 1.15 × seed-plpgsql | {fmt_ratio3(x)} × | {verdict(x, 1.15)} |")
for s in syncs:
    b = cell("booking", "hot", s, 32)
    x = ratio(b, cell("unique", "hot", s, 32))
    fl = ratio(b, cell("floor", "hot", s, 32))
    w(f"| hot, sync {s}, 32 clients: booking ≥ 1.0 × unique (and its ratio to floor) | {fmt_ratio3(x)} × unique; "
      f"{fmt_ratio3(fl)} × floor | {verdict(x, 1.0)} |")
for case in ("big", "never_analysed"):
    x = ratio(med(growth.get(case, [])), g_small)
    rs = growth_rows.get(case)
    w(f"| {case} ({min(rs):,}+ rows) ≥ 0.9 × small ({min(growth_rows['small']):,} rows) | {fmt_ratio3(x)} × | {verdict(x, 0.9)} |"
      if rs and growth_rows.get("small") else f"| {case} ≥ 0.9 × small | – | n/a |")
for s in syncs:
    for c in (1,):
        x = ratio(cell("attached", "uncontended", s, c), cell("attached-plpgsql", "uncontended", s, c))
        if x is not None or s == "off":
            w(f"| uncontended, sync {s}, {c} client: attached ≥ 1.15 × attached-plpgsql (issue 9) | {fmt_ratio3(x)} × | "
              + (verdict(x, 1.15) if s == "off" else "– (information)") + " |")
        x = ratio(cell("attached-never-analysed", "uncontended", s, c), cell("attached", "uncontended", s, c))
        if x is not None or s == "off":
            w(f"| uncontended, sync {s}, {c} client: attached never analysed ≥ 0.9 × analysed (issue 9) | {fmt_ratio3(x)} × | "
              + (verdict(x, 0.9) if s == "off" else "– (information)") + " |")
        x = ratio(cell("attached", "uncontended", s, c), cell("booking", "uncontended", s, c))
        if x is not None:
            w(f"| (information) uncontended, sync {s}, {c} client: attached ÷ booking on its own table | {fmt_ratio3(x)} × | – |")
x = ratio(med(growth.get("empty_never_analysed", [])), g_small)
w(f"| (information) empty, never analysed, growing during the run, vs small | {fmt_ratio3(x)} × | – |")
if rss_growth_kb is not None:
    calls = int(memory[0])
    full = calls >= 1000000
    v = ("**met**" if rss_growth_kb < 1024 else "**NOT met**") + ("" if full else f" (only {calls:,} calls)")
    w(f"| backend private memory (RssAnon) growth over {calls:,} calls < 1 MB | {rss_growth_kb:+,} kB "
      f"(VmRSS {int(memory[5]) - int(memory[2]):+,} kB, mostly shared buffers) | {v} |")
else:
    w("| backend RSS growth < 1 MB | – | n/a |")
if lock_n is not None:
    w(f"| report how many resources one book_resources call can take (issue: ~12,500 advisory locks) | "
      f"{lock_n:,} resources (DETAIL says {int(lock[0]):,}; plain advisory locks: {lock[3] or '?'}) | reported |")
else:
    w("| lock limit reported | – | n/a |")
w("")

with open(os.path.join(out, "results.md"), "w") as f:
    f.write("\n".join(md))

# Plot data: one file per (workload, sync): clients then one column per contender.
panels = []
for wl in workloads:
    for s in syncs:
        name = f"plot-{wl}-sync_{s}.dat"
        with open(os.path.join(out, name), "w") as f:
            f.write("# clients " + " ".join(PLOT_CONTENDERS) + "\n")
            for c in clients_list:
                f.write(f"{c} " + " ".join(("NaN" if cell(x, wl, s, c) is None else f"{cell(x, wl, s, c):.1f}")
                                           for x in PLOT_CONTENDERS) + "\n")
        panels.append(name)
titles = [f"{wl}, synchronous_commit={s}" for wl in workloads for s in syncs]
with open(os.path.join(out, "plot-panels.gp"), "w") as f:
    f.write(f'panels = "{" ".join(panels)}"\n')
    f.write(f"array titles[{len(titles)}] = [" + ", ".join(f'"{t}"' for t in titles) + "]\n")
    f.write(f'subtitle = "{info.get("nproc", "?")} CPUs, PostgreSQL 15, fsync on, {params.get("BENCH_SECONDS", "?")} s x {params.get("BENCH_ROUNDS", "?")} rounds, median"\n')
print(open(os.path.join(out, "results.md")).read())
