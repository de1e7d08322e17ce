import TallySynthetic
import TallyText
import Testing
import TallyTestSupport
@testable import TallyStore
#if canImport(Glibc)
import Glibc
#endif

/// Builds `PartRows` from records (one tenant).
enum PartRowsFixture {
    static func rows(_ records: [CostRecord]) -> PartRows {
        var rows = PartRows(tenant: records[0].tenantID)
        var dicts = [StringInterner](repeating: StringInterner(), count: Dimension.allCases.count)
        for r in records {
            rows.createdAt.append(r.createdAtMillis)
            rows.inputTokens.append(r.inputTokens)
            rows.outputTokens.append(r.outputTokens)
            rows.cost.append(r.costNanos)
            for d in Dimension.allCases { rows.dims[d.rawValue].append(dicts[d.rawValue].intern(r[d])) }
            rows.requestBytes.append(contentsOf: Array(r.requestID.utf8))
            rows.requestOffsets.append(rows.requestBytes.count)
        }
        rows.dictionaries = dicts.map(\.values)
        return rows
    }
}

func sorted(_ records: [CostRecord]) -> [CostRecord] {
    records.sorted { ($0.tenantID, $0.requestID, $0.createdAtMillis) < ($1.tenantID, $1.requestID, $1.createdAtMillis) }
}

@Suite struct StoreTests {
    @Test func roundTripsEveryFieldThroughHeadPartsAndReopen() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let gen = RandomRecords(seed: 7, options: .init(tenants: 4, lateFraction: 0.1, edgeFraction: 0.3))
        let records = gen.records(2000)
        let store = try Store(path: dir.path, options: testOptions())
        let receipt = try store.append(RecordBatch(records))
        #expect(receipt.inserted == records.count && receipt.duplicates.isEmpty)
        #expect(sorted(try store.snapshot().records()) == sorted(records))
        try store.flush()
        let snap = store.snapshot()
        #expect(snap.heads.isEmpty && !snap.parts.isEmpty)
        #expect(sorted(try snap.records()) == sorted(records))
        try store.close()
        let reopened = try Store(path: dir.path, options: testOptions())
        defer { try? reopened.close() }
        #expect(sorted(try reopened.snapshot().records()) == sorted(records))
        #expect(reopened.verify().isEmpty)
    }

    @Test func partsHoldWholeHoursWithCorrectTotals() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = RandomRecords(seed: 3, options: .init(tenants: 2, lateFraction: 0.2)).records(3000)
        let store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        _ = try store.append(RecordBatch(records))
        try store.flush()
        for part in store.snapshot().parts {
            var covered = 0
            let hourRollups = try part.meta.hourRollups
            for (i, h) in part.meta.hours.enumerated() {
                let inHour = records.filter { $0.tenantID == part.tenant && TimeUnit.hourStart($0.createdAtMillis) == h.start }
                #expect(h.rows == inHour.count)
                #expect(h.cost == inHour.reduce(0) { $0 + $1.costNanos })
                #expect(h.inputTokens == inHour.reduce(0) { $0 + $1.inputTokens })
                covered += h.rows
                for d in Dimension.allCases {
                    guard let r = hourRollups.rollup(hour: i, dimension: d.rawValue) else { continue }
                    #expect(r.counts.reduce(0, +) == Int64(h.rows))
                    #expect(r.cost.reduce(0, +) == h.cost)
                }
            }
            #expect(covered == part.rows)
            for d in Dimension.allCases {
                let r = try part.meta.partRollup(d.rawValue)
                let mine = records.filter { $0.tenantID == part.tenant }
                #expect(r.counts.reduce(0, +) == Int64(part.rows))
                #expect(r.cost.reduce(0, +) == mine.reduce(0) { $0 + $1.costNanos })
                #expect(zip(r.codes, r.codes.dropFirst()).allSatisfy { $0 < $1 })
                for (k, code) in r.codes.enumerated() {
                    let value = part.meta.dictionaries[d.rawValue][Int(code)]
                    #expect(r.counts[k] == Int64(mine.filter { $0[d] == value }.count))
                }
            }
            #expect(zip(part.meta.hours, part.meta.hours.dropFirst()).allSatisfy { $0.start < $1.start })
        }
    }

    @Test func duplicatesAndRetriedBatchesAreStoredOnce() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = RandomRecords(seed: 11).records(500)
        var store = try Store(path: dir.path, options: testOptions())
        #expect(try store.append(RecordBatch(records)).inserted == 500)
        let retry = try store.append(RecordBatch(records))
        #expect(retry.inserted == 0 && retry.duplicates == Array(0..<500))
        // Duplicates inside one batch: the first occurrence wins.
        var inBatch = Array(records[0..<10])
        var fresh = records[0]
        fresh.requestID = "fresh-1"
        inBatch.append(fresh)
        inBatch.append(fresh)
        let mixed = try store.append(RecordBatch(inBatch))
        #expect(mixed.inserted == 1 && mixed.duplicates == Array(0..<10) + [11])
        // Still duplicates after a WAL replay...
        store.abandon()
        store = try Store(path: dir.path, options: testOptions())
        #expect(try store.append(RecordBatch(records)).inserted == 0)
        // ...and after sealing and reopening (rebuilt from the parts).
        try store.close()
        store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        #expect(try store.append(RecordBatch(records + [fresh])).inserted == 0)
        #expect(store.snapshot().rowCount == 501)
    }

    @Test func recordsOlderThanTheDedupWindowAreStillStoredOnce() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let end = RandomRecords.Options.defaultEnd
        let month = RandomRecords(seed: 31, options: .init(tenants: 2, window: (end - 30 * 86_400_000)..<end)).records(3000)
        var store = try Store(path: dir.path, options: testOptions())
        #expect(try store.append(RecordBatch(month)).inserted == 3000)
        // Still in the head: every id is in memory.
        #expect(try store.append(RecordBatch(month)).inserted == 0)
        // Sealed: ids older than the recent-id window (a day) were evicted and are found in the parts.
        try store.flush()
        #expect(try store.append(RecordBatch(month.reversed())).inserted == 0)
        // Reopened: only the window is loaded; the rest is looked up hour by hour.
        try store.close()
        store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        #expect(try store.append(RecordBatch(month)).inserted == 0)
        // A late record for an old hour is stored once, also after the next seal.
        var late = month[0]
        late.requestID = "late-1"
        #expect(try store.append(RecordBatch([late])).inserted == 1)
        try store.flush()
        #expect(try store.append(RecordBatch([late])).inserted == 0)
        #expect(store.snapshot().rowCount == 3001)
    }

    @Test func lateRecordsLandInTheirHourAndCompactionMergesThem() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        let gen = RandomRecords(seed: 5, options: .init(tenants: 2))
        let all = gen.records(1200)
        let byTime = all.sorted { $0.createdAtMillis < $1.createdAtMillis }
        // Newest first, so every later batch is late data for hours already sealed.
        for chunk in stride(from: 0, to: byTime.count, by: 300).reversed() {
            _ = try store.append(RecordBatch(byTime[chunk..<min(chunk + 300, byTime.count)]))
            try store.flush()
        }
        let before = store.snapshot()
        #expect(before.parts.count >= 8)
        #expect(try store.compact() > 0)
        let after = store.snapshot()
        #expect(after.parts.count == 2)
        #expect(sorted(try after.records()) == sorted(all))
        for p in after.parts {
            let mine = all.filter { $0.tenantID == p.tenant }
            #expect(p.rows == mine.count)
            #expect(p.meta.hours.reduce(0) { $0 + $1.cost } == mine.reduce(0) { $0 + $1.costNanos })
        }
        // Old snapshots still read their (now deleted) parts.
        #expect(sorted(try before.records()) == sorted(all))
    }

    @Test func partsAreSplitByMonth() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        let end = try Timestamp.parse("2025-06-01T00:00:00Z").get()
        let records = RandomRecords(seed: 9, options: .init(tenants: 1, window: (end - 86_400_000)..<(end + 86_400_000))).records(100)
        _ = try store.append(RecordBatch(records))
        try store.flush()
        #expect(store.snapshot().parts.count == 2)
    }

    @Test func tornWALTailIsCutAndAcknowledgedRecordsSurvive() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = RandomRecords(seed: 13).records(300)
        var store = try Store(path: dir.path, options: testOptions())
        _ = try store.append(RecordBatch(records[0..<200]))
        _ = try store.append(RecordBatch(records[200..<300]))
        store.abandon()
        // Tear the last frame: drop its final bytes, as a crash mid-write would.
        let seg = WriteAheadLog.segments(in: dir.path + "/wal").last!
        let walPath = WriteAheadLog.path(dir.path + "/wal", seg)
        let size = FileIO.fileSize(walPath)!
        #expect(truncate(walPath, off_t(size - 3)) == 0)
        store = try Store(path: dir.path, options: testOptions())
        #expect(store.openReport.contains { $0.contains("cut at offset") })
        // The torn batch was the second one: it lost its commit frame, so none of it is replayed.
        #expect(sorted(try store.snapshot().records()) == sorted(Array(records[0..<200])))
        // The log is writable again after the cut.
        _ = try store.append(RecordBatch(records[200..<300]))
        store.abandon()
        store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        #expect(sorted(try store.snapshot().records()) == sorted(records))
    }

    @Test func garbageInTheWALStopsReplayAtTheBadFrame() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = RandomRecords(seed: 17).records(100)
        var store = try Store(path: dir.path, options: testOptions())
        _ = try store.append(RecordBatch(records[0..<50]))
        _ = try store.append(RecordBatch(records[50..<100]))
        store.abandon()
        let walPath = WriteAheadLog.path(dir.path + "/wal", WriteAheadLog.segments(in: dir.path + "/wal").last!)
        var bytes = try FileIO.readAll(walPath)
        bytes[bytes.count - 40] ^= 0xFF
        try FileIO.writeAtomically(bytes, to: walPath, directory: dir.path + "/wal")
        store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        #expect(store.openReport.contains { $0.contains("checksum mismatch") })
        #expect(sorted(try store.snapshot().records()) == sorted(Array(records[0..<50])))
    }

    @Test func aFlippedByteInAPartIsDetectedNamedAndQuarantined() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = RandomRecords(seed: 19, options: .init(tenants: 1)).records(1000)
        var store = try Store(path: dir.path, options: testOptions())
        _ = try store.append(RecordBatch(records))
        try store.close()
        let part = try #require(FileIO.list(dir.path + "/parts").first)
        let partPath = dir.path + "/parts/" + part
        var bytes = try FileIO.readAll(partPath)
        bytes[PartFormat.headerSize + 100] ^= 0x01
        try FileIO.writeAtomically(bytes, to: partPath, directory: dir.path + "/parts")
        // Damage in a block the start-up reads (recent request ids): quarantined at open, and said so.
        store = try Store(path: dir.path, options: testOptions())
        #expect(store.snapshot().parts.isEmpty)
        #expect(store.openReport.contains { $0.contains(partPath) && $0.contains("checksum mismatch") })
        #expect(FileIO.exists(dir.path + "/quarantine/" + part))
        try store.close()
    }

    @Test func aDamagedBlockIsNeverReadAsData() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = RandomRecords(seed: 19, options: .init(tenants: 1)).records(1000)
        var store = try Store(path: dir.path, options: testOptions())
        _ = try store.append(RecordBatch(records))
        try store.flush()
        let part = try #require(store.snapshot().parts.first)
        // Damage the cost block of the first granule, which start-up does not read.
        let ref = part.meta.granules[0].blocks[PartColumn.cost.rawValue]
        let partPath = part.path
        try store.close()
        var bytes = try FileIO.readAll(partPath)
        bytes[ref.offset + BlockHeader.size + 2] ^= 0x01
        try FileIO.writeAtomically(bytes, to: partPath, directory: dir.path + "/parts")
        store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        #expect(store.snapshot().parts.count == 1)
        do {
            _ = try store.snapshot().records()
            Issue.record("a damaged part was read")
        } catch let StoreError.corrupt(path, offset, reason) {
            #expect(path == partPath && offset == ref.offset && reason.contains("cost_cents"))
        }
        // The read quarantined it: the file moved and the manifest no longer lists it.
        #expect(store.snapshot().parts.isEmpty)
        #expect(FileIO.exists(dir.path + "/quarantine/" + PartFormat.fileName(part.id)))
    }

    @Test func verifyFindsDamageAnywhereInAPart() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = RandomRecords(seed: 23, options: .init(tenants: 1)).records(500)
        var store = try Store(path: dir.path, options: testOptions())
        _ = try store.append(RecordBatch(records))
        try store.close()
        let part = try #require(FileIO.list(dir.path + "/parts").first)
        let partPath = dir.path + "/parts/" + part
        let clean = try FileIO.readAll(partPath)
        // Every 97th byte position, flipped alone, is either refused at open or found by verify.
        for position in stride(from: 0, to: clean.count, by: 97) {
            var bytes = clean
            bytes[position] ^= 0x10
            try FileIO.writeAtomically(bytes, to: partPath, directory: dir.path + "/parts")
            let found: Bool
            if let reader = try? PartReader(path: partPath) {
                found = (try? reader.verify()) == nil
            } else {
                found = true
            }
            #expect(found, "flip at \(position) not detected")
        }
        try FileIO.writeAtomically(clean, to: partPath, directory: dir.path + "/parts")
        store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        #expect(store.verify().isEmpty)
    }

    @Test func metricsCountWhatIsStored() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = RandomRecords(seed: 53, options: .init(tenants: 3)).records(400)
        let store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        _ = try store.append(RecordBatch(records[0..<300]))
        try store.flush()
        _ = try store.append(RecordBatch(records[300...]))
        let m = store.metrics()
        #expect(m.rows == 400 && m.headRows == 100 && m.seals == 1 && m.tenants == 3)
        #expect(m.parts == store.snapshot().parts.count && m.partBytes > 0)
        #expect(m.newestRecord == records.map(\.createdAtMillis).max())
        let st = store.stats()
        #expect(st.rows == 400 && st.columns.count == 12 && st.bytesPerRecord > 0)
    }

    @Test func footersOfManySmallHoursParse() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let start = RandomRecords.Options.defaultEnd
        // One tiny record per hour: hour entries of a few bytes each.
        let records = (0..<300).map { h in
            CostRecord(tenantID: "t", requestID: "r\(h)", model: "m", inputTokens: 0, outputTokens: 0, costNanos: 1,
                       createdAtMillis: start + Int64(h) * TimeUnit.hourMillis)
        }
        let (bytes, _) = PartWriter.encode(PartRowsFixture.rows(records), id: 1, level: 0)
        let path = dir.appending("p.part")
        try FileIO.writeAtomically(bytes, to: path, directory: dir.path)
        let reader = try PartReader(path: path)
        #expect(reader.meta.hours.count == 300)
        try reader.verify()
    }

    @Test func mergesKeepStringsThatOnlyLookEqual() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        let t = RandomRecords.Options.defaultEnd
        let composed = CostRecord(tenantID: "t", userID: "Zo\u{EB}", requestID: "a", model: "m", inputTokens: 1, outputTokens: 1, costNanos: 1, createdAtMillis: t)
        let decomposed = CostRecord(tenantID: "t", userID: "Zoe\u{301}", requestID: "b", model: "m", inputTokens: 1, outputTokens: 1, costNanos: 1, createdAtMillis: t)
        _ = try store.append(RecordBatch([composed]))
        try store.flush()
        _ = try store.append(RecordBatch([decomposed]))
        try store.flush()
        #expect(try store.compact() == 1)
        let users = Set(try store.snapshot().records().map { Array($0.userID.utf8) })
        #expect(users == [Array("Zo\u{EB}".utf8), Array("Zoe\u{301}".utf8)])
    }

    @Test func aReadOnlyOpenSeesEverythingAndChangesNothing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = RandomRecords(seed: 59, options: .init(tenants: 2)).records(600)
        let writer = try Store(path: dir.path, options: testOptions())
        _ = try writer.append(RecordBatch(records[0..<400]))
        try writer.flush()
        _ = try writer.append(RecordBatch(records[400...]))
        // While the writer holds the directory, a reader opens it and sees parts and WAL rows alike.
        var options = testOptions()
        options.readOnly = true
        let reader = try Store(path: dir.path, options: options)
        #expect(sorted(try reader.snapshot().records()) == sorted(records))
        #expect(throws: StoreError.readOnly(path: dir.path)) { try reader.append(RecordBatch(records[0..<1])) }
        #expect(try reader.compactOnce() == false)
        try reader.close()
        let before = FileIO.list(dir.path + "/wal") + FileIO.list(dir.path + "/parts")
        #expect(before == FileIO.list(dir.path + "/wal") + FileIO.list(dir.path + "/parts"))
        try writer.close()
    }

    @Test func aDirectoryIsOpenedByOneStoreAtATime() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.path, options: testOptions())
        #expect(throws: StoreError.locked(path: dir.path)) { try Store(path: dir.path, options: testOptions()) }
        try store.close()
        try Store(path: dir.path, options: testOptions()).close()
    }

    @Test func concurrentAppendsReadsAndCompactionLoseNothing() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var options = testOptions(sealRows: 700)
        options.background = true
        options.sealAfterSeconds = 0.05
        let store = try Store(path: dir.path, options: options)
        let writers = 4, batches = 25, perBatch = 40
        let all = RandomRecords(seed: 29, options: .init(tenants: 3)).records(writers * batches * perBatch)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<writers {
                group.addTask {
                    for b in 0..<batches {
                        let start = (w * batches + b) * perBatch
                        let slice = all[start..<(start + perBatch)]
                        // Each batch is sent twice, as a retrying client would.
                        _ = try store.append(RecordBatch(slice))
                        #expect(try store.append(RecordBatch(slice)).inserted == 0)
                    }
                }
            }
            group.addTask {
                var last = 0
                for _ in 0..<50 {
                    let n = store.snapshot().rowCount
                    #expect(n >= last)
                    last = n
                    _ = try store.compactOnce()
                }
            }
            try await group.waitForAll()
        }
        #expect(store.snapshot().rowCount == all.count)
        try store.close()
        let reopened = try Store(path: dir.path, options: testOptions())
        defer { try? reopened.close() }
        #expect(sorted(try reopened.snapshot().records()) == sorted(all))
    }

    /// Rows are split by UTC calendar month, each month's rows in their order, the months ascending: at month and year
    /// ends, in a leap February, before 1970, in time order and shuffled.
    @Test func rowsAreSplitByCalendarMonth() {
        var rng = Xoshiro256(seed: 5, stream: 1)
        let day = TimeUnit.dayMillis
        let start = { (y: Int, m: Int) in Int64(Timestamp.daysFromCivil(year: y, month: m, day: 1)) * day }
        let edges = [start(2024, 2), start(2024, 3), start(2024, 12), start(2025, 1), start(1969, 12), start(1970, 1), start(2025, 6)]
        let base = RandomRecords(seed: 5, options: .init(tenants: 1)).records(400)
        for trial in 0..<12 {
            var times = (0..<base.count).map { _ -> Int64 in
                let e = edges[Int(rng.next() % UInt64(edges.count))]
                return e + Int64(rng.next() % 5) - 2 + (rng.next() % 3 == 0 ? Int64(rng.next() % UInt64(40 * day)) - 20 * day : 0)
            }
            if trial % 3 == 0 { times.sort() }
            if trial == 1 { times = times.map { _ in start(2025, 3) + 7 } }
            var records = base
            for i in records.indices { records[i].createdAtMillis = times[i] }
            let input = PartRowsFixture.rows(records)
            let split = Store.splitByMonth(input)
            // The reference: each row's month from the calendar, grouped by a dictionary.
            var groups: [Int: [Int]] = [:]
            for (i, t) in times.enumerated() {
                let (y, m, _) = Timestamp.civilFromDays(Int(TimeUnit.floorDiv(t, day)))
                groups[y * 12 + m - 1, default: []].append(i)
            }
            let expected = groups.keys.sorted().map { groups[$0]! }
            #expect(split.count == expected.count, "trial \(trial)")
            for (part, rows) in zip(split, expected) {
                #expect(part.createdAt == rows.map { times[$0] }, "trial \(trial)")
                #expect(part.dims[Dimension.user.rawValue] == rows.map { input.dims[Dimension.user.rawValue][$0] })
                let ids = (0..<part.count).map { k in String(decoding: part.requestBytes[part.requestOffsets[k]..<part.requestOffsets[k + 1]], as: UTF8.self) }
                #expect(ids == rows.map { records[$0].requestID })
            }
        }
    }
}

