import Foundation
import Synchronization
import Testing
import TallyTestSupport
@testable import TallyStore
import TallySynthetic

@Suite struct CrashTests {
    /// Kills a writer with SIGKILL mid-ingest (while it seals and merges in the background) and checks
    /// that every acknowledged batch is stored exactly once and no batch is stored in part.
    @Test(arguments: [(UInt64(1), 7, "fsync"), (UInt64(2), 23, "fsync"), (UInt64(3), 41, "buffered")])
    func killedWriterLosesNoAcknowledgedRecord(seed: UInt64, killAfter: Int, durability: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let batches = 200, batchRows = 300
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        let child = try ChildProcess(tallyExecutable(), ["_crash-writer", "--data", dir.path, "--seed", String(seed), "--batches", String(batches),
                                                         "--batch-rows", String(batchRows), "--seal-rows", "1500", "--durability", durability],
                                     environment: env, stdin: .null, stderr: .null)
        let out = child.stdout!

        var text = ""
        var acked = 0
        while acked < killAfter {
            let data = out.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
            acked = text.split(separator: "\n").count
        }
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        text += String(decoding: out.readDataToEndOfFile(), as: UTF8.self)
        let ackedBatches = Set(text.split(separator: "\n").compactMap { $0.hasPrefix("ack ") ? Int($0.dropFirst(4)) : nil })
        #expect(ackedBatches.count >= killAfter)
        #expect(ackedBatches.count < batches, "the writer finished before it was killed; kill earlier")

        let store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        let stored = try store.snapshot().records()
        var count: [String: Int] = [:]
        for r in stored { count[r.tenantID + "/" + r.requestID, default: 0] += 1 }
        #expect(count.values.allSatisfy { $0 == 1 }, "a record is stored twice")
        let storedSet = Set(stored)

        var k = 0
        CrashWriterCommandMirror.generator(seed: seed, batches: batches, batchRows: batchRows).generate(chunkSize: batchRows) { batch in
            let present = batch.records.filter { storedSet.contains($0) }.count
            if ackedBatches.contains(k) {
                #expect(present == batch.count, "acknowledged batch \(k) lost \(batch.count - present) records")
            } else {
                #expect(present == 0 || present == batch.count, "batch \(k) is stored in part: \(present) of \(batch.count)")
            }
            k += 1
        }
        #expect(store.verify().isEmpty)
    }
}

extension CrashTests {
    /// Kills `tally import` with SIGKILL while it writes its parts (straight under their names, unsynced, unlisted
    /// until the one manifest change) and checks that the load is all or nothing: the reopened store holds every
    /// record of the file or none, verifies clean, and keeps no part file the manifest does not list.
    @Test(arguments: [0, 3, 12])
    func killedImportIsAllOrNothing(partsBeforeKill: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let csv = dir.path + "/costs.csv"
        let generated = try runTally(["generate", "--rows", "60000", "--days", "5", "--tenants", "400", "--seed", "8",
                                      "--end", "2025-06-01T00:00:00Z", "--format", "csv", "--out", csv])
        #expect(generated.status == 0, "\(generated.err)")
        let data = dir.path + "/store"
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_BACKTRACE"] = "enable=no"
        let child = try ChildProcess(tallyExecutable(), ["import", "--data", data, csv], environment: env, stdin: .null, stderr: .null)
        // Until the load has written this many part files (or has ended).
        while child.isRunning && FileIO.list(data + "/parts").count <= partsBeforeKill { usleep(200) }
        let finished = !child.isRunning
        kill(child.processIdentifier, SIGKILL)
        _ = child.waitUntilExit()

        let store = try Store(path: data, options: testOptions())
        defer { try? store.close() }
        let rows = try store.snapshot().records().count
        #expect(rows == 0 || rows == 60_000, "a load stored in part: \(rows) rows")
        #expect(finished || rows == 0 || rows == 60_000)
        #expect(store.verify().isEmpty)
        let listed = Set(store.published.withLock { $0.parts }.map { PartFormat.fileName($0.id) })
        #expect(Set(FileIO.list(data + "/parts")) == listed, "unlisted part files are deleted at open")
    }
}

/// The same generator the `_crash-writer` command uses.
enum CrashWriterCommandMirror {
    static func generator(seed: UInt64, batches: Int, batchRows: Int) -> SyntheticGenerator {
        SyntheticGenerator(.init(rows: batches * batchRows, days: 3, seed: seed, tenants: 5))
    }
}
