#!/usr/bin/env bash
# Crash torture: ROUNDS rounds, each on a fresh store. A round runs the `tally _crash-writer` CYCLES times on the
# same data directory and SIGKILLs it after a random delay (while it appends, seals, merges and trims the WAL in the
# background: seal every 0.05 s or SEAL_ROWS rows). Each restart resends the last RESEND batches before going on
# (retries of answers that may have been lost). After every kill the store is checked against the log of
# acknowledged batches (`_crash-writer --check`: every acknowledged record present exactly once, no batch in part,
# per-tenant totals equal to the batches stored, every checksum good) and with `tally verify`.
#
#   ROUNDS=20 ./Torture/torture.sh        (TALLY=path/to/tally, default .build/release/tally)
set -euo pipefail
cd "$(dirname "$0")/.."
TALLY=${TALLY:-.build/release/tally}
ROUNDS=${ROUNDS:-10}
CYCLES=${CYCLES:-5}
BATCHES=${BATCHES:-3000}
BATCH_ROWS=${BATCH_ROWS:-250}
SEAL_ROWS=${SEAL_ROWS:-1000}
RESEND=${RESEND:-3}
MAX_DELAY_MS=${MAX_DELAY_MS:-1500}
export SWIFT_BACKTRACE=enable=no
[ -x "$TALLY" ] || { echo "no $TALLY: build it first (make release)" >&2; exit 2; }
work=$(mktemp -d /tmp/tally-torture.XXXXXX)
trap 'rm -rf "$work"' EXIT
kills=0; failures=0; started=$(date +%s)
for round in $(seq 1 "$ROUNDS"); do
  data="$work/r$round"; acks="$work/r$round.acks"; : > "$acks"
  seed=$((RANDOM * 32768 + RANDOM + round))
  durability=fsync; [ $((round % 3)) = 0 ] && durability=buffered
  for cycle in $(seq 1 "$CYCLES"); do
    next=$(( $(sed -n 's/^ack //p' "$acks" | sort -n | tail -1 || true) + 1 ))
    [ -s "$acks" ] || next=0
    "$TALLY" _crash-writer --data "$data" --seed "$seed" --batches "$BATCHES" --batch-rows "$BATCH_ROWS" \
      --seal-rows "$SEAL_ROWS" --durability "$durability" --start "$next" --resend "$RESEND" >> "$acks" 2>/dev/null &
    pid=$!
    delay=$(( (RANDOM % MAX_DELAY_MS) + 20 ))
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
    wait "$pid" 2>/dev/null || true
    if ! out=$("$TALLY" _crash-writer --check --data "$data" --seed "$seed" --batches "$BATCHES" \
                 --batch-rows "$BATCH_ROWS" --acked "$acks" 2>&1); then
      echo "round $round cycle $cycle (seed $seed, $durability, killed after ${delay} ms): $out" >&2
      failures=$((failures + 1)); cp -r "$data" "$work/../tally-torture-failed-r$round" 2>/dev/null || true
      break
    fi
    if ! "$TALLY" verify --data "$data" > /dev/null 2>&1; then
      echo "round $round cycle $cycle: tally verify failed" >&2; failures=$((failures + 1)); break
    fi
  done
  echo "round $round: seed $seed $durability, $(sort -u "$acks" | wc -l) batches acknowledged; ${out##*checked: }"
done
echo "torture: $ROUNDS rounds, $kills kills, $failures failures, $(( $(date +%s) - started )) s"
[ "$failures" = 0 ]
