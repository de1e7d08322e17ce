#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/Targets and runs each for SECONDS_PER_TARGET seconds.
#
#   Fuzz/run.sh                      all targets, 30 s each
#   SECONDS_PER_TARGET=300 Fuzz/run.sh csv wal
#
# TallyStore (Sources/TallyStore only: the synthetic generator is not in it; the fuzz seeds come from
# `tally generate`) is compiled once, instrumented (-sanitize=fuzzer,address), as a static library in the
# same package (`-package-name tally`), so the targets reach its `package` API. Corpora live under
# $FUZZ_WORK (default /tmp/tally-fuzz) and grow across runs; crashes are written to
# $FUZZ_WORK/crashes/<target>/. Exit status 1 when any target found a crash.
set -euo pipefail

cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${SECONDS_PER_TARGET:-30}"
WORK="${FUZZ_WORK:-/tmp/tally-fuzz}"
BUILD="$WORK/build"
SWIFTC="${SWIFTC:-swiftc}"
ALL_TARGETS=(csv ndjson json wal part footer block timestamp money)
TARGETS=("${@:-${ALL_TARGETS[@]}}")
export SWIFT_BACKTRACE=enable=no

mkdir -p "$BUILD"
COMMON=(-O -swift-version 6 -package-name tally -I Sources/CLZ4 -I Sources/CTallyPrefetch/include
        -enable-upcoming-feature ExistentialAny -enable-upcoming-feature MemberImportVisibility)

# 1. TallyStore, once per change of its sources.
STAMP="$BUILD/TallyStore.stamp"
SOURCES=$(find Sources/TallyStore -name '*.swift' | sort)
HASH=$(cat $SOURCES | sha256sum | cut -c1-16)
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$HASH" ]; then
    echo "==> compiling TallyStore (instrumented)"
    # shellcheck disable=SC2086
    "$SWIFTC" "${COMMON[@]}" -sanitize=fuzzer,address -parse-as-library -wmo -module-name TallyStore \
        -emit-module -emit-module-path "$BUILD/TallyStore.swiftmodule" \
        -emit-library -static -o "$BUILD/libTallyStore.a" $SOURCES
    echo "$HASH" > "$STAMP"
    rm -f "$BUILD"/fuzz-* "$BUILD/make-seeds"
fi
LINK=(-use-ld=lld -I "$BUILD" -L "$BUILD" -lTallyStore -llz4)

build() {  # build <sanitizers> <output> <sources...>
    local sanitize="$1" out="$2"; shift 2
    [ -x "$out" ] && [ -z "$(find "$@" -newer "$out")" ] && return 0
    "$SWIFTC" "${COMMON[@]}" -sanitize="$sanitize" "${LINK[@]}" -module-name FuzzTarget -o "$out" "$@" 2>&1 \
        | grep -v "Cannot export local symbol" >&2 || true
    [ -x "$out" ]
}

# 2. Seeds: text bodies, and a WAL segment, footer and blocks from a `tally import` of a small CSV.
seed() {
    local c="$WORK/corpus"
    [ -f "$WORK/seeds.done" ] && return 0
    echo "==> writing seeds"
    mkdir -p "$c"/{csv,ndjson,json,wal,part,footer,block,timestamp,money}
    [ -x .build/debug/tally ] || swift build --product tally
    local tally=.build/debug/tally tmp="$WORK/seed-store"
    rm -rf "$tmp"; mkdir -p "$tmp"
    $tally generate --rows 5 --days 1 --seed 7 --format csv --out "$c/csv/generated.csv"
    $tally generate --rows 3 --days 1 --seed 7 --format ndjson --out "$c/ndjson/generated.ndjson"
    printf 'tenant_id,request_id,model,input_tokens,output_tokens,created_at\nt1,"r,1",gpt-4o,10,20,2025-01-02T03:04:05Z\nt1,r2,m,1,2,2025-01-02 03:04:05.123+02:00\n' > "$c/csv/quoted.csv"
    { printf '['; head -c -1 "$c/ndjson/generated.ndjson" | sed 's/$/,/' | head -c -1; printf ']'; } > "$c/json/generated.json"
    printf '[{"tenant_id":"t\\u00e9","request_id":"r1","model":"gpt-4o","input_tokens":1,"output_tokens":2,"cost_cents":0.5,"created_at":"2025-01-01"}]' > "$c/json/escaped.json"
    printf '2025-05-31T00:15:23.023Z' > "$c/timestamp/z"
    printf '2024-02-29 23:59:59.999000000+05:30' > "$c/timestamp/offset"
    printf '2025-01-01' > "$c/timestamp/date"
    printf '12.3456789' > "$c/money/fraction"
    printf '1000000000' > "$c/money/max"
    printf '0' > "$c/money/zero"
    $tally generate --rows 200 --days 1 --seed 7 --tenants 1 --format csv --out "$tmp/in.csv"
    $tally import --data "$tmp/store" --format csv "$tmp/in.csv" >/dev/null
    local part; part=$(ls "$tmp"/store/parts/*.part | head -1)
    cp "$part" "$c/part/import.part"
    # The helper has its own main, so it links without libFuzzer (ASan supplies the coverage hooks).
    build address "$BUILD/make-seeds" Fuzz/Seeds/main.swift
    "$BUILD/make-seeds" "$c" "$c/csv/generated.csv" "$part"
    rm -rf "$tmp"
    touch "$WORK/seeds.done"
}

seed
status=0
for t in "${TARGETS[@]}"; do
    case "$t" in csv|ndjson|json) extra=(Fuzz/Support/ParserAgreement.swift) ;; *) extra=() ;; esac
    echo "==> building fuzz-$t"
    build fuzzer,address "$BUILD/fuzz-$t" -parse-as-library "Fuzz/Targets/$t.swift" "${extra[@]}"
    mkdir -p "$WORK/corpus/$t" "$WORK/crashes/$t"
    echo "==> fuzzing $t for ${SECONDS_PER_TARGET}s"
    if ! "$BUILD/fuzz-$t" "$WORK/corpus/$t" -max_total_time="$SECONDS_PER_TARGET" -max_len="${MAX_LEN:-16384}" \
            -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 -print_final_stats=1 \
            -artifact_prefix="$WORK/crashes/$t/" > "$WORK/$t.log" 2>&1; then
        echo "!!! $t: crash, see $WORK/$t.log and $WORK/crashes/$t/"
        status=1
    fi
    grep -E '^#[0-9]+ +(DONE|INITED)|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added' "$WORK/$t.log" | sed "s/^/    $t: /" || true
done
exit $status
