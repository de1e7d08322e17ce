import ArgumentParser
import TallyServer
import TallyStore
#if canImport(Glibc)
import Glibc
#endif

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Imports cost records from a CSV, NDJSON or JSON-array file (or - for standard input).",
        discussion: """
            By default the input is one batch: if any record is bad, every bad record is reported with its \
            line and field and nothing is stored. With --skip-bad the good records are stored and the bad \
            ones reported. Records whose (tenant_id, request_id) is already stored are counted as duplicates.
            """)

    @OptionGroup var store: StoreOptionGroup

    @Option(help: "csv, ndjson or json (a JSON array); default: from the file name.")
    var format: InputFormat?

    @Flag(help: "Store the good records of an input that has bad ones.")
    var skipBad = false

    @Option(help: "Price table for records without cost_cents (default: the one shipped with tally; see tally pricing).")
    var pricing: String?

    @Option(help: ArgumentHelp(
        "Threads parsing the input (CSV and NDJSON; a JSON array is parsed on one).",
        discussion: "Default: one fewer than the cores, at least 1 and at most 4; the rest load and write parts."))
    var parseThreads: Int?

    @Argument(help: "The file to import, or - for standard input.")
    var file: String

    func validate() throws {
        if let n = parseThreads, !(1...64).contains(n) { throw ValidationError("--parse-threads must be between 1 and 64") }
        if format == nil && InputFormat(fileName: file) == nil {
            throw ValidationError("cannot tell the format of '\(file)': pass --format csv|ndjson|json")
        }
    }

    func run() throws {
        let format = self.format ?? InputFormat(fileName: file)!
        let prices = try loadPricing(pricing)
        let fd: Int32 = file == "-" ? 0 : open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CommandError("cannot open \(file): \(String(cString: strerror(errno)))") }
        defer { if fd != 0 { close(fd) } }
        var st = stat()
        let total: Int? = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG ? Int(st.st_size) : nil

        // No background merges: they would start as the load commits and hold up the close for a merge nobody
        // waits on; the server or `tally compact` merges later.
        let s = try store.open(background: false)
        for line in s.openReport { printError("note: \(line)") }
        let started = TimeSource.systemMonotonicSeconds()
        // The first errors to print and how many bad records there were: a file of bad records must not
        // cost memory per error.
        var errors: [RecordError] = []
        var rejected = 0
        var parsed = 0, inserted = 0, duplicates = 0
        var progress = Progress(total: total)
        do {
            try s.bulkLoad { load in
                // The store is closed right after: no need to shrink the dedup sets on commit.
                load.evictsIDsOnCommit = false
                let path = file
                // Input is cut at record boundaries and parsed on every core; a JSON array is parsed on one.
                let input = ParallelRecordParser(
                    format: format, pricing: prices, workers: parseThreads ?? Self.defaultParsingThreads,
                    chunkBytes: Self.chunkBytes, translatingInto: load.strings
                ) { buffer in
                    while true {
                        let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
                        if n >= 0 { return n }
                        if errno != EINTR { throw CommandError("read failed on \(path): \(String(cString: strerror(errno)))") }
                    }
                }
                defer { input.cancel() }

                while let outcome = input.next() {
                    if errors.count < Self.listed { errors.append(contentsOf: outcome.errors.prefix(Self.listed - errors.count)) }
                    rejected += outcome.rejectedRecords
                    parsed += outcome.batch.count
                    // Without --skip-bad, the first bad record dooms the load: keep reading only to report.
                    if outcome.batch.count > 0 && (skipBad || rejected == 0) {
                        let r = try load.add(outcome.batch)
                        inserted += r.inserted
                        duplicates += r.duplicates.count
                    }
                    progress.show(bytes: input.bytesRead, rows: parsed, phase: "importing")
                }
                if let failure = input.failure { throw ValidationError(failure) }
                if !skipBad && rejected > 0 { throw ImportRejected() }
            }
        } catch is ImportRejected {
            progress.finish()
            report(errors, rejected: rejected)
            try s.close()
            printError(parsed > 0
                ? "\(rejected) bad record(s): nothing stored (use --skip-bad to store the \(parsed) good ones)"
                : "\(rejected) bad record(s) and no good one: nothing stored")
            throw ExitCode(1)
        }
        progress.finish()
        report(errors, rejected: rejected)
        try s.close()
        let seconds = max(TimeSource.systemMonotonicSeconds() - started, 1e-6)
        print("inserted \(inserted), duplicates \(duplicates), rejected \(rejected) in \(fixed(seconds, 2)) s "
            + "(\(Int(Double(parsed + rejected) / seconds)) records/s)")
    }

    /// Parsing threads by default: a core is left for the load and the part writers.
    static var defaultParsingThreads: Int { min(4, max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)) - 1)) }

    /// Input per parsed batch (~170,000 rows of gen.py's shape). The load visits each tenant of a batch once, so a
    /// larger batch gives each visit more rows: with 4 MiB, 5,000 tenants shared ~22,000 rows (4 rows a visit), and
    /// 10M rows of them took 15-20 s instead of 11-12. Bounded: `2 x workers + 2` pieces are in flight.
    static let chunkBytes = 32 << 20

    /// How many errors an import prints.
    static let listed = 50

    private func report(_ errors: [RecordError], rejected: Int) {
        for e in errors { printError("line \(e.line)\(e.field.map { ", field \($0)" } ?? ""): \(e.reason)") }
        let shown = Set(errors.map(\.line)).count
        if rejected > shown { printError("... and \(rejected - shown) more bad records") }
    }
}

private struct ImportRejected: Error {}

/// Loads a price table: the given file, else the one shipped with tally (see `BundledPricing`).
func loadPricing(_ path: String?) throws -> PriceTable {
    if let path { return try PriceTable.load(path: path) }
    return try BundledPricing.load()
}

/// A one-line progress display on a terminal: rows, MB/s and, when the size is known, ETA.
struct Progress {
    let total: Int?
    let started = TimeSource.systemMonotonicSeconds()
    var bytes = 0
    var lastDraw = 0.0
    let enabled = isatty(2) == 1

    init(total: Int?) { self.total = total }

    mutating func show(bytes read: Int, rows: Int, phase: String) {
        bytes = read
        guard enabled else { return }
        let now = TimeSource.systemMonotonicSeconds()
        guard now - lastDraw >= 0.2 else { return }
        lastDraw = now
        let elapsed = max(now - started, 1e-6)
        let mbps = Double(bytes) / elapsed / 1e6
        var line = "\r\(phase): \(rows) rows, \(fixed(mbps, 1)) MB/s, \(Int(Double(rows) / elapsed)) rows/s"
        if let total = self.total, total > 0, bytes > 0 {
            let eta = Double(total - bytes) / (Double(bytes) / elapsed)
            line += ", \(Int(100 * Double(bytes) / Double(total)))%, ETA \(Int(eta.rounded())) s"
        }
        printErrorRaw(line + "   ")
    }

    func finish() {
        if enabled && lastDraw > 0 { printErrorRaw("\n") }
    }
}

func printErrorRaw(_ text: String) {
    var t = text
    t.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
