import Foundation
import Testing
@testable import TallyStore

/// Options for tests: no background thread, so each test decides when to seal and merge.
public func testOptions(sealRows: Int = 1_000_000, granuleRows: Int = 64) -> StoreOptions {
    var o = StoreOptions()
    o.background = false
    o.sealRows = sealRows
    o.maxHeadRows = sealRows * 4
    o.granuleRows = granuleRows
    return o
}

/// Stores whose WAL holds known batches, and the frames of its segments: for the WAL damage tests and
/// `tally verify`'s.
public enum WALFixture {
    public static let base: Int64 = 1_746_000_000_000
    public static let perBatch = 7

    /// Batch `k`: `perBatch` records of two tenants, request ids `b<k>-<i>`.
    public static func batch(_ k: Int) -> RecordBatch {
        RecordBatch((0..<perBatch).map { i in
            CostRecord(tenantID: i % 2 == 0 ? "acme" : "globex", projectID: "p\(k % 3)", environment: "prod", userID: "u\(i)",
                       featureTag: "chat", requestID: "b\(k)-\(i)", model: "gpt-4o", inputTokens: Int64(k), outputTokens: Int64(i),
                       costNanos: Int64(1000 * k + i), createdAtMillis: base + Int64(k * 100 + i) * 1000)
        })
    }

    /// One frame of a segment file.
    public struct Frame: Sendable {
        public var offset: Int
        public var length: Int
        public var type: UInt8
    }

    /// The frames of a segment, in order, and which batch (counting from `firstBatch`) each belongs to.
    public static func frames(_ path: String) throws -> [Frame] {
        let bytes = try FileIO.readAll(path)
        var out: [Frame] = []
        var off = WriteAheadLog.headerSize
        while off + 9 <= bytes.count {
            let len = Int(bytes[off]) | Int(bytes[off + 1]) << 8 | Int(bytes[off + 2]) << 16 | Int(bytes[off + 3]) << 24
            out.append(Frame(offset: off, length: len, type: bytes[off + 8]))
            off += 8 + len
        }
        return out
    }

    /// A store with `segments` WAL segments of `perSegment` acknowledged batches each, none sealed (as after a seal
    /// that could not write its parts, or a log reopened after a failed write). Returns the segment paths.
    public static func makeStore(_ dir: TemporaryDirectory, segments: Int = 3, perSegment: Int = 6) throws -> [String] {
        let store = try Store(path: dir.path, options: testOptions())
        var k = 0
        for s in 0..<segments {
            if s > 0 { _ = try store.writerLock.withLock { try store.writer.wal!.rotate() } }
            for _ in 0..<perSegment {
                #expect(try store.append(batch(k)).inserted == perBatch)
                k += 1
            }
        }
        store.abandon()
        let wal = dir.path + "/wal"
        let paths = WriteAheadLog.segments(in: wal).map { WriteAheadLog.path(wal, $0) }
        #expect(paths.count == segments)
        return paths
    }

    public static func flip(_ path: String, at offset: Int, mask: UInt8 = 0x10) throws {
        var bytes = try FileIO.readAll(path)
        bytes[offset] ^= mask
        try FileIO.writeAtomically(bytes, to: path, directory: (path as NSString).deletingLastPathComponent)
    }
}

/// Damaged parts and MANIFESTs: for the missing-part and repair tests and their CLI counterparts (the stores are
/// opened with `options()`: no background thread, buffered durability).
public enum DamageFixture {
    public static func options() -> StoreOptions {
        var o = StoreOptions()
        o.background = false
        o.durability = .buffered
        return o
    }

    /// Two tenants, one sealed part each (2025-05-30 and 05-31); returns the records and tenant-1's part.
    package static func twoTenantStore(_ path: String) throws -> (records: [CostRecord], part: PartReader) {
        let records = RandomRecords(seed: 77, options: .init(tenants: 2)).records(2_000)
        let store = try Store(path: path, options: options())
        _ = try store.append(RecordBatch(records))
        try store.flush()
        let part = try #require(store.snapshot().parts.first { $0.meta.tenant == "tenant-1" })
        try store.close()
        return (records, part)
    }

    /// Flips bit 0x10 of the byte at `offset` (from the end when negative), written atomically.
    public static func flip(_ path: String, at offset: Int) throws {
        var bytes = try FileIO.readAll(path)
        bytes[offset >= 0 ? offset : bytes.count + offset] ^= 0x10
        try FileIO.writeAtomically(bytes, to: path, directory: String(path[..<path.lastIndex(of: "/")!]))
    }

    /// Flips bit 0x04 of the MANIFEST's byte at `offset` (or its last byte).
    public static func damageManifest(_ dir: String, at offset: Int = 30) throws {
        var bytes = try FileIO.readAll(dir + "/MANIFEST")
        bytes[min(offset, bytes.count - 1)] ^= 0x04
        try FileIO.writeAtomically(bytes, to: dir + "/MANIFEST", directory: dir)
    }
}
