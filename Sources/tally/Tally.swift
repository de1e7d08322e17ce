import ArgumentParser
import TallyStore

@main
struct Tally: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tally",
        abstract: "Records what every LLM call costs and answers where the money goes.",
        subcommands: [
            ImportCommand.self, GenerateCommand.self, StatsCommand.self, VerifyCommand.self,
            CompactCommand.self, RepairCommand.self, QueryCommand.self, ExportCommand.self, ServeCommand.self, KeysCommand.self, AnomaliesCommand.self, CrashWriterCommand.self,
        ]
    )
}

/// Options every command that opens a store shares.
struct StoreOptionGroup: ParsableArguments {
    @Option(name: .long, help: "The data directory of the store.")
    var data: String

    @Option(name: .long, help: "fsync (default: every acknowledged write survives power loss) or buffered (survives a process crash only).")
    var durability: StoreOptions.Durability = .fsync

    /// Opens the store; `readOnly` needs no lock (works beside a running server) and changes nothing.
    func open(background: Bool = true, readOnly: Bool = false) throws -> Store {
        var options = StoreOptions()
        options.readOnly = readOnly
        options.durability = durability
        options.background = background
        return try Store(path: data, options: options)
    }
}

extension StoreOptions.Durability: ExpressibleByArgument {}
extension InputFormat: ExpressibleByArgument {}
