import ArgumentParser
import TallyAnalytics
import TallyQuery
import TallyStore
import TallyText
#if canImport(Glibc)
import Glibc
#endif

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Exports a tenant's records, usage series or cost breakdown to a CSV, NDJSON or JSON file.",
        discussion: """
            Reads the store read-only (works beside a running server). Records are written in the import format, \
            so `tally import` of the file into an empty store gives the same totals; they stream out one granule \
            at a time, so memory stays constant whatever the number of records. The file is written to OUT.partial \
            and renamed when complete. With --records clickhouse, the records come from the ClickHouse cluster \
            (streamed from one SELECT, 8,192 rows at a time) and --data is not needed.
            """)

    @OptionGroup var store: ReadStoreOptionGroup

    @OptionGroup var recordOptions: RecordOptions

    @Option(help: "The tenant to export.")
    var tenant: String

    @Option(help: "records, usage or cost.")
    var kind: ExportKind = .records

    @Option(help: "csv, ndjson or json (a JSON array).")
    var format: ExportFormat = .csv

    @Option(help: "Start (inclusive): RFC 3339 or a date; default 30 days before --to.")
    var from: String?

    @Option(help: "End (exclusive): RFC 3339 or a date; default now.")
    var to: String?

    @Option(name: .customLong("filter"), help: "A filter field=value (repeatable), e.g. --filter feature_tag=chat.")
    var filters: [String] = []

    @Option(name: .customLong("group-by"), help: "kind cost: group keys, comma-separated (default feature).")
    var groupBy: String?

    @Option(help: "kind usage or cost: hour or day.")
    var resolution: Resolution?

    @Option(help: "The file to write, or - for standard output.")
    var out: String

    @Flag(name: .customLong("allow-partial"), help: "Export even when quarantined or unreadable parts may hold rows of it (they are named on standard error); without it such an export fails.")
    var allowPartial = false

    func spec(now: Int64) throws -> ExportSpec {
        let to = try self.to.map { try Self.time($0, "--to") } ?? now
        let from = try self.from.map { try Self.time($0, "--from") } ?? to - 30 * TimeUnit.dayMillis
        var filterMap: [String: [String]] = [:]
        for f in filters {
            guard let eq = f.firstIndex(of: "=") else { throw ValidationError("--filter must be field=value, e.g. feature_tag=chat") }
            filterMap[String(f[..<eq]), default: []].append(String(f[f.index(after: eq)...]))
        }
        let spec = ExportSpec(kind: kind, format: format, from: from, to: to, filters: filterMap,
                              groupBy: groupBy.map { $0.split(separator: ",").map(String.init) } ?? [], resolution: resolution)
        do {
            return try spec.validated()
        } catch {
            throw ValidationError(error.description)
        }
    }

    static func time(_ text: String, _ name: String) throws -> Int64 {
        try parseTimeOption(text, name)
    }

    func validate() throws {
        guard AccessPolicy.isValidTenantID(tenant) else { throw ValidationError("--tenant: 1 to 64 characters of A-Z a-z 0-9 . _ : -") }
        _ = try spec(now: TimeSource.systemWallMillis())
        try recordOptions.check(data: store.data)
    }

    func run() async throws {
        let spec = try spec(now: TimeSource.systemWallMillis())
        let analytics: Analytics
        var bound = 0
        var scratch: ScratchDirectory?
        defer { scratch?.remove() }
        switch try recordOptions.kind() {
        case .embedded:
            let s = try store.open()
            // The footers of the tenant's parts, checked now: a damaged one is named below as missing.
            s.loadFooters(tenants: [tenant]) { _, _ in .blocks }
            analytics = Analytics(store: s, catalog: try SQLiteCatalog(directory: try store.directory()))
            if spec.kind == .records { bound = s.snapshot().rowBound(tenant: tenant, from: spec.from, to: spec.to) }
        case .clickhouse:
            // An export reads no catalog state: without --data, a scratch catalog stands in.
            let directory: String
            if let data = store.data {
                directory = data
            } else {
                let made = try ScratchDirectory(prefix: "tally-export")
                scratch = made
                directory = made.path
            }
            analytics = try recordOptions.clickHouseAnalytics(catalog: try SQLiteCatalog(directory: directory), options: AnalyticsOptions())
        }
        defer { try? analytics.close() }
        if !reportMissing(try await analytics.exportMissing(spec, tenant: tenant), allowPartial: allowPartial, what: "export") { throw ExitCode(1) }
        var bar = ExportProgress(total: bound)
        let started = TimeSource.systemMonotonicSeconds()
        let rows: Int64
        var bytes = 0
        do {
            if out == "-" {
                rows = try await analytics.writeExport(spec, tenant: tenant, to: 1, allowPartial: allowPartial) { bar.show(rows: $0) }
            } else {
                // Published as the server publishes its exports: OUT.partial, fsynced, renamed, directory fsynced.
                let directory = out.lastIndex(of: "/").map { String(out[..<$0]) } ?? "."
                let file = try FileIO.PendingFile(out, directory: directory.isEmpty ? "/" : directory, temporary: out + ".partial")
                do {
                    rows = try await analytics.writeExport(spec, tenant: tenant, to: file.fd, path: file.temporaryPath,
                                                           allowPartial: allowPartial) { bar.show(rows: $0) }
                    bytes = try FileIO.fileSize(file.fd, path: file.temporaryPath)
                } catch {
                    file.abandon()
                    throw error
                }
                try file.publish()
            }
        } catch {
            bar.finish()
            printError("export failed: \(error)")
            throw ExitCode(1)
        }
        bar.finish()
        let seconds = max(TimeSource.systemMonotonicSeconds() - started, 1e-6)
        printError("exported \(rows) \(spec.kind == .records ? "records" : "rows") of \(tenant) to \(out)"
            + (out != "-" ? " (\(formatBytes(bytes)))" : "") + " in \(fixed(seconds, 2)) s (\(Int(Double(rows) / seconds)) rows/s)")
    }
}

extension ExportKind: ExpressibleByArgument {}
extension ExportFormat: ExpressibleByArgument {}
extension Resolution: ExpressibleByArgument {}

/// A progress bar on a terminal: `[#####-----] 48% 1234567 rows, 812345 rows/s, ETA 2 s`.
struct ExportProgress {
    let total: Int
    let started = TimeSource.systemMonotonicSeconds()
    var lastDraw = 0.0
    let enabled = isatty(2) == 1

    init(total: Int) { self.total = total }

    mutating func show(rows: Int64) {
        guard enabled else { return }
        let now = TimeSource.systemMonotonicSeconds()
        guard now - lastDraw >= 0.2 else { return }
        lastDraw = now
        let elapsed = max(now - started, 1e-6)
        let rate = Double(rows) / elapsed
        var line = "\rexporting: "
        if total > 0 {
            let fraction = min(1, Double(rows) / Double(total))
            let filled = Int(fraction * 30)
            line += "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: 30 - filled) + "] "
                + "\(Int(fraction * 100))% "
        }
        line += "\(rows) rows, \(Int(rate)) rows/s"
        if total > 0, rate > 0 { line += ", ETA \(Int((Double(max(0, total - Int(rows))) / rate).rounded())) s" }
        printErrorRaw(line + "   ")
    }

    func finish() {
        if enabled && lastDraw > 0 { printErrorRaw("\n") }
    }
}
