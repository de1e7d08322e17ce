#!/usr/bin/env bash
# Proxy overhead (docs/PERFORMANCE.md, "Provider proxy"): a fake OpenAI provider (Benchmarks/proxy/fake_provider.py)
# called directly and through `tally serve --proxy-upstream openai=...`, sequentially on loopback; prints p50/p99.
# TALLY=path of the binary (default .build/release/tally; debug figures are not meaningful), CALLS=2000.
set -euo pipefail
cd "$(dirname "$0")/.."
TALLY=${TALLY:-.build/release/tally}
CALLS=${CALLS:-2000}
dir=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
fake_port=$(free_port)
tally_port=$(free_port)
python3 Benchmarks/proxy/fake_provider.py "$fake_port" & fake=$!
key=$("$TALLY" keys create --data "$dir" --tenant bench --role writer 2>/dev/null)
"$TALLY" serve --data "$dir" --port "$tally_port" --detect-interval 0 \
    --proxy-upstream "openai=http://127.0.0.1:$fake_port" >"$dir/serve.log" 2>&1 & serve=$!
trap 'kill $serve $fake 2>/dev/null; wait $serve $fake 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$tally_port/api/v1/analytics/health" >/dev/null && break; sleep 0.1; done
echo "binary: $TALLY ($(file -b "$TALLY" | cut -d, -f1)); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 Benchmarks/proxy/bench.py "$fake_port" "$tally_port" "$key" "$CALLS"
sleep 2
echo "records stored: $("$TALLY" export --data "$dir" --tenant bench --kind records --format ndjson --out - 2>/dev/null | wc -l) (every proxied call, warm-up included)"
