import ArgumentParser
import TallyStore

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Checks every checksum of every part; damaged parts are named, quarantined, and the exit status is 1.")

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
        let st = s.stats()
        if bad > 0 {
            printError("\(bad) damaged part(s) quarantined under \(store.data)/quarantine")
            throw ExitCode(1)
        }
        print("ok: \(st.parts) parts, \(st.rows) rows, every checksum matches")
    }
}
