import TallyAnalytics
import TallyQuery
import TallyStore
import TallyTestSupport
import Testing

@Suite("Analytics services")
struct AnalyticsTests {
    static let day = TimeUnit.dayMillis

    /// Random records over 10 days and 3 tenants, stored half in parts and half in the head.
    static func withAnalytics(useRollups: Bool, _ body: (Analytics, [CostRecord]) async throws -> Void) async throws {
        try await withTemporaryDirectory(prefix: "tally-analytics") { dir in
            var o = StoreOptions()
            o.background = false
            o.durability = .buffered
            let store = try Store(path: dir + "/store", options: o)
            var options = AnalyticsOptions()
            options.useRollups = useRollups
            let end: Int64 = 1_748_736_000_000  // 2025-06-01
            let analytics = Analytics(store: store, catalog: try SQLiteCatalog(directory: dir + "/store"), options: options, clock: { end })
            var g = SystemRandomNumberGenerator()
            var records: [CostRecord] = []
            for i in 0..<3_000 {
                records.append(CostRecord(
                    tenantID: ["t1", "t2", "t3"][i % 3], projectID: ["p1", "p2"][Int.random(in: 0...1, using: &g)],
                    environment: ["prod", "dev"][Int.random(in: 0...1, using: &g)], userID: "u\(Int.random(in: 0..<20, using: &g))",
                    featureTag: "f\(Int.random(in: 0..<6, using: &g))", requestID: "r\(i)", model: ["m1", "m2", "m3"][i % 3 == 0 ? 0 : Int.random(in: 0...2, using: &g)],
                    inputTokens: Int64.random(in: 0...5000, using: &g), outputTokens: Int64.random(in: 0...500, using: &g),
                    costNanos: Int64.random(in: 0...100_000_000, using: &g),
                    createdAtMillis: end - 10 * day + Int64.random(in: 0..<(10 * day), using: &g)))
            }
            _ = try store.append(RecordBatch(records[..<1500]))
            try store.flush()
            _ = try store.append(RecordBatch(records[1500...]))
            try await body(analytics, records)
            try analytics.close()
        }
    }

    @Test("usage totals and series match a row-by-row sum, with and without rollups", arguments: [true, false])
    func usageMatchesRows(useRollups: Bool) async throws {
        try await Self.withAnalytics(useRollups: useRollups) { analytics, records in
            let admin = Principal(keyID: "k", tenant: nil, role: .admin)
            let from: Int64 = 1_748_736_000_000 - 7 * Self.day
            let report = try await analytics.usage(
                UsageRequest(tenantID: "t2", from: from, to: nil, resolution: .hour, scope: .project, projectID: "p1"), principal: admin)
            let rows = records.filter { $0.tenantID == "t2" && $0.projectID == "p1" && $0.createdAtMillis >= from }
            #expect(report.totals.records == Int64(rows.count))
            #expect(report.totals.costNanos == rows.reduce(0) { $0 + $1.costNanos })
            #expect(report.series.count == 7 * 24)
            #expect(report.series.reduce(0) { $0 + $1.totals.records } == Int64(rows.count))
            for point in report.series {
                let inBucket = rows.filter { $0.createdAtMillis >= point.start && $0.createdAtMillis < point.start + TimeUnit.hourMillis }
                #expect(point.totals.costNanos == inBucket.reduce(0) { $0 + $1.costNanos })
            }
            let previous = records.filter { $0.tenantID == "t2" && $0.projectID == "p1" && $0.createdAtMillis >= from - 7 * Self.day && $0.createdAtMillis < from }
            #expect(report.signals.change.previousTotals.records == Int64(previous.count))
            let newest = records.filter { $0.tenantID == "t2" }.map(\.createdAtMillis).max()
            #expect(report.signals.freshness.newestRecord == newest)
            let peak = try #require(report.signals.peak)
            #expect(report.series.allSatisfy { $0.totals.costNanos <= peak.totals.costNanos })
        }
    }

    @Test("cost groups sum to the totals with the others, in order, with shares")
    func costGroups() async throws {
        try await Self.withAnalytics(useRollups: true) { analytics, records in
            let reader = Principal(keyID: "k", tenant: "t1", role: .reader)
            let answer = try await analytics.cost(CostRequest(groupBy: [.dimension(.feature), .dimension(.environment)], limit: 4), principal: reader)
            guard case let .breakdown(report) = answer else { Issue.record("expected a breakdown"); return }
            let rows = records.filter { $0.tenantID == "t1" && $0.createdAtMillis >= report.window.from && $0.createdAtMillis < report.window.to }
            #expect(report.totals.costNanos == rows.reduce(0) { $0 + $1.costNanos })
            #expect(report.groups.count == 4)
            #expect(report.groups.reduce(Int64(0)) { $0 + $1.totals.costNanos } + report.others.costNanos == report.totals.costNanos)
            let costs = report.groups.map(\.totals.costNanos)
            #expect(costs == costs.sorted(by: >))
            for g in report.groups {
                let key = g.key.map(\.value)
                let expected = rows.filter { $0.featureTag == key[0] && $0.environment == key[1] }.reduce(0) { $0 + $1.costNanos }
                #expect(g.totals.costNanos == expected)
            }
        }
    }

    @Test("the summary ranks the top five features, users and models by cost")
    func summary() async throws {
        try await Self.withAnalytics(useRollups: true) { analytics, records in
            let reader = Principal(keyID: "k", tenant: "t3", role: .reader)
            let answer = try await analytics.cost(CostRequest(), principal: reader)
            guard case let .summary(summary) = answer else { Issue.record("expected the summary"); return }
            #expect(summary.top.map(\.key) == [.feature, .user, .model])
            let users = try #require(summary.top.first { $0.key == .user }?.groups)
            #expect(users.count == 5)
            var byUser: [String: Int64] = [:]
            for r in records where r.tenantID == "t3" { byUser[r.userID, default: 0] += r.costNanos }
            let best = byUser.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(5).map(\.key)
            #expect(users.map { $0.key[0].value } == best)
        }
    }

    @Test("ingest rejects another tenant's records for a tenant key and stores the rest only when asked")
    func ingestIsolation() async throws {
        try await Self.withAnalytics(useRollups: true) { analytics, _ in
            let writer = Principal(keyID: "k", tenant: "t1", role: .writer)
            let body = Array("""
                {"tenant_id":"t1","request_id":"n1","model":"m1","cost_cents":1,"created_at":"2025-05-31T00:00:00Z"}
                {"tenant_id":"t2","request_id":"n2","model":"m1","cost_cents":1,"created_at":"2025-05-31T00:00:00Z"}

                """.utf8)
            let strict = try await analytics.ingest(body, format: .ndjson, principal: writer, skipInvalid: false)
            #expect(!strict.stored && strict.inserted == 0 && strict.rejectedLines == 1)
            #expect(strict.errors == [RecordError(line: 2, field: "tenant_id", reason: "belongs to another tenant than the API key")])
            let lenient = try await analytics.ingest(body, format: .ndjson, principal: writer, skipInvalid: true)
            #expect(lenient.stored && lenient.inserted == 1 && lenient.received == 2)
            await #expect(throws: AnalyticsError.self) {
                try await analytics.ingest(body, format: .ndjson, principal: Principal(keyID: "r", tenant: "t1", role: .reader), skipInvalid: true)
            }
        }
    }
}
