#!/usr/bin/env python3
"""Tally's load next to DuckDB's and chDB's, in alternating rounds, on a data shape given as parameters.

    python3 Benchmarks/peers_rounds.py --seed 7 --days 60 --tenants 300 --rows 10000000 --rounds 3
    make bench-peers SEED=7 DAYS=60 TENANTS=300 ROWS=10000000 ROUNDS=3

Every round loads the same CSV (shared/bench/gen.py with the shape's parameters, generated once and kept in
--work) with each engine in turn, each in its own fresh process and store, the order rotating from round to round
(round 1: tally, duckdb, chdb; round 2: duckdb, chdb, tally; ...), so that a quiet or a busy minute of the machine
does not favour one engine. For every run it records:

- wall: for Tally the whole `tally import` process (durable default: every part fsynced, one manifest change);
  for the peers the load statement as peers.py times it (DuckDB: INSERT from read_csv + CHECKPOINT; chDB: INSERT
  from file() into the MergeTree of peers.py), without the Python start-up;
- CPU: user + system seconds of the whole process (getrusage of the child; a peer's includes the ~0.3 s of
  starting Python and importing its module);
- the load average (1 minute) just before the run, and rows/s.

After the loads of a round, Tally's store of that round answers Q1..Q8 (peers.py's questions, the parameters
derived from the data as peers.py derives them) as separate `tally query` processes: the wall of each process,
store open included, which is what a command-line user waits for.

The report (stdout and --out, Markdown) lists every run, then per engine the median wall, CPU and rows/s over the
rounds and the ratios Tally / peer of the medians. Query latency of the peers and the check of Tally's answers
against DuckDB's stay in Benchmarks/peers.sh (one run), which `make bench-peers` runs after this on the same CSV.
"""
import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def shared_bench() -> str:
    for d in (os.path.join(ROOT, "..", "shared", "bench"), "/work/shared/bench"):
        if os.path.exists(os.path.join(d, "peers.py")):
            return os.path.abspath(d)
    sys.exit("peers_rounds.py: cannot find shared/bench/peers.py (looked in ../shared/bench and /work/shared/bench)")


# A peer's load, run in a fresh interpreter: prints {"wall": s, "rows": n} as JSON. The statements are peers.py's.
PEER_LOAD = r"""
import json, os, shutil, sys, time
sys.path.insert(0, sys.argv[1])
import peers
engine, csv, work = sys.argv[2], sys.argv[3], sys.argv[4]
if engine == "duckdb":
    import duckdb
    path = os.path.join(work, "costs.duckdb")
    for p in (path, path + ".wal"):
        if os.path.exists(p):
            os.remove(p)
    con = duckdb.connect(path)
    con.execute("SET threads = %d" % os.cpu_count())
    con.execute("CREATE TABLE costs (" + ", ".join(f"{n} {t}" for n, t, _ in peers.COLUMNS) + ")")
    colspec = "{" + ", ".join(f"'{n}': '{t}'" for n, t, _ in peers.COLUMNS) + "}"
    t0 = time.perf_counter()
    con.execute(f"INSERT INTO costs SELECT * FROM read_csv('{csv}', header = true, "
                f"columns = {colspec}, timestampformat = '%Y-%m-%dT%H:%M:%S.%gZ')")
    con.execute("CHECKPOINT")
    wall = time.perf_counter() - t0
    rows = con.execute("SELECT count(*) FROM costs").fetchone()[0]
    con.close()
else:
    from chdb import session
    path = os.path.join(work, "chdb")
    shutil.rmtree(path, ignore_errors=True)
    sess = session.Session(path)
    sess.query("CREATE DATABASE IF NOT EXISTS bench")
    sess.query("USE bench")
    cols = ", ".join(f"{n} {t}" for n, _, t in peers.COLUMNS)
    sess.query(f"CREATE TABLE costs ({cols}) ENGINE = MergeTree "
               f"PARTITION BY toYYYYMMDD(created_at) ORDER BY (tenant_id, created_at)")
    t0 = time.perf_counter()
    sess.query(f"INSERT INTO costs SELECT * FROM file('{csv}', 'CSVWithNames', \"{cols}\") "
               f"SETTINGS date_time_input_format = 'best_effort'")
    wall = time.perf_counter() - t0
    rows = int(str(sess.query("SELECT count() FROM costs", "CSV")).strip())
    sess.close()
print(json.dumps({"wall": wall, "rows": rows}))
"""


def run_child(cmd, **kw):
    """Runs cmd; returns (completed process, wall s, CPU s of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, **kw)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return p, wall, cpu


def tally_queries(tally, data, params):
    """Q1..Q8 as `tally query` arguments (as Benchmarks/peers.sh maps them)."""
    L, M = params["L"], params["M"]
    s7 = params["S7"].replace(" ", "T") + "Z"
    q = {
        "Q1": ["usage", "--tenant", L, "--resolution", "hour", "--no-fill"],
        "Q2": ["usage", "--tenant", M, "--resolution", "day", "--no-fill"],
        "Q3": ["cost", "--tenant", L, "--group-by", "model", "--order", "cost"],
        "Q4": ["cost", "--tenant", L, "--group-by", "user", "--order", "cost", "--limit", "20"],
        "Q5": ["cost", "--tenant", "*", "--from", s7, "--group-by", "tenant,feature", "--order", "key"],
        "Q6": ["usage", "--tenant", "*", "--resolution", "day", "--no-fill"],
        "Q7": ["baseline", "--tenant", "*", "--group-by", "tenant", "--trailing-days", "7", "--no-fill"],
        "Q8": ["cost", "--tenant", "*", "--group-by", "model", "--order", "key"],
    }
    return {k: [tally, "query"] + v + ["--data", data, "--format", "csv"] for k, v in q.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--tenants", type=int, default=200)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--engines", default="tally,duckdb,chdb")
    ap.add_argument("--tally", default=os.path.join(ROOT, ".build", "release", "tally"))
    ap.add_argument("--work", default="/tmp/tally-bench")
    ap.add_argument("--csv", help="the CSV to load (default: WORK/costs-s<seed>-d<days>-t<tenants>-r<rows>.csv, generated when absent)")
    ap.add_argument("--no-queries", action="store_true", help="skip the `tally query` processes after each round")
    ap.add_argument("--out", help="also write the report here")
    a = ap.parse_args()
    bench = shared_bench()
    engines = [e.strip() for e in a.engines.split(",") if e.strip()]
    os.makedirs(a.work, exist_ok=True)
    if "tally" in engines and not os.access(a.tally, os.X_OK):
        sys.exit(f"peers_rounds.py: no tally binary at {a.tally} (run 'make release' or pass --tally)")
    if any(e != "tally" for e in engines):
        try:
            import duckdb, chdb  # noqa: F401
        except ImportError:
            print("==> installing numpy duckdb chdb with pip", file=sys.stderr)
            subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "numpy", "duckdb", "chdb"], check=True)

    shape = f"seed {a.seed}, {a.days} days, {a.tenants} tenants, {a.rows:,} rows"
    csv = a.csv or os.path.join(a.work, f"costs-s{a.seed}-d{a.days}-t{a.tenants}-r{a.rows}.csv")
    if not os.path.exists(csv) or os.path.getsize(csv) == 0:
        print(f"==> generating {csv} ({shape})", file=sys.stderr)
        subprocess.run([sys.executable, os.path.join(bench, "gen.py"), "--rows", str(a.rows), "--days", str(a.days),
                        "--seed", str(a.seed), "--tenants", str(a.tenants), "--out", csv], check=True)
    params = None
    if "tally" in engines and not a.no_queries:
        sys.path.insert(0, bench)
        import peers
        params = peers.run_isolated(peers.derive_params, csv)

    runs = []  # dicts: round, engine, wall, cpu, rows, load
    moved_aside = []  # earlier rounds' directories, deleted after the last round
    queries = []  # dicts: round, query, wall
    for r in range(a.rounds):
        order = engines[r % len(engines):] + engines[:r % len(engines)]
        for e in order:
            load = os.getloadavg()[0]
            work = os.path.join(a.work, f"rounds-{e}")
            # The last round's files are moved aside and deleted after every round, not before this load: on ext4
            # without a journal, files created soon after thousands were deleted nearby have their inodes searched past
            # every recently deleted one (`find_inode_bit` -> `recently_deleted`), which charged Tally's import of 5,000
            # part files 1-2.4 s of system time for the previous round's deletion (docs/PERFORMANCE.md, session 19).
            if os.path.exists(work):
                aside = f"{work}.old-{os.getpid()}-{r}"
                os.rename(work, aside)
                moved_aside.append(aside)
            os.makedirs(work)
            if e == "tally":
                data = os.path.join(work, "store")
                p, wall, cpu = run_child([a.tally, "import", "--data", data, csv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                if p.returncode != 0:
                    sys.exit(f"tally import failed: {p.stderr}")
                stats = subprocess.run([a.tally, "stats", "--data", data], capture_output=True, text=True).stdout
                rows = next((int(line.split()[1]) for line in stats.splitlines() if line.split()[:1] == ["rows"] and len(line.split()) == 2), a.rows)
            else:
                p, _, cpu = run_child([sys.executable, "-c", PEER_LOAD, bench, e, csv, work], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                if p.returncode != 0:
                    sys.exit(f"{e} load failed: {p.stderr}")
                got = json.loads(p.stdout.strip().splitlines()[-1])
                wall, rows = got["wall"], got["rows"]
            runs.append({"round": r + 1, "engine": e, "wall": wall, "cpu": cpu, "rows": rows, "load": load})
            print(f"==> round {r + 1} {e}: {wall:.2f} s wall, {cpu:.2f} s CPU, {rows / wall / 1e6:.2f} Mrows/s, load average {load:.2f}",
                  file=sys.stderr)
        if params:
            data = os.path.join(a.work, "rounds-tally", "store")
            for q, cmd in tally_queries(a.tally, data, params).items():
                p, wall, _ = run_child(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                queries.append({"round": r + 1, "query": q, "wall": wall if p.returncode == 0 else None})

    for d in moved_aside:
        shutil.rmtree(d, ignore_errors=True)

    med = {}
    for e in engines:
        mine = [x for x in runs if x["engine"] == e]
        med[e] = {k: statistics.median(x[k] for x in mine) for k in ("wall", "cpu", "load")}
        med[e]["rate"] = statistics.median(x["rows"] / x["wall"] for x in mine)
    out = [f"# Load in alternating rounds: {shape}", ""]
    out.append(f"- CSV `{csv}` ({os.path.getsize(csv) / 1e9:.2f} GB); {os.cpu_count()} CPUs; tally `{a.tally}`")
    out.append("- wall: Tally's whole `tally import` process (durable); a peer's load statement (peers.py's). "
               "CPU: user + system of the whole process. load: 1-minute load average before the run.")
    out.append("")
    out.append("| round | engine | wall s | CPU s | Mrows/s | load average |")
    out.append("|---|---|---|---|---|---|")
    for x in runs:
        out.append(f"| {x['round']} | {x['engine']} | {x['wall']:.2f} | {x['cpu']:.2f} | {x['rows'] / x['wall'] / 1e6:.3f} | {x['load']:.2f} |")
    out.append("")
    out.append(f"| engine | median wall s | median CPU s | median Mrows/s | Tally / engine (median wall) |")
    out.append("|---|---|---|---|---|")
    for e in engines:
        ratio = f"{med[e]['wall'] / med['tally']['wall']:.2f}x" if "tally" in med and e != "tally" else ""
        out.append(f"| {e} | {med[e]['wall']:.2f} | {med[e]['cpu']:.2f} | {med[e]['rate'] / 1e6:.3f} | {ratio} |")
    out.append("")
    out.append("(Tally / engine > 1: Tally loads faster, by the engine's median wall over Tally's.)")
    if queries:
        out.append("")
        out.append("`tally query` as a whole process (start-up, store open, answer, output), ms, per round and median:")
        out.append("")
        out.append("| query | " + " | ".join(f"round {r + 1}" for r in range(a.rounds)) + " | median |")
        out.append("|---|" + "---|" * (a.rounds + 1))
        for q in [f"Q{i}" for i in range(1, 9)]:
            ws = [x["wall"] for x in queries if x["query"] == q]
            cells = [f"{w * 1000:.0f}" if w is not None else "failed" for w in ws]
            ok = [w for w in ws if w is not None]
            out.append(f"| {q} | " + " | ".join(cells) + f" | {statistics.median(ok) * 1000:.0f} |" if ok else f"| {q} | " + " | ".join(cells) + " | - |")
    text = "\n".join(out) + "\n"
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
