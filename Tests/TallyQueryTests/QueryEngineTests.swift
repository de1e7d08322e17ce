import TallyText
import Testing
import TallyStore
import TallyTestSupport
@testable import TallyQuery
#if canImport(Glibc)
import Glibc
#endif

/// Nano-dollars per cost unit of the hand-computed tests (0.1 cent: realistic sizes).
let unit: Int64 = 1_000_000

/// A record at an RFC 3339 time costing `cost` units, with `cost / 10` input and `cost / 100` output tokens.
func record(_ tenant: String, _ time: String, cost: Int64, feature: String = "chat", model: String = "m1",
            user: String = "u1", environment: String = "prod", id: String) -> CostRecord {
    CostRecord(tenantID: tenant, environment: environment, userID: user, featureTag: feature, requestID: id, model: model,
               inputTokens: cost / 10, outputTokens: cost / 100, costNanos: cost * unit,
               createdAtMillis: try! Timestamp.parse(time).get())
}

/// Cost units as nano-dollars.
func nanos(_ units: [Int64]) -> [Int64] { units.map { $0 * unit } }

func at(_ time: String) -> Int64 { try! Timestamp.parse(time).get() }

@Suite struct QueryEngineTests {
    // MARK: Validation

    @Test func invalidQueriesNameTheParameter() throws {
        func name(_ make: () throws -> Query) -> String? {
            do {
                _ = try make()
                return nil
            } catch let e as QueryError {
                if case let .invalidParameter(name, _) = e { return name }
                return "?"
            } catch {
                return "?"
            }
        }
        #expect(name { try Query(tenants: .one("")) } == "tenant")
        #expect(name { try Query(tenants: .some([])) } == "tenant")
        #expect(name { try Query(tenants: .all, from: 10, to: 10) } == "from")
        #expect(name { try Query(tenants: .all, from: -Query.maxAbsoluteTime - 1) } == "from")
        #expect(name { try Query(tenants: .all, filters: [.model: []]) } == "filter.model")
        #expect(name { try Query(tenants: .all, groupBy: [.tenant, .tenant]) } == "groupBy")
        #expect(name { try Query(tenants: .all, aggregates: []) } == "aggregates")
        #expect(name { try Query(tenants: .all, limit: 0) } == "limit")
        #expect(name { try Query(tenants: .all, bucket: .hour, trailing: .init(days: 7)) } == "trailingDays")
        #expect(name { try Query(tenants: .all, bucket: .day, trailing: .init(days: 0)) } == "trailingDays")
        #expect(name { try Query(tenants: .all, from: 0, to: 200 * 365 * TimeUnit.dayMillis, bucket: .hour) } == "to")
        #expect(name { try Query(tenants: .all, from: 0, to: 1, bucket: .day, trailing: .init(days: 7)) } == nil)
        // An ordering measure is computed even when not asked for.
        #expect(try Query(tenants: .all, aggregates: [.count], order: .tokens).aggregates == [.count, .inputTokens, .outputTokens])
    }

    // MARK: Hand-computed answers

    static let small: [CostRecord] = [
        record("t", "2025-05-01T10:15:00Z", cost: 100, feature: "a", id: "1"),
        record("t", "2025-05-01T10:45:00Z", cost: 200, feature: "b", id: "2"),
        record("t", "2025-05-01T12:00:00Z", cost: 50, feature: "a", model: "m2", id: "3"),
        record("t", "2025-05-03T09:00:00Z", cost: 400, feature: "a", id: "4"),
        record("u", "2025-05-01T10:30:00Z", cost: 1000, feature: "a", id: "5"),
    ]

    /// The same answers from the head, from parts, and from a compacted part with a late row in the head.
    @Test(arguments: ["head", "parts", "compacted"])
    func handComputedAnswers(layout: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.path, options: queryTestOptions())
        defer { try? store.close() }
        switch layout {
        case "head":
            _ = try store.append(RecordBatch(Self.small))
        case "parts":
            _ = try store.append(RecordBatch(Self.small))
            try store.flush()
        default:
            _ = try store.append(RecordBatch(Self.small[0..<2]))
            try store.flush()
            _ = try store.append(RecordBatch(Self.small[2..<4]))
            try store.flush()
            _ = try store.compact()
            _ = try store.append(RecordBatch(Self.small[4...]))
        }
        for useRollups in [true, false] {
            // Hourly usage: empty hours appear with zeros.
            let usage = try store.query(Query(tenants: .one("t"), from: at("2025-05-01T10:00:00Z"), to: at("2025-05-01T14:00:00Z"),
                                              bucket: .hour, useRollups: useRollups))
            #expect(usage.bucketStarts == ["10", "11", "12", "13"].map { at("2025-05-01T\($0):00:00Z") })
            #expect(usage.count == [2, 0, 1, 0])
            #expect(usage.cost == nanos([300, 0, 50, 0]))
            #expect(usage.inputTokens == [30, 0, 5, 0])
            #expect(usage.outputTokens == [3, 0, 0, 0])

            // A window that cuts an hour in half.
            let half = try store.query(Query(tenants: .one("t"), from: at("2025-05-01T10:30:00Z"), to: at("2025-05-01T12:00:00Z"),
                                             bucket: .hour, useRollups: useRollups))
            #expect(half.count == [1, 0] && half.cost == nanos([200, 0]))

            // Breakdown by feature, most expensive first; a top-1.
            let byFeature = try store.query(Query(tenants: .one("t"), groupBy: [.dimension(.feature)], order: .cost, useRollups: useRollups))
            #expect(byFeature.keyColumns == [["a", "b"]] && byFeature.cost == nanos([550, 200]) && byFeature.count == [3, 1])
            let top = try store.query(Query(tenants: .all, groupBy: [.tenant], order: .cost, limit: 1, useRollups: useRollups))
            #expect(top.keyColumns == [["u"]] && top.cost == nanos([1000]))

            // Ties on cost are broken by the keys, ascending.
            let tie = try store.query(Query(tenants: .all, filters: [.feature: ["a"]], groupBy: [.dimension(.model), .tenant],
                                            order: .count, useRollups: useRollups))
            #expect(tie.keyColumns == [["m1", "m1", "m2"], ["t", "u", "t"]] && tie.count == [2, 1, 1])

            // Daily baseline: 3-day trailing sums (missing days count as zero) and the 3 days before.
            let baseline = try store.query(Query(tenants: .one("t"), from: at("2025-05-01T00:00:00Z"), to: at("2025-05-04T00:00:00Z"),
                                                 bucket: .day, trailing: .init(days: 3, previous: true), useRollups: useRollups))
            #expect(baseline.cost == nanos([350, 0, 400]))
            #expect(baseline.trailingCost == nanos([350, 350, 750]))
            #expect(baseline.previousTrailingCost == [0, 0, 0])
            #expect(baseline.trailingAverageNanos(row: 2) == 250 * unit)
            // From the middle of a day: the day's bucket holds only the rows after `from`, its window the whole day.
            let cut = try store.query(Query(tenants: .one("t"), from: at("2025-05-01T11:00:00Z"), to: at("2025-05-04T00:00:00Z"),
                                            bucket: .day, trailing: .init(days: 2), useRollups: useRollups))
            #expect(cut.cost == nanos([50, 0, 400]) && cut.trailingCost == nanos([350, 350, 400]))

            // No rows at all: one total row; empty buckets of a bounded range; no groups.
            let none = try store.query(Query(tenants: .one("nobody"), useRollups: useRollups))
            #expect(none.count == [0] && none.cost == [0])
            let noneHourly = try store.query(Query(tenants: .one("nobody"), from: 0, to: 2 * TimeUnit.hourMillis, bucket: .hour))
            #expect(noneHourly.bucketStarts == [0, TimeUnit.hourMillis] && noneHourly.count == [0, 0])
            let noneGrouped = try store.query(Query(tenants: .one("nobody"), groupBy: [.dimension(.model)], useRollups: useRollups))
            #expect(noneGrouped.rowCount == 0)
        }
    }

    // MARK: How queries run

    @Test func wholeHoursComeFromTheHourIndex() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.path, options: queryTestOptions())
        defer { try? store.close() }
        // 3 hours x 200 rows, two environments: enough rows per value for the store to keep rollups.
        var records: [CostRecord] = []
        for i in 0..<600 {
            let t = at("2025-05-01T00:00:00Z") + Int64(i) * 18_000
            records.append(CostRecord(tenantID: "t", environment: i % 3 == 0 ? "dev" : "prod", requestID: "r\(i)", model: "m",
                                      inputTokens: 1, outputTokens: 2, costNanos: Int64(i), createdAtMillis: t))
        }
        _ = try store.append(RecordBatch(records))
        try store.flush()
        let series = try Query(tenants: .one("t"), from: at("2025-05-01T00:00:00Z"), to: at("2025-05-01T03:00:00Z"), bucket: .hour)
        let fast = try store.query(series)
        #expect(fast.statistics.hoursFromIndex == 3 && fast.statistics.rowsScanned == 0)
        #expect(fast.count == [200, 200, 200])
        let slow = try store.query(Query(tenants: .one("t"), from: series.from, to: series.to, bucket: .hour, useRollups: false))
        #expect(slow == fast && slow.statistics.hoursFromIndex == 0 && slow.statistics.rowsScanned == 600)

        // Cutting the first hour: two hours from the index, the rest of the first scanned.
        let cut = try store.query(Query(tenants: .one("t"), from: at("2025-05-01T00:30:00Z"), to: series.to, bucket: .hour))
        #expect(cut.statistics.hoursFromIndex == 2 && cut.statistics.rowsScanned == 100 && cut.count == [100, 200, 200])

        // A breakdown by a dimension the hour has a rollup of needs no rows either.
        let byEnv = try Query(tenants: .one("t"), filters: [.environment: ["dev"]], groupBy: [.dimension(.environment)])
        let envFast = try store.query(byEnv)
        #expect(envFast.keyColumns == [["dev"]] && envFast.count == [200])
        let part = try #require(store.snapshot().parts.first)
        let partHourRollups = try part.meta.hourRollups
        if part.meta.hours.indices.allSatisfy({ partHourRollups.range(hour: $0, dimension: Dimension.environment.rawValue) != nil }) {
            #expect(envFast.statistics.rowsScanned == 0)
        }
    }

    @Test("head rows answer queries without a dimension from their hour totals, as a scan would")
    func headRowsAnswerFromTheirHourTotals() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.path, options: queryTestOptions())
        defer { try? store.close() }
        // Two tenants' rows over 5 hours, appended out of order (late rows land in hours already counted).
        var records: [CostRecord] = []
        for i in 0..<500 {
            let t = at("2025-05-01T00:00:00Z") + Int64((i * 7_919) % 500) * 36_000
            records.append(CostRecord(tenantID: i % 4 == 0 ? "u" : "t", environment: i % 3 == 0 ? "dev" : "prod",
                                      requestID: "r\(i)", model: "m", inputTokens: Int64(i % 13), outputTokens: 2,
                                      costNanos: Int64(i * 31), createdAtMillis: t))
        }
        for chunk in stride(from: 0, to: records.count, by: 50) { _ = try store.append(RecordBatch(records[chunk..<chunk + 50])) }
        #expect(store.snapshot().parts.isEmpty)
        let reference = ReferenceAggregator(records: records)
        func run(_ tenants: Query.Tenants = .one("t"), from: String? = nil, to: String? = nil, bucket: Query.Bucket = .hour,
                 groupBy: [Query.Key] = [], filters: [Dimension: [String]] = [:]) throws -> QueryStatistics {
            func q(_ useRollups: Bool) throws -> Query {
                try Query(tenants: tenants, from: from.map(at), to: to.map(at), filters: filters, bucket: bucket, groupBy: groupBy,
                          useRollups: useRollups)
            }
            let fast = try store.query(q(true)), slow = try store.query(q(false))
            #expect(fast == reference.run(try q(false)) && slow == fast)
            #expect(slow.statistics.hoursFromIndex == 0)
            return fast.statistics
        }
        let tRows = records.filter { $0.tenantID == "t" }.count
        // Whole hours: nothing scanned, whatever the bucket and tenant keys.
        #expect(try run().rowsScanned == 0)
        #expect(try run().hoursFromIndex == 5)
        #expect(try run(bucket: .day).rowsScanned == 0)
        #expect(try run(bucket: .none).rowsScanned == 0)
        #expect(try run(.all, groupBy: [.tenant]).rowsScanned == 0)
        // A window of whole hours leaves the other hours out without scanning them.
        let middle = try run(from: "2025-05-01T01:00:00Z", to: "2025-05-01T03:00:00Z")
        #expect(middle.rowsScanned == 0 && middle.hoursFromIndex == 2)
        // A window that cuts an hour, a dimension to group by or filter on: the rows are scanned.
        #expect(try run(from: "2025-05-01T01:30:00Z").rowsScanned == tRows)
        #expect(try run(groupBy: [.dimension(.environment)]).rowsScanned == tRows)
        #expect(try run(filters: [.environment: ["dev"]]).rowsScanned == tRows)
        // Sealed, the same answers come from the part.
        try store.flush()
        #expect(try run().rowsScanned == 0)
    }

    @Test func wholePartsComeFromTheirPartRollups() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.path, options: queryTestOptions())
        defer { try? store.close() }
        // Tenant t: part A (May 1, 00:00-04:00) and part B (May 2, 10:00-12:00), 3 users (too few rows per user in
        // an hour for hourly user rollups, enough in each part for a part rollup); tenant u: one small part; then
        // head rows of t on May 3.
        func rows(_ tenant: String, _ start: String, _ n: Int, _ prefix: String) -> [CostRecord] {
            let t0 = at(start)
            return (0..<n).map { (i: Int) -> CostRecord in
                let environment = i % 3 == 0 ? "dev" : "prod"
                let user = "u" + String((i * 7) % 3), feature = "f" + String(i % 2), id = prefix + String(i)
                let cost = Int64(i % 11 + 1) * unit, time = t0 + Int64(i) * 60_000
                return CostRecord(tenantID: tenant, environment: environment, userID: user, featureTag: feature, requestID: id,
                                  model: "m", inputTokens: Int64(i), outputTokens: 1, costNanos: cost, createdAtMillis: time)
            }
        }
        let a = rows("t", "2025-05-01T00:00:00Z", 240, "a"), b = rows("t", "2025-05-02T10:00:00Z", 120, "b")
        let c = rows("u", "2025-05-01T00:30:00Z", 50, "c"), head = rows("t", "2025-05-03T00:00:00Z", 3, "h")
        _ = try store.append(RecordBatch(a + c))
        try store.flush()
        _ = try store.append(RecordBatch(b))
        try store.flush()
        _ = try store.append(RecordBatch(head))
        let reference = ReferenceAggregator(records: a + b + c + head)
        let parts = store.snapshot().parts.filter { $0.tenant == "t" }.sorted { $0.minTime < $1.minTime }
        try #require(parts.count == 2)
        let (first, last) = (parts[0].meta, parts[1].meta)
        let firstHourRollups = try first.hourRollups
        #expect(first.hours.indices.allSatisfy { firstHourRollups.range(hour: $0, dimension: Dimension.user.rawValue) == nil })

        /// Runs `q` with rollups on and off, checks both against the reference, returns the statistics with rollups.
        func run(from: Int64? = nil, to: Int64? = nil, tenants: Query.Tenants = .one("t"), filters: [Dimension: [String]] = [:],
                 bucket: Query.Bucket = .none, groupBy: [Query.Key] = [.dimension(.user)],
                 limit: Int? = 5) throws -> QueryStatistics {
            func q(_ useRollups: Bool) throws -> Query {
                try Query(tenants: tenants, from: from, to: to, filters: filters, bucket: bucket, groupBy: groupBy, order: .cost,
                          limit: limit, useRollups: useRollups)
            }
            let fast = try store.query(q(true)), slow = try store.query(q(false))
            #expect(fast == reference.run(try q(false)) && slow == fast)
            #expect(slow.statistics.partsFromRollups == 0 && slow.statistics.hoursFromIndex == 0)
            return fast.statistics
        }

        // Top users over all time: both parts from their rollups, only the head rows scanned.
        let all = try run()
        #expect(all.partsFromRollups == 2 && all.partsRead == 2 && all.rowsScanned == 3)
        #expect(all.hoursFromIndex == first.hours.count + last.hours.count)
        let u0 = try store.query(Query(tenants: .one("t"), filters: [.user: ["u0"]], groupBy: [.dimension(.user)]))
        #expect(u0.cost == [(a + b + head).filter { $0.userID == "u0" }.reduce(0) { $0 + $1.costNanos }])
        #expect(u0.statistics.partsFromRollups == 2)

        // Tenant u's part (50 rows, 3 users) keeps no user rollup (fewer than 32 rows per user): its users are scanned.
        let small = try run(tenants: .one("u"))
        #expect(small.partsFromRollups == 0 && small.rowsScanned == 50)

        // The range ends: a part is used only when [minTime, maxTime] lies inside [from, to).
        #expect(try run(from: first.minTime).partsFromRollups == 2)
        // A part the range cuts, most of it inside: its rollup less the rows outside (scanned and subtracted).
        let cutFirst = try run(from: first.minTime + 1)
        #expect(cutFirst.partsFromRollups == 1 && cutFirst.partsLessOutside == 1 && cutFirst.rowsScanned == 1 + 3)
        let cutLast = try run(to: last.maxTime)
        #expect(cutLast.partsFromRollups == 1 && cutLast.partsLessOutside == 1 && cutLast.rowsScanned == 1)
        // Most of it outside: the rows inside are scanned.
        let mostlyOut = try run(from: first.minTime + 200 * 60_000)
        #expect(mostlyOut.partsFromRollups == 1 && mostlyOut.partsLessOutside == 0 && mostlyOut.rowsScanned == 40 + 3)
        // A user whose rows in the part all lie outside the range is not in the answer (not a row of zeros): `run`
        // compares with the reference, which has no such row.
        _ = try run(from: first.minTime + 1, limit: nil)
        let exact = try run(from: first.minTime, to: last.maxTime + 1)
        #expect(exact.partsFromRollups == 2 && exact.rowsScanned == 0 && exact.headsRead == 0)

        // Filters on the grouped dimension are applied to the rollup; a filter on another dimension is not.
        #expect(try run(filters: [.user: ["u1", "u14", "no-such-user"]]).partsFromRollups == 2)
        #expect(try run(filters: [.user: ["u1"]], groupBy: []).partsFromRollups == 2)
        let otherFilter = try run(filters: [.environment: ["dev"]])
        #expect(otherFilter.partsFromRollups == 0 && otherFilter.rowsScanned == 363)
        #expect(try run(groupBy: [.dimension(.user), .dimension(.feature)]).partsFromRollups == 0)

        // A day bucket holds each part whole; an hour bucket does not.
        #expect(try run(bucket: .day).partsFromRollups == 2)
        #expect(try run(bucket: .hour, limit: nil).partsFromRollups == 0)

        // Tenant keys are free; no dimension at all: the part totals, and the head's hour totals for its 3 rows.
        let byTenant = try run(tenants: .all, groupBy: [.tenant], limit: nil)
        #expect(byTenant.partsFromRollups == 3 && byTenant.rowsScanned == 0)
        // Tenant u's part has 25 rows per feature: no feature rollup kept, so it is scanned.
        let byFeature = try run(tenants: .all, groupBy: [.tenant, .dimension(.feature)], limit: nil)
        #expect(byFeature.partsFromRollups == 2 && byFeature.rowsScanned == 50 + 3)
    }

    @Test func stringsGroupByTheirBytes() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.path, options: queryTestOptions())
        defer { try? store.close() }
        // Canonically equivalent, byte-different: Swift's `==` calls them equal, the store does not.
        let composed = "Zo\u{00EB}", decomposed = "Zoe\u{0308}"
        _ = try store.append(RecordBatch([
            record("t", "2025-05-01T10:00:00Z", cost: 1, user: composed, id: "1"),
            record("t", "2025-05-01T10:01:00Z", cost: 2, user: decomposed, id: "2"),
        ]))
        for flush in [false, true] {
            if flush { try store.flush() }
            let byUser = try store.query(Query(tenants: .one("t"), groupBy: [.dimension(.user)], order: .cost))
            #expect(byUser.cost == nanos([2, 1]))
            #expect(byUser.keyColumns[0].map { Array($0.utf8) } == [Array(decomposed.utf8), Array(composed.utf8)])
            let one = try store.query(Query(tenants: .one("t"), filters: [.user: [composed]], groupBy: [.dimension(.user)]))
            #expect(one.cost == nanos([1]))
        }
    }

    @Test func aSnapshotKeepsItsAnswerWhileWritesAndCompactionGoOn() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let store = try Store(path: dir.path, options: queryTestOptions())
        defer { try? store.close() }
        let records = RandomRecords(seed: 9).records(1500)
        _ = try store.append(RecordBatch(records[0..<500]))
        try store.flush()
        _ = try store.append(RecordBatch(records[500..<1000]))
        let snapshot = store.snapshot()
        let query = try Query(tenants: .all, bucket: .hour, groupBy: [.tenant, .dimension(.model)])
        let before = try QueryEngine().run(query, on: snapshot)
        _ = try store.append(RecordBatch(records[1000...]))
        try store.flush()
        _ = try store.compact()
        #expect(try QueryEngine().run(query, on: snapshot) == before)
        #expect(try store.query(query) == ReferenceAggregator(records: records).run(query))
    }

    /// Flips every bit of the byte at `offset` of the file at `path`.
    static func flipByte(_ path: String, at offset: Int) {
        let fd = open(path, O_RDWR)
        #expect(fd >= 0)
        var byte: UInt8 = 0
        #expect(pread(fd, &byte, 1, off_t(offset)) == 1)
        byte ^= 0xFF
        #expect(pwrite(fd, &byte, 1, off_t(offset)) == 1)
        close(fd)
    }

    @Test func aDamagedPartIsQuarantinedAndReported() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var store = try Store(path: dir.path, options: queryTestOptions())
        _ = try store.append(RecordBatch(RandomRecords(seed: 4, options: .init(tenants: 1)).records(300)))
        try store.flush()
        let part = try #require(store.snapshot().parts.first)
        let block = part.meta.granules[1].blocks[PartColumn.cost.rawValue]
        try store.close()
        // Flip one byte inside the cost block of granule 1.
        Self.flipByte(part.path, at: block.offset + BlockHeader.size + 1)

        store = try Store(path: dir.path, options: queryTestOptions())
        defer { try? store.close() }
        #expect(store.snapshot().parts.count == 1)
        let query = try Query(tenants: .all, useRollups: false)
        #expect {
            _ = try store.query(query)
        } throws: { error in
            guard case let .storage(.corrupt(path, _, _)) = error as? QueryError else { return false }
            return path == part.path
        }
        #expect(store.snapshot().parts.isEmpty)
        #expect(access(dir.appending("quarantine/" + PartFormat.fileName(part.id)), F_OK) == 0)
    }

    /// Parts planned, scanned and merged on both threads (`QueryEngine.aggregateManyParts`) answer as one thread does,
    /// and a damaged one among them is reported and quarantined as one the work units read.
    @Test func manyPartsOnEveryThreadAnswerLikeOneAndReportDamage() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var store = try Store(path: dir.path, options: queryTestOptions())
        _ = try store.append(RecordBatch(RandomRecords(seed: 5, options: .init(tenants: 12)).records(3_000)))
        try store.flush()
        var engine = QueryEngine(threads: 2, parallelThreshold: 0)
        engine.manyParts = 2
        let parts = store.snapshot().parts
        #expect(parts.count >= 8)
        for keys in [[], [Query.Key.dimension(.model)], [.tenant, .dimension(.feature)]] {
            let q = try Query(tenants: .all, groupBy: keys, useRollups: false)
            let many = try engine.run(q, on: store.snapshot())
            #expect(many.statistics.partsPlannedInParallel == parts.count)
            #expect(many == (try QueryEngine(threads: 1).run(q, on: store.snapshot())))
        }
        let part = parts[parts.count / 2]
        let block = part.meta.granules[0].blocks[PartColumn.inputTokens.rawValue]
        try store.close()
        Self.flipByte(part.path, at: block.offset + BlockHeader.size + 1)

        store = try Store(path: dir.path, options: queryTestOptions())
        defer { try? store.close() }
        let query = try Query(tenants: .all, groupBy: [.dimension(.model)], useRollups: false)
        #expect {
            _ = try engine.run(query, on: store.snapshot())
        } throws: { error in
            guard case let .storage(.corrupt(path, _, _)) = error as? QueryError else { return false }
            return path == part.path
        }
        #expect(store.snapshot().parts.count == parts.count - 1)
        #expect(access(dir.appending("quarantine/" + PartFormat.fileName(part.id)), F_OK) == 0)
    }

    @Test func twoThreadsAnswerLikeOne() throws {
        let f = try QueryFixture(seed: 11, dense: true)
        let parallel = QueryEngine(threads: 2, parallelThreshold: 0, unitRows: 64)
        for keys in [[], [Query.Key.dimension(.user)], [.tenant, .dimension(.feature), .dimension(.model)]] {
            let q = try Query(tenants: .all, bucket: .hour, groupBy: keys, useRollups: false)
            let two = try parallel.run(q, on: f.snapshot)
            #expect(two.statistics.threads == 2)
            #expect(two == (try QueryEngine(threads: 1).run(q, on: f.snapshot)))
            #expect(two == f.reference.run(q))
        }
    }
}
