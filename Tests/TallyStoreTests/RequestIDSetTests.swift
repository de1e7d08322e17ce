import Foundation
import Testing
import TallyTestSupport
@testable import TallyStore

/// The dedup window's id sets: 16-byte slots kept half to three quarters full, and an eviction that only ever
/// keeps more than it must (the store's idempotency tests cover what that guarantees end to end).
@Suite struct RequestIDSetTests {
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

    @Test("a reopened store holds its window's ids at most 32 bytes each and still stores nothing twice")
    func storeWindowFootprint() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = RandomRecords(seed: 5, options: .init(tenants: 3)).records(30_000)
        do {
            let store = try Store(path: dir.path, options: DamageFixture.options())
            _ = try store.append(RecordBatch(records[..<20_000]))
            try store.flush()
            _ = try store.append(RecordBatch(records[20_000...]))
            try store.close()
        }
        let store = try Store(path: dir.path, options: DamageFixture.options())
        defer { try? store.close() }
        let footprint = store.dedupFootprint
        #expect(footprint.ids == records.count, "every record is inside the two days of the window")
        #expect(Double(footprint.bytes) / Double(footprint.ids) <= 32.5, "\(footprint)")
        #expect(try store.append(RecordBatch(records)).inserted == 0)
        #expect(try store.append(RecordBatch(records.shuffled())).inserted == 0)
        try store.flush()
        #expect(try store.append(RecordBatch(records[..<5_000])).inserted == 0)
        #expect(store.snapshot().rowCount == records.count)
    }
}
