import ArgumentParser
import TallyStore
#if canImport(Glibc)
import Glibc
#endif

/// Appends generated batches and prints `ack N` after each is acknowledged: the child process of the
/// crash tests, which kill it with SIGKILL at a random moment and check that every acknowledged batch survived.
struct CrashWriterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "_crash-writer", shouldDisplay: false)

    @OptionGroup var store: StoreOptionGroup
    @Option var seed: UInt64 = 1
    @Option var batches = 100
    @Option var batchRows = 500
    @Option var sealRows = 2000

    func run() throws {
        var options = StoreOptions()
        options.durability = store.durability
        options.sealRows = sealRows
        options.sealAfterSeconds = 0.05
        options.smallPartRows = sealRows * 4
        let s = try Store(path: store.data, options: options)
        let generator = CrashWriterCommand.generator(seed: seed, batches: batches, batchRows: batchRows)
        var k = 0
        try generator.generate(chunkSize: batchRows) { batch in
            _ = try s.append(batch)
            var line = "ack \(k)\n"
            line.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
            k += 1
        }
        try s.close()
    }

    static func generator(seed: UInt64, batches: Int, batchRows: Int) -> SyntheticGenerator {
        SyntheticGenerator(.init(rows: batches * batchRows, days: 3, seed: seed, tenants: 5))
    }
}
