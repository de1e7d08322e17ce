#!/usr/bin/env bash
# Load test of the HTTP facade on loopback (issue 4): concurrent readers and writers against a server
# holding the generated data set. Requests go to 127.0.0.1 only and every run is bounded in time.
#
#   ./Benchmarks/load.sh                      # 10M rows from $CSV (or generated), 20 s per run
#   ROWS=1000000 DURATION=10 ./Benchmarks/load.sh
#   MIXED_WRITERS=12 ./Benchmarks/load.sh        # writer connections beside the readers in the mixed runs (16)
#
# Needs wrk (apt-get install wrk) and a release build (make release). Writes $WORK/load-summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
TALLY=${TALLY:-.build/release/tally}
WORK=${WORK:-/tmp/tally-load}
ROWS=${ROWS:-10000000}
CSV=${CSV:-}
PORT=${PORT:-18080}
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
DATA=${DATA:-$WORK/store}
# SERVE_ARGS: more `tally serve` options, e.g. "--records clickhouse --clickhouse-url ..." (Benchmarks/cluster.sh);
# SUMMARY: where the table goes.
SERVE_ARGS=${SERVE_ARGS:-}
SUMMARY=${SUMMARY:-$WORK/load-summary.md}
# TIMEOUT: wrk's per-request timeout (its default is 2s; a slower answer counts as an error, not as a latency).
TIMEOUT=${TIMEOUT:-2s}
MIXED_WRITERS=${MIXED_WRITERS:-16}
export SWIFT_BACKTRACE=enable=no

command -v wrk >/dev/null || { echo "installing wrk"; apt-get install -y -qq wrk >/dev/null; }
[ -x "$TALLY" ] || { echo "build first: make release"; exit 1; }
mkdir -p "$WORK"

if [ ! -f "$DATA/MANIFEST" ]; then
  if [ -z "$CSV" ]; then
    CSV=$WORK/costs.csv
    [ -f "$CSV" ] || "$TALLY" generate --rows "$ROWS" --days 30 --seed 42 --format csv --out "$CSV"
  fi
  echo "==> importing $CSV into $DATA"
  "$TALLY" import --data "$DATA" "$CSV"
  "$TALLY" compact --data "$DATA"
fi
"$TALLY" keys demo --data "$DATA" --host 127.0.0.1 --port "$PORT" >/dev/null
set -a; . "$DATA/demo-keys.txt"; set +a

# shellcheck disable=SC2086
"$TALLY" serve --data "$DATA" --host 127.0.0.1 --port "$PORT" $SERVE_ARGS > "$WORK/serve.log" 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/api/v1/analytics/health" >/dev/null && break
  sleep 0.2
done
rss() { awk '/VmHWM/ {print $2 / 1024 " MiB"}' /proc/$SERVER/status; }

BASE="http://127.0.0.1:$PORT/api/v1/analytics"
Q="from=$FROM&to=$TO"
declare -a NAMES URLS
NAMES+=("usage, 30 days by day");  URLS+=("$BASE/statistics/usage?$Q&resolution=day")
NAMES+=("usage, 30 days by hour"); URLS+=("$BASE/statistics/usage?$Q&resolution=hour")
NAMES+=("cost by feature");        URLS+=("$BASE/statistics/cost?$Q&group_by=feature&limit=10")
NAMES+=("cost summary");           URLS+=("$BASE/statistics/cost?$Q")

run_wrk() {  # name, connections, script, url -> "req/s p50 p99 errors"
  local out
  out=$(wrk -t"$THREADS" -c"$2" -d"${DURATION}s" --timeout "$TIMEOUT" --latency -s "Benchmarks/load/$3" "$4")
  local rps p50 p99 err
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  err=$(awk '/non-2xx-or-errors/ {print $2}' <<<"$out")
  echo "$rps $p50 $p99 $err"
}

{
  echo "# Load test ($(date -u +%Y-%m-%dT%H:%MZ), ${SERVE_ARGS:-embedded store}, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $("$TALLY" stats --data "$DATA" 2>/dev/null | awk '$1 == "rows" && NF == 2 {print $2}') rows, ${DURATION}s per run, wrk -t$THREADS --timeout $TIMEOUT)"
  echo
  echo "| run | connections | req/s | records/s | p50 | p99 | errors |"
  echo "|---|---|---|---|---|---|---|"
  for i in "${!NAMES[@]}"; do
    read -r rps p50 p99 err < <(run_wrk "${NAMES[$i]}" "$CONNECTIONS" read.lua "${URLS[$i]}")
    echo "| ${NAMES[$i]} | $CONNECTIONS | $rps | | $p50 | $p99 | $err |"
  done
  read -r rps p50 p99 err < <(TENANT=$TENANT WRITER_KEY=$WRITER_KEY BATCH=100 run_wrk ingest 16 ingest.lua "$BASE/records")
  echo "| ingest, 100-record NDJSON batches | 16 | $rps | $(awk -v r="$rps" 'BEGIN {printf "%d", r * 100}') | $p50 | $p99 | $err |"
  # Readers and writers at once (issue 16's target: usage p99 < 20 ms at 64 reader connections while writers
  # ingest >= 50k records/s into the tenant the readers ask about): the usage series, then the cost summary.
  # MIXED_WRITERS: writer connections beside the readers (16 ingest well over 50k records/s on two cores now; 12
  # put the writers near the target's rate).
  for i in 0 3; do
    TENANT=$TENANT WRITER_KEY=$WRITER_KEY BATCH=100 run_wrk ingest "$MIXED_WRITERS" ingest.lua "$BASE/records" > "$WORK/mixed-writers.txt" &
    WRITERS=$!
    read -r rps p50 p99 err < <(run_wrk mixed "$CONNECTIONS" read.lua "${URLS[$i]}")
    wait $WRITERS
    read -r wrps wp50 wp99 werr < "$WORK/mixed-writers.txt"
    echo "| mixed: ${NAMES[$i]} | $CONNECTIONS | $rps | | $p50 | $p99 | $err |"
    echo "| mixed: ingest beside it | $MIXED_WRITERS | $wrps | $(awk -v r="$wrps" 'BEGIN {printf "%d", r * 100}') | $wp50 | $wp99 | $werr |"
  done
  echo
  echo "Peak RSS of the server: $(rss)."
} | tee "$SUMMARY"
