import ArgumentParser
import TallyAnalytics
import TallyStore

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Checks every checksum of every part, of the WAL and of catalog.sqlite without changing a byte; names what "
            + "is damaged, missing or lost, and the exit status is 1 if anything is.")

    @OptionGroup var store: ReadStoreOptionGroup

    func run() throws {
        // Read-only: no lock, no seal on close, no quarantine, no WAL cut. A check must not change what it checks
        // (nor fail half-way on a full disk and leave files behind); it also runs beside a live server.
        let s = try store.open()
        defer { try? s.close() }
        for line in s.openReport where !line.hasPrefix("lost") { printError("note: \(line)") }
        let damaged = s.verify()
        for e in damaged { printError("damaged: \(e)") }
        // Parts this open could not read, and parts quarantined by earlier runs: missing from every answer needing them.
        let missing = s.missingParts
        for m in missing { printError("missing: \(m)") }
        let losses = s.condition().walLosses
        for loss in losses { printError("lost: \(loss)") }
        let catalogProblems = SQLiteCatalog.integrityProblems(directory: try store.directory())
        for p in catalogProblems { printError("catalog.sqlite: \(p)") }
        let st = s.stats()
        if !damaged.isEmpty {
            printError("\(damaged.count) damaged part(s) in \(try store.directory()); verify changed nothing: the next read-write open "
                + "(tally serve, import, compact) moves them to quarantine/")
        }
        if !missing.isEmpty {
            printError("\(missing.count) part(s) unreadable or in quarantine are missing from answers (queries and exports fail "
                + "without --allow-partial); remove their .missing record from quarantine/ once the loss is accepted or the rows "
                + "are imported again")
        }
        if !losses.isEmpty {
            let exact = losses.allSatisfy(\.exact)
            let batches = losses.reduce(0) { $0 + $1.batches }, records = losses.reduce(0) { $0 + $1.records }
            printError("WAL damage in \(losses.count) range(s): \(exact ? "" : "at least ")\(batches) acknowledged batch(es), "
                + "\(exact ? "" : "at least ")\(records) record(s) lost; see docs/RELIABILITY.md (WAL damage)")
        }
        if !catalogProblems.isEmpty {
            printError("catalog.sqlite fails its page checksums or SQLite's integrity check (keys, budgets, exports); restore it "
                + "from a backup")
        }
        if !damaged.isEmpty || !missing.isEmpty || !losses.isEmpty || !catalogProblems.isEmpty { throw ExitCode(1) }
        print("ok: \(st.parts) parts, \(st.rows) rows, every checksum matches")
    }
}
