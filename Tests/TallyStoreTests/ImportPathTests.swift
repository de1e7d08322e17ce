import Testing
import TallyTestSupport
@testable import TallyStore

/// The pieces `tally import` is fast with: strings kept across chunks and translated once, the
/// interner's inline slots, and batch inserts into the dedup sets.
@Suite struct ImportPathTests {
    @Test func internerFindsStringsOfEveryLength() {
        // Lengths around the 8- and 16-byte inline boundaries; strings differing only in their last
        // byte, only after byte 16, or only in length (trailing zero bytes included).
        var strings: [[UInt8]] = [[], [0], [0, 0]]
        for n in 1...40 {
            let base = (0..<n).map { UInt8(97 + $0 % 26) }
            strings.append(base)
            var last = base
            last[n - 1] ^= 1
            strings.append(last)
            strings.append(base + [0])
        }
        var unique: [[UInt8]] = []
        for s in strings where !unique.contains(s) { unique.append(s) }
        var interner = StringInterner()
        var codes: [UInt32] = []
        for s in unique {
            let c = s.withUnsafeBytes { b in interner.intern(b) { String(decoding: $0, as: UTF8.self) } }
            codes.append(try! #require(c))
        }
        #expect(Set(codes).count == unique.count && interner.count == unique.count)
        for (s, c) in zip(unique, codes) {
            #expect(s.withUnsafeBytes { interner.lookup($0) } == c)
            interner.withEntry(Int(c)) { _, bytes in #expect(Array(bytes) == s) }
        }
        #expect([UInt8](repeating: 98, count: 17).withUnsafeBytes { interner.lookup($0) } == nil)
        // Re-interning into another interner keeps the bytes and finds them again.
        var other = StringInterner()
        for c in codes { _ = other.intern(code: Int(c), of: interner) }
        for s in unique { #expect(s.withUnsafeBytes { other.lookup($0) } != nil) }
        // A large table (many grows) still finds everything.
        var big = StringInterner()
        for k in 0..<50_000 { #expect(big.intern("user-\(k)-of-a-rather-long-name") == UInt32(k)) }
        for k in stride(from: 0, to: 50_000, by: 7) { #expect(big.intern("user-\(k)-of-a-rather-long-name") == UInt32(k)) }
    }

    @Test func batchInsertIntoTheIDSetEqualsOneByOne() {
        var rng = TestRNG(seed: 7)
        var one = RequestIDSet()
        var many = RequestIDSet()
        var pool: [(UInt64, UInt64)] = []
        for round in 0..<20 {
            let m = [0, 1, 5, 300, 2000][round % 5]
            var keys: [(UInt64, UInt64)] = []
            var times: [Int64] = []
            for _ in 0..<m {
                // About a quarter are ids seen before (earlier rounds or this one).
                if !pool.isEmpty && rng.next() % 4 == 0 {
                    keys.append(pool[Int(rng.next() % UInt64(pool.count))])
                } else {
                    let k = (rng.next() | 1, rng.next())
                    keys.append(k)
                    pool.append(k)
                }
                times.append(Int64(rng.next() % 1_000_000))
            }
            let expected = zip(keys, times).map { one.insert($0, createdAt: $1, epoch: 3) }
            var got = [Bool](repeating: false, count: m)
            keys.withUnsafeBufferPointer { k in
                times.withUnsafeBufferPointer { t in
                    got.withUnsafeMutableBufferPointer { g in _ = many.insert(k, createdAt: t, epoch: 3, inserted: g) }
                }
            }
            #expect(got == expected, "round \(round)")
            #expect(many.count == one.count && many.newest == one.newest)
        }
        for k in pool { #expect(many.contains(k)) }
        #expect(!many.contains((2, 2)))
        // Eviction sees the same times.
        one.evict(before: 500_000, sealed: 3)
        many.evict(before: 500_000, sealed: 3)
        #expect(many.count == one.count)
        for k in pool { #expect(many.contains(k) == one.contains(k)) }
    }

    @Test func keptStringsAreTranslatedOnceAndStayCorrect() {
        let header = "tenant_id,request_id,user_id,model,cost_cents,created_at\n"
        var text = header
        for i in 0..<400 {
            text += "t\(i % 3),r\(i),user-\(i % 50)-with-a-long-name,m\(i % 4),1.5,2025-06-01T00:00:\(i % 60 < 10 ? "0" : "")\(i % 60).000Z\n"
        }
        let bytes = Array(text.utf8)
        var parser = StreamingRecordParser(format: .csv, keepingStrings: true)
        let table = StringTable()
        var batches: [RecordBatch] = []
        bytes.withUnsafeBytes { all in
            var i = 0
            while i < all.count {
                let n = min(all.count - i, 997)
                var o = parser.feed(UnsafeRawBufferPointer(rebasing: all[i..<(i + n)]))
                #expect(o.errors.isEmpty)
                o.batch.translate(into: table)
                batches.append(o.batch)
                i += n
            }
        }
        var last = parser.finish()
        last.batch.translate(into: table)
        batches.append(last.batch)
        #expect(batches.reduce(0) { $0 + $1.count } == 400)
        let values = table.values
        let lineage = batches[0].stringsLineage
        #expect(lineage != 0)
        for b in batches {
            #expect(b.stringsLineage == lineage)
            let codes = try! #require(b.tableCodes).codes
            #expect(codes.count == b.strings.count)
            // Every code of the batch names the same string in the table.
            for c in 0..<b.strings.count { #expect(values[Int(codes[c])] == b.strings.values[c]) }
        }
        // A later batch's strings extend an earlier one's.
        for (a, b) in zip(batches, batches.dropFirst()) {
            #expect(Array(b.strings.values.prefix(a.strings.count)) == a.strings.values)
        }
        // Appending a record by value leaves the lineage.
        var forked = batches[1]
        forked.append(CostRecord(tenantID: "x", requestID: "y", model: "z", inputTokens: 0, outputTokens: 0, costNanos: 0, createdAtMillis: 0), line: 1)
        #expect(forked.stringsLineage == 0)
    }

    @Test func aLoadKeepsTheFirstOfEqualIDsPerTenant() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        func record(_ tenant: String, _ id: String, _ t: Int64) -> CostRecord {
            CostRecord(tenantID: tenant, requestID: id, model: "m", inputTokens: 1, outputTokens: 1, costNanos: 1, createdAtMillis: t)
        }
        let base: Int64 = 1_750_000_000_000
        let receipts = try store.bulkLoad { load -> [AppendReceipt] in
            [
                try load.add(RecordBatch([record("a", "1", base), record("b", "1", base + 1), record("a", "1", base + 2),
                                          record("a", "2", base + 3), record("b", "1", base + 4)])),
                try load.add(RecordBatch([record("b", "2", base + 5), record("a", "2", base + 6), record("c", "1", base + 7)])),
            ]
        }
        #expect(receipts[0].inserted == 3 && receipts[0].duplicates == [2, 4])
        #expect(receipts[1].inserted == 2 && receipts[1].duplicates == [1])
        let rows = try store.snapshot().records()
        #expect(Set(rows.map { "\($0.tenantID)/\($0.requestID)/\($0.createdAtMillis - base)" })
            == ["a/1/0", "b/1/1", "a/2/3", "b/2/5", "c/1/7"])
    }
}

/// SplitMix64: deterministic test randomness for the store tests.
struct TestRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in `0..<bound`.
    mutating func next(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
