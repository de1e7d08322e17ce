#!/usr/bin/env bash
# Memory of `tally serve` over a store (issue 16: RSS per record inside the dedup window): starts the server on
# loopback, waits until /health answers (the store is open: every footer read, the window's request ids loaded),
# and prints its resident memory, anonymous and file-backed (mapped part pages, which the kernel can drop), per
# stored record. Run it once per binary on the same store to compare.
#
#   TALLY=.build/release/tally DATA=/tmp/store ./Benchmarks/server-memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
TALLY=${TALLY:-.build/release/tally}
DATA=${DATA:?DATA=<a store directory>}
PORT=${PORT:-18099}
export SWIFT_BACKTRACE=enable=no
[ -x "$TALLY" ] || { echo "build first: make release"; exit 1; }

rows=$("$TALLY" stats --data "$DATA" | awk '$1 == "rows" && NF == 2 {print $2}')
start=$(date +%s.%N)
"$TALLY" serve --data "$DATA" --host 127.0.0.1 --port "$PORT" > /dev/null 2>&1 &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$PORT/api/v1/analytics/health" >/dev/null && break
  kill -0 $SERVER 2>/dev/null || { echo "the server exited"; exit 1; }
  sleep 0.1
done
ready=$(date +%s.%N)
sleep 1
awk -v rows="$rows" -v secs="$(awk -v a="$start" -v b="$ready" 'BEGIN {print b - a}')" '
  /^VmRSS/ {rss = $2} /^RssAnon/ {anon = $2} /^RssFile/ {file = $2} /^VmHWM/ {hwm = $2}
  END {
    printf "rows %d, open to /health %.1f s\n", rows, secs
    printf "RSS %.0f MiB (peak %.0f): anonymous %.0f MiB = %.1f B per record, file-backed %.0f MiB = %.1f B per record\n",
      rss / 1024, hwm / 1024, anon / 1024, anon * 1024 / rows, file / 1024, file * 1024 / rows
  }' /proc/$SERVER/status
