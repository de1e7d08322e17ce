import Foundation
import Testing
import TallyTestSupport
@testable import TallyQuery
@testable import TallyStore

/// A read-only open maps the parts the manifest lists and reads a part's footer only when a reader first needs it
/// (`PartReader.load()`): what it does not read costs nothing, and what it reads is checked as before, so a damaged
/// byte is still never an answer.
@Suite struct LazyFooterTests {
    static func readOnly() -> StoreOptions {
        var o = DamageFixture.options()
        o.readOnly = true
        return o
    }

    static func sorted(_ r: [CostRecord]) -> [CostRecord] { r.sorted { $0.requestID < $1.requestID } }

    /// Writes `records` into a new store at `path` and closes it, its rows sealed into parts.
    static func seal(_ records: [CostRecord], in path: String) throws {
        let store = try Store(path: path, options: DamageFixture.options())
        _ = try store.append(RecordBatch(records))
        try store.close()
    }

    @Test("a read-only open reads no footer; a query of one tenant reads that tenant's footers only, and answers as a read-write open does")
    func onlyTheFootersAQueryNeeds() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (records, _) = try DamageFixture.twoTenantStore(dir.path)
        let store = try Store(path: dir.path, options: Self.readOnly())
        defer { try? store.close() }
        let parts = store.snapshot().parts
        #expect(parts.count >= 2)
        #expect(parts.allSatisfy { !$0.isLoaded })
        #expect(store.snapshot().tenants == ["tenant-0", "tenant-1"])
        #expect(store.snapshot().rowCount == records.count)
        let query = try Query(tenants: .one("tenant-0"), groupBy: [.dimension(.model)], aggregates: [.count, .cost], useRollups: false)
        let answer = try store.query(query)
        #expect(answer == ReferenceAggregator(records: records).run(query))
        #expect(parts.filter(\.isLoaded).map(\.tenant) == parts.filter { $0.tenant == "tenant-0" }.map(\.tenant))
        #expect(parts.contains { !$0.isLoaded && $0.tenant == "tenant-1" })
        #expect(Self.sorted(try store.snapshot().records()) == Self.sorted(records))
        #expect(parts.allSatisfy { $0.isLoaded })
        // What the manifest said of each part is what its footer says.
        for p in parts {
            #expect(p.id == p.meta.id && p.tenant == p.meta.tenant && p.rows == p.meta.rows)
            #expect(p.minTime == p.meta.minTime && p.maxTime == p.meta.maxTime && p.level == p.meta.level)
        }
    }

    @Test("a footer is read without mapping its part, short or longer than the first read; answers from footers map nothing, a scan maps what it reads, and a file of another size than the manifest says is damage")
    func footersReadWithoutMapping() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // tenant-0 has thousands of distinct long user ids: a footer far past the first read's 32 KiB.
        var records = RandomRecords(seed: 29, options: .init(tenants: 2)).records(1_500)
        for i in 0..<4_000 {
            var r = records[i % records.count]
            r.tenantID = "tenant-0"
            r.requestID = "wide-\(i)"
            r.userID = "user-\(i)-" + String(UInt64(i) &* 0x9E37_79B9_7F4A_7C15, radix: 16)
            records.append(r)
        }
        try Self.seal(records, in: dir.path)
        let eager = try FileIO.list(dir.path + "/parts").map { try PartReader(path: dir.path + "/parts/" + $0) }
        #expect(eager.contains { p in
            let footerStart = p.meta.filter.map { $0.offset + $0.length } ?? p.meta.granules.flatMap(\.blocks).map { $0.offset + $0.length }.max()!
            return p.fileSize - footerStart > PartReader.footerReadGuess
        })

        let store = try Store(path: dir.path, options: Self.readOnly())
        defer { try? store.close() }
        store.loadFooters()
        let parts = store.snapshot().parts
        #expect(parts.allSatisfy { $0.isLoaded && !$0.isMapped })
        for p in parts {
            let e = try #require(eager.first { $0.id == p.id })
            #expect(p.meta.granules.map { [$0.rowStart, $0.rows] } == e.meta.granules.map { [$0.rowStart, $0.rows] })
            #expect(p.meta.granules.map(\.blocks) == e.meta.granules.map(\.blocks) && p.meta.filter == e.meta.filter)
            #expect(p.meta.hours.map { [$0.start, Int64($0.rowStart), Int64($0.rows), $0.inputTokens, $0.outputTokens, $0.cost] }
                == e.meta.hours.map { [$0.start, Int64($0.rowStart), Int64($0.rows), $0.inputTokens, $0.outputTokens, $0.cost] })
            for d in Dimension.allCases { #expect(p.meta.dictionaries[d.rawValue] == e.meta.dictionaries[d.rawValue]) }
        }
        let reference = ReferenceAggregator(records: records)
        let byModel = try Query(tenants: .all, groupBy: [.tenant, .dimension(.model)], aggregates: [.count, .cost])
        #expect(try store.query(byModel) == reference.run(byModel))
        #expect(parts.allSatisfy { !$0.isMapped })
        let raw = try Query(tenants: .all, groupBy: [.dimension(.user)], aggregates: [.count, .inputTokens, .cost], useRollups: false)
        #expect(try store.query(raw) == reference.run(raw))
        #expect(parts.allSatisfy { $0.isMapped })
        #expect(store.verify().isEmpty)

        // One byte more than the manifest says: refused at the footer read, not read as the part.
        let victim = try #require(FileIO.list(dir.path + "/parts").first)
        var bytes = try FileIO.readAll(dir.path + "/parts/" + victim)
        bytes.append(0)
        try FileIO.writeAtomically(bytes, to: dir.path + "/parts/" + victim, directory: dir.path + "/parts")
        let grown = try Store(path: dir.path, options: Self.readOnly())
        defer { try? grown.close() }
        let part = try #require(grown.snapshot().parts.first { $0.path.hasSuffix("/" + victim) })
        #expect(throws: StoreError.self) { try part.load() }
    }

    @Test("a bit flipped by fault injection when a footer is read stays flipped in the part's later mapping: one read of the file, one set of bytes")
    func injectedReadFaultReachesTheMapping() throws {
        let dir = try TemporaryDirectory()
        defer { FaultInjection.remove(under: dir.path + "/"); dir.remove() }
        try Self.seal(RandomRecords(seed: 31, options: .init(tenants: 1)).records(3_000), in: dir.path)
        // Byte 100 is in granule 0's first block: outside the footer the load reads.
        FaultInjection.install(.init(prefix: dir.path + "/", contains: "/parts/", operation: .read,
                                     fault: .flipBit(offset: 100, bit: 2), skip: 0, times: 1))
        let store = try Store(path: dir.path, options: Self.readOnly())
        defer { try? store.close() }
        let part = try #require(store.snapshot().parts.first)
        try part.load()
        #expect(FaultInjection.hitCount(under: dir.path + "/") == 1)
        #expect(!part.isMapped)
        var decoder = BlockDecoder()
        let out = UnsafeMutablePointer<Int64>.allocate(capacity: 1 << 16)
        defer { out.deallocate() }
        #expect(throws: StoreError.self) { try part.decodeIntegers(0, .createdAt, &decoder, into: out) }
        #expect(FaultInjection.hitCount(under: dir.path + "/") == 1)

        // A flip inside the footer fails the footer's checksum at the read.
        FaultInjection.install(.init(prefix: dir.path + "/", contains: "/parts/", operation: .read,
                                     fault: .flipBit(offset: part.fileSize - 40, bit: 0), skip: 0, times: 1))
        let again = try Store(path: dir.path, options: Self.readOnly())
        defer { try? again.close() }
        #expect(throws: StoreError.self) { try #require(again.snapshot().parts.first).load() }
    }

    @Test("a part's dictionaries stay in its footer's bytes until a question uses one; each is made once, from any thread, and equals what was written")
    func dictionariesMadeOnFirstUse() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = RandomRecords(seed: 5, options: .init(tenants: 1)).records(3_000)
        try Self.seal(records, in: dir.path)
        let store = try Store(path: dir.path, options: Self.readOnly())
        defer { try? store.close() }
        let part = try #require(store.snapshot().parts.first)
        let dictionaries = try part.load().dictionaries
        #expect(Dimension.allCases.allSatisfy { !dictionaries.isMade($0.rawValue) })
        for d in Dimension.allCases {
            #expect(dictionaries.sizes[d.rawValue] == Set(records.map { $0[d] }).count)
        }
        // A question grouped by model makes the model's strings and no other dimension's.
        let query = try Query(tenants: .one(records[0].tenantID), groupBy: [.dimension(.model)], aggregates: [.count, .cost], useRollups: false)
        #expect(try store.query(query) == ReferenceAggregator(records: records).run(query))
        #expect(Dimension.allCases.filter { dictionaries.isMade($0.rawValue) } == [.model])
        // Eight threads at once get the same strings: each dimension's distinct values, sorted by their bytes.
        let made = await withTaskGroup(of: [[String]].self) { group in
            for _ in 0..<8 { group.addTask { Array(part.meta.dictionaries) } }
            return await group.reduce(into: []) { $0.append(contentsOf: $1) }
        }
        #expect(made.count == 8 * Dimension.allCases.count)
        for (i, values) in made.enumerated() {
            let d = Dimension.allCases[i % Dimension.allCases.count]
            #expect(values == Set(records.map { $0[d] }).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        }
    }

    @Test("a footer read counts, per dimension, the hours that keep a rollup of it; a dimension no hour keeps one of is not stepped through, and the rest decode as the whole section does")
    func hourRollupCountsMatchTheSection() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let end = RandomRecords.Options().window.upperBound
        // Three hours of 2,000 rows: few-valued dimensions keep hour rollups, the users (many values an hour) do not.
        let records = RandomRecords(seed: 8, options: .init(tenants: 1, usersPerTenant: 400, window: (end - 3 * 3_600_000)..<end)).records(6_000)
        try Self.seal(records, in: dir.path)
        let store = try Store(path: dir.path, options: Self.readOnly())
        defer { try? store.close() }
        let part = try #require(store.snapshot().parts.first)
        let meta = try part.load()
        guard case .deferred(let deferred) = meta.rollupStorage else {
            Issue.record("the rollups were decoded when the footer was read")
            return
        }
        let all = try meta.hourRollups
        for d in Dimension.allCases.map(\.rawValue) {
            let kept = (0..<meta.hours.count).count { all.range(hour: $0, dimension: d) != nil }
            #expect(deferred.hourRollupCounts[d] == kept, "\(Dimension.allCases[d])")
            let one = try meta.hourRollups(dimension: d)
            for h in 0..<meta.hours.count {
                #expect(one.range(hour: h, dimension: d).map { Array(one.entries.codes[$0]) } == all.range(hour: h, dimension: d).map { Array(all.entries.codes[$0]) })
            }
        }
        #expect(deferred.hourRollupCounts[Dimension.user.rawValue] == 0)
        #expect(deferred.hourRollupCounts[Dimension.environment.rawValue] == meta.hours.count)
        let query = try Query(tenants: .one(records[0].tenantID), from: end - 2 * 3_600_000, groupBy: [.dimension(.user)], aggregates: [.count, .cost])
        #expect(try store.query(query) == ReferenceAggregator(records: records).run(query))
    }

    @Test("a part's hour index is checked when its footer is read and made on first use, equal to the whole footer's; its days are summed in the same read, equal to the hours' days")
    func hoursMadeOnFirstUse() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // Ten days of hours; parts split at any month boundary inside the window.
        let end = RandomRecords.Options().window.upperBound
        let records = RandomRecords(seed: 12, options: .init(tenants: 2, window: (end - 10 * 86_400_000)..<end)).records(4_000)
        try Self.seal(records, in: dir.path)
        let store = try Store(path: dir.path, options: Self.readOnly())
        defer { try? store.close() }
        let parts = store.snapshot().parts
        #expect(parts.count >= 2)
        // Raw scans first (whole parts are planned from their days or as one range, without their hours), then the
        // rest, each as the reference answers.
        let reference = ReferenceAggregator(records: records)
        for bucket in [Query.Bucket.day, .none, .hour] {
            for groupBy: [Query.Key] in [[], [.dimension(.model)], [.tenant, .dimension(.feature)]] {
                let query = try Query(tenants: .all, bucket: bucket, groupBy: groupBy, aggregates: [.count, .cost, .inputTokens],
                                      useRollups: false)
                #expect(try store.query(query) == reference.run(query), "\(bucket) \(groupBy)")
            }
        }
        var hoursSeen = 0, daysSeen = 0
        for part in parts {
            let meta = try part.load()
            guard case .deferred(let deferred) = meta.rollupStorage else {
                Issue.record("the footer was decoded whole")
                continue
            }
            #expect(deferred.days != nil, "no days summed with the footer")
            let days = try part.dayTotals()
            // The whole footer, decoded eagerly from the file's bytes, is the reference.
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: part.path)))
            let eager = try bytes.withUnsafeBytes { b in
                let trailer = UnsafeRawBufferPointer(rebasing: b[(b.count - PartFormat.trailerSize)...])
                let offset = Int(trailer.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
                let stored = Int(trailer.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
                let raw = Int(trailer.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
                let body = UnsafeRawBufferPointer(rebasing: b[offset..<(offset + stored)])
                var out = [UInt8](repeating: 0, count: raw)
                if trailer[26] == 1 {
                    #expect(out.withUnsafeMutableBytes { LZ4.decompress(body, into: $0) })
                } else {
                    out = Array(body)
                }
                return try out.withUnsafeBytes { try PartFooterCodec.decode($0, version: part.version) }
            }
            #expect(meta.hourCount == eager.hours.count && meta.hourCount > 0)
            hoursSeen += meta.hourCount
            // Made by any of several threads at once, once.
            let made = await withTaskGroup(of: [HourEntry].self) { group in
                for _ in 0..<8 { group.addTask { meta.hours } }
                return await group.reduce(into: [[HourEntry]]()) { $0.append($1) }
            }
            for hours in made {
                #expect(hours.map(\.start) == eager.hours.map(\.start) && hours.map(\.rowStart) == eager.hours.map(\.rowStart))
                #expect(hours.map(\.rows) == eager.hours.map(\.rows) && hours.map(\.cost) == eager.hours.map(\.cost))
                #expect(hours.map(\.inputTokens) == eager.hours.map(\.inputTokens) && hours.map(\.outputTokens) == eager.hours.map(\.outputTokens))
            }
            let reference = eager.hours.withUnsafeBufferPointer { DayTotals.make($0) }
            let got = days.withDays { Array($0) }, want = reference.withDays { Array($0) }
            #expect(got.count == want.count)
            daysSeen += got.count
            #expect(got.map(\.start) == want.map(\.start) && got.map(\.firstHour) == want.map(\.firstHour) && got.map(\.hours) == want.map(\.hours))
            #expect(got.map(\.count) == want.map(\.count) && got.map(\.cost) == want.map(\.cost) && got.map(\.inputTokens) == want.map(\.inputTokens))
            #expect(try part.dayTotals() === days)
        }
        #expect(hoursSeen > 300 && daysSeen >= 20)

        // Footers loaded for a question that plans some parts hour by hour make those parts' hours with them.
        let again = try Store(path: dir.path, options: Self.readOnly())
        defer { try? again.close() }
        let loaded = again.snapshot().parts
        let first = try #require(loaded.first).minTime
        #expect(loaded.contains { $0.minTime != first })
        again.loadFooters { minTime, _ in minTime == first ? .hours : [] }
        #expect(loaded.allSatisfy { $0.isLoaded })
        for p in loaded { #expect(p.meta.hoursMadeWithFooter == (p.minTime == first)) }
        let query = try Query(tenants: .all, from: first + 3_600_000, bucket: .hour, aggregates: [.count, .cost])
        #expect(try again.query(query) == reference.run(query))
        // A daily series and an hourly one answer as the reference does.
        for bucket in [Query.Bucket.day, .hour] {
            let query = try Query(tenants: .all, bucket: bucket, aggregates: [.count, .cost])
            #expect(try store.query(query) == ReferenceAggregator(records: records).run(query))
        }
    }

    @Test("a part's hour rollups stay in its footer's bytes until a question needs them, then decode to the records' counts and sums; a cut window is answered from them as the reference does")
    func hourRollupsDecodedOnFirstUse() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (records, start) = Self.tenHours()
        try Self.seal(records, in: dir.path)
        let store = try Store(path: dir.path, options: Self.readOnly())
        defer { try? store.close() }
        let part = try #require(store.snapshot().parts.first)
        let meta = try part.load()
        guard case .deferred = meta.rollupStorage else {
            Issue.record("the rollups were decoded when the footer was read")
            return
        }
        #expect(meta.hours.count == 10)
        let rollups = try meta.hourRollups
        let d = Dimension.model.rawValue
        var kept = 0
        for (h, hour) in meta.hours.enumerated() {
            guard let r = rollups.rollup(hour: h, dimension: d) else { continue }
            kept += 1
            for (k, code) in r.codes.enumerated() {
                let model = meta.dictionaries[d][Int(code)]
                let inHour = records.filter { TimeUnit.hourStart($0.createdAtMillis) == hour.start && $0.model == model }
                #expect(r.counts[k] == Int64(inHour.count))
                #expect(r.cost[k] == inHour.reduce(0) { $0 + $1.costNanos })
                #expect(r.inputTokens[k] == inHour.reduce(0) { $0 + $1.inputTokens })
            }
        }
        #expect(kept == 10)
        // One dimension's hour rollups alone (a fresh open: nothing decoded yet) are the whole set's for it, the others
        // left empty.
        let fresh = try Store(path: dir.path, options: Self.readOnly())
        defer { try? fresh.close() }
        let freshMeta = try #require(fresh.snapshot().parts.first).load()
        for dim in Dimension.allCases {
            let one = try freshMeta.hourRollups(dimension: dim.rawValue)
            for h in meta.hours.indices {
                #expect(one.rollup(hour: h, dimension: dim.rawValue) == rollups.rollup(hour: h, dimension: dim.rawValue))
                for other in Dimension.allCases where other != dim { #expect(one.range(hour: h, dimension: other.rawValue) == nil) }
            }
        }
        for dim in Dimension.allCases {
            let r = try meta.partRollup(dim.rawValue)
            #expect(r.codes.count == meta.partRollupCount(dim.rawValue) && r.codes == r.codes.sorted())
            #expect(r.counts.reduce(0, +) == Int64(records.count) && r.cost.reduce(0, +) == records.reduce(0) { $0 + $1.costNanos })
        }
        #expect(try meta.partRollup(d).codes.map { meta.dictionaries[d][Int($0)] } == ["a", "b"])
        #expect(try meta.partRollup(d).counts == [667, 1_333])
        let cut = try Query(tenants: .one("t"), from: start + 1_800_000, to: start + 9 * 3_600_000 + 1_800_000,
                            groupBy: [.dimension(.model)], aggregates: [.count, .cost, .inputTokens])
        let answer = try store.query(cut)
        #expect(answer == ReferenceAggregator(records: records).run(cut))
        #expect(answer.statistics.hoursFromIndex == 8)
    }

    @Test("a checked footer whose hour or part rollups do not decode (a code past the dictionary) opens, and the question that needs them fails naming the part")
    func undecodableRollupsAreAnError() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (records, _) = Self.tenHours()
        let (file, meta) = PartWriter.encode(PartRowsFixture.rows(records), id: 1, level: 0)
        var bad = try meta.hourRollups
        let d = Dimension.model.rawValue
        bad.setCodes(hour: 4, dimension: d, try #require(bad.rollup(hour: 4, dimension: d)).codes.map { _ in 9 })
        // The same blocks and filter, a raw footer with those codes, and a trailer whose checksums are right.
        var badPartRollups = try meta.partRollups()
        badPartRollups[d].codes[1] = 7
        let raw = PartFooterCodec.encode(meta, hourRollups: bad, partRollups: badPartRollups)
        let path = dir.appending("bad.part")
        try Self.write(file, footer: raw, to: path, in: dir)
        let part = try PartReader(path: path)
        #expect(part.meta.hours.count == 10 && part.meta.rows == records.count)
        do {
            _ = try part.meta.hourRollups
            Issue.record("hour rollups with a code past the dictionary decoded")
        } catch let StoreError.corrupt(p, _, reason) {
            #expect(p == path && reason.contains("hour rollups"))
        }
        // The same from a fresh reader, one dimension at a time: the damaged dimension fails, another one decodes.
        let again = try PartReader(path: path)
        #expect(throws: StoreError.self) { try again.meta.hourRollups(dimension: d) }
        #expect(try again.meta.hourRollups(dimension: Dimension.environment.rawValue).rollup(hour: 4, dimension: Dimension.environment.rawValue) != nil)
        do {
            _ = try part.meta.partRollup(d)
            Issue.record("a part rollup with a code past the dictionary decoded")
        } catch let StoreError.corrupt(p, _, reason) {
            #expect(p == path && reason.contains("part rollup of model"))
        }
        // The other dimensions' rollups are whole.
        #expect(try part.meta.partRollup(Dimension.user.rawValue) == (try meta.partRollup(Dimension.user.rawValue)))
        // The part as written decodes, lazily, to the writer's rollups.
        let good = dir.appending("good.part")
        try FileIO.writeAtomically(file, to: good, directory: dir.path)
        #expect(try PartReader(path: good).meta.hourRollups == (try meta.hourRollups))
    }

    @Test("a block whose codes pass their checksum but run past the footer's dictionary is refused when it is first read, each time, naming the column and granule; the part's other blocks read")
    func codesPastTheDictionaryAreRefusedPerBlock() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (records, _) = Self.tenHours()
        let (file, meta) = PartWriter.encode(PartRowsFixture.rows(records), id: 1, level: 0)
        // The model dictionary loses "b" (code 1): every block holding a "b" row now points past it.
        let d = Dimension.model.rawValue
        var short = meta
        var dictionaries = Array(meta.dictionaries)
        dictionaries[d] = [meta.dictionaries[d][0]]
        short.dictionaries = PartDictionaries(dictionaries)
        var partRollups = try meta.partRollups()
        var one = Rollup()
        one.codes = [0]; one.counts = [1]; one.inputTokens = [0]; one.outputTokens = [0]; one.cost = [0]
        partRollups[d] = one
        let raw = PartFooterCodec.encode(short, hourRollups: try meta.hourRollups, partRollups: partRollups)
        let path = dir.appending("short.part")
        try Self.write(file, footer: raw, to: path, in: dir)
        let part = try PartReader(path: path)
        var decoder = BlockDecoder()
        let rows = part.meta.granules.map(\.rows).max()!
        let codes = UnsafeMutablePointer<UInt32>.allocate(capacity: rows + 64)
        defer { codes.deallocate() }
        for _ in 0..<2 {
            do {
                try part.decodeCodes(0, .model, &decoder, into: codes)
                Issue.record("codes past the dictionary were decoded")
            } catch let StoreError.corrupt(p, _, reason) {
                #expect(p == path && reason.contains("code out of dictionary range") && reason.contains("model") && reason.contains("granule 0"))
            }
        }
        try part.decodeCodes(0, .user, &decoder, into: codes)
        // Its model rollup was left with one row: counts that do not add up to the part's rows are refused where it is decoded.
        #expect(throws: StoreError.self) { try part.meta.partRollup(d) }
        #expect(try part.meta.partRollup(Dimension.user.rawValue).counts.reduce(0, +) == Int64(records.count))
        let values = UnsafeMutablePointer<Int64>.allocate(capacity: rows + 64)
        defer { values.deallocate() }
        try part.decodeIntegers(0, .cost, &decoder, into: values)
        #expect(values[0] == records.map(\.costNanos).min())
    }

    /// `file` (a part as `PartWriter.encode` made it) with its footer replaced by `raw` (uncompressed), under a trailer
    /// whose lengths and checksum fit it: the same blocks and filter, a footer that passes every check but the ones a
    /// test aims at.
    static func write(_ file: [UInt8], footer raw: [UInt8], to path: String, in dir: TemporaryDirectory) throws {
        let footerOffset = Int(file.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: file.count - PartFormat.trailerSize, as: UInt64.self) })
        var t = Array(file[(file.count - PartFormat.trailerSize)...])
        t.withUnsafeMutableBytes {
            $0.storeBytes(of: UInt32(raw.count).littleEndian, toByteOffset: 8, as: UInt32.self)
            $0.storeBytes(of: UInt32(raw.count).littleEndian, toByteOffset: 12, as: UInt32.self)
            $0[26] = 0
        }
        let crc = raw.withUnsafeBytes { f in t.withUnsafeBytes { PartFormat.footerChecksum(footer: f, trailer: $0, version: PartFormat.version) } }
        t.withUnsafeMutableBytes { $0.storeBytes(of: crc.littleEndian, toByteOffset: PartFormat.trailerFooterCRCOffset, as: UInt32.self) }
        try FileIO.writeAtomically(Array(file[..<footerOffset]) + raw + t, to: path, directory: dir.path)
    }

    /// 2,000 records of tenant "t" over the ten hours from 2025-06-01T00:00Z, two models (a rollup of each hour).
    static func tenHours() -> (records: [CostRecord], start: Int64) {
        let start: Int64 = 1_748_736_000_000
        var records: [CostRecord] = []
        for i in 0..<2_000 {
            let at: Int64 = start + Int64(i) * 18_000
            let model = i % 3 == 0 ? "a" : "b"
            records.append(CostRecord(tenantID: "t", requestID: "r\(i)", model: model, inputTokens: Int64(i % 7), outputTokens: 1,
                                      costNanos: Int64(i), createdAtMillis: at))
        }
        return (records, start)
    }

    @Test("a damaged file head (magic, version) is found before the first block is read, not when the footer is: an answer from the footer is whole, one from the rows fails naming the part")
    func damagedFileHeadIsFoundBeforeAnyBlock() throws {
        for (offset, mask) in [(0, UInt8(0x01)), (7, 0x80), (8, 0x02), (12, 0x10)] {
            let dir = try TemporaryDirectory()
            defer { dir.remove() }
            let (records, part) = try DamageFixture.twoTenantStore(dir.path)
            var bytes = try FileIO.readAll(part.path)
            bytes[offset] ^= mask
            try FileIO.writeAtomically(bytes, to: part.path, directory: dir.path + "/parts")
            let store = try Store(path: dir.path, options: Self.readOnly())
            defer { try? store.close() }
            let oracle = ReferenceAggregator(records: records)
            let fromFooter = try Query(tenants: .one("tenant-1"), groupBy: [.dimension(.model)], aggregates: [.count, .cost])
            let answer = try store.query(fromFooter)
            #expect(answer == oracle.run(fromFooter) && answer.statistics.rowsScanned == 0, "offset \(offset)")
            let fromRows = try Query(tenants: .one("tenant-1"), groupBy: [.dimension(.model)], aggregates: [.count, .cost], useRollups: false)
            do {
                _ = try store.query(fromRows)
                Issue.record("offset \(offset): rows read past a damaged file head")
            } catch {
                #expect("\(error)".contains(PartFormat.fileName(part.id)), "offset \(offset): \(error)")
            }
            #expect(throws: StoreError.self) { try PartReader(path: part.path).verify() }
        }
    }

    @Test("footers loaded on every core: of 40 tenants' parts, the 3 with a damaged trailer are set aside and named, every other footer is read")
    func parallelLoadSetsAsideExactlyTheDamagedParts() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let records = RandomRecords(seed: 41, options: .init(tenants: 40)).records(4_000)
        try Self.seal(records, in: dir.path)
        let all = try Store(path: dir.path, options: Self.readOnly())
        let parts = all.snapshot().parts
        #expect(parts.count >= 40)
        try all.close()
        let damaged = Set([parts[3], parts[17], parts[parts.count - 1]].map(\.path))
        for path in damaged { try DamageFixture.flip(path, at: -3) }
        let store = try Store(path: dir.path, options: Self.readOnly())
        defer { try? store.close() }
        store.loadFooters()
        let snapshot = store.snapshot()
        #expect(Set(snapshot.missing.map { PartFormat.fileName($0.id) }) == Set(damaged.map { String($0.split(separator: "/").last!) }))
        #expect(snapshot.parts.count == parts.count - 3 && snapshot.parts.allSatisfy(\.isLoaded))
        let kept = Set(snapshot.parts.map(\.tenant))
        #expect(Self.sorted(try snapshot.records()) == Self.sorted(records.filter { kept.contains($0.tenantID) }))
    }

    @Test("a flipped byte in a part's footer or trailer (every trailer byte, 48 footer bytes), met by a read-only open: a query of another tenant is whole, one of the part's tenant fails or lacks the part and says so")
    func damagedFooterIsNeverAnAnswer() throws {
        let root = try TemporaryDirectory()
        defer { root.remove() }
        let template = root.appending("template")
        let (records, part) = try DamageFixture.twoTenantStore(template)
        let clean = try FileIO.readAll(part.path)
        let lastBlockEnd = part.meta.granules.flatMap(\.blocks).map { $0.offset + $0.length }.max()!
        let footerStart = part.meta.filter.map { max($0.offset + $0.length, lastBlockEnd) } ?? lastBlockEnd
        let name = PartFormat.fileName(part.id)
        let oracle = ReferenceAggregator(records: records)
        let theirs = try Query(tenants: .one("tenant-1"), groupBy: [.dimension(.user)], aggregates: [.count, .cost])
        let ours = try Query(tenants: .one("tenant-0"), groupBy: [.dimension(.user)], aggregates: [.count, .cost])
        let withoutPart = ReferenceAggregator(records: records.filter { $0.tenantID != "tenant-1" }).run(theirs)
        // Every byte of the trailer and 48 spread over the footer, bits 0 and 7.
        var cases = 0
        let footerBytes = clean.count - PartFormat.trailerSize - footerStart
        let offsets = (0..<48).map { footerStart + $0 * footerBytes / 48 } + Array((clean.count - PartFormat.trailerSize)..<clean.count)
        for offset in offsets {
            for mask: UInt8 in [0x01, 0x80] {
                let dir = root.appending("case")
                try FileIO.makeDirectory(dir)
                try FileIO.makeDirectory(dir + "/parts")
                for f in FileIO.list(template + "/parts") { try FileIO.writeAtomically(try FileIO.readAll(template + "/parts/" + f), to: dir + "/parts/" + f, directory: dir + "/parts") }
                for f in ["MANIFEST"] { try FileIO.writeAtomically(try FileIO.readAll(template + "/" + f), to: dir + "/" + f, directory: dir) }
                var bytes = clean
                bytes[offset] ^= mask
                try FileIO.writeAtomically(bytes, to: dir + "/parts/" + name, directory: dir + "/parts")
                let store = try Store(path: dir, options: Self.readOnly())
                #expect(try store.query(ours) == oracle.run(ours), "offset \(offset)")
                var failed = false
                do {
                    let answer = try store.query(theirs)
                    #expect(answer == oracle.run(theirs), "offset \(offset): a damaged footer answered")
                } catch {
                    failed = true
                    #expect("\(error)".contains(name), "offset \(offset): \(error)")
                }
                #expect(failed, "offset \(offset) mask \(mask): the damage was not found")
                // The part is missing from every later answer, which says so.
                #expect(store.missingParts.map(\.id) == [part.id], "offset \(offset)")
                let again = try store.query(theirs)
                #expect(!again.complete && again.missing.map { $0.id } == [part.id])
                #expect(again.count == withoutPart.count && again.cost == withoutPart.cost)
                #expect(try FileIO.readAll(dir + "/parts/" + name) == bytes, "a read-only open changes nothing")
                try store.close()
                try FileManager.default.removeItem(atPath: dir)
                cases += 1
            }
        }
        #expect(cases == 2 * offsets.count)
    }

    @Test("loadFooters sets a part with a damaged footer aside before a command answers, naming it as missing")
    func loadFootersFindsDamageUpFront() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (_, part) = try DamageFixture.twoTenantStore(dir.path)
        try DamageFixture.flip(part.path, at: -(PartFormat.trailerSize + 8))
        let store = try Store(path: dir.path, options: Self.readOnly())
        defer { try? store.close() }
        #expect(store.missingParts.isEmpty)
        store.loadFooters(tenants: ["tenant-0"])
        #expect(store.missingParts.isEmpty)
        store.loadFooters(tenants: ["tenant-1"])
        #expect(store.missingParts.map(\.id) == [part.id])
        #expect(store.missingParts.first?.tenant == "tenant-1")
        #expect(!store.snapshot().parts.contains { $0.id == part.id })
        // stats reads every footer: the damaged part is left out of them, and missing.
        #expect(store.stats().rows == store.snapshot().rowCount)
    }

    @Test("a part file missing at a read-only open is skipped and reported; one whose size or footer disagrees with the manifest is damage when first read")
    func manifestAndFileMustAgree() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (records, part) = try DamageFixture.twoTenantStore(dir.path)
        // The manifest says the part has one row more: the footer (sound by its own checksum) disagrees.
        let manifestPath = dir.path + "/MANIFEST"
        var manifest = try Manifest.decode(try FileIO.readAll(manifestPath), path: manifestPath)
        let i = try #require(manifest.parts.firstIndex { $0.id == part.id })
        manifest.parts[i].rows += 1
        try FileIO.writeAtomically(manifest.encode(), to: manifestPath, directory: dir.path)
        do {
            let store = try Store(path: dir.path, options: Self.readOnly())
            #expect(store.snapshot().rowCount == records.count + 1, "the manifest's word, until the footer is read")
            #expect(throws: QueryError.self) { try store.query(try Query(tenants: .one("tenant-1"))) }
            #expect(store.missingParts.map(\.id) == [part.id])
            #expect(store.snapshot().rowCount == records.filter { $0.tenantID == "tenant-0" }.count)
            try store.close()
        }
        manifest.parts[i].rows -= 1
        try FileIO.writeAtomically(manifest.encode(), to: manifestPath, directory: dir.path)
        // A truncated file: the open does not map it; it is refused when first mapped, and missing from then on.
        var bytes = try FileIO.readAll(part.path)
        bytes.removeLast(1)
        try FileIO.writeAtomically(bytes, to: part.path, directory: dir.path + "/parts")
        do {
            let store = try Store(path: dir.path, options: Self.readOnly())
            #expect(store.missingParts.isEmpty)
            #expect(try store.query(try Query(tenants: .one("tenant-0"))).count.reduce(0, +) > 0, "another tenant's part is not opened")
            #expect(throws: QueryError.self) { try store.query(try Query(tenants: .one("tenant-1"))) }
            #expect(store.missingParts.map(\.id) == [part.id])
            #expect(store.missingParts.first?.reason.contains("the manifest says") == true, "\(store.missingParts)")
            try store.close()
        }
        // A file not there at all: skipped and reported at open (one listing of parts/, no file opened).
        try FileIO.remove(part.path)
        let store = try Store(path: dir.path, options: Self.readOnly())
        defer { try? store.close() }
        #expect(store.missingParts.map(\.id) == [part.id])
        #expect(store.openReport.contains { $0.contains("skipped damaged part") && $0.contains(PartFormat.fileName(part.id)) }, "\(store.openReport)")
        let answer = try store.query(try Query(tenants: .one("tenant-1")))
        #expect(!answer.complete && answer.missing.map(\.id) == [part.id], "an answer without the part says so")
    }
}
