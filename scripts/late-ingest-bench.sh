#!/bin/sh
# Late-record ingest rate against recent (issue 11, item 11), in release mode, quickly: builds only
# TallyStore in release and compiles the benchmark's LateIngestRun with a small main against it,
# instead of building the package-benchmark suite (`make bench`). Usage: scripts/late-ingest-bench.sh [stored rows] [part version: 2, or 1 = the old path]
set -eu
cd "$(dirname "$0")/.."
swift build -c release --target TallySynthetic >/dev/null
bin=$(swift build -c release --show-bin-path)
out=$(mktemp -d /tmp/tally-late-ingest.XXXXXX)
# SwiftPM names the package after its directory; `package` declarations are visible within that name.
package=$(basename "$PWD" | tr 'A-Z' 'a-z')
swiftc -O -package-name "$package" -I "$bin/Modules" -I "$bin" -Xcc -fmodule-map-file=Sources/CLZ4/module.modulemap \
    -Xcc -fmodule-map-file=Sources/CTallyCRC/include/module.modulemap -Xcc -fmodule-map-file=Sources/CTallyPrefetch/include/module.modulemap \
    -module-name LateIngest -o "$out/late-ingest" \
    scripts/late-ingest/main.swift Benchmarks/StoreBenchmarks/LateIngest.swift Benchmarks/StoreBenchmarks/BenchmarkSupport.swift \
    "$bin"/TallyStore.build/*.o "$bin"/CTallyCRC.build/*.o "$bin"/CTallyPrefetch.build/*.o "$bin"/TallyText.build/*.o "$bin"/TallySynthetic.build/*.o -llz4
"$out/late-ingest" "$@"
rm -rf "$out"
