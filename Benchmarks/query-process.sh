#!/usr/bin/env bash
# The whole `tally query` process, as a user or a script runs it: start, open the store read-only, answer once, print,
# exit. Q1-Q8 of peers.py (Benchmarks/queries.sh), each run RUNS times, alternating the queries, page cache warm;
# prints the median and the worst wall time per query, with rollups and as raw scans (--no-rollups).
#
#   TALLY=.build/release/tally DATA=/path/to/store [RUNS=7] [THREADS=2] ./Benchmarks/query-process.sh
#
# L (largest tenant), M (20th largest) and S7 (the last 7 days' start) are read from the store itself.
set -euo pipefail
cd "$(dirname "$0")/.."
TALLY=${TALLY:-.build/release/tally}
DATA=${DATA:?set DATA to a store directory}
RUNS=${RUNS:-7}
THREADS=${THREADS:-2}

# shellcheck source=queries.sh
. Benchmarks/queries.sh
store_shape_params

rows=$("$TALLY" stats --data "$DATA" | sed -n 's/^rows  *\([0-9]*\)$/\1/p')
parts=$("$TALLY" stats --data "$DATA" | sed -n 's/^parts  *\([0-9]*\)$/\1/p')
echo "store $DATA: $rows rows, $parts parts; L=$L M=$M S7=$S7; $RUNS runs each, $THREADS threads; load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-4s %-9s %10s %10s\n' query mode "median ms" "worst ms"
for mode in rollups raw; do
    declare -A times=()
    for _ in $(seq "$RUNS"); do
        for q in Q1 Q2 Q3 Q4 Q5 Q6 Q7 Q8; do
            query_shape_args "$q"
            [ "$mode" = raw ] && QUERY_ARGS+=(--no-rollups)
            t0=$(date +%s%N)
            "$TALLY" query "${QUERY_ARGS[@]}" --threads "$THREADS" --format csv --data "$DATA" >/dev/null
            t1=$(date +%s%N)
            times[$q]+="$(( (t1 - t0) / 1000 )) "
        done
    done
    for q in Q1 Q2 Q3 Q4 Q5 Q6 Q7 Q8; do
        python3 - "$q" "$mode" ${times[$q]} <<'PY'
import statistics, sys
q, mode, us = sys.argv[1], sys.argv[2], [int(x) for x in sys.argv[3:]]
print(f"{q:<4} {mode:<9} {statistics.median(us) / 1000:10.1f} {max(us) / 1000:10.1f}")
PY
    done
    unset times
done
echo "load after $(cut -d' ' -f1-3 /proc/loadavg)"
