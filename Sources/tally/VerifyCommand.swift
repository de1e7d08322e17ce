import ArgumentParser
import TallyStore

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Checks every checksum of every part and of the WAL without changing a byte; names what is damaged or lost, "
            + "and the exit status is 1 if anything is.")

    @OptionGroup var store: StoreOptionGroup

    func run() throws {
        // Read-only: no lock, no seal on close, no quarantine, no WAL cut. A check must not change what it checks
        // (nor fail half-way on a full disk and leave files behind); it also runs beside a live server.
        let s = try store.open(background: false, readOnly: true)
        defer { try? s.close() }
        var bad = 0
        for line in s.openReport where !line.hasPrefix("lost") {
            printError("note: \(line)")
            if line.hasPrefix("skipped damaged part") { bad += 1 }
        }
        let damaged = s.verify()
        for e in damaged { printError("damaged: \(e)") }
        bad += damaged.count
        let losses = s.condition().walLosses
        for loss in losses { printError("lost: \(loss)") }
        let st = s.stats()
        if bad > 0 || !losses.isEmpty {
            if bad > 0 {
                printError("\(bad) damaged part(s) in \(store.data); verify changed nothing: the next read-write open "
                    + "(tally serve, import, compact) moves them to quarantine/")
            }
            if !losses.isEmpty {
                let exact = losses.allSatisfy(\.exact)
                let batches = losses.reduce(0) { $0 + $1.batches }, records = losses.reduce(0) { $0 + $1.records }
                printError("WAL damage in \(losses.count) range(s): \(exact ? "" : "at least ")\(batches) acknowledged batch(es), "
                    + "\(exact ? "" : "at least ")\(records) record(s) lost; see docs/RELIABILITY.md (WAL damage)")
            }
            throw ExitCode(1)
        }
        print("ok: \(st.parts) parts, \(st.rows) rows, every checksum matches")
    }
}
