import ArgumentParser
import TallyAnalytics
import TallyStore

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Checks every checksum of every part and runs SQLite's integrity check on catalog.sqlite; damaged parts are named, quarantined, and the exit status is 1.")

    @OptionGroup var store: StoreOptionGroup

    func run() throws {
        let s = try store.open(background: false)
        defer { try? s.close() }
        var bad = 0
        for line in s.openReport {
            printError("note: \(line)")
            if line.hasPrefix("quarantined") { bad += 1 }
        }
        let damaged = s.verify()
        for e in damaged { printError("damaged: \(e)") }
        bad += damaged.count
        let catalogProblems = Catalog.integrityProblems(directory: store.data)
        for p in catalogProblems { printError("catalog.sqlite: \(p)") }
        let st = s.stats()
        if !catalogProblems.isEmpty {
            printError("catalog.sqlite fails SQLite's integrity check (keys, budgets, exports); restore it from a backup")
        }
        if bad > 0 { printError("\(bad) damaged part(s) quarantined under \(store.data)/quarantine") }
        // Parts quarantined by earlier runs are still missing from every answer that needs them.
        let missing = s.missingParts
        for m in missing { printError("missing: \(m)") }
        if !missing.isEmpty {
            printError("\(missing.count) part(s) in quarantine are missing from answers (queries and exports fail without --allow-partial); "
                + "remove their .missing record from quarantine/ once the loss is accepted or the rows are imported again")
        }
        if bad > 0 || !missing.isEmpty || !catalogProblems.isEmpty { throw ExitCode(1) }
        print("ok: \(st.parts) parts, \(st.rows) rows, every checksum matches")
    }
}
