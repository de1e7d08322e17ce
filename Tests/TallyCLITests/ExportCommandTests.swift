import Foundation
import Testing
import TallyTestSupport
@testable import TallyStore

/// `tally export` as a user runs it: the file re-imports into an empty store to the same records.
@Suite struct ExportCommandTests {
    func tally(_ args: [String]) throws -> TallyRun { try runTally(args) }

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

    /// The records export is the import format, so it is written raw (not neutralised for spreadsheets): a
    /// value that starts with `=`, `+`, `-`, `@`, a tab or a quote comes back from `tally import` exactly.
    @Test("a records CSV export of formula-like values re-imports byte for byte")
    func formulaLikeValuesRoundTrip() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var options = StoreOptions()
        options.background = false
        let values = [#"=HYPERLINK("http://evil.example/","x")"#, "=cmd|' /C calc'!A0", "@SUM(A1)", "+SUM(1+1)", "-1", "'quoted",
                      "\t=tab", "\r=cr", "a,b", "say \"hi\"", "line\nfeed"]
        var records: [CostRecord] = []
        for (k, v) in values.enumerated() {
            let id = v.unicodeScalars.contains { $0.value < 0x20 } ? "id-\(k)" : v
            records.append(CostRecord(tenantID: "t", projectID: id, environment: v, userID: id, featureTag: v, requestID: "r\(k)-" + id,
                                      workflowID: id, skillID: id, model: v, inputTokens: 1, outputTokens: 2,
                                      costNanos: 3, createdAtMillis: 1_746_000_000_000 + Int64(k)))
        }
        do {
            let store = try Store(path: dir.appending("a"), options: options)
            _ = try store.append(RecordBatch(records))
            try store.close()
        }
        let file = dir.appending("out.csv")
        let export = try tally(["export", "--data", dir.appending("a"), "--tenant", "t", "--format", "csv",
                                "--from", "2025-01-01", "--to", "2026-01-01", "--out", file])
        #expect(export.status == 0, "\(export.err)")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(text.contains("\n=cmd|' /C calc'!A0,") || text.contains(",=cmd|' /C calc'!A0,"), "written raw")
        #expect(!text.contains("'=cmd"))
        let load = try tally(["import", "--data", dir.appending("b"), "--format", "csv", file])
        #expect(load.status == 0, "\(load.err)")
        let store = try Store(path: dir.appending("b"), options: options)
        defer { try? store.close() }
        let back = try store.snapshot().records()
        #expect(Set(back) == Set(records))
        for r in records {
            let b = try #require(back.first { $0.requestID == r.requestID })
            #expect(Array(b.featureTag.utf8) == Array(r.featureTag.utf8) && Array(b.userID.utf8) == Array(r.userID.utf8))
        }
    }
}
