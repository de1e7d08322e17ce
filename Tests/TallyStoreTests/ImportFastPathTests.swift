import Testing
import TallyTestSupport
@testable import TallyStore

/// The import's fast paths: word-at-a-time CSV field scanning, interner slots prefetched from the CSV
/// reader (hash passed along), and a bulk load that keeps its ids in memory on commit.
@Suite struct ImportFastPathTests {
    /// Values of every length from 1 to 24 bytes (so a field ends at every offset of an 8-byte word),
    /// in the prefetched user and workflow columns and in others, parse into exactly those strings.
    @Test func csvFieldsOfEveryLengthKeepTheirBytes() {
        var text = "tenant_id,user_id,request_id,workflow_id,model,cost_cents,created_at\n"
        var expected: [(user: String, workflow: String, request: String)] = []
        for n in 1...24 {
            let user = String(repeating: "u", count: n - 1) + String(n % 10)
            let workflow = "w" + String(repeating: "x", count: n)
            let request = String(repeating: "r", count: 25 - n)
            expected.append((user, workflow, request))
            text += "acme,\(user),\(request),\(workflow),m,1,2025-06-01T00:00:00Z\n"
        }
        // A quoted value with a doubled quote (unescaped into scratch) in the user column.
        text += "acme,\"q\"\"uoted-user\",rq,\"wf,1\",m,1,2025-06-01T00:00:00Z"
        expected.append(("q\"uoted-user", "wf,1", "rq"))
        let out = IngestFixture.parse(text, .csv)
        #expect(out.errors.isEmpty)
        let records = out.batch.records
        #expect(records.count == expected.count)
        for (r, e) in zip(records, expected) {
            #expect(r.userID == e.user)
            #expect(r.workflowID == e.workflow)
            #expect(r.requestID == e.request)
        }
        #expect(out.batch.lines == Array(2...26))
    }

    /// A stray quote at any offset of a long unquoted field is found (the word scan stops at it).
    @Test func csvStrayQuoteAtEveryOffsetIsMalformed() {
        let header = "tenant_id,request_id,model,cost_cents,created_at\n"
        for k in 0..<20 {
            let id = String(repeating: "a", count: k) + "\"" + String(repeating: "b", count: 19 - k)
            let text = header + "acme,r0,m,1,2025-06-01T00:00:00Z\nacme,\(id),m,1,2025-06-01T00:00:00Z\nacme,\"r2\",m,1,2025-06-01T00:00:00Z\n"
            let out = IngestFixture.parse(text, .csv)
            #expect(out.batch.lines == [2], "offset \(k)")
            #expect(out.errors.first?.line == 3, "offset \(k)")
        }
    }

    /// Interning with a hash computed ahead (after a prefetch) gives the same codes as without.
    @Test func internWithPrecomputedHashMatches() {
        var a = StringInterner()
        var b = StringInterner()
        for i in 0..<5000 {
            let s = "user-\(i % 1234)-" + String(repeating: "z", count: i % 20)
            var t = s
            let ca = a.intern(s)
            let cb = t.withUTF8 { buf -> UInt32? in
                let raw = UnsafeRawBufferPointer(buf)
                let h = stringHash(raw)
                b.prefetch(hash: h)
                return b.intern(raw, hash: h) { String(decoding: $0, as: UTF8.self) }
            }
            #expect(ca == cb)
        }
        #expect(a.values == b.values)
    }

    /// The interners' hash: equal bytes hash equal wherever they sit; 300,000 distinct short ids of 0-40 bytes (the
    /// lengths where the word reads overlap) have no 64-bit collision and spread evenly over 2^16 buckets.
    @Test func stringHashSpreadsShortIDs() {
        var seen = Set<UInt64>()
        var distinct = Set<[UInt8]>()
        var buckets = [Int](repeating: 0, count: 1 << 16)
        var rng = TestRNG(seed: 11)
        let alphabet = Array("abcdef0123456789_-".utf8)
        var strings = 0
        for i in 0..<300_000 {
            let n = i % 41
            var bytes = (0..<n).map { _ in alphabet[rng.next(alphabet.count)] }
            if n > 0 { bytes[0] = UInt8(truncatingIfNeeded: i); bytes[n - 1] = UInt8(truncatingIfNeeded: i >> 8) }
            if n > 2 { bytes[n / 2] = UInt8(truncatingIfNeeded: i >> 16) }
            // The same bytes one byte further into a buffer hash the same.
            let h = bytes.withUnsafeBytes { stringHash($0) }
            let shifted = ([0] + bytes).withUnsafeBytes { stringHash(UnsafeRawBufferPointer(rebasing: $0[1...])) }
            #expect(h == shifted)
            if distinct.insert(bytes).inserted {
                #expect(seen.insert(h).inserted, "a collision")
                buckets[Int(h & 0xFFFF)] += 1
                strings += 1
            }
        }
        // The generator repeats some of the shortest strings; each distinct one counts once.
        #expect(strings > 280_000)
        #expect(buckets.max()! < 30, "an even spread puts ~4.5 in a bucket")
    }

    /// A load that keeps its ids on commit (`tally import`) still finds every duplicate afterwards,
    /// in a second load and in appends, before and after reopening.
    @Test func aLoadKeepingItsIDsStillDeduplicates() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let end = RandomRecords.Options.defaultEnd
        let records = RandomRecords(seed: 43, options: .init(tenants: 4, window: (end - 40 * 86_400_000)..<end, lateFraction: 0.05)).records(3000)
        var store = try Store(path: dir.path, options: testOptions())
        _ = try store.append(RecordBatch(records[0..<500]))
        try store.flush()
        let first = try store.bulkLoad { load -> Int in
            load.evictsIDsOnCommit = false
            load.maxBufferedRows = 600
            var n = 0
            for start in stride(from: 0, to: 2000, by: 700) {
                n += try load.add(RecordBatch(records[start..<min(start + 700, 2000)])).inserted
            }
            return n
        }
        #expect(first == 1500)
        let second = try store.bulkLoad { load -> AppendReceipt in
            load.evictsIDsOnCommit = false
            return try load.add(RecordBatch(records[1500..<3000]))
        }
        #expect(second.inserted == 1000)
        #expect(second.duplicates.count == 500)
        #expect(try store.append(RecordBatch(records)).inserted == 0)
        try store.close()
        store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        #expect(try store.append(RecordBatch(records)).inserted == 0)
        #expect(try store.snapshot().records().count == 3000)
        #expect(store.verify().isEmpty)
    }
}
