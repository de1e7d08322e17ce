#!/usr/bin/env bash
# Soak: a fresh store served on loopback under concurrent writers (retries, duplicate batches) and readers for
# SOAK_SECONDS seconds (Torture/soak.py); then checks nothing was lost or counted twice, and reports records/s,
# p50/p99, the server's RSS over time (sampled every 5 s), and whether sealing and compaction kept up.
#
#   SOAK_SECONDS=240 ./Torture/soak.sh   (make soak SECONDS=240; TALLY=path/to/tally, default .build/release/tally;
#   WRITERS, READERS, BATCH, DUP_SHARE, LOST_SHARE; KILL_EVERY=N also SIGKILLs and restarts the server every N s)
set -euo pipefail
cd "$(dirname "$0")/.."
TALLY=${TALLY:-.build/release/tally}
DURATION=${SOAK_SECONDS:-60}
PORT=${PORT:-18180}
WORK=$(mktemp -d /tmp/tally-soak.XXXXXX)
DATA=$WORK/store
export SWIFT_BACKTRACE=enable=no
[ -x "$TALLY" ] || { echo "no $TALLY: build it first (make release)" >&2; exit 2; }
mkdir -p "$DATA"
ADMIN_KEY=$("$TALLY" keys create --data "$DATA" --admin 2>/dev/null | head -1)
KILL_EVERY=${KILL_EVERY:-0}
start_server() {
  "$TALLY" serve --data "$DATA" --host 127.0.0.1 --port "$PORT" >> "$WORK/serve.log" 2>&1 &
  echo $! > "$WORK/server.pid"
  for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$PORT/api/v1/analytics/health" >/dev/null && return 0; sleep 0.2; done
  echo "the server did not start" >&2; return 1
}
server() { cat "$WORK/server.pid"; }
start_server
trap 'kill -TERM $(server) 2>/dev/null || true; sleep 1; rm -rf "$WORK"' EXIT

( while kill -0 "$(server)" 2>/dev/null || [ -f "$WORK/restarting" ]; do
    awk -v t="$(date +%s)" '/VmRSS/ {print t, $2}' "/proc/$(server)/status" 2>/dev/null || true
    sleep 5
  done ) > "$WORK/rss.txt" &
SAMPLER=$!
KILLER=
if [ "$KILL_EVERY" -gt 0 ]; then
  # Crash the server under load now and then: SIGKILL, restart on the same port; writers retry through the gap.
  ( while sleep "$KILL_EVERY"; do
      touch "$WORK/restarting"; old=$(server)
      kill -9 "$old" 2>/dev/null || break
      while kill -0 "$old" 2>/dev/null; do sleep 0.05; done
      echo kill >> "$WORK/kills"; start_server; rm -f "$WORK/restarting"
    done ) &
  KILLER=$!
fi

set +e
RESULT=$(PORT=$PORT ADMIN_KEY=$ADMIN_KEY SOAK_SECONDS=$DURATION KILLS=$KILL_EVERY python3 Torture/soak.py)
STATUS=$?
set -e
[ -n "$KILLER" ] && { kill "$KILLER" 2>/dev/null || true; wait "$KILLER" 2>/dev/null || true; }
METRICS=$(curl -s "http://127.0.0.1:$PORT/metrics")
SMAPS=$(awk '/^(Rss|Anonymous|Shared_Clean|Private_Clean):/ {printf "%s %d MiB  ", $1, $2 / 1024}' "/proc/$(server)/smaps_rollup" 2>/dev/null || true)
PID=$(server); kill -TERM "$PID"; while kill -0 "$PID" 2>/dev/null; do sleep 0.1; done
kill "$SAMPLER" 2>/dev/null || true
VERIFY=$("$TALLY" verify --data "$DATA" 2>&1) || STATUS=1

metric() { awk -v m="$1" '$1 == m {print $2}' <<<"$METRICS"; }
read -r RSS_FIRST RSS_MID RSS_LAST RSS_PEAK N <<<"$(awk '{v[NR]=$2; if ($2>p) p=$2} END {
  q=int(NR/4); if (q<1) q=1; printf "%d %d %d %d %d", v[q]/1024, v[int(NR/2)]/1024, v[NR]/1024, p/1024, NR}' "$WORK/rss.txt")"
echo "$RESULT"
echo "server RSS (MiB): after 1/4 $RSS_FIRST, half $RSS_MID, end $RSS_LAST, peak $RSS_PEAK ($N samples)"
echo "server memory at the end (file-backed = mapped parts): $SMAPS"
echo "store at the end: parts $(metric tally_store_parts), head rows $(metric tally_store_head_rows), seals $(metric tally_store_seals_total), compactions $(metric tally_store_compactions_total), WAL bytes $(awk '$1 ~ /tally_store_bytes\{kind="wal"\}/ {print $2}' <<<"$METRICS"), rows $(metric tally_store_rows)"
echo "tally verify: $VERIFY"
echo "server SIGKILLed and restarted: $(cat "$WORK/kills" 2>/dev/null | wc -l) times"
grep -i "error\|warning" "$WORK/serve.log" | head -5 || true
[ "$STATUS" = 0 ] && echo "soak: PASS" || echo "soak: FAIL"
exit "$STATUS"
