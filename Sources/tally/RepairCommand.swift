import ArgumentParser
import TallyStore

struct RepairCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Rebuilds a damaged MANIFEST from the part files and the WAL; deletes nothing.",
        discussion: """
            Run it when the store refuses to open because its MANIFEST is damaged (stop the server first). Every part \
            file is checked against its own checksums; parts whose rows are all in other parts (merge inputs whose merge \
            finished, merge outputs never published) or in the WAL (a seal that did not finish) are proven redundant by \
            their request ids and set aside under quarantine/repair-<time>/ with the old MANIFEST; damaged parts go to \
            quarantine/ and every answer that needs them reports them missing. Each acknowledged record ends up counted \
            exactly once. Does nothing when the MANIFEST is sound.
            """)

    @Option(name: .long, help: "The data directory of the store.")
    var data: String

    func run() throws {
        let report: RepairReport
        do {
            report = try Store.repair(path: data)
        } catch {
            printError("repair failed: \(error)")
            throw ExitCode(1)
        }
        for line in report.lines { printError(line) }
        if report.rebuilt {
            print("repaired: \(report.keptParts) parts (\(report.keptRows) rows) kept, "
                + "\(report.walRecords) WAL records replay from segment \(report.walStart)")
        } else {
            print("ok: the MANIFEST is sound; nothing changed")
        }
    }
}
