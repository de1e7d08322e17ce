#!/usr/bin/env bash
# Regenerates Sources/TallyOTLP/Generated/*.pb.swift from the vendored .proto files in Protos/ (issue 14).
#
# The generated code is committed: the build never runs protoc or swift-protobuf's build plugin (a first build with
# the plugin takes minutes here). Run this only after changing Protos/ or the swift-protobuf version.
#
# Needs `protoc` (Debian: protobuf-compiler; installed with apt-get when missing) and builds `protoc-gen-swift` from
# the swift-protobuf checkout SwiftPM resolved for this package (.build/checkouts/swift-protobuf, the version
# Package.swift names), in its own scratch folder .build-protoc-gen-swift. PROTOC_GEN_SWIFT=/path/to/protoc-gen-swift
# uses a plugin built elsewhere instead (it must be built from the same swift-protobuf version).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=$([ "$(id -u)" = "0" ] || echo sudo)

if ! command -v protoc >/dev/null 2>&1; then
	echo "==> installing protobuf-compiler" >&2
	$SUDO apt-get update -qq && $SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >&2
fi

plugin="${PROTOC_GEN_SWIFT:-}"
if [ -z "$plugin" ]; then
	swift package resolve >&2
	checkout=.build/checkouts/swift-protobuf
	[ -d "$checkout" ] || { echo "no swift-protobuf checkout at $checkout" >&2; exit 1; }
	swift build --package-path "$checkout" --scratch-path .build-protoc-gen-swift -c debug --product protoc-gen-swift >&2
	plugin=.build-protoc-gen-swift/debug/protoc-gen-swift
fi
echo "==> $(protoc --version); protoc-gen-swift $("$plugin" --version 2>&1 | tail -1)" >&2

out=Sources/TallyOTLP/Generated
rm -f "$out"/*.pb.swift
mkdir -p "$out"
# `Package` visibility: TallyOTLP and its tests see the messages; nothing outside the package does.
protoc \
	--plugin=protoc-gen-swift="$plugin" \
	--swift_opt=Visibility=Package \
	--swift_opt=FileNaming=PathToUnderscores \
	--swift_out="$out" \
	-I Protos/opentelemetry-proto \
	-I Protos/googleapis \
	opentelemetry/proto/common/v1/common.proto \
	opentelemetry/proto/resource/v1/resource.proto \
	opentelemetry/proto/trace/v1/trace.proto \
	opentelemetry/proto/collector/trace/v1/trace_service.proto \
	google/rpc/status.proto
ls -1 "$out" >&2
