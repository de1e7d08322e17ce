import TallyAnalytics
import TallyQuery
import TallyStore
import TallySynthetic
import TallyTestSupport
import Testing

/// What every `RecordStore` must do, checked against a plain reference: appends are deduplicated with per-record
/// receipts, every aggregate equals the reference aggregator's answer over the records the store keeps, streaming
/// returns exactly the matching records in bounded pieces, and unreadable rows are reported, never silently left
/// out. Runs once per `RecordStoreSubject.all`.
@Suite("record store contract")
struct RecordStoreContractTests {
    static let june: Int64 = 1_748_736_000_000
    static let hour: Int64 = 3_600_000
    static let day: Int64 = 86_400_000

    static func record(_ tenant: String, _ id: String, _ time: Int64, feature: String = "chat", model: String = "gpt-4o",
                       cost: Int64 = 1_000) -> CostRecord {
        CostRecord(tenantID: tenant, projectID: "web", environment: "prod", userID: "u1", featureTag: feature, requestID: id,
                   workflowID: "", skillID: "", model: model, inputTokens: 100, outputTokens: 10, costNanos: cost,
                   createdAtMillis: time)
    }

    @Test("an append reports each duplicate by index, in the batch and against what is stored; nothing is stored twice",
          arguments: RecordStoreSubject.all)
    func appendReceipts(_ subject: RecordStoreSubject) async throws {
        let s = try await ContractStore(subject)
        defer { s.close() }
        let t = Self.june
        let first = [Self.record("acme", "r1", t), Self.record("acme", "r2", t + 1), Self.record("acme", "r1", t + 2, cost: 5),
                     Self.record("globex", "r1", t + 3)]
        let receipt = try await s.records.append(RecordBatch(first))
        #expect(receipt.inserted == 3)
        #expect(receipt.duplicates == [2])

        if let settle = subject.settle { try await settle(s.records) }
        let second = [Self.record("acme", "r3", t + 4), Self.record("acme", "r2", t + 5, cost: 9), Self.record("globex", "r1", t)]
        let again = try await s.records.append(RecordBatch(second))
        #expect(again.inserted == 1)
        #expect(again.duplicates == [1, 2])

        let all = (first + second).firstOfEachRequest
        for tenant in ["acme", "globex"] {
            let streamed = try await s.streamed(tenant: tenant).records
            #expect(streamed.canonical == all.filter { $0.tenantID == tenant }.canonical)
        }
    }

    @Test("every aggregate equals the reference aggregator's answer over the stored records",
          arguments: RecordStoreSubject.all, [UInt64(11), 12])
    func aggregatesMatchReference(_ subject: RecordStoreSubject, seed: UInt64) async throws {
        let s = try await ContractStore(subject)
        defer { s.close() }
        // Six days: a resent request id lies within the dedup window (seven days) of its first record, so the store
        // keeps exactly the first of each.
        let window = (Self.june - 4 * Self.day)..<(Self.june + 2 * Self.day)
        let gen = RandomRecords(seed: seed, options: .init(
            tenants: 3, usersPerTenant: 8, window: window, lateFraction: 0.15, lateBy: 2 * Self.day, duplicateFraction: 0.05,
            exactDuplicates: seed % 2 == 0, edgeFraction: 0.03,
            edgeCases: [.emptyUser, .emptyWorkflowAndSkill, .unicode, .zeroCost, .oneNanoCost, .maxTokens, .nonUUIDRequestID]))
        let all = gen.records(3_000)
        // Some rows settled into long-term storage, late rows for settled hours after, some left fresh.
        let cuts = [0, 1_200, 2_200, 3_000]
        for (i, cut) in zip(cuts, cuts.dropFirst()).enumerated() {
            _ = try await s.records.append(RecordBatch(all[cut.0..<cut.1]))
            if i < 2, let settle = subject.settle { try await settle(s.records) }
        }
        let kept = all.firstOfEachRequest
        let reference = ReferenceAggregator(records: kept)
        let reader = try await s.records.reader()

        var rng = Xoshiro256(seed: seed, stream: 3)
        let values = Dictionary(uniqueKeysWithValues: Dimension.allCases.map { d in (d, Array(Set(kept.map { $0[d] })).sorted()) })
        for q in try Self.domainQueries(tenants: gen.tenantIDs, window: window) + (0..<150).map({ _ in
            try Self.randomQuery(&rng, tenants: gen.tenantIDs, values: values, window: window)
        }) {
            let answer = try await reader.aggregate(q)
            #expect(answer == reference.run(q), "\(q)")
            #expect(answer.complete)
        }
        #expect(try await reader.newestRecord(of: .all) == kept.map(\.createdAtMillis).max())
        let tenant = gen.tenantIDs[0]
        #expect(try await reader.newestRecord(of: .one(tenant)) == kept.filter { $0.tenantID == tenant }.map(\.createdAtMillis).max())
        #expect(try await reader.newestRecord(of: .one("no-such-tenant")) == nil)
    }

    /// The questions the domain asks: a usage series, totals, grouped sums with filters, top-k, daily series for
    /// detection, trailing baselines.
    static func domainQueries(tenants: [String], window: Range<Int64>) throws -> [Query] {
        let (from, to) = (window.lowerBound, window.upperBound)
        let one = Query.Tenants.one(tenants[0])
        return [
            try Query(tenants: one, from: TimeUnit.dayStart(from), to: TimeUnit.dayStart(to) + day, bucket: .day),
            try Query(tenants: one, from: to - day, to: to, filters: [.project: ["web"]], bucket: .hour),
            try Query(tenants: one, from: from, to: to),
            try Query(tenants: .all, from: from, to: to, groupBy: [.tenant], order: .count, limit: 1),
            try Query(tenants: one, from: from, to: to, groupBy: [.dimension(.feature)], order: .cost, limit: 5),
            try Query(tenants: .some(tenants), from: from, to: to, filters: [.environment: ["prod"]],
                      groupBy: [.dimension(.model), .dimension(.user)], order: .tokens),
            try Query(tenants: one, from: TimeUnit.dayStart(from), to: TimeUnit.dayStart(to), bucket: .day,
                      groupBy: [.dimension(.feature)], order: .key),
            try Query(tenants: one, from: TimeUnit.dayStart(to) - 5 * day, to: TimeUnit.dayStart(to), bucket: .day,
                      groupBy: [.dimension(.model)], trailing: Query.Trailing(days: 3, previous: true)),
            try Query(tenants: one, from: from, to: to, groupBy: [.dimension(.feature)], fillEmptyBuckets: false),
        ]
    }

    /// A random query: windows cut hours, filters hit and miss, keys, buckets, orders, limits and trailing windows mix.
    static func randomQuery(_ rng: inout Xoshiro256, tenants: [String], values: [Dimension: [String]], window: Range<Int64>) throws -> Query {
        func pick<T>(_ a: [T]) -> T { a[rng.below(a.count)] }
        let tenantChoice: Query.Tenants = switch rng.below(6) {
        case 0...2: .one(rng.below(10) == 0 ? "no-such-tenant" : pick(tenants))
        case 3, 4: .some([pick(tenants), pick(tenants)])
        default: .all
        }
        let span = window.upperBound - window.lowerBound
        func time() -> Int64 {
            let t = window.lowerBound - span / 8 + Int64(rng.below(Int(span + span / 4)))
            return [TimeUnit.hourStart(t), TimeUnit.dayStart(t), t][rng.below(3)]
        }
        var from: Int64? = rng.below(6) == 0 ? nil : time()
        var to: Int64? = rng.below(6) == 0 ? nil : time()
        if let a = from, let b = to {
            if a == b { to = b + 1 + Int64(rng.below(Int(Self.day))) } else if a > b { (from, to) = (b, a) }
        }
        var filters: [Dimension: [String]] = [:]
        for _ in 0..<[0, 0, 1, 2][rng.below(4)] {
            let d = pick(Dimension.allCases)
            var chosen = (0..<(1 + rng.below(3))).map { _ in pick(values[d] ?? [""]) }
            if rng.below(5) == 0 { chosen.append("no-such-value") }
            filters[d] = chosen
        }
        let bucket = pick(Query.Bucket.allCases)
        var keys = Query.Key.allCases
        var groupBy: [Query.Key] = []
        for _ in 0..<(bucket == .hour ? rng.below(2) : [0, 1, 1, 2][rng.below(4)]) {
            groupBy.append(keys.remove(at: rng.below(keys.count)))
        }
        let trailing = bucket == .day && rng.below(2) == 0 ? Query.Trailing(days: 1 + rng.below(4), previous: rng.below(2) == 0) : nil
        return try Query(tenants: tenantChoice, from: from, to: to, filters: filters, bucket: bucket, groupBy: groupBy,
                         order: pick(Query.Order.allCases), limit: rng.below(2) == 0 ? nil : 1 + rng.below(8), trailing: trailing,
                         fillEmptyBuckets: rng.below(5) != 0)
    }

    @Test("streaming returns exactly the matching records, in bounded pieces, and the other tenants' never",
          arguments: RecordStoreSubject.all)
    func streamingIsCompleteAndBounded(_ subject: RecordStoreSubject) async throws {
        let s = try await ContractStore(subject)
        defer { s.close() }
        let window = (Self.june - 2 * Self.day)..<(Self.june + 2 * Self.day)
        let gen = RandomRecords(seed: 5, options: .init(tenants: 2, usersPerTenant: 5, window: window, duplicateFraction: 0.02))
        let all = gen.records(20_000)
        _ = try await s.records.append(RecordBatch(all[..<12_000]))
        if let settle = subject.settle { try await settle(s.records) }
        _ = try await s.records.append(RecordBatch(all[12_000...]))
        let kept = all.firstOfEachRequest
        let tenant = gen.tenantIDs[0]

        let everything = try await s.streamed(tenant: tenant)
        #expect(everything.records.canonical == kept.filter { $0.tenantID == tenant }.canonical)
        #expect(everything.largestPiece <= 65_536, "pieces are bounded, not the whole window at once")
        #expect(everything.largestPiece < everything.records.count)

        let (from, to) = (Self.june - 7 * Self.hour + 123, Self.june + 5 * Self.hour)
        let model = kept.first { $0.tenantID == tenant }!.model
        let filters: [Dimension: [String]] = [.model: [model, "no-such-model"], .environment: ["prod", "staging"]]
        let cut = try await s.streamed(tenant: tenant, from: from, to: to, filters: filters).records
        let expected = kept.filter {
            $0.tenantID == tenant && $0.createdAtMillis >= from && $0.createdAtMillis < to && $0.model == model
                && ["prod", "staging"].contains($0.environment)
        }
        #expect(!expected.isEmpty)
        #expect(cut.canonical == expected.canonical)
        #expect(try await s.streamed(tenant: "no-such-tenant").records.isEmpty)
    }

    @Test("a reader keeps answering from what it saw while appends go on", arguments: RecordStoreSubject.all)
    func readerIsConsistent(_ subject: RecordStoreSubject) async throws {
        let s = try await ContractStore(subject)
        defer { s.close() }
        _ = try await s.records.append(RecordBatch([Self.record("acme", "a", Self.june)]))
        let before = try await s.records.reader()
        _ = try await s.records.append(RecordBatch([Self.record("acme", "b", Self.june + 1)]))
        let total = try Query(tenants: .one("acme"))
        #expect(try await before.aggregate(total).count == [1])
        #expect(try await s.records.reader().aggregate(total).count == [2])
        #expect(try await s.streamed(tenant: "acme").records.count == 2)
    }

    @Test("rows that cannot be read are reported for their tenant and hours, and answers say they are incomplete",
          arguments: RecordStoreSubject.all)
    func missingRowsAreReported(_ subject: RecordStoreSubject) async throws {
        guard let damage = subject.damage else { return }
        let s = try await ContractStore(subject)
        defer { s.close() }
        let t = Self.june + 10 * Self.hour
        _ = try await s.records.append(RecordBatch((0..<50).map { Self.record("acme", "a\($0)", t + Int64($0)) }
            + (0..<50).map { Self.record("globex", "g\($0)", t + Int64($0)) }))
        try await damage(s.records, "acme", t)
        let reader = try await s.records.reader()

        let missing = try await reader.missing(tenants: ["acme"], from: t - Self.day, to: t + Self.day)
        #expect(missing.count == 1)
        #expect(missing.first?.tenant == "acme")
        #expect(missing.first.map { $0.firstHour <= t && $0.endHour > t } == true)
        #expect(try await reader.missing(tenants: ["acme"], from: t + Self.day, to: t + 2 * Self.day).isEmpty, "other hours are whole")
        #expect(try await reader.missing(tenants: ["globex"], from: .min, to: .max).isEmpty, "another tenant never sees it")
        #expect(try await reader.missing(tenants: nil, from: .min, to: .max).count == 1)

        let acme = try await reader.aggregate(try Query(tenants: .one("acme"), from: t - Self.day, to: t + Self.day))
        #expect(!acme.complete)
        #expect(acme.missing.map(\.tenant) == ["acme"])
        let globex = try await reader.aggregate(try Query(tenants: .one("globex"), from: t - Self.day, to: t + Self.day))
        #expect(globex.complete)
        #expect(globex.count == [50])
        let health = await s.records.health()
        #expect(health.degraded)
    }
}
