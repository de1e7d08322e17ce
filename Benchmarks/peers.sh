#!/usr/bin/env bash
# Tally next to DuckDB and chDB on the same generated data, in one run (see docs/PERFORMANCE.md):
# load rows/s, bytes per row on disk, and the warm latency of Q1..Q8 (shared/bench/peers.py), with
# Tally's answers checked against DuckDB's.
#
#   make bench-peers                         # 10M rows, builds .build/release/tally first
#   ROWS=200000 ./Benchmarks/peers.sh        # a quick run
#   CSV=/tmp/costs.csv ./Benchmarks/peers.sh # reuse an existing gen.py CSV (seed 42, 30 days)
#
# Environment:
#   WORK        working directory (default /tmp/tally-bench): costs.csv, peers/, tally/, *.json, summary.md
#   ROWS        rows to generate when the CSV is absent (default 10000000)
#   CSV         the gen.py CSV to load (default $WORK/costs.csv, generated when absent)
#   TALLY       the tally binary (default <repo>/.build/release/tally)
#   REPS        warm repetitions per query, median taken (default 5)
#   THREADS     thread counts the queries run with, for the peers and tally (default 1,2)
#   SKIP_PEERS  1: reuse $WORK/peers.json from an earlier run on the same CSV instead of running peers.py
#
# Every figure of the three engines comes from this one run on this one machine, so their ratios are
# comparable even when the absolute figures are noisy.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/.." && pwd))
shared="$root/../shared"
[ -f "$shared/bench/peers.py" ] || shared=/work/shared
[ -f "$shared/bench/peers.py" ] || { echo "peers.sh: cannot find shared/bench/peers.py (looked in $root/../shared and /work/shared)" >&2; exit 1; }

WORK=${WORK:-/tmp/tally-bench}
ROWS=${ROWS:-10000000}
CSV=${CSV:-$WORK/costs.csv}
TALLY=${TALLY:-$root/.build/release/tally}
REPS=${REPS:-5}
THREADS=${THREADS:-1,2}
SKIP_PEERS=${SKIP_PEERS:-0}

log() { printf '==> %s\n' "$*" >&2; }

# Seconds since an arbitrary point, with microseconds (bash 5).
now() { printf '%s' "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

[ -x "$TALLY" ] || { echo "peers.sh: no tally binary at $TALLY (run 'make release' or set TALLY)" >&2; exit 1; }
mkdir -p "$WORK"

# ------------------------------------------------------------------------------------ prerequisites
if ! python3 -c 'import numpy, duckdb, chdb' 2>/dev/null; then
    log "installing numpy duckdb chdb with pip"
    python3 -m pip install --quiet numpy duckdb chdb
fi

# ----------------------------------------------------------------------------------------- the data
if [ ! -s "$CSV" ]; then
    log "generating $ROWS rows into $CSV (gen.py, 30 days, seed 42)"
    mkdir -p "$(dirname "$CSV")"
    python3 "$shared/bench/gen.py" --rows "$ROWS" --days 30 --seed 42 --out "$CSV"
fi
csv_bytes=$(stat -c %s "$CSV")
log "data: $CSV ($((csv_bytes / 1000000)) MB)"
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)

# ------------------------------------------------------------------------------------------- peers
if [ "$SKIP_PEERS" = 1 ] && [ -s "$WORK/peers.json" ]; then
    log "reusing $WORK/peers.json"
else
    log "DuckDB and chDB: load, bytes on disk, Q1..Q8 (peers.py; several minutes at 10M rows)"
    python3 "$shared/bench/peers.py" --csv "$CSV" --workdir "$WORK/peers" \
        --json "$WORK/peers.json" --answers "$WORK/answers.json" --reps "$REPS" --threads "$THREADS"
fi

# ------------------------------------------------------------------------------------------- Tally
data="$WORK/tally"
# The last run's store is moved aside and deleted after the import, not before it: on ext4 without a journal (this
# VM's disk), a file created within a minute or more of thousands of deletions in its block group has its inode searched
# past every recently deleted one (`find_inode_bit` -> `recently_deleted`): 5,000 part files then took 219 us each to
# create instead of 31, 1-2.4 s of system time charged to the import (docs/PERFORMANCE.md, session 19).
old_store=""
if [ -e "$data" ]; then
    old_store="$data.old.$$"
    mv "$data" "$old_store"
fi
log "tally import (fresh store, durable default) -> $data"
t0=$(now)
"$TALLY" import --data "$data" "$CSV" | tee "$WORK/tally-import.log"
t1=$(now)
log "tally compact"
"$TALLY" compact --data "$data" | tee "$WORK/tally-compact.log"
t2=$(now)
[ -n "$old_store" ] && rm -rf "$old_store"
"$TALLY" stats --data "$data" | tee "$WORK/tally-stats.log"
import_s=$(elapsed "$t0" "$t1")
compact_s=$(elapsed "$t1" "$t2")
rows=$(awk '$1 == "rows" && NF == 2 { print $2; exit }' "$WORK/tally-stats.log")
parts_bytes=$(find "$data/parts" -type f -name '*.part' -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
store_bytes=$(find "$data" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')

# ----------------------------------------------------------------------------------------- queries
# Q1..Q8 as `tally query` invocations (Benchmarks/queries.sh); the parameters come from peers.py's JSON.
# shellcheck source=queries.sh
. "$here/queries.sh"
tally_query_args() {
    query_shape_args "$1" || return 1
    QUERY_ARGS+=(--data "$data" --format csv)
}

# Times one query at `threads` scan threads: one `tally query` process answers it once (its rows go to
# $WORK/tally-queries/Qn.tT.csv), then runs it REPS more times warm and reports the median, which is what
# the peers report too (after one warm-up run). Prints "<warm median ms> <whole process ms>". A third argument
# `raw` scans the rows instead of answering from rollups (`--no-rollups`; rows to Qn.tTraw.csv).
time_tally_query() {
    local q=$1 threads=$2 mode=${3:-} dir="$WORK/tally-queries" a b median
    tally_query_args "$q" || return 1
    [ "$mode" = raw ] && QUERY_ARGS+=(--no-rollups)
    a=$(now)
    "$TALLY" query "${QUERY_ARGS[@]}" --threads "$threads" --repeat "$REPS" >"$dir/$q.t$threads$mode.csv" 2>"$dir/$q.t$threads$mode.err" || return 1
    b=$(now)
    median=$(sed -n 's/^query: median \([0-9.]*\) ms.*/\1/p' "$dir/$q.t$threads$mode.err")
    [ -n "$median" ] || return 1
    printf '%s %s\n' "$median" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (b - a) * 1000 }')"
}

# `tally query --help` exits 0 even without the command (argument-parser prints the root help), so
# look for the command's own usage line. Not `grep -q`: it exits at the first match, tally then dies of SIGPIPE
# writing the rest of its help, and under pipefail the pipeline fails (Tally's queries were skipped that way).
has_query_command() { "$TALLY" query --help 2>/dev/null | grep 'USAGE: tally query' >/dev/null; }

query_times="$WORK/tally-queries.tsv"
: >"$query_times"
if has_query_command; then
    rm -rf "$WORK/tally-queries"
    mkdir -p "$WORK/tally-queries"
    eval "$(python3 - "$WORK/peers.json" <<'PY'
import json, shlex, sys
p = json.load(open(sys.argv[1]))["meta"]["params"]
s7 = p["S7"].replace(" ", "T") + "Z"
print(f"L={shlex.quote(p['L'])} M={shlex.quote(p['M'])} S7={shlex.quote(s7)}")
PY
)"
    IFS=, read -r -a thread_counts <<<"$THREADS"
    for q in Q1 Q2 Q3 Q4 Q5 Q6 Q7 Q8; do
        for t in "${thread_counts[@]}"; do
            if r=$(time_tally_query "$q" "$t"); then
                read -r median process <<<"$r"
                log "tally query $q, $t thread(s): $median ms warm, $process ms as a whole process"
                printf '%s\t%s\t%s\t%s\n' "$q" "$t" "$median" "$process" >>"$query_times"
            else
                log "tally query $q failed (see $WORK/tally-queries/$q.t$t.err); check Benchmarks/queries.sh"
                printf '%s\t%s\t\t\n' "$q" "$t" >>"$query_times"
            fi
            if r=$(time_tally_query "$q" "$t" raw); then
                read -r median process <<<"$r"
                log "tally query $q --no-rollups, $t thread(s): $median ms warm"
                printf '%s\t%s\t%s\t%s\n' "$q" "${t}raw" "$median" "$process" >>"$query_times"
            else
                printf '%s\t%s\t\t\n' "$q" "${t}raw" >>"$query_times"
            fi
        done
    done
else
    log "tally query is not available: Q1..Q8 skipped for Tally"
fi

# ----------------------------------------------------------------------------------------- summary
load_after=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
TALLY_ROWS=$rows TALLY_IMPORT_S=$import_s TALLY_COMPACT_S=$compact_s TALLY_PARTS_BYTES=$parts_bytes \
TALLY_STORE_BYTES=$store_bytes TALLY_ROOT=$root LOAD_BEFORE=$load_before LOAD_AFTER=$load_after \
python3 - "$WORK/peers.json" "$query_times" "$WORK/summary.md" <<'PY'
import json, os, platform, subprocess, sys

peers = json.load(open(sys.argv[1]))
engines = peers["engines"]
meta = peers["meta"]
env = os.environ
rows = int(env["TALLY_ROWS"] or 0)
import_s, compact_s = float(env["TALLY_IMPORT_S"]), float(env["TALLY_COMPACT_S"])
parts_bytes, store_bytes = int(env["TALLY_PARTS_BYTES"]), int(env["TALLY_STORE_BYTES"])
tally = {"rows": rows, "load_s": import_s, "load_rows_per_s": rows / import_s,
         "bytes_on_disk": parts_bytes, "bytes_per_row": parts_bytes / max(rows, 1)}

LABELS = {  # short names of peers.py's QUERIES, as in shared/bench/README.md
    "Q1": "hourly series, largest tenant", "Q2": "daily series, mid-size tenant",
    "Q3": "cost by model, largest tenant", "Q4": "top-20 users by cost, largest tenant",
    "Q5": "(tenant, feature) over the last 7 days", "Q6": "org-wide daily totals",
    "Q7": "per-tenant daily spend + 7-day trailing average", "Q8": "full scan: cost by model",
}

def fmt_ms(v):
    """A latency in ms with three significant digits or more."""
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 10 else f"{v:.1f}"

def ratio(a, b):
    return f"{a / b:.2f}x" if b else "-"

def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"

def commit():
    try:
        rev = subprocess.run(["git", "-C", env["TALLY_ROOT"], "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", env["TALLY_ROOT"], "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
        return rev + (" + uncommitted changes" if dirty else "")
    except OSError:
        return "unknown"

out = []
p = meta["params"]
out.append(f"# Tally vs DuckDB vs chDB, one run\n")
out.append(f"- data: `{meta['csv']}`, {meta['csv_bytes'] / 1e9:.2f} GB, {rows:,} rows stored by Tally; "
           f"largest tenant {p['L']} ({p['L_rows']:,} rows), mid {p['M']} ({p['M_rows']:,} rows), last 7 days from {p['S7']}")
out.append(f"- machine: {os.cpu_count()} x {cpu()}, Linux {platform.release()}; "
           f"duckdb {engines.get('duckdb', {}).get('version', '-')}, chdb {engines.get('chdb', {}).get('version', '-')}, tally {commit()}; "
           f"load average {env['LOAD_BEFORE']} before, {env['LOAD_AFTER']} after (other work on the machine makes figures noisy)")
out.append(f"- Tally: `tally import` into a fresh store (durable: fsync), then `tally compact` ({compact_s:.1f} s, not in the load figure); "
           f"bytes = part files after compaction ({store_bytes / 1e6:.1f} MB for the whole data directory)")
out.append("- DuckDB: INSERT from read_csv + CHECKPOINT, file size. chDB: INSERT from file() into MergeTree, "
           "bytes of active parts after OPTIMIZE FINAL (not in its load figure).")
out.append("- Ratios are Tally / peer: load > 1 means Tally loads faster, bytes/row < 1 means Tally stores less.\n")

out.append("| engine | load s | load Mrows/s | bytes/row | load vs DuckDB | load vs chDB | bytes/row vs DuckDB | bytes/row vs chDB |")
out.append("|---|---|---|---|---|---|---|---|")
duck, ch = engines.get("duckdb"), engines.get("chdb")
for name, e in [("Tally", tally)] + [(n, engines[k]) for n, k in (("DuckDB", "duckdb"), ("chDB", "chdb")) if k in engines]:
    cells = [name, f"{e['load_s']:.1f}", f"{e['load_rows_per_s'] / 1e6:.2f}", f"{e['bytes_per_row']:.2f}"]
    if name == "Tally":
        cells += [ratio(e["load_rows_per_s"], duck["load_rows_per_s"]) if duck else "-",
                  ratio(e["load_rows_per_s"], ch["load_rows_per_s"]) if ch else "-",
                  ratio(e["bytes_per_row"], duck["bytes_per_row"]) if duck else "-",
                  ratio(e["bytes_per_row"], ch["bytes_per_row"]) if ch else "-"]
    else:
        cells += ["", "", "", ""]
    out.append("| " + " | ".join(cells) + " |")

# Tally's query times: {q: {threads: (warm median ms, whole process ms)}}.
tq = {}
for line in open(sys.argv[2]):
    q, t, ms, proc = (line.rstrip("\n").split("\t") + ["", "", "", ""])[:4]
    tq.setdefault(q, {})[t] = (float(ms), float(proc)) if ms else None
threads = [str(t) for t in meta["threads"]]

# Tally's answers against the reference engine's, in the peers' column order (see QUERIES).
COLUMNS = {
    "Q1": ["hour", "count", "input_tokens", "output_tokens", "cost_cents"],
    "Q2": ["day", "count", "input_tokens", "output_tokens", "cost_cents"],
    "Q3": ["model", "count", "input_tokens", "output_tokens", "cost_cents"],
    "Q4": ["user_id", "cost_cents", "count"],
    "Q5": ["tenant_id", "feature_tag", "count", "cost_cents"],
    "Q6": ["day", "count", "input_tokens", "output_tokens", "cost_cents"],
    "Q7": ["tenant_id", "day", "cost_cents", "trailing_7d_avg_cost_cents"],
    "Q8": ["model", "cost_cents"],
}

def check(q, mode=""):
    """'agrees', 'differs (...)' or 'unchecked' for Tally's answer to q (mode "raw": its --no-rollups answer)."""
    import csv
    path = os.path.join(os.path.dirname(sys.argv[2]), "tally-queries", f"{q}.t{threads[0]}{mode}.csv")
    try:
        ref = answers["answers"][answers["reference"]][q]
        with open(path, newline="") as f:
            table = list(csv.DictReader(f))
        rows = [[r[c] for c in COLUMNS[q]] for r in table]
    except (OSError, KeyError, TypeError):
        return "unchecked"
    if len(rows) != len(ref):
        return f"differs ({len(rows)} rows, expected {len(ref)})"
    for i, (got, want) in enumerate(zip(rows, ref)):
        for g, w in zip(got, want):
            same = abs(float(g) - w) <= 0.001 if isinstance(w, float) else str(g) == str(w)
            if not same:
                return f"differs (row {i + 1}: {got} vs {want})"
    return "agrees"

try:
    answers = json.load(open(os.path.join(os.path.dirname(sys.argv[2]), "answers.json")))
except OSError:
    answers = None

out.append("")
out.append(f"Queries: warm latency, median of {meta['reps']} runs after a warm-up (ms).")
if tq:
    out.append("Tally: `tally query --repeat` (warm runs in one process, after one answered run); "
               "\"process\" is that whole `tally query` process (start-up, store open, one cold run, the warm runs, output). "
               f"\"answer\" compares Tally's rows with {answers['reference'] if answers else 'the reference engine'}'s.\n")
else:
    out.append("Tally: `tally query` is not available; only the peers are shown.\n")
peer_cols = [(n, k, t) for n, k in (("DuckDB", "duckdb"), ("chDB", "chdb")) if k in engines for t in threads]
hdr = ["query"]
if tq:
    hdr += [f"Tally t={t}" for t in threads] + [f"Tally raw t={t}" for t in threads] + [f"Tally process t={threads[0]}"]
hdr += [f"{n} t={t}" for n, _, t in peer_cols]
if tq:
    hdr += ["faster peer / Tally", "faster peer / Tally raw", "answer"]
out.append("| " + " | ".join(hdr) + " |")
out.append("|" + "---|" * len(hdr))
for q, text in meta["queries"].items():
    cells = [f"{q} {LABELS.get(q, text.split(':')[0])}"]
    if tq:
        got = tq.get(q, {})
        cells += [fmt_ms(got[t][0]) if got.get(t) else "failed" for t in threads]
        cells += [fmt_ms(got[t + "raw"][0]) if got.get(t + "raw") else "-" for t in threads]
        cells.append(f"{got[threads[0]][1]:.0f}" if got.get(threads[0]) else "-")
    cells += [f"{engines[k]['latency_ms'][q][t]:.1f}" for _, k, t in peer_cols]
    if tq:
        # Best against best: the faster peer at its better thread count over Tally's better one.
        peer_best = min((engines[k]["latency_ms"][q][t] for _, k, t in peer_cols), default=None)
        for suffix in ("", "raw"):
            mine = [got[t + suffix][0] for t in threads if got.get(t + suffix)]
            cells.append(f"{peer_best / min(mine):.1f}x" if peer_best and mine and min(mine) > 0 else "-")
        ok = check(q) if answers else "unchecked"
        raw = check(q, "raw") if answers else "unchecked"
        cells.append(ok if raw == ok else f"{ok}; raw: {raw}")
    out.append("| " + " | ".join(cells) + " |")
agreement = peers.get("agreement", {})
for e, d in agreement.items():
    bad = [q for q, ok in d.items() if not ok]
    out.append(f"\nAnswers {e} vs {list(engines)[0]}: " + ("all agree." if not bad else "differ on " + ", ".join(bad) + "."))

text = "\n".join(out) + "\n"
open(sys.argv[3], "w").write(text)
print()
print(text)
PY
log "summary written to $WORK/summary.md"
