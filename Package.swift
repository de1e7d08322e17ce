// swift-tools-version:6.1
import PackageDescription
import class Foundation.ProcessInfo

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "tally",
    // Linux only: Tally calls Glibc directly (see README, "Requirements"). No `platforms` entry, so nothing claims macOS.
    products: [
        .library(name: "TallyText", targets: ["TallyText"]),
        .library(name: "TallyStore", targets: ["TallyStore"]),
        .library(name: "TallySynthetic", targets: ["TallySynthetic"]),
        .library(name: "TallyQuery", targets: ["TallyQuery"]),
        .library(name: "TallyAnalytics", targets: ["TallyAnalytics"]),
        .library(name: "TallyServer", targets: ["TallyServer"]),
        .library(name: "TallyClickHouse", targets: ["TallyClickHouse"]),
        // The Swift client (issue 14): records cost records into a Tally server in the background.
        .library(name: "TallyClient", targets: ["TallyClient"]),
        .executable(name: "tally", targets: ["tally"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        // No default traits: they pull swift-configuration, which Tally does not use.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: []),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        // Background jobs as `Service`s in the application's service group; already resolved for Hummingbird.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // Incident webhooks (http and https); already resolved for HummingbirdTesting.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        // The PostgreSQL catalog (`TallyPostgres`), for deployments of several nodes.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // /metrics: swift-metrics (what Hummingbird's MetricsMiddleware records) backed by a swift-prometheus registry.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // OTLP/HTTP trace ingestion (`TallyOTLP`): the protobuf runtime; the code is generated once and committed
        // (scripts/generate-otlp.sh), never by the build plugin.
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        // `tally_prefetch`, a cache-line prefetch hint (header-only; the .c file only makes SwiftPM build the module).
        .target(name: "CTallyPrefetch"),
        // CRC-32C with the CPU's instruction (x86-64 SSE 4.2; `CRC32C` falls back to its table elsewhere).
        .target(name: "CTallyCRC"),
        // A VFS shim that checksums every page of the catalog (SQLite itself checks none).
        .target(
            name: "CTallySQLite",
            linkerSettings: [.linkedLibrary("sqlite3")]
        ),
        // The text codecs every layer writes with: JSON, CSV (records and spreadsheet cells), cents, RFC 3339 times.
        // No dependencies, so the store and everything above share one of each.
        .target(
            name: "TallyText",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TallyStore",
            dependencies: ["CLZ4", "CTallyCRC", "CTallyPrefetch", "TallyText"],
            swiftSettings: swiftSettings
        ),
        // The synthetic record generator (`tally generate`, benchmarks and tests); not part of the store.
        .target(
            name: "TallySynthetic",
            dependencies: ["TallyStore", "TallyText"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TallyQuery",
            dependencies: ["TallyStore", "TallyText"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TallyAnalytics",
            dependencies: [
                "TallyQuery",
                "TallyStore",
                "TallyText",
                "CTallySQLite",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // `PostgresCatalog`: the catalog on a PostgreSQL server, shared by several `tally serve` nodes.
        .target(
            name: "TallyPostgres",
            dependencies: [
                "TallyAnalytics",
                "TallyStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The ClickHouse record store (issue 17): `RecordStore` over a ClickHouse cluster's HTTP interface.
        .target(
            name: "TallyClickHouse",
            dependencies: [
                "TallyAnalytics",
                "TallyQuery",
                "TallyStore",
                "TallyText",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // OpenTelemetry GenAI spans -> cost records (issue 14): the OTLP messages (generated, Generated/), their
        // decoding (protobuf and OTLP JSON), the span-to-record mapping and the export answer.
        .target(
            name: "TallyOTLP",
            dependencies: [
                "TallyAnalytics",
                "TallyStore",
                "TallyText",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Swift client library: batches, gzip, retries, Idempotency-Key per batch, a bounded queue. It speaks
        // HTTP only, so it depends on none of the server's modules.
        .target(
            name: "TallyClient",
            dependencies: [
                "TallyText",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TallyServer",
            dependencies: [
                "TallyAnalytics",
                "TallyOTLP",
                "TallyQuery",
                "TallyStore",
                "TallyText",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            // The web console's static files (served at /console) and the OpenAPI document (at openapi.json).
            resources: [.copy("Console"), .copy("OpenAPI/openapi.json"), .copy("Pricing/pricing.json")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tally",
            dependencies: [
                "TallyStore",
                "TallyQuery",
                "TallyAnalytics",
                "TallyClickHouse",
                "TallyOTLP",
                "TallyPostgres",
                "TallyServer",
                "TallySynthetic",
                "TallyText",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TallyTestSupport",
            dependencies: ["TallyStore", "TallyQuery", "TallySynthetic", "TallyText"],
            path: "Tests/TallyTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TallyTextTests",
            dependencies: ["TallyText"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TallyStoreTests",
            dependencies: ["TallyStore", "TallySynthetic", "TallyTestSupport", "TallyText"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TallySyntheticTests",
            dependencies: ["TallySynthetic", "TallyStore", "TallyTestSupport", "TallyText"],
            swiftSettings: swiftSettings
        ),
        // Runs the real `tally` executable, found next to the test bundle (.build/<config>/tally). It does not depend
        // on the `tally` target (that would link the CLI into the bundle): `swift build --build-tests` and `swift test`
        // build every target, the executable included, before any test runs.
        .testTarget(
            name: "TallyCLITests",
            dependencies: ["TallyStore", "TallyQuery", "TallySynthetic", "TallyTestSupport", "TallyText"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TallyQueryTests",
            dependencies: ["TallyQuery", "TallyStore", "TallySynthetic", "TallyTestSupport", "TallyText"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TallyAnalyticsTests",
            dependencies: [
                "TallyAnalytics", "TallyClickHouse", "TallyPostgres", "TallyQuery", "TallyStore", "TallySynthetic", "TallyTestSupport", "TallyText",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TallyOTLPTests",
            dependencies: [
                "TallyOTLP", "TallyAnalytics", "TallyStore", "TallyTestSupport", "TallyText",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
        // TallyClient against real `tally serve` processes (started, killed and started again by the tests).
        .testTarget(
            name: "TallyClientTests",
            dependencies: [
                "TallyClient",
                "TallyTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TallyServerTests",
            dependencies: [
                "TallyServer",
                "TallyOTLP",
                "TallyAnalytics",
                "TallyClickHouse",
                "TallyStore",
                "TallySynthetic",
                "TallyTestSupport",
                "TallyText",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)

// Benchmarks are built only on request (`make bench` sets TALLY_BENCHMARKS=1), so `make test` never
// resolves or compiles package-benchmark.
if ProcessInfo.processInfo.environment["TALLY_BENCHMARKS"] != nil {
    package.dependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"])
    )
    package.targets.append(
        .executableTarget(
            name: "StoreBenchmarks",
            dependencies: [
                "TallyStore",
                "TallyQuery",
                "TallySynthetic",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/StoreBenchmarks",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    )
}
