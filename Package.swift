// swift-tools-version:6.1
import PackageDescription
import class Foundation.ProcessInfo

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "tally",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "TallyStore", targets: ["TallyStore"]),
        .library(name: "TallyQuery", targets: ["TallyQuery"]),
        .executable(name: "tally", targets: ["tally"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"]), .brew(["lz4"])]
        ),
        .target(
            name: "TallyStore",
            dependencies: ["CLZ4"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TallyQuery",
            dependencies: ["TallyStore"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tally",
            dependencies: [
                "TallyStore",
                "TallyQuery",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TallyTestSupport",
            dependencies: ["TallyStore", "TallyQuery"],
            path: "Tests/TallyTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TallyStoreTests",
            dependencies: ["TallyStore", "TallyTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TallyQueryTests",
            dependencies: ["TallyQuery", "TallyStore", "TallyTestSupport"],
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
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/StoreBenchmarks",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    )
}
