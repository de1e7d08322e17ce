import ArgumentParser
import TallyStore
#if canImport(Glibc)
import Glibc
#endif

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Imports cost records from a CSV, NDJSON or JSON-array file (or - for standard input).",
        discussion: """
            By default the input is one batch: if any record is bad, every bad record is reported with its
            line and field and nothing is stored. With --skip-bad the good records are stored and the bad
            ones reported. Records whose (tenant_id, request_id) is already stored are counted as duplicates.
            """)

    @OptionGroup var store: StoreOptionGroup

    @Option(help: "csv, ndjson or json (a JSON array); default: from the file name.")
    var format: InputFormat?

    @Flag(help: "Store the good records of an input that has bad ones.")
    var skipBad = false

    @Option(help: "Price table used for records without cost_cents (default: data/pricing.json when present).")
    var pricing: String?

    @Argument(help: "The file to import, or - for standard input.")
    var file: String

    func validate() throws {
        if format == nil && InputFormat(fileName: file) == nil {
            throw ValidationError("cannot tell the format of '\(file)': pass --format csv|ndjson|json")
        }
    }

    func run() throws {
        let format = self.format ?? InputFormat(fileName: file)!
        let prices = try loadPricing(pricing)
        let fd: Int32 = file == "-" ? 0 : open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ValidationError("cannot open \(file): \(String(cString: strerror(errno)))") }
        defer { if fd != 0 { close(fd) } }
        var st = stat()
        let total: Int? = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG ? Int(st.st_size) : nil

        let s = try store.open()
        for line in s.openReport { printError("note: \(line)") }
        var progress = Progress(total: total)
        var parser = StreamingRecordParser(format: format, pricing: prices)
        var errors: [RecordError] = []
        var pending: [RecordBatch] = []
        var inserted = 0, duplicates = 0, parsed = 0
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 << 20, alignment: 16)
        defer { chunk.deallocate() }

        func take(_ outcome: ParseOutcome) throws {
            errors.append(contentsOf: outcome.errors)
            parsed += outcome.batch.count
            guard outcome.batch.count > 0 else { return }
            if skipBad {
                let r = try s.append(outcome.batch)
                inserted += r.inserted
                duplicates += r.duplicates.count
            } else {
                pending.append(outcome.batch)
            }
        }

        let phase = skipBad ? "importing" : "validating"
        while true {
            let n = read(fd, chunk.baseAddress, chunk.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw ValidationError("read failed on \(file): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            try take(parser.feed(UnsafeRawBufferPointer(rebasing: chunk[0..<n])))
            progress.advance(bytes: n, rows: parsed, phase: phase)
        }
        try take(parser.finish())
        progress.finish()

        if !errors.isEmpty {
            for e in errors.prefix(50) { printError("line \(e.line)\(e.field.map { ", field \($0)" } ?? ""): \(e.reason)") }
            if errors.count > 50 { printError("... and \(errors.count - 50) more bad records") }
        }
        if !skipBad && !errors.isEmpty {
            try s.close()
            printError("\(errors.count) bad record(s): nothing stored (use --skip-bad to store the \(parsed) good ones)")
            throw ExitCode(1)
        }
        if !skipBad {
            var storing = Progress(total: nil)
            var done = 0
            for batch in pending {
                let r = try s.append(batch)
                inserted += r.inserted
                duplicates += r.duplicates.count
                done += batch.count
                storing.advance(bytes: 0, rows: done, phase: "storing")
            }
            storing.finish()
            pending.removeAll()
        }
        try s.close()
        let seconds = max(monotonicNow() - progress.started, 1e-6)
        print("inserted \(inserted), duplicates \(duplicates), rejected \(errors.count) in \(fixed(seconds, 2)) s "
            + "(\(Int(Double(parsed + errors.count) / seconds)) records/s)")
    }
}

/// Loads a price table: the given path, else `data/pricing.json` when it exists, else none.
func loadPricing(_ path: String?) throws -> PriceTable? {
    if let path { return try PriceTable.load(path: path) }
    let fallback = "data/pricing.json"
    return access(fallback, R_OK) == 0 ? try PriceTable.load(path: fallback) : nil
}

/// A one-line progress display on a terminal: rows, MB/s and, when the size is known, ETA.
struct Progress {
    let total: Int?
    let started = monotonicNow()
    var bytes = 0
    var lastDraw = 0.0
    let enabled = isatty(2) == 1

    init(total: Int?) { self.total = total }

    mutating func advance(bytes n: Int, rows: Int, phase: String) {
        bytes += n
        guard enabled else { return }
        let now = monotonicNow()
        guard now - lastDraw >= 0.2 else { return }
        lastDraw = now
        let elapsed = max(now - started, 1e-6)
        let mbps = Double(bytes) / elapsed / 1e6
        var line = "\r\(phase): \(rows) rows, \(fixed(mbps, 1)) MB/s, \(Int(Double(rows) / elapsed)) rows/s"
        if let total, total > 0, bytes > 0 {
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
