import Foundation
import Testing
import TallyStore
import TallyTestSupport

/// `StoreSnapshot.forEachBatch`: what exports stream from.
@Suite("Snapshot batches")
struct SnapshotBatchesTests {
    /// 20 000 records of three tenants with edge values (CSV and JSON specials, unicode, long strings), most
    /// sealed into parts (several granules) and some left in the head.
    static func store(_ dir: TemporaryDirectory) throws -> (Store, [CostRecord]) {
        var options = StoreOptions()
        options.background = false
        options.durability = .buffered
        let store = try Store(path: dir.appending("store"), options: options)
        let records = RandomRecords(seed: 11, options: .init(tenants: 3, edgeFraction: 0.05)).records(20_000).map(Self.ingestible)
        _ = try store.append(RecordBatch(records[..<18_000]))
        try store.flush()
        _ = try store.append(RecordBatch(records[18_000...]))
        return (store, records)
    }

    /// The record with control characters (which ingestion refuses) replaced by spaces; commas, quotes,
    /// backslashes and unicode stay.
    static func ingestible(_ r: CostRecord) -> CostRecord {
        var r = r
        for d in TallyStore.Dimension.allCases {
            r[d] = String(String.UnicodeScalarView(r[d].unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
        }
        return r
    }

    @Test("every batch is at most one granule, and the batches hold exactly the window's filtered records", arguments: [false, true])
    func batchesMatchTheReference(filtered: Bool) throws {
        let dir = try TemporaryDirectory(prefix: "tally-batches")
        defer { dir.remove() }
        let (store, records) = try Self.store(dir)
        defer { try? store.close() }
        let tenant = "tenant-0"
        let mine = records.filter { $0.tenantID == tenant }
        let from = mine.map(\.createdAtMillis).min()! + 3_600_000
        let to = mine.map(\.createdAtMillis).max()! - 3_600_000
        let model = mine[0].model
        let filters: [TallyStore.Dimension: [String]] = filtered ? [.model: [model]] : [:]
        var got: [CostRecord] = []
        var largest = 0
        try store.snapshot().forEachBatch(tenant: tenant, from: from, to: to, filters: filters) { batch in
            largest = max(largest, batch.count)
            #expect(batch.count > 0)
            got.append(contentsOf: batch.records)
        }
        let expected = mine.filter { $0.createdAtMillis >= from && $0.createdAtMillis < to && (!filtered || $0.model == model) }
        #expect(largest <= 8192, "a batch is bounded by one granule (or one head chunk)")
        #expect(got.count == expected.count)
        #expect(Set(got) == Set(expected))
        #expect(store.snapshot().rowBound(tenant: tenant, from: from, to: to) >= expected.count)
    }

    @Test("batches written as CSV, NDJSON and a JSON array parse back to the same records", arguments: ["csv", "ndjson", "json"])
    func writtenBatchesReimport(format: String) throws {
        let dir = try TemporaryDirectory(prefix: "tally-batches")
        defer { dir.remove() }
        let (store, records) = try Self.store(dir)
        defer { try? store.close() }
        let path = dir.appending("export." + format)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try #require(fd >= 0)
        var writer = switch format {
        case "csv": RecordWriter(format: .csv, fileDescriptor: fd)
        case "ndjson": RecordWriter(format: .ndjson, fileDescriptor: fd)
        default: RecordWriter.jsonArray(fileDescriptor: fd)
        }
        try store.snapshot().forEachBatch(tenant: "tenant-1") { try writer.write($0) }
        try writer.finish()
        close(fd)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let outcome = RecordParser(format: InputFormat(rawValue: format)!).parse(bytes)
        #expect(outcome.errors.isEmpty, "\(outcome.errors.prefix(3))")
        #expect(Set(outcome.batch.records) == Set(records.filter { $0.tenantID == "tenant-1" }))
        #expect(outcome.batch.count == records.filter { $0.tenantID == "tenant-1" }.count)
    }

    @Test("an empty JSON array export is valid JSON")
    func emptyJSONArray() throws {
        let dir = try TemporaryDirectory(prefix: "tally-batches")
        defer { dir.remove() }
        let path = dir.appending("empty.json")
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var writer = RecordWriter.jsonArray(fileDescriptor: fd)
        try writer.finish()
        close(fd)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "[]\n")
    }
}
