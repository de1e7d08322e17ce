import ArgumentParser
import TallyStore
import TallySynthetic
import TallyText

#if canImport(Glibc)
import Glibc
#endif

/// `tally generate`: seeded, realistic synthetic cost records as CSV or NDJSON.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Writes synthetic cost records.",
        discussion: """
            The same arguments give byte-identical output. About 200 tenants of Zipf-like sizes, ~50k users, \
            40 feature tags, 13 models with list prices, a diurnal and weekly pattern, ~2 % late rows and, \
            for windows of 8 days or more, a few volume spikes and token drifts (see --describe).
            """
    )

    @OptionGroup var world: SyntheticOptionGroup

    @Option(help: "Output format: csv or ndjson.")
    var format: String = "csv"

    @Option(help: "Output file, or - for standard output.")
    var out: String = "-"

    @Flag(help: "Print the injected anomalies and a summary of the tenants to standard error.")
    var describe = false

    func validate() throws {
        guard RecordFileFormat(rawValue: format) != nil else {
            throw ValidationError("--format must be one of: \(RecordFileFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard !out.isEmpty else { throw ValidationError("--out must be a file path or -") }
    }

    func run() throws {
        let generator = SyntheticGenerator(try world.options())
        if describe { printDescription(generator) }

        let fd = out == "-" ? STDOUT_FILENO : try FileIO.open(out, O_WRONLY | O_CREAT | O_TRUNC)
        defer { if fd != STDOUT_FILENO { FileIO.close(fd) } }
        var writer = RecordWriter(format: RecordFileFormat(rawValue: format)!, fileDescriptor: fd, path: out == "-" ? "standard output" : out)
        try generator.generate { try writer.write($0) }
        try writer.flush()
    }

    private func printDescription(_ g: SyntheticGenerator) {
        func percent(_ x: Double) -> String {
            let tenths = Int((x * 1000).rounded())
            return "\(tenths / 10).\(tenths % 10)%"
        }
        var lines = [
            "window: \(Timestamp.formatSeconds(g.window.lowerBound)) .. \(Timestamp.formatSeconds(g.window.upperBound)) "
                + "(\(g.options.days) days), \(g.options.rows) rows, seed \(g.options.seed)",
            "tenants: \(g.tenantIDs.count); distinct users: \(g.userCount)",
        ]
        let top = zip(g.tenantIDs, g.tenantShares).prefix(5).map { "\($0.0) \(percent($0.1))" }
        lines.append("largest tenants (expected share of rows): " + top.joined(separator: ", "))
        if g.anomalies.isEmpty {
            lines.append("anomalies: none (a window of 8 days or more and 2 tenants or more get some)")
        } else {
            lines.append("anomalies:")
            lines += g.anomalies.map { "  \($0)" }
        }
        var text = lines.joined(separator: "\n") + "\n"
        text.withUTF8 { _ = try? FileIO.writeAll(STDERR_FILENO, UnsafeRawBufferPointer($0), path: "standard error") }
    }
}

/// What shapes a generated data set: `tally generate` takes it, and `tally anomalies detect --generated` takes the
/// same arguments to know what was injected.
struct SyntheticOptionGroup: ParsableArguments {
    @Option(help: "Number of records.")
    var rows: Int = 1_000_000

    @Option(help: "Length of the window in days.")
    var days: Int = 30

    @Option(help: "Seed of every random choice.")
    var seed: UInt64 = 42

    @Option(help: "Number of tenants.")
    var tenants: Int = 200

    @Option(help: "Approximate number of distinct users (fewer for small row counts).")
    var users: Int = 50_000

    @Option(help: "End of the window (exclusive), RFC 3339 UTC.")
    var end: String = "2025-06-01T00:00:00Z"

    func validate() throws {
        guard rows >= 0 else { throw ValidationError("--rows must be >= 0") }
        guard days >= 1 else { throw ValidationError("--days must be >= 1") }
        guard tenants >= 1 else { throw ValidationError("--tenants must be >= 1") }
        guard users >= 1 else { throw ValidationError("--users must be >= 1") }
        _ = try parseTimeOption(end, "--end")
    }

    /// The generator's options.
    func options() throws -> SyntheticGenerator.Options {
        .init(rows: rows, days: days, seed: seed, tenants: tenants, end: try Timestamp.parse(end).get(), users: users)
    }
}
