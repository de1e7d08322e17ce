#!/usr/bin/env bash
# The ClickHouse record store next to the embedded one on the same generated data, in one run (issue 17; see
# docs/PERFORMANCE.md, "Past one machine"):
#   1. the embedded store: gen.py's CSV (seed 42, 30 days) imported with `tally import`;
#   2. two ClickHouse shards on loopback (scripts/clickhouse.sh) and `tally clickhouse init`;
#   3. `tally migrate` of the store into the cluster: records/s of batched appends over ClickHouse's HTTP interface;
#   4. Q1..Q8 (shared/bench/peers.py's queries, as Benchmarks/peers.sh runs them) with `tally query` on both, the
#      answers compared byte for byte, warm medians and whole-process times; the peers' medians beside them when
#      $PEERS_JSON (Benchmarks/peers.sh's peers.json for the same CSV) exists;
#   5. Benchmarks/load.sh against `tally serve` on each: usage and cost at 64 connections, ingest over HTTP, and
#      readers with writers.
#
#   ./Benchmarks/cluster.sh                     # 10M rows
#   ROWS=1000000 DURATION=10 ./Benchmarks/cluster.sh
#
# Environment: WORK (default /tmp/tally-cluster), ROWS (10000000), CSV (default $WORK/costs.csv, generated when
# absent), DATA (the embedded store, default $WORK/store, imported from CSV when absent), TALLY (default
# .build/release/tally), REPS (5), DURATION (seconds per wrk run, 20), PEERS_JSON (default /tmp/tally-bench/peers.json),
# SKIP_LOAD=1 to skip step 5 (LOAD_ON="clickhouse" to run it on one of the two), KEEP=1 to leave the cluster running (stop it with
# TALLY_CLICKHOUSE_STATE=$WORK/clickhouse.env scripts/clickhouse.sh stop) so a rerun skips the migration.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
TALLY=${TALLY:-$root/.build/release/tally}
WORK=${WORK:-/tmp/tally-cluster}
ROWS=${ROWS:-10000000}
CSV=${CSV:-$WORK/costs.csv}
REPS=${REPS:-5}
DURATION=${DURATION:-20}
PEERS_JSON=${PEERS_JSON:-/tmp/tally-bench/peers.json}
SKIP_LOAD=${SKIP_LOAD:-0}
KEEP=${KEEP:-0}
LOAD_ON=${LOAD_ON:-embedded clickhouse}
shared="$root/../shared"
[ -f "$shared/bench/gen.py" ] || shared=/work/shared
export SWIFT_BACKTRACE=enable=no

log() { printf '==> %s\n' "$*" >&2; }
now() { printf '%s' "$EPOCHREALTIME"; }
ms_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }

[ -x "$TALLY" ] || { echo "cluster.sh: no tally binary at $TALLY (run 'make release' or set TALLY)" >&2; exit 1; }
mkdir -p "$WORK"
summary="$WORK/cluster-summary.md"

if [ ! -s "$CSV" ]; then
    log "generating $ROWS rows into $CSV (gen.py, 30 days, seed 42)"
    python3 "$shared/bench/gen.py" --rows "$ROWS" --days 30 --seed 42 --out "$CSV"
fi
data=${DATA:-$WORK/store}
if [ ! -f "$data/MANIFEST" ]; then
    log "tally import $CSV -> $data"
    "$TALLY" import --data "$data" "$CSV"
    "$TALLY" compact --data "$data"
fi
rows=$("$TALLY" stats --data "$data" | awk '$1 == "rows" && NF == 2 { print $2; exit }')

log "two ClickHouse shards on loopback"
export TALLY_CLICKHOUSE_STATE="$WORK/clickhouse.env"
eval "$(./scripts/clickhouse.sh start)"
[ "$KEEP" = 1 ] || trap './scripts/clickhouse.sh stop' EXIT
ch=(--records clickhouse --clickhouse-url "$TALLY_CLICKHOUSE_URL" --clickhouse-cluster "$TALLY_CLICKHOUSE_CLUSTER"
    --clickhouse-shards "$TALLY_CLICKHOUSE_SHARDS" --clickhouse-database bench)
held=$(curl -s "$TALLY_CLICKHOUSE_URL/?query=SELECT%20count()%20FROM%20bench.records" 2>/dev/null || true)
if [ "$held" = "$rows" ] && [ -s "$WORK/migrate-ms" ]; then
    log "the cluster (kept by KEEP=1) already holds the $rows records"
else
    "$TALLY" clickhouse init "${ch[@]}" >&2
    rm -f "$data/migrate-clickhouse.progress"
    log "tally migrate ($rows records)"
    t0=$(now)
    "$TALLY" migrate --from "$data" --to-clickhouse "$TALLY_CLICKHOUSE_URL" --clickhouse-cluster "$TALLY_CLICKHOUSE_CLUSTER" \
        --clickhouse-shards "$TALLY_CLICKHOUSE_SHARDS" --clickhouse-database bench >&2
    ms_since "$t0" >"$WORK/migrate-ms"
fi
migrate_ms=$(cat "$WORK/migrate-ms")

# The query parameters as peers.sh derives them: L = largest tenant, M = 20th largest, S7 = the last 7 days' start.
eval "$(python3 - "$CSV" <<'PY'
import csv, collections, datetime, shlex, sys
counts, newest = collections.Counter(), ""
with open(sys.argv[1]) as f:
    r = csv.DictReader(f)
    for row in r:
        counts[row["tenant_id"]] += 1
        newest = max(newest, row["created_at"])
ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
end = datetime.datetime.fromisoformat(newest.replace("Z", "").replace(" ", "T")[:19]).date() + datetime.timedelta(days=1)
s7 = (end - datetime.timedelta(days=7)).isoformat() + "T00:00:00Z"
print(f"L={shlex.quote(ranked[0][0])} M={shlex.quote(ranked[min(19, len(ranked) - 1)][0])} S7={shlex.quote(s7)}")
PY
)"
# shellcheck source=queries.sh
. Benchmarks/queries.sh
query_args() {
    query_shape_args "$1"
    QUERY_ARGS+=(--data "$data" --format csv --repeat "$REPS")
}
qdir="$WORK/queries"
rm -rf "$qdir" && mkdir -p "$qdir"
run_query() { # Qn where(embedded|clickhouse) -> "median_ms process_ms"
    local t0 extra=()
    query_args "$1"
    [ "$2" = clickhouse ] && extra=("${ch[@]}")
    t0=$(now)
    "$TALLY" query "${QUERY_ARGS[@]}" "${extra[@]}" >"$qdir/$1.$2.csv" 2>"$qdir/$1.$2.err"
    printf '%s %s\n' "$(sed -n 's/^query: median \([0-9.]*\) ms.*/\1/p' "$qdir/$1.$2.err")" "$(ms_since "$t0")"
}
peer_ms() { # Qn engine -> the peer's warm median in ms at 2 threads (peers.py's default counts), or "-"
    python3 - "$PEERS_JSON" "$1" "$2" <<'PY' 2>/dev/null || echo -
import json, sys
by_threads = json.load(open(sys.argv[1]))["engines"][sys.argv[3]]["latency_ms"][sys.argv[2]]
print(f'{by_threads[max(by_threads, key=int)]:.1f}')
PY
}

{
    echo "# Embedded store and ClickHouse cluster ($(date -u +%Y-%m-%dT%H:%MZ), $rows rows, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg))"
    echo
    echo "ClickHouse $(curl -s "$TALLY_CLICKHOUSE_URL/?query=SELECT%20version()"), two shards on loopback. \`tally migrate\`: $rows records in $(awk -v m="$migrate_ms" 'BEGIN { printf "%.1f", m / 1000 }') s = $(awk -v m="$migrate_ms" -v r="$rows" 'BEGIN { printf "%d", r / (m / 1000) }') records/s."
    echo
    echo "| query | embedded warm ms | embedded process ms | cluster warm ms | cluster process ms | DuckDB ms | chDB ms | same answer |"
    echo "|---|---|---|---|---|---|---|---|"
    for q in Q1 Q2 Q3 Q4 Q5 Q6 Q7 Q8; do
        read -r em ep < <(run_query "$q" embedded)
        read -r cm cp < <(run_query "$q" clickhouse)
        same=no
        cmp -s "$qdir/$q.embedded.csv" "$qdir/$q.clickhouse.csv" && same=yes
        echo "| $q | $em | $ep | $cm | $cp | $(peer_ms "$q" duckdb) | $(peer_ms "$q" chdb) | $same |"
    done
} | tee "$summary"

if [ "$SKIP_LOAD" != 1 ]; then
    for where in $LOAD_ON; do
        extra=""
        [ "$where" = clickhouse ] && extra="${ch[*]}"
        log "load test, $where"
        DATA="$data" WORK="$WORK" DURATION="$DURATION" SERVE_ARGS="$extra" SUMMARY="$WORK/load-$where.md" \
            TALLY="$TALLY" TIMEOUT=30s ./Benchmarks/load.sh >&2
        { echo; cat "$WORK/load-$where.md"; } >>"$summary"
    done
fi
log "summary: $summary"
cat "$summary"
