import ArgumentParser
import TallyStore

struct CompactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact", abstract: "Seals the head and merges small parts now (the server does this in the background).")

    @OptionGroup var store: StoreOptionGroup

    func run() throws {
        let s = try store.open(background: false, mustExist: true)
        defer { try? s.close() }
        let before = s.stats()
        try s.flush()
        let merges = try s.compact()
        let after = s.stats()
        print("sealed and merged: \(merges) merge(s), parts \(before.parts) -> \(after.parts), \(after.rows) rows")
    }
}
