import ArgumentParser
import TallyStore
import TallySynthetic
#if canImport(Glibc)
import Glibc
#endif

/// Appends generated batches and prints `ack N` after each is acknowledged: the child process of the
/// crash tests, which kill it with SIGKILL at a random moment and check that every acknowledged batch survived.
///
/// `--start K --resend R` resumes after a crash: batches `K-R ..< K` are sent again (retries of batches whose
/// answer may have been lost; the store must count them once) before `K...`. `--check --acked FILE` does not
/// write: it opens the store and checks it against the `ack N` lines of FILE (see `CrashCheck`).
struct CrashWriterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "_crash-writer", shouldDisplay: false)

    @OptionGroup var store: StoreOptionGroup
    @Option var seed: UInt64 = 1
    @Option var batches = 100
    @Option var batchRows = 500
    @Option var sealRows = 2000
    @Option var start = 0
    @Option var resend = 0
    @Flag var check = false
    @Option var acked: String?

    func run() throws {
        if check {
            let failures = try CrashCheck.run(data: store.data, seed: seed, batches: batches, batchRows: batchRows,
                                              ackLog: acked ?? "/dev/null")
            for f in failures { printError("FAIL: \(f)") }
            if !failures.isEmpty { throw ExitCode(1) }
            return
        }
        var options = StoreOptions()
        options.durability = store.durability
        options.sealRows = sealRows
        options.sealAfterSeconds = 0.05
        options.smallPartRows = sealRows * 4
        let s = try Store(path: store.data, options: options)
        let generator = CrashWriterCommand.generator(seed: seed, batches: batches, batchRows: batchRows)
        var k = 0
        try generator.generate(chunkSize: batchRows) { batch in
            defer { k += 1 }
            guard k >= start - resend else { return }
            _ = try s.append(batch)
            var line = "ack \(k)\n"
            line.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
        }
        try s.close()
    }

    static func generator(seed: UInt64, batches: Int, batchRows: Int) -> SyntheticGenerator {
        SyntheticGenerator(.init(rows: batches * batchRows, days: 3, seed: seed, tenants: 5))
    }
}

/// The checks of a store after crashes, against the log of acknowledged batches the harness kept.
enum CrashCheck {
    /// What is wrong (empty: all good): a record stored twice, an acknowledged batch not whole, an unacknowledged
    /// batch in part, per-tenant totals not equal to those of the batches stored, a damaged part.
    static func run(data: String, seed: UInt64, batches: Int, batchRows: Int, ackLog: String) throws -> [String] {
        let text = String(decoding: try FileIO.readAll(ackLog), as: UTF8.self)
        let acked = Set(text.split(separator: "\n").compactMap { $0.hasPrefix("ack ") ? Int($0.dropFirst(4)) : nil })
        var options = StoreOptions()
        options.background = false
        let store = try Store(path: data, options: options)
        defer { try? store.close() }
        var failures: [String] = []
        let stored = try store.snapshot().records()
        var count: [String: Int] = [:]
        var totals: [String: (rows: Int, nanos: Int64)] = [:]
        for r in stored {
            count[r.tenantID + "/" + r.requestID, default: 0] += 1
            totals[r.tenantID, default: (0, 0)].rows += 1
            totals[r.tenantID, default: (0, 0)].nanos += r.costNanos
        }
        let twice = count.filter { $0.value > 1 }
        if !twice.isEmpty { failures.append("\(twice.count) record(s) stored more than once, e.g. \(twice.first!.key)") }
        let storedSet = Set(stored)
        var expected: [String: (rows: Int, nanos: Int64)] = [:]
        var k = 0, whole = 0
        CrashWriterCommand.generator(seed: seed, batches: batches, batchRows: batchRows).generate(chunkSize: batchRows) { batch in
            let records = batch.records
            let present = records.filter { storedSet.contains($0) }.count
            if acked.contains(k) && present != records.count {
                failures.append("acknowledged batch \(k) lost \(records.count - present) of \(records.count) records")
            } else if present != 0 && present != records.count {
                failures.append("unacknowledged batch \(k) is stored in part: \(present) of \(records.count)")
            }
            if present == records.count {
                whole += 1
                for r in records {
                    expected[r.tenantID, default: (0, 0)].rows += 1
                    expected[r.tenantID, default: (0, 0)].nanos += r.costNanos
                }
            }
            k += 1
        }
        for tenant in Set(totals.keys).union(expected.keys) {
            let got = totals[tenant] ?? (0, 0), want = expected[tenant] ?? (0, 0)
            if got != want {
                failures.append("tenant \(tenant): stored \(got.rows) rows / \(got.nanos) nanos, the batches stored hold \(want.rows) / \(want.nanos)")
            }
        }
        for e in store.verify() { failures.append("damaged: \(e)") }
        let notes = store.openReport.joined(separator: "; ")
        print("checked: \(acked.count) acknowledged batches, \(whole) stored whole, \(stored.count) rows\(notes.isEmpty ? "" : "; open: " + notes)")
        return failures
    }
}
