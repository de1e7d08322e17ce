#!/usr/bin/env bash
# Two `tally` binaries, whole `tally query` processes, alternating run by run on the same store: Q1-Q8 of peers.py
# with rollups and Q5-Q8 as raw scans (Benchmarks/queries.sh). On a shared machine whose speed moves from minute to
# minute, only runs taken side by side compare; this prints each query's median and best for both.
#
#   OLD=/path/to/old/tally NEW=.build/release/tally DATA=/path/to/store [ROUNDS=7] [THREADS=2] ./Benchmarks/process-ab.sh
#
# L (largest tenant), M (20th largest) and S7 (the last 7 days' start) are read from the store, as query-process.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=${OLD:?set OLD to the baseline tally binary}
NEW=${NEW:-.build/release/tally}
DATA=${DATA:?set DATA to a store directory}
ROUNDS=${ROUNDS:-7}
THREADS=${THREADS:-2}

# shellcheck source=queries.sh
. Benchmarks/queries.sh
TALLY=$NEW store_shape_params

# Microseconds of one whole process.
run() {
    local t0 t1
    t0=$(date +%s%N)
    "$1" query "${QUERY_ARGS[@]}" --threads "$THREADS" --format csv --data "$DATA" >/dev/null
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000 ))
}

echo "store $DATA; L=$L M=$M S7=$S7; $ROUNDS rounds, $THREADS threads; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "old $OLD"
echo "new $NEW"
printf '%-4s %-8s %12s %12s %12s %12s\n' query mode "old median" "new median" "old best" "new best"
for mode in rollups raw; do
    for q in Q1 Q2 Q3 Q4 Q5 Q6 Q7 Q8; do
        [ "$mode" = raw ] && case $q in Q1 | Q2 | Q3 | Q4) continue ;; esac
        query_shape_args "$q"
        [ "$mode" = raw ] && QUERY_ARGS+=(--no-rollups)
        old=() new=()
        for _ in $(seq "$ROUNDS"); do
            old+=("$(run "$OLD")")
            new+=("$(run "$NEW")")
        done
        python3 - "$q" "$mode" "${old[*]}" "${new[*]}" <<'PY'
import statistics, sys
q, mode = sys.argv[1], sys.argv[2]
a, b = ([int(x) / 1000 for x in s.split()] for s in sys.argv[3:5])
print(f"{q:<4} {mode:<8} {statistics.median(a):12.1f} {statistics.median(b):12.1f} {min(a):12.1f} {min(b):12.1f}")
PY
    done
done
echo "load after $(cut -d' ' -f1-3 /proc/loadavg)"
