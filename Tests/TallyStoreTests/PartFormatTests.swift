import Testing
import TallyTestSupport
@testable import TallyStore
import TallySynthetic

#if canImport(Glibc)
import Glibc
#endif

/// Part format v2 and v3 (block headers and trailer under checksums, request-id filter; v3 priced costs) and how v1 parts,
/// written before it, are still read.
@Suite struct PartFormatTests {
    /// The fields of a block header, by byte range (docs/FORMAT.md, "Column block").
    static let headerFields: [(name: String, bytes: Range<Int>)] = [
        ("codec", 0..<1), ("encoding", 1..<2), ("reserved", 2..<4), ("rows", 4..<8),
        ("raw length", 8..<12), ("stored length", 12..<16), ("crc", 16..<20), ("reserved", 20..<24),
    ]

    static func records(_ n: Int, seed: UInt64 = 41) -> [CostRecord] {
        RandomRecords(seed: seed, options: .init(tenants: 1)).records(n)
    }

    /// Rows that arrive in time order are taken as they are (no sort, no gather): the part is byte for byte the
    /// one written from the same rows in another order, and reads back in time order.
    @Test func rowsInTimeOrderWriteTheSamePart() throws {
        var records = Self.records(3000)
        for i in records.indices { records[i].createdAtMillis = 1_750_000_000_000 + Int64(i) * 997 }
        var rng = TestRNG(seed: 7)
        var shuffled = records
        for i in stride(from: shuffled.count - 1, to: 0, by: -1) { shuffled.swapAt(i, rng.next(i + 1)) }
        let (inOrder, _) = PartWriter.encode(PartRowsFixture.rows(records), id: 1, level: 0, granuleRows: 512)
        let (reordered, _) = PartWriter.encode(PartRowsFixture.rows(shuffled), id: 1, level: 0, granuleRows: 512)
        #expect(inOrder == reordered)
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.appending("p.part")
        try Self.overwrite(path, inOrder)
        let back = try PartReader(path: path).readAll()
        #expect((0..<back.count).map { back.record($0) } == records)
    }

    /// Every block header byte (every bit of codec and encoding, bits 0, 3 and 7 of the others), flipped
    /// alone in the first granule of every column, makes reading the part raise `StoreError.corrupt`, in
    /// every version; nothing is decoded into values.
    @Test(arguments: [UInt16(1), 2, 3, 4])
    func everyBlockHeaderByteIsChecked(version: UInt16) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (clean, meta) = PartWriter.encode(PartRowsFixture.rows(Self.records(1500)), id: 1, level: 0, granuleRows: 512, version: version)
        let path = dir.appending("p.part")
        var undetected: [String] = []
        for column in PartColumn.allCases {
            let ref = meta.granules[0].blocks[column.rawValue]
            for (name, range) in Self.headerFields {
                for byte in range {
                    for bit in byte < 2 ? Array(0..<8) : [0, 3, 7] {
                        var bytes = clean
                        bytes[ref.offset + byte] ^= 1 << UInt8(bit)
                        try Self.overwrite(path, bytes)
                        let reader = try PartReader(path: path)  // the footer is intact
                        do {
                            _ = try reader.readAll()
                            undetected.append("\(column.name) \(name) byte \(byte) bit \(bit)")
                        } catch StoreError.corrupt(_, let offset, _) {
                            #expect(offset >= ref.offset && offset < ref.offset + ref.length)
                        }
                        #expect(throws: StoreError.self) { try reader.verify() }
                    }
                }
            }
        }
        #expect(undetected.isEmpty, "read without error: \(undetected.prefix(10))")
    }

    /// The audit's case: the encoding byte of a `cost_cents` block changed in a stored part. The raw
    /// scan raises `corrupt` instead of summing wrong costs (the query layer reads through the same
    /// `PartReader` calls: TallyQueryTests.damagedBlockHeaderIsNeverAnswered).
    @Test(arguments: [UInt16(1), 2, 3, 4])
    func aDamagedCostEncodingIsNotScannedAsCosts(version: UInt16) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = Self.withCostOutliers(Self.records(2000, seed: 43))
        var store = try Store(path: dir.path, options: testOptions())
        _ = try store.append(RecordBatch(records))
        try store.close()
        if version != PartFormat.version { try Self.rewriteParts(dir.path, version: version) }
        store = try Store(path: dir.path, options: testOptions())
        let part = try #require(store.snapshot().parts.first)
        #expect(part.version == version)
        let partPath = part.path
        try store.close()
        var bytes = try FileIO.readAll(partPath)
        // A patched cost block (v3: a priced one, its residuals patched) relabelled plain frame of reference: both
        // are valid encodings of a cost block, and the payload CRC (all v1 covered) still matches. Before v2 this
        // summed the rows without their patched exceptions.
        let damaged = version >= 3 ? BlockEncoding.priced : .patched
        let ref = try #require(part.meta.granules.map { $0.blocks[PartColumn.cost.rawValue] }.first { bytes[$0.offset + 1] == damaged.rawValue })
        bytes[ref.offset + 1] = BlockEncoding.frameOfReference.rawValue
        try FileIO.writeAtomically(bytes, to: partPath, directory: dir.path + "/parts")
        store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        do {
            let rows = try store.snapshot().records()
            #expect(rows.map(\.costNanos).reduce(0, +) == records.map(\.costNanos).reduce(0, +), "a scan summed wrong costs")
            Issue.record("a damaged block header was read")
        } catch StoreError.corrupt(let path, let offset, let reason) {
            #expect(path == partPath && offset >= ref.offset && reason.contains("cost_cents"))
        }
    }

    /// A v3 part under `smallPartRows` rows keeps no part rollup of a dimension with fewer than 32 rows per value
    /// (its users here); a larger part keeps every one; a v2 part keeps every one whatever its size.
    @Test func smallPartsLeaveOutThinRollups() throws {
        let records = RandomRecords(seed: 71, options: .init(tenants: 1, usersPerTenant: 4000, models: 3)).records(PartFormat.smallPartRows + 10)
        let user = Dimension.user.rawValue, model = Dimension.model.rawValue
        let (_, small) = PartWriter.encode(PartRowsFixture.rows(Array(records.prefix(40_000))), id: 1, level: 0)
        #expect(small.dictionaries[user].count * PartFormat.rollupRowsPerValue > small.rows)
        #expect(small.partRollupCount(user) == 0 && small.partRollupCount(model) == 3)
        let (_, large) = PartWriter.encode(PartRowsFixture.rows(records), id: 1, level: 0)
        #expect(large.partRollupCount(user) == large.dictionaries[user].count)
        let (_, v2) = PartWriter.encode(PartRowsFixture.rows(Array(records.prefix(40_000))), id: 1, level: 0, version: 2)
        #expect(v2.partRollupCount(user) == v2.dictionaries[user].count)
    }

    /// A v1 part (the layout before block headers were checksummed) reads back exactly what a v2 part and a v3 part
    /// (costs priced from the tokens) of the same rows do, passes `verify`, and has no filter.
    @Test func versionOnePartsStillRead() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let rows = PartRowsFixture.rows(Self.records(PartFormat.filterMinRows, seed: 47))
        var read: [PartRows] = []
        for version: UInt16 in [1, 2, 3, 4] {
            let (bytes, _) = PartWriter.encode(rows, id: 1, level: 0, granuleRows: 700, version: version)
            #expect(bytes[8] == UInt8(version) && bytes[bytes.count - 8] == UInt8(version))
            let path = dir.appending("v\(version).part")
            try FileIO.writeAtomically(bytes, to: path, directory: dir.path)
            let reader = try PartReader(path: path)
            #expect(reader.version == version && (reader.meta.filter == nil) == (version == 1))
            #expect(try reader.meta.granules.indices.allSatisfy { try reader.costIsPriced($0) } == (version >= 3))
            try reader.verify()
            read.append(try reader.readAll())
        }
        for other in read.dropFirst() {
            #expect(read[0].createdAt == other.createdAt && read[0].cost == other.cost && read[0].dims == other.dims)
            #expect(read[0].inputTokens == other.inputTokens && read[0].outputTokens == other.outputTokens)
            #expect(read[0].requestBytes == other.requestBytes && read[0].requestOffsets == other.requestOffsets)
        }
    }

    /// Version 4 packs each hour entry (rows, "the next hour" and "a mask follows" in one varint): a v3 footer and a v4
    /// footer of the same rows decode to the same hours and rollups, and the v4 one is smaller. A packed first hour that
    /// says it is "the next one", or an entry that says a mask follows and holds 0, is refused.
    @Test func packedHourEntriesDecodeAsUnpackedOnes() throws {
        // Hours with gaps and hours one after the other, hours that keep rollups and hours that keep none.
        var records = Self.records(3500, seed: 71)
        var t: Int64 = 1_746_057_600_000  // 2025-05-01
        for i in records.indices {
            // 2,000 records in 20 full hours, then 3 an hour, every 7th hour after a 2-hour gap.
            if i < 2000 ? i % 100 == 0 : (i - 2000) % 3 == 0 { t += ((i - 2000) % 21 == 0 && i > 2000 ? 3 : 1) * TimeUnit.hourMillis }
            records[i].createdAtMillis = t + Int64(i % 100) * 1000
        }
        let m = PartWriter.encode(PartRowsFixture.rows(records), id: 1, level: 0).meta
        #expect(try !m.hourRollups.entries.codes.isEmpty)
        #expect(zip(m.hours.dropFirst(), m.hours).contains { $0.start - $1.start > TimeUnit.hourMillis })
        #expect(zip(m.hours.dropFirst(), m.hours).contains { $0.start - $1.start == TimeUnit.hourMillis })
        let f3 = try PartFooterCodec.encode(m, version: 3), f4 = try PartFooterCodec.encode(m, version: 4)
        #expect(f4.count < f3.count)
        let d3 = try f3.withUnsafeBytes { try PartFooterCodec.decode($0, version: 3) }
        let d4 = try f4.withUnsafeBytes { try PartFooterCodec.decode($0, version: 4) }
        func fields(_ m: PartMeta) -> [[Int64]] { m.hours.map { [$0.start, Int64($0.rowStart), Int64($0.rows), $0.inputTokens, $0.outputTokens, $0.cost] } }
        #expect(fields(d4) == fields(d3) && fields(d4) == fields(m))
        #expect(try d4.hourRollups == d3.hourRollups && d4.hourRollups == m.hourRollups)
        #expect(try d4.partRollups() == d3.partRollups())
        // Read the other way round, neither decodes.
        #expect(throws: (any Error).self) { try f4.withUnsafeBytes { try PartFooterCodec.decode($0, version: 3) } }
        #expect(throws: (any Error).self) { try f3.withUnsafeBytes { try PartFooterCodec.decode($0, version: 4) } }

        func readOne(_ build: (inout ByteWriter) -> Void) throws {
            var w = ByteWriter(capacity: 32)
            build(&w)
            var rollups = HourRollups()
            try w.bytes.withUnsafeBytes { b in
                var r = ByteReader(b)
                _ = try PartFooterCodec.readHours(&r, count: 1, rows: 3, dictionarySizes: Array(repeating: 4, count: 7), packed: true,
                                                  rollups: &rollups)
            }
        }
        func sums(_ w: inout ByteWriter) { w.varint(30); w.varint(20); w.varint(10) }
        try readOne { w in w.varint(3 << 2); w.svarint(490_000); sums(&w) }
        #expect(throws: ByteReader.Overrun.self) { try readOne { w in w.varint(3 << 2 | 2); sums(&w) } }
        #expect(throws: ByteReader.Overrun.self) { try readOne { w in w.varint(3 << 2 | 1); w.svarint(490_000); sums(&w); w.u8(0) } }
        #expect(throws: ByteReader.Overrun.self) { try readOne { w in w.varint(4 << 2); w.svarint(490_000); sums(&w) } }
    }

    /// Every trailer byte and the header's version and padding (bits 0, 3 and 7 of each) are checked: a flip is refused at open
    /// (the v2 footer CRC covers the trailer) or, for the file checksum, by `verify`.
    @Test(arguments: [UInt16(1), 2, 3, 4])
    func everyTrailerAndHeaderByteIsChecked(version: UInt16) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (clean, _) = PartWriter.encode(PartRowsFixture.rows(Self.records(500, seed: 53)), id: 1, level: 0, version: version)
        let path = dir.appending("p.part")
        let positions = Array(8..<PartFormat.headerSize) + Array((clean.count - PartFormat.trailerSize)..<clean.count)
        for position in positions {
            for bit in [0, 3, 7] {
                var bytes = clean
                bytes[position] ^= 1 << UInt8(bit)
                try Self.overwrite(path, bytes)
                let found = (try? PartReader(path: path)).map { (try? $0.verify()) == nil } ?? true
                #expect(found, "flip of bit \(bit) at \(position) (\(position - clean.count) from the end) not detected")
            }
        }
    }

    /// A damaged filter is never trusted: its CRC is checked before the first probe, and `verify` reports it.
    @Test func aDamagedFilterIsRefused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let n = PartFormat.filterMinRows
        let (clean, meta) = PartWriter.encode(PartRowsFixture.rows(Self.records(n, seed: 67)), id: 1, level: 0)
        let filter = try #require(meta.filter)
        #expect(filter.length == RequestIDFilter.blocks(count: n) * RequestIDFilter.blockSize)
        // One row fewer: no filter at all (an empty one is not written either).
        #expect(PartWriter.encode(PartRowsFixture.rows(Self.records(n - 1, seed: 67)), id: 1, level: 0).meta.filter == nil)
        let path = dir.appending("p.part")
        for position in stride(from: filter.offset, to: filter.offset + filter.length, by: 149) {
            var bytes = clean
            bytes[position] ^= 0x04
            try Self.overwrite(path, bytes)
            let reader = try PartReader(path: path)
            #expect(throws: StoreError.self) { try reader.mayContainRequestID((1, 2)) }
            #expect(throws: StoreError.self) { try reader.verify() }
        }
    }

    /// The filter holds every id of the part (no false negative) and answers "no" for nearly all others.
    @Test func requestIDFilterHasNoFalseNegativesAndFewFalsePositives() {
        var rng = Xoshiro256(seed: 5)
        let n = 50_000
        let stored = (0..<n).map { _ in rng.next() }
        let others = (0..<n).map { _ in rng.next() }
        let filter = stored.withUnsafeBufferPointer { RequestIDFilter.build($0) }
        #expect(filter.count == RequestIDFilter.blocks(count: n) * 32)
        filter.withUnsafeBytes { f in
            #expect(stored.allSatisfy { RequestIDFilter.mayContain(f, $0) })
            let falsePositives = others.filter { RequestIDFilter.mayContain(f, $0) }.count
            #expect(Double(falsePositives) / Double(n) < 0.02, "\(falsePositives) false positives of \(n)")
        }
    }

    /// The same with the filter hash of real request ids (UUID text, as the writer hashes them).
    @Test func requestIDFilterOnUUIDTextHasFewFalsePositives() {
        var rng = Xoshiro256(seed: 6)
        func uuid() -> [UInt8] {
            let hex = Array("0123456789abcdef".utf8)
            var text = (0..<36).map { _ in hex[Int(rng.next() % 16)] }
            for i in [8, 13, 18, 23] { text[i] = UInt8(ascii: "-") }
            text[14] = UInt8(ascii: "4")
            return text
        }
        let n = 50_000
        let stored = (0..<n).map { _ in uuid().withUnsafeBytes { RequestIDSet.filterHash($0) } }
        let others = (0..<n).map { _ in uuid().withUnsafeBytes { RequestIDSet.filterHash($0) } }
        let filter = stored.withUnsafeBufferPointer { RequestIDFilter.build($0) }
        filter.withUnsafeBytes { f in
            #expect(stored.allSatisfy { RequestIDFilter.mayContain(f, $0) })
            let falsePositives = others.filter { RequestIDFilter.mayContain(f, $0) }.count
            #expect(Double(falsePositives) / Double(n) < 0.02, "\(falsePositives) false positives of \(n)")
        }
    }

    /// Late records (older than the dedup window, their ids evicted) are refused exactly when they are
    /// duplicates, before and after a reopen, and with v2 parts the check decodes request ids only on a
    /// filter hit. Parts without a filter (v1, and parts of fewer than `PartFormat.filterMinRows` rows: 4,000 records
    /// of two tenants) decode every hour a late record falls in.
    @Test(arguments: [(UInt16(1), 4000), (2, 40_000), (4, 40_000), (4, 4000)])
    func lateDuplicatesAreRefusedExactlyThroughTheFilter(version: UInt16, records: Int) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let end = RandomRecords.Options.defaultEnd
        let options = Self.oneHourWindow()
        let month = RandomRecords(seed: 59, options: .init(tenants: 2, window: (end - 30 * 86_400_000)..<end)).records(records)
        var store = try Store(path: dir.path, options: options)
        #expect(try store.append(RecordBatch(month)).inserted == records)
        try store.close()
        if version != PartFormat.version { try Self.rewriteParts(dir.path, version: version) }
        store = try Store(path: dir.path, options: options)
        #expect(store.snapshot().parts.allSatisfy { $0.version == version })
        let filtered = version >= 2 && records > 2 * PartFormat.filterMinRows
        #expect(store.snapshot().parts.allSatisfy { ($0.meta.filter != nil) == filtered })
        // Late duplicates: every one refused.
        let old = Array(month.filter { $0.createdAtMillis < end - 2 * TimeUnit.hourMillis }.prefix(1500))
        var receipt = try store.append(RecordBatch(old))
        #expect(receipt.inserted == 0 && receipt.duplicates.count == old.count)
        // Late new records in the same hours: every one stored.
        let late = old.enumerated().map { i, r in
            var r = r
            r.requestID = "late-\(i)"
            return r
        }
        let decodedBefore = store.writer.dedup.hoursDecoded
        receipt = try store.append(RecordBatch(late))
        #expect(receipt.inserted == late.count && receipt.duplicates.isEmpty)
        let decoded = store.writer.dedup.hoursDecoded - decodedBefore
        let hours = Set(late.map { "\($0.tenantID) \(TimeUnit.hourStart($0.createdAtMillis))" }).count
        if filtered {
            // Only a filter's false positive (about 1 in 100 new ids) decodes an hour.
            #expect(decoded * 20 < late.count, "\(decoded) hours decoded for \(late.count) late records in \(hours) hours")
        } else {
            #expect(decoded >= hours)
        }
        try store.flush()
        // Sealed and reopened: the late rows are in new parts (v2, with filters), the old ones in v1 or v2 parts.
        try store.close()
        store = try Store(path: dir.path, options: options)
        defer { try? store.close() }
        receipt = try store.append(RecordBatch(late.reversed() + old))
        #expect(receipt.inserted == 0 && receipt.duplicates.count == late.count + old.count)
        #expect(store.snapshot().rowCount == month.count + late.count)
        #expect(store.verify().isEmpty)
    }

    /// A part without a filter whose hours hold more than `Deduplicator.directCheckRows` rows: a late record's hour
    /// is decoded once into a cached set (duplicates refused, new ids stored, exactly); fewer rows are compared directly.
    @Test func lateRecordsInTheDenseHoursOfAPartWithoutAFilter() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let end = RandomRecords.Options.defaultEnd
        let options = Self.oneHourWindow()
        // 3,000 records of one tenant in 10 hours, 20 days before the end (300 an hour), then one at the end.
        let start = end - 20 * 86_400_000
        let records = RandomRecords(seed: 61, options: .init(tenants: 1, window: start..<(start + 10 * TimeUnit.hourMillis))).records(3000)
        var newer = records[0]
        newer.requestID = "newer"
        newer.createdAtMillis = end - 1000
        var store = try Store(path: dir.path, options: options)
        #expect(try store.append(RecordBatch(records + [newer])).inserted == 3001)
        try store.close()
        store = try Store(path: dir.path, options: options)
        defer { try? store.close() }
        #expect(store.snapshot().parts.allSatisfy { $0.meta.filter == nil && $0.rows < PartFormat.filterMinRows })
        let old = Array(records.sorted { $0.createdAtMillis < $1.createdAtMillis }.prefix(900))
        let hours = Set(old.map { TimeUnit.hourStart($0.createdAtMillis) }).count
        #expect(hours >= 2 && old.count / hours > Deduplicator.directCheckRows)
        let before = store.writer.dedup.hoursDecoded
        var receipt = try store.append(RecordBatch(old))
        #expect(receipt.inserted == 0 && receipt.duplicates.count == old.count)
        #expect(store.writer.dedup.hoursDecoded - before == hours)  // each hour once, then from its cached set
        let late = old.enumerated().map { i, r in
            var r = r
            r.requestID = "late-\(i)"
            return r
        }
        receipt = try store.append(RecordBatch(late))
        #expect(receipt.inserted == late.count && receipt.duplicates.isEmpty)
        receipt = try store.append(RecordBatch(late + old))
        #expect(receipt.inserted == 0 && receipt.duplicates.count == late.count + old.count)
        #expect(store.verify().isEmpty)
    }

    /// Test options whose dedup window is one hour: records older than the newest by more are late.
    static func oneHourWindow() -> StoreOptions {
        var options = testOptions()
        options.dedupWindowMillis = TimeUnit.hourMillis
        options.recentIDWindowMillis = TimeUnit.hourMillis
        return options
    }

    /// Replaces a file's bytes without the fsyncs of `writeAtomically` (thousands of variants per test).
    static func overwrite(_ path: String, _ bytes: [UInt8]) throws {
        let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_TRUNC)
        defer { close(fd) }
        try bytes.withUnsafeBytes { try FileIO.writeAll(fd, $0, path: path) }
    }

    /// Every 50th record costs $100: cost blocks get patched encodings (a few wide exceptions).
    static func withCostOutliers(_ records: [CostRecord]) -> [CostRecord] {
        records.enumerated().map { i, r in
            var r = r
            if i % 50 == 0 { r.costNanos = 1_000_000_000_000 }
            return r
        }
    }

    /// Rewrites every part of a closed store in format `version` (same id, rows and level), and the
    /// manifest's sizes: a store as an older build left it.
    static func rewriteParts(_ path: String, version: UInt16) throws {
        let manifestPath = path + "/MANIFEST"
        var manifest = try Manifest.decode(try FileIO.readAll(manifestPath), path: manifestPath)
        for k in manifest.parts.indices {
            let partPath = path + "/parts/" + PartFormat.fileName(manifest.parts[k].id)
            let reader = try PartReader(path: partPath)
            let rows = try reader.readAll()
            let granuleRows = reader.meta.granules[0].rows
            let (bytes, _) = PartWriter.encode(rows, id: reader.id, level: reader.level, granuleRows: granuleRows, version: version)
            try FileIO.writeAtomically(bytes, to: partPath, directory: path + "/parts")
            manifest.parts[k].bytes = bytes.count
        }
        manifest.generation += 1
        try FileIO.writeAtomically(manifest.encode(), to: manifestPath, directory: path)
    }
}
