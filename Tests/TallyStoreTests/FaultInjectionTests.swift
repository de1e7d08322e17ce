#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TallyTestSupport
@testable import TallyStore

/// Faults injected into the store's file I/O (`FaultInjection`, scoped to each test's own directory, so these
/// run in parallel with everything else): each gives a clear error, loses no acknowledged record, and after the
/// fault is gone a reopen recovers everything acknowledged.
@Suite struct FaultInjectionTests {
    static let base: Int64 = 1_746_000_000_000

    /// `count` records of two tenants, request ids `<tag>-<i>`.
    static func batch(_ tag: String, _ count: Int = 10) -> RecordBatch {
        var records: [CostRecord] = []
        for i in 0..<count {
            let tenant = i % 2 == 0 ? "acme" : "globex"
            let at: Int64 = base + Int64(i) * 1000
            records.append(CostRecord(tenantID: tenant, projectID: "p", environment: "prod", userID: "u\(i % 3)",
                                      featureTag: "chat", requestID: "\(tag)-\(i)", model: "gpt-4o", inputTokens: Int64(i),
                                      outputTokens: 1, costNanos: Int64(1000 + i), createdAtMillis: at))
        }
        return RecordBatch(records)
    }

    /// Request ids stored, with how many times each.
    static func stored(_ store: Store) throws -> [String: Int] {
        var count: [String: Int] = [:]
        for r in try store.snapshot().records() { count[r.requestID, default: 0] += 1 }
        return count
    }

    /// Request ids of batch `tag` present in `ids`.
    static func present(_ tag: String, _ ids: [String: Int]) -> Int {
        ids.keys.filter { $0.hasPrefix(tag + "-") }.count
    }

    static func options(_ durability: StoreOptions.Durability = .fsync) -> StoreOptions {
        var o = testOptions()
        o.durability = durability
        return o
    }

    static func inject(_ dir: TemporaryDirectory, _ operation: FaultInjection.Operation, _ fault: FaultInjection.Fault,
                       contains: String? = nil, skip: Int = 0, times: Int = .max) {
        FaultInjection.install(.init(prefix: dir.path + "/", contains: contains, operation: operation, fault: fault,
                                     skip: skip, times: times))
    }

    static func errnoOf(_ error: any Error) -> Int32? {
        if case let .io(_, _, code)? = error as? StoreError { return code }
        return nil
    }

    @Test("a failed WAL write is an error; writes are refused while the fault lasts and resume by themselves after it",
          arguments: [EIO, ENOSPC])
    func failedWrite(code: Int32) throws {
        let dir = try TemporaryDirectory()
        defer { FaultInjection.remove(under: dir.path + "/"); dir.remove() }
        var store = try Store(path: dir.path, options: Self.options())
        #expect(try store.append(Self.batch("a")).inserted == 10)
        #expect(store.condition().walFailure == nil)
        Self.inject(dir, .write, .fail(errno: code), contains: "/wal/")
        let error = #expect(throws: StoreError.self) { try store.append(Self.batch("b")) }
        #expect(error.map(Self.errnoOf) == code)
        #expect(error?.description.contains(String(cString: strerror(code))) == true, "\(String(describing: error))")
        // While the fault lasts, each write tries to reopen the log, fails, and is refused; the failure is visible.
        #expect(throws: StoreError.self) { try store.append(Self.batch("c")) }
        #expect(store.condition().walFailure.map(Self.errnoOf) == code)
        #expect(WriteAheadLog.segments(in: dir.path + "/wal").count == 1, "a failed reopen left a segment behind")
        #expect(Self.present("b", try Self.stored(store)) == 0)
        FaultInjection.remove(under: dir.path + "/")
        // The fault is gone: the next write reopens the log (the failed group's bytes cut, a fresh segment) and is stored.
        #expect(try store.append(Self.batch("c")).inserted == 10)
        #expect(store.condition().walFailure == nil)
        #expect(try store.append(Self.batch("a")).inserted == 0, "still a duplicate")
        store.abandon()

        store = try Store(path: dir.path, options: Self.options())
        defer { try? store.close() }
        var ids = try Self.stored(store)
        #expect(Self.present("a", ids) == 10 && Self.present("c", ids) == 10)
        #expect(Self.present("b", ids) == 0)
        #expect(!store.condition().degraded, "\(store.openReport)")
        #expect(store.openReport.allSatisfy { !$0.contains("cut") }, "\(store.openReport)")
        #expect(try store.append(Self.batch("b")).inserted == 10)
        ids = try Self.stored(store)
        #expect(ids.count == 30 && ids.values.allSatisfy { $0 == 1 })
    }

    @Test("a failed fsync of the WAL is never acknowledged; the next write cuts its bytes and goes on in a fresh segment")
    func failedFsync() throws {
        let dir = try TemporaryDirectory()
        defer { FaultInjection.remove(under: dir.path + "/"); dir.remove() }
        var store = try Store(path: dir.path, options: Self.options())
        _ = try store.append(Self.batch("a"))
        Self.inject(dir, .sync, .fail(errno: EIO), contains: "/wal/", times: 1)
        let error = #expect(throws: StoreError.self) { try store.append(Self.batch("b")) }
        if case let .io(_, operation, code)? = error {
            #expect(operation == "fdatasync" && code == EIO)
        }
        #expect(FaultInjection.hitCount(under: dir.path + "/") == 1)
        #expect(store.condition().failed)
        // The fault has expired. A retried fsync on the failed file could "succeed" over pages the kernel dropped,
        // so the log does not retry it: it cuts the unacknowledged group and continues in a new segment.
        #expect(try store.append(Self.batch("c")).inserted == 10)
        #expect(!store.condition().failed)
        #expect(WriteAheadLog.segments(in: dir.path + "/wal") == [1, 2])
        store.abandon()

        store = try Store(path: dir.path, options: Self.options())
        defer { try? store.close() }
        let reopened = try Self.stored(store)
        #expect(Self.present("b", reopened) == 0, "the failed group was cut")
        #expect(Self.present("a", reopened) == 10 && Self.present("c", reopened) == 10)
        #expect(!store.condition().degraded, "\(store.openReport)")
        _ = try store.append(Self.batch("b"))
        let ids = try Self.stored(store)
        #expect(ids.count == 30 && ids.values.allSatisfy { $0 == 1 }, "a retried batch is stored exactly once")
    }

    @Test("a torn WAL write, then the fault gone: the torn bytes are cut before the log goes on, so no damage is left mid-log",
          arguments: [StoreOptions.Durability.fsync, .buffered])
    func tornWriteThenRecovery(durability: StoreOptions.Durability) throws {
        let dir = try TemporaryDirectory()
        defer { FaultInjection.remove(under: dir.path + "/"); dir.remove() }
        var store = try Store(path: dir.path, options: Self.options(durability))
        for k in 0..<3 { _ = try store.append(Self.batch("a\(k)")) }
        Self.inject(dir, .write, .torn(keep: 300, errno: ENOSPC), contains: "/wal/", times: 1)
        #expect(throws: StoreError.self) { try store.append(Self.batch("b", 40)) }
        for k in 0..<3 { #expect(try store.append(Self.batch("c\(k)")).inserted == 10) }
        store.abandon()
        for _ in 0..<2 {
            store = try Store(path: dir.path, options: Self.options(durability))
            let ids = try Self.stored(store)
            #expect(ids.count == 60 && ids.values.allSatisfy { $0 == 1 })
            #expect(Self.present("b", ids) == 0)
            #expect(!store.condition().degraded, "\(store.openReport)")
            store.abandon()
        }
    }

    @Test("ENOSPC while sealing (the rotate's fsync fails): the seal fails, the log recovers with the next write, nothing lost")
    func failedRotate() throws {
        let dir = try TemporaryDirectory()
        defer { FaultInjection.remove(under: dir.path + "/"); dir.remove() }
        var store = try Store(path: dir.path, options: Self.options(.buffered))
        _ = try store.append(Self.batch("a", 40))
        Self.inject(dir, .sync, .fail(errno: ENOSPC), contains: "/wal/")
        #expect(throws: StoreError.self) { try store.flush() }
        #expect(store.condition().failed)
        #expect(throws: StoreError.self) { try store.append(Self.batch("b")) }
        FaultInjection.remove(under: dir.path + "/")
        #expect(try store.append(Self.batch("b")).inserted == 10)
        try store.flush()
        try store.close()
        store = try Store(path: dir.path, options: Self.options())
        defer { try? store.close() }
        let ids = try Self.stored(store)
        #expect(ids.count == 50 && ids.values.allSatisfy { $0 == 1 })
        #expect(store.verify().isEmpty && !store.condition().degraded)
    }

    @Test("a seal that cannot create the next WAL segment leaves none behind, so a crash's torn tail stays a tail")
    func failedNextSegment() throws {
        let dir = try TemporaryDirectory()
        defer { FaultInjection.remove(under: dir.path + "/"); dir.remove() }
        var store = try Store(path: dir.path, options: Self.options())
        _ = try store.append(Self.batch("a"))
        Self.inject(dir, .write, .fail(errno: ENOSPC), contains: "/wal/" + WALLoss.segmentFile(2))
        #expect(throws: StoreError.self) { try store.flush() }
        FaultInjection.remove(under: dir.path + "/")
        #expect(WriteAheadLog.segments(in: dir.path + "/wal") == [1])
        _ = try store.append(Self.batch("b"))
        store.abandon()
        // A crash mid-append: the last frame of segment 1 is torn.
        let segment = WriteAheadLog.path(dir.path + "/wal", 1)
        #expect(truncate(segment, off_t(try #require(FileIO.fileSize(segment)) - 4)) == 0)
        store = try Store(path: dir.path, options: Self.options())
        defer { try? store.close() }
        #expect(Self.present("a", try Self.stored(store)) == 10)
        #expect(!store.condition().degraded, "\(store.openReport)")
    }

    @Test("short writes everywhere (WAL, parts, manifest) are completed by the write loop")
    func shortWrites() throws {
        let dir = try TemporaryDirectory()
        defer { FaultInjection.remove(under: dir.path + "/"); dir.remove() }
        Self.inject(dir, .write, .short(max: 7))
        var store = try Store(path: dir.path, options: Self.options())
        for k in 0..<5 { #expect(try store.append(Self.batch("s\(k)", 50)).inserted == 50) }
        try store.flush()
        _ = try store.append(Self.batch("t", 30))
        store.abandon()
        #expect(FaultInjection.hitCount(under: dir.path + "/") > 100)
        FaultInjection.remove(under: dir.path + "/")

        store = try Store(path: dir.path, options: Self.options())
        defer { try? store.close() }
        let ids = try Self.stored(store)
        #expect(ids.count == 280 && ids.values.allSatisfy { $0 == 1 })
        #expect(store.verify().isEmpty)
        #expect(store.openReport.allSatisfy { !$0.contains("cut") }, "\(store.openReport)")
    }

    @Test("a torn WAL write: the batch is refused, and on reopen nothing of it is visible")
    func tornWrite() throws {
        let dir = try TemporaryDirectory()
        defer { FaultInjection.remove(under: dir.path + "/"); dir.remove() }
        var store = try Store(path: dir.path, options: Self.options())
        _ = try store.append(Self.batch("a"))
        Self.inject(dir, .write, .torn(keep: 300, errno: EIO), contains: "/wal/", times: 1)
        #expect(throws: StoreError.self) { try store.append(Self.batch("b", 40)) }
        store.abandon()

        store = try Store(path: dir.path, options: Self.options())
        defer { try? store.close() }
        let ids = try Self.stored(store)
        #expect(Self.present("a", ids) == 10)
        #expect(Self.present("b", ids) == 0, "a torn batch is half-visible")
        #expect(store.openReport.contains { $0.contains("cut at") }, "\(store.openReport)")
        #expect(FileIO.list(dir.path + "/quarantine").isEmpty, "a crash's torn tail is not damage worth keeping")
    }

    @Test("ENOSPC while sealing a part or writing the manifest: the seal fails, writes go on, a later seal succeeds",
          arguments: ["/parts/", "MANIFEST"])
    func failedSeal(target: String) throws {
        let dir = try TemporaryDirectory()
        defer { FaultInjection.remove(under: dir.path + "/"); dir.remove() }
        var store = try Store(path: dir.path, options: Self.options())
        _ = try store.append(Self.batch("a", 40))
        Self.inject(dir, .write, .fail(errno: ENOSPC), contains: target)
        let error = #expect(throws: StoreError.self) { try store.flush() }
        #expect(error.map(Self.errnoOf) == ENOSPC)
        // The sealed-off head is still read, and the WAL (not full here) still takes writes.
        #expect(try store.append(Self.batch("b", 40)).inserted == 40)
        #expect(try Self.stored(store).count == 80)
        FaultInjection.remove(under: dir.path + "/")
        try store.flush()
        #expect(try Self.stored(store).count == 80)
        try store.close()

        store = try Store(path: dir.path, options: Self.options())
        defer { try? store.close() }
        let ids = try Self.stored(store)
        #expect(ids.count == 80 && ids.values.allSatisfy { $0 == 1 })
        #expect(store.verify().isEmpty)
    }

    @Test("a bit flipped while the WAL is read is read again, not cut")
    func flippedWALReadIsRetried() throws {
        let dir = try TemporaryDirectory()
        defer { FaultInjection.remove(under: dir.path + "/"); dir.remove() }
        var store = try Store(path: dir.path, options: Self.options())
        for k in 0..<4 { _ = try store.append(Self.batch("w\(k)")) }
        store.abandon()
        Self.inject(dir, .read, .flipBit(offset: 200, bit: 3), contains: "/wal/", times: 1)
        store = try Store(path: dir.path, options: Self.options())
        defer { try? store.close() }
        #expect(FaultInjection.hitCount(under: dir.path + "/") == 1)
        let ids = try Self.stored(store)
        #expect(ids.count == 40 && ids.values.allSatisfy { $0 == 1 })
        #expect(store.openReport.allSatisfy { !$0.contains("cut") }, "\(store.openReport)")
    }

    @Test("a WAL damaged on disk is cut at the bad frame, and the bytes cut off are kept in quarantine")
    func damagedWALIsKept() throws {
        let dir = try TemporaryDirectory()
        defer { FaultInjection.remove(under: dir.path + "/"); dir.remove() }
        var store = try Store(path: dir.path, options: Self.options())
        for k in 0..<4 { _ = try store.append(Self.batch("w\(k)")) }
        store.abandon()
        let segment = WriteAheadLog.path(dir.path + "/wal", WriteAheadLog.segments(in: dir.path + "/wal").last!)
        let before = try FileIO.readAll(segment)
        Self.inject(dir, .read, .flipBit(offset: before.count - 40, bit: 0), contains: "/wal/")
        store = try Store(path: dir.path, options: Self.options())
        defer { try? store.close() }
        FaultInjection.remove(under: dir.path + "/")
        #expect(store.openReport.contains { $0.contains("checksum mismatch") }, "\(store.openReport)")
        #expect(store.openReport.contains { $0.contains("kept in quarantine") }, "\(store.openReport)")
        let kept = FileIO.list(dir.path + "/quarantine").filter { $0.contains(".cut-at-") }
        #expect(kept.count == 1)
        let tail = try FileIO.readAll(dir.path + "/quarantine/" + kept[0])
        #expect(!tail.isEmpty && tail.count < before.count)
        #expect(Self.present("w0", try Self.stored(store)) == 10)
    }

    @Test("a bit flipped while a part is read at open is read again, not quarantined")
    func flippedPartReadIsRetried() throws {
        let dir = try TemporaryDirectory()
        defer { FaultInjection.remove(under: dir.path + "/"); dir.remove() }
        var store = try Store(path: dir.path, options: Self.options())
        _ = try store.append(Self.batch("p", 200))
        try store.close()
        let part = try #require(FileIO.list(dir.path + "/parts").first)
        let size = try #require(FileIO.fileSize(dir.path + "/parts/" + part))
        // The trailer: checked as the part opens.
        Self.inject(dir, .read, .flipBit(offset: size - 2, bit: 1), contains: "/parts/", times: 1)
        store = try Store(path: dir.path, options: Self.options())
        defer { try? store.close() }
        #expect(FaultInjection.hitCount(under: dir.path + "/") == 1)
        #expect(store.openReport.allSatisfy { !$0.contains("quarantined") }, "\(store.openReport)")
        #expect(try Self.stored(store).count == 200)
        #expect(store.verify().isEmpty)
    }

    @Test("a bit flipped in a mapped part is found by its checksum; the part is re-read, not quarantined")
    func flippedBlockIsReReadBeforeQuarantine() throws {
        let dir = try TemporaryDirectory()
        defer { FaultInjection.remove(under: dir.path + "/"); dir.remove() }
        var store = try Store(path: dir.path, options: Self.options())
        _ = try store.append(Self.batch("q", 200))
        try store.close()
        // Byte 100 is in the first column block, not read when the part opens: the first read finds it.
        Self.inject(dir, .read, .flipBit(offset: 100, bit: 5), contains: "/parts/", times: 1)
        store = try Store(path: dir.path, options: Self.options())
        defer { try? store.close() }
        let damage = store.verify()
        #expect(damage.count <= 1)
        #expect(FaultInjection.hitCount(under: dir.path + "/") == 1)
        #expect(FileIO.list(dir.path + "/quarantine").isEmpty, "a part sound on disk was quarantined")
        #expect(store.verify().isEmpty)
        #expect(try Self.stored(store).count == 200)
    }

    @Test("an open that fails after taking the directory lock releases it: the next open in the same process is not 'locked'")
    func failedOpenReleasesTheLock() throws {
        let dir = try TemporaryDirectory()
        defer { FaultInjection.remove(under: dir.path + "/"); dir.remove() }
        let records = RandomRecords(seed: 71, options: .init(tenants: 2)).records(200)
        var store = try Store(path: dir.path, options: Self.options())
        _ = try store.append(RecordBatch(records))
        store.abandon()
        // Opening the WAL fails: the open throws after it took the lock.
        Self.inject(dir, .open, .fail(errno: EIO), contains: "/wal/")
        do {
            _ = try Store(path: dir.path, options: Self.options())
            Issue.record("the open read a WAL it could not read")
        } catch let e as StoreError {
            #expect(Self.errnoOf(e) == EIO, "\(e)")
        }
        FaultInjection.remove(under: dir.path + "/")
        store = try Store(path: dir.path, options: Self.options())
        defer { try? store.close() }
        #expect(try store.snapshot().records().count == records.count)
    }

    @Test("a compaction whose rename fails (merged part or manifest) changes nothing; no temporary is left; a later one succeeds",
          arguments: [".part", "MANIFEST"])
    func failedCompactionRename(target: String) throws {
        let dir = try TemporaryDirectory()
        defer { FaultInjection.remove(under: dir.path + "/"); dir.remove() }
        var store = try Store(path: dir.path, options: Self.options())
        for tag in ["a", "b", "c"] {
            _ = try store.append(Self.batch(tag, 40))
            try store.flush()
        }
        let before = sorted(try store.snapshot().records())
        let parts = store.stats().parts
        Self.inject(dir, .rename, .fail(errno: EIO), contains: target)
        let error = #expect(throws: StoreError.self) { try store.compact() }
        #expect(error.map(Self.errnoOf) == EIO)
        #expect(FaultInjection.remove(under: dir.path + "/") == 1)
        #expect(sorted(try store.snapshot().records()) == before)
        #expect(store.stats().parts == parts)
        #expect(!FileIO.list(dir.path + "/parts").contains { $0.hasSuffix(".tmp") })
        #expect(!FileIO.exists(dir.path + "/MANIFEST.tmp"))
        try store.close()

        store = try Store(path: dir.path, options: Self.options())
        defer { try? store.close() }
        #expect(sorted(try store.snapshot().records()) == before)
        #expect(store.stats().parts == parts)
        #expect(store.verify().isEmpty)
        #expect(try store.compact() == 2, "one merge per tenant")
        #expect(sorted(try store.snapshot().records()) == before)
    }

    /// How a bulk load fails: its one `syncfs`, or the write of its second part file (torn after 100 bytes; parts
    /// are written under their names, without a temporary).
    enum BulkLoadFault: CaseIterable, Sendable {
        case syncfs, tornPart
    }

    @Test("a bulk load whose syncfs or part write fails stores nothing and leaves no file behind; the next load succeeds",
          arguments: BulkLoadFault.allCases)
    func failedBulkLoad(fault: BulkLoadFault) throws {
        let dir = try TemporaryDirectory()
        defer { FaultInjection.remove(under: dir.path + "/"); dir.remove() }
        var store = try Store(path: dir.path, options: Self.options())
        _ = try store.append(Self.batch("a", 40))
        try store.flush()
        let before = sorted(try store.snapshot().records())
        let files = FileIO.list(dir.path + "/parts")
        let code: Int32
        switch fault {
        case .syncfs:
            code = EIO
            Self.inject(dir, .sync, .fail(errno: code), contains: "/parts", times: 1)
        case .tornPart:
            code = ENOSPC
            Self.inject(dir, .write, .torn(keep: 100, errno: code), contains: "/parts/", skip: 1, times: 1)
        }
        let error = #expect(throws: StoreError.self) {
            try store.bulkLoad { load in
                for t in ["b", "c", "d"] { _ = try load.add(Self.batch(t, 300)) }
            }
        }
        #expect(error.map(Self.errnoOf) == code)
        #expect(sorted(try store.snapshot().records()) == before)
        #expect(FileIO.list(dir.path + "/parts") == files, "no part of the load is left, torn or whole")
        // The same ids load on the next attempt (the failed load's ids were forgotten).
        #expect(try store.bulkLoad { load in try load.add(Self.batch("b", 300)).inserted } == 300)
        try store.close()
        store = try Store(path: dir.path, options: Self.options())
        defer { try? store.close() }
        #expect(try store.snapshot().records().count == before.count + 300)
        #expect(store.verify().isEmpty)
    }
}
