import Foundation
import Testing
import TallyTestSupport
@testable import TallyStore

/// The dedup window's id sets: 16-byte slots kept half to three quarters full, and an eviction that only ever
/// keeps more than it must; the window's fingerprints with their rows' hours; and, end to end, a resent id refused
/// whatever its new time while its first row is inside the window, whichever tier holds it.
@Suite struct RequestIDSetTests {
    @Test("the window's fingerprints: every hour of an id is offered, 10-16 bytes an id, hours dropped whole")
    func windowTable() {
        var rng = TestRNG(seed: 9)
        var table = WindowIDTable()
        let start: Int64 = 1_748_736_000_000  // 2025-06-01T00:00Z
        var keys: [((UInt64, UInt64), Int64)] = []
        for i in 0..<100_000 {
            let k = (rng.next() | 1, rng.next())
            let t = start + Int64(i) * 36_000  // 1,000 hours
            keys.append((k, t))
            if i % 2 == 0 {
                table.insert(k, createdAt: t)
            } else {
                let e = [WindowIDTable.entry(k, createdAt: t)]
                e.withUnsafeBufferPointer { table.insert(entries: $0) }
            }
        }
        #expect(table.count == 100_000)
        let perID = Double(table.tableBytes) / Double(table.count)
        #expect(perID >= 10 && perID <= 16, "\(perID)")
        for (k, t) in keys {
            var hours: [Int64] = []
            #expect(!table.anyHour(of: k) { hours.append($0); return false })
            #expect(hours.contains(TimeUnit.hourStart(t)))
            #expect(table.anyHour(of: k) { $0 == TimeUnit.hourStart(t) })
        }
        // A key never inserted is offered an hour only when its 42-bit fingerprint collides: never, here.
        var offered = 0
        for _ in 0..<100_000 { _ = table.anyHour(of: (rng.next() | 1, rng.next())) { _ in offered += 1; return false } }
        #expect(offered == 0)
        // Dropping the first 500 hours keeps exactly the ids of the last 500.
        table.drop(before: start + 500 * TimeUnit.hourMillis + 1)
        #expect(table.count == 50_000 && table.oldestHour == start / TimeUnit.hourMillis + 500)
        for (k, t) in keys { #expect(table.anyHour(of: k) { _ in true } == (t >= start + 500 * TimeUnit.hourMillis)) }
        #expect(Double(table.tableBytes) / Double(table.count) <= 16)
    }

    @Test("a resent id is refused whatever its new created_at while its row is in the window, from either tier, after a reopen and a bulk load",
          arguments: [false, true])
    func resentWithAnotherTime(bulk: Bool) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var options = DamageFixture.options()
        options.recentIDWindowMillis = TimeUnit.hourMillis
        let end = RandomRecords.Options.defaultEnd
        let records = RandomRecords(seed: 17, options: .init(tenants: 2, window: (end - 6 * TimeUnit.dayMillis)..<end)).records(6_000)
        var store = try Store(path: dir.path, options: options)
        if bulk {
            #expect(try store.bulkLoad { try $0.add(RecordBatch(records)).inserted } == records.count)
        } else {
            #expect(try store.append(RecordBatch(records)).inserted == records.count)
        }
        try store.flush()
        // Resent now, or a day later or earlier: every one refused (most are outside the recent hour: fingerprints).
        let shifted = records.enumerated().map { i, r in
            var r = r
            r.createdAtMillis = [end - 1, r.createdAtMillis + TimeUnit.dayMillis, r.createdAtMillis - TimeUnit.dayMillis][i % 3]
            return r
        }
        var receipt = try store.append(RecordBatch(shifted))
        #expect(receipt.inserted == 0 && receipt.duplicates.count == shifted.count)
        try store.close()
        store = try Store(path: dir.path, options: options)
        defer { try? store.close() }
        receipt = try store.append(RecordBatch(shifted.reversed()))
        #expect(receipt.inserted == 0)
        // New ids at the same times are all stored (a fingerprint is never taken for a stored id).
        let fresh = records.enumerated().map { i, r in
            var r = r
            r.requestID = "fresh-\(i)"
            return r
        }
        #expect(try store.append(RecordBatch(fresh)).inserted == fresh.count)
        #expect(store.snapshot().rowCount == 2 * records.count)
    }

    @Test("an id costs 21-32 bytes of table however many there are, grown one by one or in batches")
    func bytesPerID() {
        var rng = TestRNG(seed: 1)
        var one = RequestIDSet()
        var keys: [(UInt64, UInt64)] = []
        for i in 1...200_000 {
            let k = (rng.next() | 1, rng.next())
            keys.append(k)
            let new = one.insert(k, createdAt: 1_700_000_000_000, epoch: 1)
            #expect(new)
            if i >= 1_000 && i % 997 == 0 {
                let perID = Double(one.tableBytes) / Double(one.count)
                #expect(perID <= 32.01 && perID >= 21, "\(i) ids: \(perID) bytes each")
            }
        }
        for k in keys { #expect(one.contains(k)) }
        var missed = 0
        for _ in 0..<100_000 where one.contains((rng.next() | 1, rng.next())) { missed += 1 }
        #expect(missed == 0)
        var reserved = RequestIDSet()
        reserved.reserve(keys.count)
        let bytes = reserved.tableBytes
        for k in keys { reserved.insert(k, createdAt: 0) }
        #expect(reserved.tableBytes == bytes, "a reserved set does not grow")
        #expect(Double(bytes) / Double(keys.count) <= 32.01)
    }

    @Test("eviction drops only ids whose time is before the horizon and whose epoch is sealed; epochs wrap at 256")
    func evictionKeepsWhatItMust() {
        var rng = TestRNG(seed: 9)
        let base: Int64 = 1_750_000_000_000
        let horizon = base + 3_600_000
        var set = RequestIDSet()
        var inserted: [(key: (UInt64, UInt64), time: Int64, epoch: UInt32)] = []
        for i in 0..<20_000 {
            let time = base + Int64(rng.next() % 7_200_000)  // an hour either side of the horizon
            let epoch = UInt32(250 + i % 12)  // 250...261: sealed up to 255 below, 256...261 not
            let k = (rng.next() | 1, rng.next())
            set.insert(k, createdAt: time, epoch: epoch)
            inserted.append((k, time, epoch))
        }
        set.evict(before: horizon, sealed: 255)
        var dropped = 0
        for e in inserted {
            let must = e.time >= horizon || e.epoch > 255
            if must { #expect(set.contains(e.key), "time \(e.time - horizon) epoch \(e.epoch) was evicted") }
            // What may go: sealed and before the horizon by more than the 4-minute rounding.
            if !set.contains(e.key) {
                dropped += 1
                #expect(e.epoch <= 255 && e.time < horizon)
            } else if e.epoch <= 255 && e.time < horizon - 240_000 {
                Issue.record("time \(e.time - horizon) epoch \(e.epoch) was kept")
            }
        }
        #expect(dropped > 4_000)
        #expect(Double(set.tableBytes) / Double(set.count) <= 32.01)
    }

    @Test("with 128 or more epochs unsealed (seals failing for long), nothing is evicted")
    func manyUnsealedEpochsEvictNothing() {
        var set = RequestIDSet()
        let old: Int64 = 1_700_000_000_000
        for e in UInt32(1)...200 { set.insert((UInt64(e) << 1 | 1, UInt64(e)), createdAt: old, epoch: e) }
        set.evict(before: old + 86_400_000, sealed: 10)
        #expect(set.count == 200)
        set.evict(before: old + 86_400_000, sealed: 200)
        // Sealed epochs within 128 of `sealed` go; older ones may read as unsealed modulo 256 and are merely kept.
        for e in UInt32(73)...200 { #expect(!set.contains((UInt64(e) << 1 | 1, UInt64(e))), "epoch \(e)") }
        #expect(set.count <= 72)
    }

    @Test("times before 2000 or past 2127 are kept conservatively, never evicted early")
    func clampedTimes() {
        var set = RequestIDSet()
        set.insert((3, 3), createdAt: 0, epoch: 0)  // 1970
        set.insert((5, 5), createdAt: 6_000_000_000_000, epoch: 0)  // 2160
        set.evict(before: 1_000, sealed: 0)
        #expect(set.contains((3, 3)) && set.contains((5, 5)), "1970 clamps to 2000, as does the horizon: kept")
        set.evict(before: 5_000_000_000_000, sealed: 0)
        #expect(!set.contains((3, 3)) && set.contains((5, 5)))
    }

    @Test("a reopened store holds its window's ids in 10-16 bytes each, its recent ids in 21-32 more, and stores nothing twice",
          arguments: [1, 7])
    func storeWindowFootprint(days: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var options = DamageFixture.options()
        options.recentIDWindowMillis = Int64(days) * TimeUnit.dayMillis
        let records = RandomRecords(seed: 5, options: .init(tenants: 3)).records(30_000)
        do {
            let store = try Store(path: dir.path, options: options)
            _ = try store.append(RecordBatch(records[..<20_000]))
            try store.flush()
            _ = try store.append(RecordBatch(records[20_000...]))
            try store.close()
        }
        let store = try Store(path: dir.path, options: options)
        defer { try? store.close() }
        let footprint = store.dedupFootprint
        // Every id of the window (seven days: all of them) as a fingerprint, and the recent ones whole as well.
        let newest = Dictionary(records.map { ($0.tenantID, $0.createdAtMillis) }, uniquingKeysWith: max)
        let recent = records.filter { $0.createdAtMillis >= newest[$0.tenantID]! - options.recentIDWindowMillis }.count
        #expect(footprint.ids == records.count, "the records span two days")
        #expect(days == 7 ? recent == records.count : recent < records.count * 3 / 4)
        #expect(Double(footprint.bytes) <= 32.5 * Double(recent) + 16.5 * Double(records.count), "\(footprint)")
        #expect(Double(footprint.bytes) >= 21 * Double(recent) + 10 * Double(records.count), "\(footprint)")
        // Whatever the window holds, nothing is stored twice: older ids are found in the parts.
        #expect(try store.append(RecordBatch(records)).inserted == 0)
        #expect(try store.append(RecordBatch(records.shuffled())).inserted == 0)
        try store.flush()
        #expect(try store.append(RecordBatch(records[..<5_000])).inserted == 0)
        #expect(store.snapshot().rowCount == records.count)
    }
}

/// What a read-write open leaves resident: the pages of a part read for its footer and its window's ids are let go
/// (`MappedFile.releasePages`), and reading them again gives the same bytes.
@Suite struct ReleasedPagesTests {
    /// The resident kB of the mapping that starts at `address` (/proc/self/smaps).
    static func residentKB(_ address: UnsafeRawPointer) throws -> Int? {
        let start = String(UInt(bitPattern: address), radix: 16)
        // Read in a loop: a /proc file has no size to read up to.
        let handle = try #require(FileHandle(forReadingAtPath: "/proc/self/smaps"))
        defer { try? handle.close() }
        let text = String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        var inside = false
        for line in text.split(separator: "\n") {
            if let dash = line.firstIndex(of: "-"), line[..<dash].allSatisfy(\.isHexDigit) {
                inside = line[..<dash].drop { $0 == "0" } == start.drop { $0 == "0" }
            } else if inside, line.hasPrefix("Rss:") {
                return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
            }
        }
        return nil
    }

    @Test func releasedPagesReadTheSameBytesAndLeaveTheProcess() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.path + "/file"
        var bytes = [UInt8](repeating: 0, count: 1 << 20)
        var rng = TestRNG(seed: 4)
        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
        try FileIO.writeAtomically(bytes, to: path, directory: dir.path)
        let file = try MappedFile(path: path)
        #expect(Array(file.bytes) == bytes)
        let before = try #require(try Self.residentKB(file.bytes.baseAddress!))
        #expect(before >= 1000)
        file.releasePages()
        #expect(try Self.residentKB(file.bytes.baseAddress!) == 0)
        #expect(Array(file.bytes) == bytes)
    }
}
