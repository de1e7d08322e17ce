import ArgumentParser
import Synchronization
import TallyStore
import TallyText

@main
struct Tally: AsyncParsableCommand {
    static let version = "0.5.0"

    static let configuration = CommandConfiguration(
        commandName: "tally",
        abstract: "Records what every LLM call costs and answers where the money goes.",
        version: "tally \(version)",
        subcommands: [
            ImportCommand.self, GenerateCommand.self, StatsCommand.self, VerifyCommand.self,
            CompactCommand.self, RepairCommand.self, QueryCommand.self, ExportCommand.self, ServeCommand.self, KeysCommand.self, AnomaliesCommand.self, PricingCommand.self, ClickHouseCommand.self, MigrateCommand.self, CrashWriterCommand.self,
        ]
    )

    /// Parses as ArgumentParser does, except that a first word naming no subcommand is reported as an unknown command
    /// (ArgumentParser would otherwise complain about the first option after it, e.g. "Unknown option '--data'").
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let word = arguments.first, let message = unknownCommandMessage(word) {
            printError("Error: \(message)")
            printError("See 'tally --help' for the commands.")
            exit(withError: ExitCode(64))
        }
        do {
            var command = try parseAsRoot(arguments)
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }

    /// Why `word`, the first argument, names no command (nil when it does, or is an option).
    static func unknownCommandMessage(_ word: String) -> String? {
        guard !word.hasPrefix("-") else { return nil }
        let names = configuration.subcommands.map { $0.configuration.commandName ?? "" } + ["help"]
        guard !names.contains(word) else { return nil }
        let visible = names.filter { $0 != "help" && $0 != CrashWriterCommand.configuration.commandName }
        let near = visible.filter { editDistance($0, word) <= 2 || $0.hasPrefix(word) || word.hasPrefix($0) }
        let hint = near.isEmpty ? "" : " (did you mean \(near.map { "'\($0)'" }.joined(separator: " or "))?)"
        return "unknown command '\(word)'\(hint); the commands are \(visible.joined(separator: ", "))"
    }

    /// Levenshtein distance over characters, for the "did you mean" hint.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var row = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = row
        }
        return previous[b.count]
    }
}

/// An error a command reports in one sentence (exit status 1), without a usage text.
struct CommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Throws "no Tally store at DIR" unless `path` holds a store (a MANIFEST or a WAL).
func requireStore(at path: String) throws {
    guard FileIO.exists(path + "/MANIFEST") || FileIO.exists(path + "/wal") else {
        throw CommandError("no Tally store at \(path) (create one with tally import or tally serve)")
    }
}

/// The data directory of commands that only read a store: it opens read-only (no lock: works beside a running
/// server, changes nothing), so it has no --durability. Optional on the command line because `--records clickhouse`
/// reads no directory; every embedded use asks for it through `directory()`.
struct ReadStoreOptionGroup: ParsableArguments {
    @Option(name: .long, help: "The data directory of the store.")
    var data: String?

    /// The data directory; throws when it was not given.
    func directory() throws -> String {
        guard let data else { throw ValidationError("pass --data DIR, the data directory of the store") }
        return data
    }

    /// Opens the store read-only, for the rest of the process: a command reads, answers and exits, and the kernel
    /// takes the address space back at once, where releasing a few thousand parts' footers and mappings one by one
    /// was a quarter of an all-tenant `tally query`'s CPU (profiled at 2,000 parts).
    func open() throws -> Store {
        let path = try directory()
        try requireStore(at: path)
        var options = StoreOptions()
        options.readOnly = true
        options.background = false
        let store = try Store(path: path, options: options)
        storesKeptUntilExit.withLock { $0.append(store) }
        return store
    }
}

/// Read-only stores the command opened (`ReadStoreOptionGroup.open`), never released.
private let storesKeptUntilExit = Mutex<[Store]>([])

/// Options of commands that write a store.
struct StoreOptionGroup: ParsableArguments {
    @Option(name: .long, help: "The data directory of the store.")
    var data: String

    @Option(name: .long, help: "fsync (default: every acknowledged write survives power loss) or buffered (survives a process crash only).")
    var durability: StoreOptions.Durability = .fsync

    /// Opens the store, creating it unless `mustExist`.
    func open(background: Bool = true, mustExist: Bool = false) throws -> Store {
        if mustExist { try requireStore(at: data) }
        var options = StoreOptions()
        options.durability = durability
        options.background = background
        return try Store(path: data, options: options)
    }
}

extension StoreOptions.Durability: ExpressibleByArgument {}
extension InputFormat: ExpressibleByArgument {}

/// Parses a time option, naming the accepted forms when it cannot.
func parseTimeOption(_ text: String, _ option: String) throws -> Int64 {
    guard case let .success(millis) = Timestamp.parse(text) else {
        throw ValidationError("\(option) '\(text)' is not a time: write a date (2025-06-01, midnight UTC) or an RFC 3339 time "
            + "(2025-06-01T12:00:00Z, 2025-06-01T14:00:00+02:00)")
    }
    return millis
}
