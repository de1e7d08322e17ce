import Foundation
import Testing
import TallyTestSupport
@testable import TallyStore

/// `tally export` as a user runs it: the file re-imports into an empty store to the same records.
@Suite struct ExportCommandTests {
    func tally(_ args: [String]) throws -> (status: Int32, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tallyExecutable())
        p.arguments = args
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: e, as: UTF8.self))
    }

    @Test("tally export writes a file that tally import reads back to the same records", arguments: ["csv", "ndjson", "json"])
    func exportReimports(format: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var options = StoreOptions()
        options.background = false
        let records = RandomRecords(seed: 21, options: .init(tenants: 2)).records(5_000)
        do {
            let store = try Store(path: dir.appending("a"), options: options)
            _ = try store.append(RecordBatch(records[..<4_000]))
            try store.flush()
            _ = try store.append(RecordBatch(records[4_000...]))
            try store.close()
        }
        let file = dir.appending("out." + format)
        let export = try tally(["export", "--data", dir.appending("a"), "--tenant", "tenant-1", "--format", format,
                                "--from", "2025-01-01", "--to", "2026-01-01", "--out", file])
        #expect(export.status == 0, "\(export.err)")
        let mine = records.filter { $0.tenantID == "tenant-1" }
        #expect(export.err.contains("exported \(mine.count) records of tenant-1"))
        #expect(!FileManager.default.fileExists(atPath: file + ".partial"))
        let load = try tally(["import", "--data", dir.appending("b"), "--format", format, file])
        #expect(load.status == 0, "\(load.err)")
        let store = try Store(path: dir.appending("b"), options: options)
        defer { try? store.close() }
        #expect(Set(try store.snapshot().records()) == Set(mine))
        #expect(try tally(["export", "--data", dir.appending("a"), "--tenant", "tenant-1", "--kind", "records", "--group-by", "model",
                           "--out", file]).status != 0, "group_by is refused for records")
    }
}
