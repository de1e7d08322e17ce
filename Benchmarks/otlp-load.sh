#!/usr/bin/env bash
# OTLP ingestion rate (docs/PERFORMANCE.md, "OTLP trace ingestion"): starts `tally serve` on a fresh data directory
# and runs Benchmarks/otlp_load.py against it, alternating OTLP protobuf, NDJSON (the same records) and OTLP gzip,
# ROUNDS times, so the ratio of the paths comes from one run. TALLY=path of the binary (default .build/release/tally),
# REQUESTS=200 requests of SPANS=500 spans, THREADS=4.
set -euo pipefail
cd "$(dirname "$0")/.."
TALLY=${TALLY:-.build/release/tally}
REQUESTS=${REQUESTS:-200}
SPANS=${SPANS:-500}
THREADS=${THREADS:-4}
ROUNDS=${ROUNDS:-2}
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
key=$("$TALLY" keys create --data "$dir" --tenant acme --role writer 2>/dev/null)
"$TALLY" serve --data "$dir" --port "$port" --detect-interval 0 >"$dir/serve.log" 2>&1 & serve=$!
trap 'kill $serve 2>/dev/null; wait $serve 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/api/v1/analytics/health" >/dev/null && break; sleep 0.1; done
echo "binary: $TALLY ($(file -b "$TALLY" | cut -d, -f1)); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$REQUESTS requests x $SPANS spans, $THREADS threads"
for round in $(seq "$ROUNDS"); do
    for mode in "" --ndjson --gzip; do
        printf 'round %s %-9s ' "$round" "${mode:-otlp}"
        python3 Benchmarks/otlp_load.py "http://127.0.0.1:$port" "$key" --requests "$REQUESTS" --spans "$SPANS" \
            --threads "$THREADS" $mode | tail -1
    done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
