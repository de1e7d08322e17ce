#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TallyTestSupport
@testable import TallyStore
import TallySynthetic

/// Damage inside the WAL costs at most the batches it touches: replay resynchronises on the next intact batch,
/// in the same segment and in later ones, reports what is lost (open report, `condition()`, `tally verify`) and
/// keeps the damaged bytes; a torn tail is still cut silently, as a crash leaves it.
@Suite struct WALDamageTests {
    /// How many times each request id is stored.
    static func stored(_ store: Store) throws -> [String: Int] {
        var count: [String: Int] = [:]
        for r in try store.snapshot().records() { count[r.requestID, default: 0] += 1 }
        return count
    }

    /// Expects every batch in `present` stored whole and exactly once, and nothing of any other batch.
    static func expectBatches(_ store: Store, present: Set<Int>, of total: Int, _ comment: Comment? = nil,
                              sourceLocation: SourceLocation = #_sourceLocation) throws {
        let ids = try stored(store)
        #expect(ids.values.allSatisfy { $0 == 1 }, "a record is stored twice", sourceLocation: sourceLocation)
        for k in 0..<total {
            let n = (0..<WALFixture.perBatch).filter { ids["b\(k)-\($0)"] != nil }.count
            #expect(n == (present.contains(k) ? WALFixture.perBatch : 0), "batch \(k): \(n) of \(WALFixture.perBatch) stored. \(comment?.rawValue ?? "")",
                    sourceLocation: sourceLocation)
        }
        #expect(ids.count == present.count * WALFixture.perBatch, sourceLocation: sourceLocation)
    }

    enum Target: String, CaseIterable, CustomTestStringConvertible {
        case record, strings, commit
        var testDescription: String { rawValue }
        var type: UInt8 { switch self { case .record: 1; case .commit: 2; case .strings: 3 } }
    }

    @Test("one flipped byte in a frame of a middle batch costs exactly that batch; every later batch replays", arguments: Target.allCases)
    func damageInTheMiddleCostsOneBatch(target: Target) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let segments = try WALFixture.makeStore(dir)
        // Segment 2 of 3 holds batches 6...11; damage batch 8 (the third of the segment).
        let frames = try WALFixture.frames(segments[1])
        let starts = frames.indices.filter { frames[$0].type == 3 }
        let batchFrames = frames[starts[2]..<starts[3]]
        let frame = try #require(batchFrames.first { $0.type == target.type })
        try WALFixture.flip(segments[1], at: frame.offset + 8 + min(5, frame.length - 1))

        var store = try Store(path: dir.path, options: testOptions())
        try Self.expectBatches(store, present: Set(0..<18).subtracting([8]), of: 18)
        let condition = store.condition()
        #expect(condition.walLosses.count == 1, "\(condition.walLosses)")
        let loss = try #require(condition.walLosses.first)
        #expect(loss.segment == 2 && loss.start == batchFrames.first!.offset && loss.end == batchFrames.last!.offset + 8 + batchFrames.last!.length)
        #expect(loss.reason == WriteAheadLog.checksumMismatch && !loss.cut)
        if target == .commit {
            // The commit frame holds the count: without it the count is what the intact record frames show.
            #expect(loss.batches == 1 && loss.records == WALFixture.perBatch && !loss.exact)
        } else {
            #expect(loss.batches == 1 && loss.records == WALFixture.perBatch && loss.exact)
        }
        #expect(store.openReport.contains { $0.hasPrefix("lost:") && $0.contains(loss.segmentFile) && $0.contains("1 batch") },
                "\(store.openReport)")
        // The damaged bytes are kept, and the loss is recorded.
        let quarantine = dir.path + "/quarantine"
        let copy = try #require(loss.copy)
        let kept = try FileIO.readAll(quarantine + "/" + copy)
        #expect(kept == Array(try FileIO.readAll(segments[1])[loss.start..<loss.end]))
        #expect(FileIO.exists(quarantine + "/" + loss.recordName))

        // Appends go on, a second open replays the same batches exactly once and finds the same loss (no new record).
        #expect(try store.append(WALFixture.batch(18)).inserted == WALFixture.perBatch)
        #expect(try store.append(WALFixture.batch(2)).inserted == 0, "the dedup set has the replayed batches")
        store.abandon()
        let quarantined = FileIO.list(quarantine)
        store = try Store(path: dir.path, options: testOptions())
        try Self.expectBatches(store, present: Set(0..<19).subtracting([8]), of: 19)
        #expect(store.condition().walLosses == [loss])
        #expect(FileIO.list(quarantine) == quarantined)

        // A seal trims the damaged segment; the loss stays visible through its record.
        try store.close()
        #expect(WriteAheadLog.segments(in: dir.path + "/wal").allSatisfy { $0 > 3 })
        store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        try Self.expectBatches(store, present: Set(0..<19).subtracting([8]), of: 19)
        #expect(store.condition().walLosses == [loss])
        #expect(store.openReport.contains { $0.hasPrefix("lost earlier") && $0.contains(loss.recordName) }, "\(store.openReport)")
        #expect(store.metrics().walLostBatches == 1 && store.metrics().walLostRecords == WALFixture.perBatch)
        // The operator removes the record: the store is no longer degraded (no restart needed).
        unlink(quarantine + "/" + loss.recordName)
        #expect(!store.condition().degraded)
    }

    @Test("a run of garbage over several batches costs exactly the batches it touches, reported as a lower bound")
    func garbageOverSeveralBatches() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let segments = try WALFixture.makeStore(dir, segments: 2, perSegment: 12)
        let frames = try WALFixture.frames(segments[0])
        // Batch ranges of segment 1: from each strings frame to the end of its commit frame.
        let starts = frames.filter { $0.type == 3 }.map(\.offset)
        let ends = frames.filter { $0.type == 2 }.map { $0.offset + 8 + $0.length }
        let garbage = (starts[3] + 40)..<(ends[6] - 10)
        var bytes = try FileIO.readAll(segments[0])
        var rng = Xoshiro256(seed: 11)
        for i in garbage { bytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
        try FileIO.writeAtomically(bytes, to: segments[0], directory: dir.path + "/wal")
        let store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        try Self.expectBatches(store, present: Set(0..<24).subtracting(3...6), of: 24)
        let loss = try #require(store.condition().walLosses.first)
        #expect(store.condition().walLosses.count == 1)
        #expect(loss.start == starts[3] && loss.end == starts[7])
        // Every commit frame in the range is gone: only "at least one batch" is known, and the byte range.
        #expect(!loss.exact && loss.batches >= 1, "\(loss)")
    }

    @Test("a damaged header of a segment that is not the last costs no batch")
    func damagedSegmentHeader() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let segments = try WALFixture.makeStore(dir)
        try WALFixture.flip(segments[0], at: 3)
        var store = try Store(path: dir.path, options: testOptions())
        try Self.expectBatches(store, present: Set(0..<18), of: 18)
        let loss = try #require(store.condition().walLosses.first)
        #expect(store.condition().walLosses.count == 1)
        #expect(loss.segment == 1 && loss.start == 0 && loss.end == WriteAheadLog.headerSize)
        #expect(loss.reason == WriteAheadLog.badHeader && loss.batches == 0 && loss.records == 0 && loss.exact)
        store.abandon()
        store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        try Self.expectBatches(store, present: Set(0..<18), of: 18)
    }

    @Test("damage in the last segment: the batches after it replay, appends after it replay, exactly once")
    func damageInTheLastSegment() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let segments = try WALFixture.makeStore(dir, segments: 1, perSegment: 10)
        let frames = try WALFixture.frames(segments[0])
        let record = frames.filter { $0.type == 1 }[WALFixture.perBatch * 4 + 3]   // a record of batch 4
        try WALFixture.flip(segments[0], at: record.offset + 1, mask: 0x40)        // its length field
        var store = try Store(path: dir.path, options: testOptions())
        try Self.expectBatches(store, present: Set(0..<10).subtracting([4]), of: 10)
        #expect(store.condition().walLosses.map(\.batches) == [1])
        for k in 10..<13 { #expect(try store.append(WALFixture.batch(k)).inserted == WALFixture.perBatch) }
        store.abandon()
        for _ in 0..<2 {
            store = try Store(path: dir.path, options: testOptions())
            try Self.expectBatches(store, present: Set(0..<13).subtracting([4]), of: 13)
            #expect(store.condition().walLosses.count == 1)
            store.abandon()
        }
    }

    @Test("a damaged last batch is cut, reported, and kept; a torn tail is cut silently, as a crash leaves it")
    func tailDamageAndTornTail() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let segments = try WALFixture.makeStore(dir, segments: 2, perSegment: 4)
        // Torn: the last frame lost its last bytes (a crash mid-write). Nothing reported, nothing kept.
        let size = try #require(FileIO.fileSize(segments[1]))
        #expect(truncate(segments[1], off_t(size - 5)) == 0)
        var store = try Store(path: dir.path, options: testOptions())
        try Self.expectBatches(store, present: Set(0..<7), of: 8)
        #expect(!store.condition().degraded)
        #expect(FileIO.list(dir.path + "/quarantine").isEmpty)
        #expect(store.openReport.contains { $0.contains("cut at offset") && $0.contains("torn frame") }, "\(store.openReport)")
        #expect(try store.append(WALFixture.batch(7)).inserted == WALFixture.perBatch)
        store.abandon()
        // Damaged (whole frames, a checksum fails): the last batch is cut too, but reported as lost and kept.
        let last = try WALFixture.frames(segments[1]).last { $0.type == 1 }!
        try WALFixture.flip(segments[1], at: last.offset + 12)
        store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        try Self.expectBatches(store, present: Set(0..<7), of: 8)
        let loss = try #require(store.condition().walLosses.first)
        #expect(loss.cut && loss.batches == 1 && loss.records == WALFixture.perBatch && loss.exact)
        #expect(FileIO.list(dir.path + "/quarantine").contains { $0.contains(".cut-at-") })
        #expect(try store.append(WALFixture.batch(7)).inserted == WALFixture.perBatch, "the lost batch can be sent again")
    }

    /// Frames as the encoder writes them, for a request id that holds a whole fake batch. Every byte is ASCII
    /// (a nonce is varied until each frame's length and CRC are), so the request id is valid UTF-8 and stored as is.
    static func fakeBatch(tenant: String) -> [UInt8] {
        func frame(_ make: (Int) -> [UInt8]) -> [UInt8] {
            for nonce in 0... {
                let body = make(nonce)
                var w = ByteWriter()
                w.u32(UInt32(body.count))
                w.u32(CRC32C.checksum(body))
                let bytes = w.bytes + body
                if bytes.allSatisfy({ $0 < 0x80 }) { return bytes }
            }
            fatalError("unreachable")
        }
        let strings = frame { nonce in
            var w = ByteWriter()
            w.u8(3); w.varint(2); w.string16(tenant); w.string16("n\(nonce)")
            return w.bytes
        }
        let record = frame { nonce in
            var w = ByteWriter()
            w.u8(1)
            for _ in 0..<8 { w.varint(0) }
            w.string16("forged\(nonce)")
            w.varint(1); w.varint(1); w.varint(99); w.svarint(0)
            return w.bytes
        }
        let commit = frame { nonce in
            var w = ByteWriter()
            w.u8(2); w.u64(UInt64(nonce & 0x7F) | UInt64((nonce >> 7) & 0x7F) << 8); w.u32(1)
            return w.bytes
        }
        return strings + record + commit
    }

    @Test("bytes inside a client's request id that look like a batch are never replayed, torn or damaged")
    func framesInsideARequestIDAreNeverReplayed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var store = try Store(path: dir.path, options: testOptions())
        _ = try store.append(WALFixture.batch(0))
        // A hostile request id holding a whole valid batch for another tenant (the store takes any bytes).
        let fake = Self.fakeBatch(tenant: "victim")
        let hostile = String(decoding: fake, as: UTF8.self)
        var records = WALFixture.batch(1).records
        records[0].requestID = hostile
        _ = try store.append(RecordBatch(records))
        _ = try store.append(WALFixture.batch(2))
        store.abandon()
        let seg = WriteAheadLog.path(dir.path + "/wal", 1)
        let frames = try WALFixture.frames(seg)
        let hostileFrame = frames.filter { $0.type == 1 }[WALFixture.perBatch]
        let clean = try FileIO.readAll(seg)
        let embedded = try #require(clean.firstRange(of: Array(hostile.utf8)))

        // Damage in the hostile record's own bytes: its batch is lost, batch 2 replays, the fake batch does not.
        try WALFixture.flip(seg, at: hostileFrame.offset + 10)
        store = try Store(path: dir.path, options: testOptions())
        #expect(try store.snapshot().records(tenant: "victim").isEmpty)
        #expect(try Self.stored(store)["b2-0"] == 1)
        store.abandon()

        // A crash tearing the hostile record's frame after the fake batch: cut silently, nothing replayed from it.
        try FileIO.writeAtomically(Array(clean[..<(embedded.upperBound + 2)]), to: seg, directory: dir.path + "/wal")
        for q in FileIO.list(dir.path + "/quarantine") { unlink(dir.path + "/quarantine/" + q) }
        store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        #expect(try store.snapshot().records(tenant: "victim").isEmpty)
        try Self.expectBatches(store, present: [0], of: 3)
        #expect(!store.condition().degraded)
    }

    @Test("replay of a damaged log with no quarantine directory changes nothing but the tail, and twice gives the same")
    func readOnlyReplayFindsTheSameLoss() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let segments = try WALFixture.makeStore(dir, segments: 2, perSegment: 5)
        let frames = try WALFixture.frames(segments[0])
        try WALFixture.flip(segments[0], at: frames.filter { $0.type == 3 }[1].offset + 9)
        var options = testOptions()
        options.readOnly = true
        for _ in 0..<2 {
            let reader = try Store(path: dir.path, options: options)
            try Self.expectBatches(reader, present: Set(0..<10).subtracting([1]), of: 10)
            #expect(reader.condition().walLosses.map(\.batches) == [1])
            try reader.close()
        }
        #expect(FileIO.list(dir.path + "/quarantine").isEmpty, "a read-only open wrote to quarantine/")
    }
}
