import Benchmark
import Foundation
import TallyStore
import TallySynthetic

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The engine's hot paths: column block codecs, record parsing, WAL appends, part files.
//
// Fixtures are built once per process, lazily, in `setup:` (outside every measurement) from
// `SyntheticGenerator`, the Swift port of shared/bench/gen.py. Every benchmark reads as rows per second:
//
// - Column blocks: each iteration codes 1,000,000 rows, one 8192-row granule per call (122 granules and
//   a 576-row tail), with `scalingFactor: .mega`, so the throughput column is M rows/s and the scaled
//   wall clock is ns per row.
// - Parsing, WAL appends and parts work in units of 100k or 10k rows, which package-benchmark cannot
//   scale (it scales by powers of 1000 and records throughput as whole iterations per second). One unit
//   is one iteration (throughput = units/s, wall clock = time per unit) and the custom `Rows/s` metric
//   carries the rows per second of each iteration.

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.throughput, .wallClock, .instructions, .mallocCountTotal],
        warmupIterations: 1,
        scalingFactor: .mega,
        maxDuration: .seconds(1),
        maxIterations: 1_000
    )
    granuleBenchmarks()
    parseBenchmarks()
    walBenchmarks()
    partBenchmarks()
    queryBenchmarks()
    lateIngestBenchmarks()
}

/// Rows coded per iteration of the column-block benchmarks: the `.mega` of their scaling factor.
let rowsPerIteration = 1_000_000

// MARK: - Column blocks (1M rows per iteration, one 8192-row granule per call)

func granuleBenchmarks() {
    Benchmark("Granule encode FOR cost") { benchmark, f in
        var encoder = BlockEncoder()
        var out: [UInt8] = []
        out.reserveCapacity(1 << 17)
        benchmark.startMeasurement()
        f.cost.withUnsafeBufferPointer { all in
            for g in f.granules {
                out.removeAll(keepingCapacity: true)
                encoder.encodeFOR(UnsafeBufferPointer(rebasing: all[g]), into: &out)
            }
        }
        blackHole(out.count)
    } setup: {
        try granuleFixture.get()
    }

    Benchmark("Granule decode FOR cost") { benchmark, f in
        try f.decodeIntegers(f.costBlocks, benchmark)
    } setup: {
        try granuleFixture.get()
    }

    Benchmark("Granule encode delta created_at") { benchmark, f in
        var encoder = BlockEncoder()
        var out: [UInt8] = []
        out.reserveCapacity(1 << 17)
        benchmark.startMeasurement()
        f.createdAt.withUnsafeBufferPointer { all in
            for g in f.granules {
                out.removeAll(keepingCapacity: true)
                encoder.encodeDelta(UnsafeBufferPointer(rebasing: all[g]), into: &out)
            }
        }
        blackHole(out.count)
    } setup: {
        try granuleFixture.get()
    }

    Benchmark("Granule decode delta created_at") { benchmark, f in
        try f.decodeIntegers(f.createdAtBlocks, benchmark)
    } setup: {
        try granuleFixture.get()
    }

    Benchmark("Granule decode codes user_id") { benchmark, f in
        var decoder = BlockDecoder()
        let out = UnsafeMutablePointer<UInt32>.allocate(capacity: PartFormat.defaultGranuleRows)
        defer { out.deallocate() }
        var check: UInt32 = 0
        benchmark.startMeasurement()
        try f.userBlocks.withBlocks { block in
            let n = try decoder.decodeCodes(block, verify: false, padded: true, into: out)
            check &+= out[n - 1]
        }
        benchmark.stopMeasurement()
        blackHole(check)
    } setup: {
        try granuleFixture.get()
    }

    Benchmark("Granule encode request_id") { benchmark, f in
        var encoder = BlockEncoder()
        var out: [UInt8] = []
        out.reserveCapacity(1 << 18)
        benchmark.startMeasurement()
        f.requestBytes.withUnsafeBytes { all in
            let offsets = f.requestOffsets
            for g in f.granules {
                out.removeAll(keepingCapacity: true)
                encoder.encodeBytes(count: g.count, { i in
                    UnsafeRawBufferPointer(rebasing: all[offsets[g.lowerBound + i]..<offsets[g.lowerBound + i + 1]])
                }, into: &out)
            }
        }
        blackHole(out.count)
    } setup: {
        try granuleFixture.get()
    }

    Benchmark("Granule decode request_id") { benchmark, f in
        var decoder = BlockDecoder()
        var check: UInt64 = 0
        benchmark.startMeasurement()
        try f.requestBlocks.withBlocks { block in
            try decoder.decodeBytes(block, verify: false) { _, id in
                check ^= id.loadUnaligned(fromByteOffset: 28, as: UInt64.self)
            }
        }
        benchmark.stopMeasurement()
        blackHole(check)
    } setup: {
        try granuleFixture.get()
    }
}

/// Columns of a 1M-row part of one large tenant as the part stores them (sorted by `created_at`, sorted
/// dictionaries), cut into the granules `PartWriter` would cut, and those granules' blocks.
struct GranuleFixture: Sendable {
    var granules: [Range<Int>]
    var createdAt: [Int64]
    var cost: [Int64]
    var requestBytes: [UInt8]
    var requestOffsets: [Int]
    var createdAtBlocks: EncodedBlocks
    var costBlocks: EncodedBlocks
    var userBlocks: EncodedBlocks
    var requestBlocks: EncodedBlocks

    init() throws {
        // ~7.5k users: the largest tenant's share (~15 %) of gen.py's 50k.
        let rows = try readBack(SyntheticGenerator(.init(rows: rowsPerIteration, tenants: 1, users: 7_500)))
        let n = rows.count
        let size = PartFormat.defaultGranuleRows
        let granules = stride(from: 0, to: n, by: size).map { $0..<min(n, $0 + size) }
        let createdAt = rows.createdAt, cost = rows.cost
        let requestBytes = rows.requestBytes, requestOffsets = rows.requestOffsets
        let userCodes = rows.dims[Dimension.user.rawValue].map { Int64($0) }
        var encoder = BlockEncoder()
        func integers(_ column: [Int64], delta: Bool) -> EncodedBlocks {
            EncodedBlocks(granules) { g, out in
                column.withUnsafeBufferPointer { all in
                    let values = UnsafeBufferPointer(rebasing: all[g])
                    if delta { encoder.encodeDelta(values, into: &out) } else { encoder.encodeFOR(values, into: &out) }
                }
            }
        }
        createdAtBlocks = integers(createdAt, delta: true)
        costBlocks = integers(cost, delta: false)
        userBlocks = integers(userCodes, delta: false)
        requestBlocks = EncodedBlocks(granules) { g, out in
            requestBytes.withUnsafeBytes { all in
                encoder.encodeBytes(count: g.count, { i in
                    UnsafeRawBufferPointer(rebasing: all[requestOffsets[g.lowerBound + i]..<requestOffsets[g.lowerBound + i + 1]])
                }, into: &out)
            }
        }
        self.granules = granules
        self.createdAt = createdAt
        self.cost = cost
        self.requestBytes = requestBytes
        self.requestOffsets = requestOffsets
    }

    /// Decodes every granule of an integer column, as a scan does once a block's CRC has been checked.
    func decodeIntegers(_ blocks: EncodedBlocks, _ benchmark: Benchmark) throws {
        var decoder = BlockDecoder()
        let out = UnsafeMutablePointer<Int64>.allocate(capacity: PartFormat.defaultGranuleRows)
        defer { out.deallocate() }
        var check: Int64 = 0
        benchmark.startMeasurement()
        try blocks.withBlocks { block in
            let n = try decoder.decodeIntegers(block, verify: false, padded: true, into: out)
            check &+= out[n - 1]
        }
        benchmark.stopMeasurement()
        blackHole(check)
    }
}

/// Column blocks back to back, followed by the 8 readable bytes a mapped part guarantees after a block.
struct EncodedBlocks: Sendable {
    var bytes: [UInt8] = []
    var ranges: [Range<Int>] = []

    init(_ granules: [Range<Int>], _ encode: (Range<Int>, inout [UInt8]) -> Void) {
        for g in granules {
            let start = bytes.count
            encode(g, &bytes)
            ranges.append(start..<bytes.count)
        }
        bytes.append(contentsOf: repeatElement(0, count: 8))
    }

    func withBlocks(_ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        try bytes.withUnsafeBytes { all in
            for r in ranges { try body(UnsafeRawBufferPointer(rebasing: all[r])) }
        }
    }
}

let granuleFixture = Result { try GranuleFixture() }

// MARK: - Parsing (one 100k-record body per iteration)

func parseBenchmarks() {
    for format in [InputFormat.csv, .ndjson] {
        Benchmark("Parse \(format.rawValue) 100k-record body", configuration: unitConfiguration) { benchmark, body in
            let parser = RecordParser(format: format)
            var parsed = 0
            measuringRows(benchmark, parseBodyRecords) {
                parsed = parser.parse(body).batch.count
            }
            blackHole(parsed)
        } setup: {
            try parseBodies.get()[format == .csv ? 0 : 1]
        }
    }
}

let parseBodyRecords = 100_000

/// gen.py-like records written by `RecordWriter`: the CSV body, then the NDJSON body.
let parseBodies = Result { () throws -> [[UInt8]] in
    let generator = SyntheticGenerator(.init(rows: parseBodyRecords))
    return try [RecordFileFormat.csv, .ndjson].map { format in
        let dir = try TemporaryDirectory("tally-bench-parse")
        defer { dir.remove() }
        let path = dir.path + "/records." + format.rawValue
        let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_TRUNC)
        var writer = RecordWriter(format: format, fileDescriptor: fd)
        try generator.generate { try writer.write($0) }
        try writer.flush()
        close(fd)
        let body = try FileIO.readAll(path)
        let outcome = RecordParser(format: InputFormat(rawValue: format.rawValue)!).parse(body)
        guard outcome.errors.isEmpty, outcome.batch.count == parseBodyRecords else {
            throw FixtureError("\(format.rawValue) body parses into \(outcome.batch.count) records and \(outcome.errors.count) errors")
        }
        return body
    }
}

// MARK: - WAL appends (one 10k-record batch per iteration)

func walBenchmarks() {
    for durability in [StoreOptions.Durability.buffered, .fsync] {
        let run = WALRun(durability: durability)
        Benchmark(
            "WAL append \(durability.rawValue) 10k-record batch",
            configuration: .init(metrics: unitConfiguration.metrics, scalingFactor: .one, maxDuration: .seconds(2), maxIterations: 200)
        ) { benchmark in
            try run.appendNext(benchmark)
        } setup: {
            try run.start()
        } teardown: {
            run.finish()
        }
    }
}

/// Appends the fixture's batches one per iteration to a store in a temp directory; once every batch is in,
/// starts over with a fresh store (outside the measurement), so every append stores 10k new records.
final class WALRun {
    let durability: StoreOptions.Durability
    private var batches: [RecordBatch] = []
    private var next = 0
    private var store: Store?
    private var directory: TemporaryDirectory?

    init(durability: StoreOptions.Durability) { self.durability = durability }

    func start() throws {
        batches = try walBatches.get()
        try reopen()
    }

    func appendNext(_ benchmark: Benchmark) throws {
        if next == batches.count { try reopen() }
        let batch = batches[next]
        next += 1
        var inserted = 0
        try measuringRows(benchmark, batch.count) {
            inserted = try store!.append(batch).inserted
        }
        guard inserted == batch.count else { throw FixtureError("stored \(inserted) of \(batch.count) records") }
    }

    func finish() {
        store?.abandon()
        store = nil
        directory?.remove()
        directory = nil
        batches = []
    }

    private func reopen() throws {
        finish()
        batches = try walBatches.get()
        let dir = try TemporaryDirectory("tally-bench-wal")
        directory = dir
        var options = StoreOptions()
        options.durability = durability
        options.background = false
        options.sealRows = .max  // measure the WAL, dedup and head, not sealing
        options.maxHeadRows = .max
        store = try Store(path: dir.path, options: options)
        next = 0
    }
}

/// 1M gen.py-like records of ~200 tenants in batches of 10k.
let walBatches = Result { () throws -> [RecordBatch] in
    var batches: [RecordBatch] = []
    SyntheticGenerator(.init(rows: 1_000_000)).generate(chunkSize: 10_000) { batches.append($0) }
    return batches
}

// MARK: - Part files (one 100k-row part per iteration)

func partBenchmarks() {
    Benchmark("Part encode 100k rows", configuration: unitConfiguration) { benchmark, fixture in
        var bytes = 0
        measuringRows(benchmark, fixture.rows.count) {
            bytes = PartWriter.encode(fixture.rows, id: 1, level: 0).bytes.count
        }
        blackHole(bytes)
    } setup: {
        try partFixture.get()
    }

    Benchmark("Part readAll 100k rows", configuration: unitConfiguration) { benchmark, fixture in
        var rows = 0
        try measuringRows(benchmark, fixture.rows.count) {
            rows = try fixture.reader.readAll().count
        }
        blackHole(rows)
    } setup: {
        try partFixture.get()
    }
}

/// One tenant's 100k rows as a head seals them, and the same rows as an open part file.
struct PartFixture: Sendable {
    var rows: PartRows
    var reader: PartReader

    init() throws {
        rows = partRowsOfOneTenant(SyntheticGenerator(.init(rows: 100_000, tenants: 1)))
        let dir = try TemporaryDirectory("tally-bench-part")
        // The mapping outlives the file's name.
        defer { dir.remove() }
        let written = try PartWriter.write(rows, id: 1, level: 0, directory: dir.path)
        reader = try PartReader(path: written.path)
    }
}

let partFixture = Result { try PartFixture() }

// MARK: - Rows per second for units that are not a power of 1000 rows

/// Rows per second of one iteration, for benchmarks whose unit of work is 10k or 100k rows.
///
/// package-benchmark scales throughput only by powers of 1000 and records it as whole iterations per
/// second, so a 100k-row iteration cannot show rows/s there; this metric carries it instead.
let rowsPerSecond = BenchmarkMetric.custom("Rows/s", polarity: .prefersLarger, useScalingFactor: false)

/// Iterations of one 10k- or 100k-row unit: throughput in units/s, wall clock per unit, and `rowsPerSecond`.
var unitConfiguration: Benchmark.Configuration {
    .init(
        metrics: [.throughput, .wallClock, .instructions, .mallocCountTotal, rowsPerSecond],
        scalingFactor: .one,
        maxDuration: .seconds(2),
        maxIterations: 1_000
    )
}

/// Measures `body` (and nothing else of the iteration), recording its rows per second.
func measuringRows(_ benchmark: Benchmark, _ rows: Int, _ body: () throws -> Void) rethrows {
    let clock = ContinuousClock()
    benchmark.startMeasurement()
    let start = clock.now
    try body()
    let elapsed = start.duration(to: clock.now)
    benchmark.stopMeasurement()
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    benchmark.measurement(rowsPerSecond, Int(Double(rows) / max(seconds, 1e-9)))
}

// MARK: - Helpers

/// The generator's records (one tenant) as part rows, in arrival order, with batch-local dictionaries.
func partRowsOfOneTenant(_ generator: SyntheticGenerator) -> PartRows {
    var rows = PartRows(tenant: generator.tenantIDs[0])
    generator.generate(chunkSize: max(1, generator.options.rows)) { batch in
        rows.createdAt = batch.createdAt
        rows.inputTokens = batch.inputTokens
        rows.outputTokens = batch.outputTokens
        rows.cost = batch.costNanos
        for d in Dimension.allCases {
            rows.dims[d.rawValue] = batch.dims[d.rawValue]
            rows.dictionaries[d.rawValue] = batch.strings.values
        }
        rows.requestBytes = batch.requestBytes
        rows.requestOffsets = batch.requestOffsets
    }
    return rows
}

/// The generator's rows (one tenant) written as a part and read back: sorted, with sorted dictionaries.
func readBack(_ generator: SyntheticGenerator) throws -> PartRows {
    let dir = try TemporaryDirectory("tally-bench-granules")
    defer { dir.remove() }
    let written = try PartWriter.write(partRowsOfOneTenant(generator), id: 1, level: 0, directory: dir.path)
    return try PartReader(path: written.path).readAll()
}

// MARK: - Late records (one 10k-record batch per iteration)

/// Ingest of records older than the dedup window (their ids looked up in the parts, through the
/// parts' request-id filters) against recent ones (ids in memory). Issue 11 asks late >= 50% of recent.
func lateIngestBenchmarks() {
    let configuration = Benchmark.Configuration(metrics: unitConfiguration.metrics, scalingFactor: .one, maxDuration: .seconds(3), maxIterations: 60)
    for late in [true, false] {
        let run = LateIngestRun()
        let name = late ? "Ingest late 10k-record batch (older than the dedup window)" : "Ingest recent 10k-record batch (within the dedup window)"
        Benchmark(name, configuration: configuration) { benchmark in
            let batch = try run.nextBatch(late: late)
            try measuringRows(benchmark, batch.count) { try run.append(batch) }
        } setup: {
            try run.start()
        } teardown: {
            run.finish()
        }
    }
}
