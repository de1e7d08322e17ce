import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import TallyStore
import TallyTestSupport
import TallyText
import Testing

let monthlyPath = "/api/v1/analytics/reports/monthly"

/// `GET reports/monthly`.
@Suite("Monthly report")
struct MonthlyReportTests {
    /// The known records plus 2000 generated records of tenant A over April and May 2025 (several models,
    /// features, users and projects), half sealed, and a monthly budget.
    static func fixture() throws -> ServerFixture {
        let f = try ServerFixture()
        let more = RandomRecords(seed: 9, options: .init(tenants: 1, window: ms("2025-04-01T00:00:00Z")..<ms("2025-06-01T00:00:00Z")))
            .records(2_000).enumerated().map { i, r -> CostRecord in
                var r = r
                r.tenantID = ServerFixture.tenantA
                // More traffic in May than in April, so the change is not all noise.
                if i % 3 == 0 && r.createdAtMillis < ms("2025-05-01T00:00:00Z") { r.createdAtMillis += 31 * 86_400_000 }
                return r
            }
        _ = try f.store.append(RecordBatch(more[..<1_000]))
        try f.store.flush()
        _ = try f.store.append(RecordBatch(more[1_000...]))
        return f
    }

    /// Nano-dollars of a `cost_cents` string, negative ones included.
    static func cents(_ text: String?) throws -> Int64 {
        let t = try #require(text)
        return t.hasPrefix("-") ? -(try Money.parseCents(String(t.dropFirst())).get()) : try Money.parseCents(t).get()
    }

    @Test("the report's totals, breakdowns and daily spend equal the usage and cost APIs' for the month and the previous one")
    func totalsMatchTheAPI() async throws {
        let f = try Self.fixture()
        try await f.withRouter { client in
            let r = try await client.execute(uri: monthlyPath + "?month=2025-05", method: .get, headers: auth(f.readerA))
            #expect(r.status == .ok)
            let report = try json(r)
            #expect(report.string("month") == "2025-05")
            let usage = try json(try await client.execute(uri: usagePath + "?from=2025-05-01&to=2025-06-01", method: .get, headers: auth(f.readerA)))
            let totals = try #require(report.object("totals"))
            let apiTotals = try #require(usage.object("totals"))
            for key in ["records", "input_tokens", "output_tokens"] { #expect(totals.int(key) == apiTotals.int(key), "\(key)") }
            #expect(totals.string("cost_cents") == apiTotals.string("cost_cents"))
            let daily = try #require(report.array("daily"))
            let series = try #require(usage.array("series"))
            #expect(daily.count == 31)
            #expect(daily.map { $0.string("cost_cents") } == series.map { $0.string("cost_cents") })

            let april = try json(try await client.execute(uri: usagePath + "?from=2025-04-01&to=2025-05-01", method: .get, headers: auth(f.readerA)))
            let comparison = try #require(report.object("comparison"))
            #expect(comparison.object("previous_totals")?.string("cost_cents") == april.object("totals")?.string("cost_cents"))
            #expect(comparison.object("previous_totals")?.int("records") == april.object("totals")?.int("records"))

            let byModel = try json(try await client.execute(
                uri: costPath + "?from=2025-05-01&to=2025-06-01&group_by=model&limit=1000", method: .get, headers: auth(f.readerA)))
            let rows = try #require(report.object("breakdowns")?.object("model")?.array("rows"))
            let groups = try #require(byModel.array("groups"))
            #expect(rows.count == min(groups.count, 25))
            for (row, group) in zip(rows, groups) {
                #expect(row.string("value") == group.object("key")?.string("model"))
                #expect(row.string("cost_cents") == group.string("cost_cents"))
            }
            for key in ["feature_tag", "user_id", "project_id"] {
                let b = try #require(report.object("breakdowns")?.object(key))
                let sum = try (b.array("rows") ?? []).reduce(Int64(0)) { $0 + (try Self.cents($1.string("cost_cents"))) }
                    + (try Self.cents(b.object("others")?.string("cost_cents")))
                #expect(sum == (try Self.cents(totals.string("cost_cents"))), "\(key): rows and others add up to the total")
            }
        }
    }

    @Test("the decomposition's parts add up exactly to the change in cost")
    func decompositionSumsToTheChange() async throws {
        let f = try Self.fixture()
        try await f.withRouter { client in
            let report = try json(try await client.execute(uri: monthlyPath + "?month=2025-05", method: .get, headers: auth(f.readerA)))
            let comparison = try #require(report.object("comparison"))
            let d = try #require(comparison.object("decomposition"))
            let change = try Self.cents(d.string("change_cents"))
            #expect(change == (try Self.cents(comparison.string("cost_cents_delta"))))
            #expect(change == (try Self.cents(report.object("totals")?.string("cost_cents"))) - (try Self.cents(comparison.object("previous_totals")?.string("cost_cents"))))
            let parts = try ["volume_cents", "tokens_per_request_cents", "io_mix_cents", "model_mix_cents", "price_cents"].map { try Self.cents(d.string($0)) }
            #expect(parts.reduce(0, +) == change)
            #expect(change != 0)
            #expect(parts[0] > 0, "May has more requests than April")
        }
    }

    @Test("budgets are measured over the month")
    func budgets() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let created = try await client.execute(
                uri: "/api/v1/analytics/budgets", method: .post, headers: auth(f.adminKey, [.contentType: "application/json"]),
                body: ByteBuffer(string: #"{"tenant_id":"acme","level":"tenant","period":"monthly","limit_cents":"50"}"#))
            #expect(created.status == .created)
            let daily = try await client.execute(
                uri: "/api/v1/analytics/budgets", method: .post, headers: auth(f.adminKey, [.contentType: "application/json"]),
                body: ByteBuffer(string: #"{"tenant_id":"acme","level":"feature","feature_tag":"chat","period":"daily","limit_cents":"12"}"#))
            #expect(daily.status == .created)
            let report = try json(try await client.execute(uri: monthlyPath + "?month=2025-05", method: .get, headers: auth(f.readerA)))
            let budgets = try #require(report.array("budgets"))
            let monthly = try #require(budgets.first { $0.string("period") == "monthly" })
            #expect(monthly.string("spent_cents") == "35.7500001")
            #expect((monthly["utilization_pct"] as? Double) == 71.5)
            #expect(monthly.string("state") == "ok")
            #expect(monthly.string("projected_cents") != nil, "May 2025 is in progress on 2025-05-04")
            let chat = try #require(budgets.first { $0.string("period") == "daily" })
            #expect(chat.string("max_day_cents") == "10.5000000")
            #expect(chat.int("days_over_limit") == 0)
        }
    }

    @Test("CSV and printable HTML: the same totals, inline SVG, print CSS, nothing external")
    func formats() async throws {
        let f = try Self.fixture()
        try await f.withRouter { client in
            let jsonReport = try json(try await client.execute(uri: monthlyPath + "?month=2025-05", method: .get, headers: auth(f.readerA)))
            let total = try #require(jsonReport.object("totals")?.string("cost_cents"))
            let csv = try await client.execute(uri: monthlyPath + "?month=2025-05&format=csv", method: .get, headers: auth(f.readerA))
            #expect(csv.headers[.contentType]?.hasPrefix("text/csv") == true)
            let lines = String(buffer: csv.body).split(separator: "\n")
            #expect(lines.first?.hasPrefix("section,key,records") == true)
            #expect(lines.contains { $0.hasPrefix("totals,2025-05,") && $0.contains("," + total + ",") })
            #expect(lines.filter { $0.hasPrefix("day,") }.count == 31)

            let html = try await client.execute(uri: monthlyPath + "?month=2025-05&format=html", method: .get, headers: auth(f.readerA))
            #expect(html.status == .ok)
            #expect(html.headers[.contentType] == "text/html; charset=utf-8")
            #expect(html.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
            let page = String(buffer: html.body)
            #expect(page.hasPrefix("<!doctype html>"))
            #expect(page.contains("@media print"))
            #expect(page.components(separatedBy: "<svg").count - 1 == 2, "the daily chart and the decomposition")
            #expect(page.components(separatedBy: "<rect class=\"day\"").count - 1 == 31)
            #expect(!page.contains("<script"))
            #expect(!page.contains("src="), "no images, scripts or frames")
            #expect(!page.contains("http://") && !page.contains("https://"), "no external link")
            #expect(page.contains("No anomalies recorded this month.") || page.contains("<h2>Anomalies</h2><table>"))
        }
    }

    @Test("tenants see their own report only; admins name the tenant; the month is checked")
    func access() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            try expectProblem(try await client.execute(uri: monthlyPath + "?month=2025-05&tenant_id=acme", method: .get, headers: auth(f.readerB)),
                              .forbidden, "forbidden")
            try expectProblem(try await client.execute(uri: monthlyPath + "?month=2025-05", method: .get, headers: auth(f.adminKey)),
                              .badRequest, "invalid-parameter", parameter: "tenant_id")
            let admin = try json(try await client.execute(uri: monthlyPath + "?month=2025-05&tenant_id=globex", method: .get, headers: auth(f.adminKey)))
            #expect(admin.object("totals")?.string("cost_cents") == "3000.0000000")
            let alias = try json(try await client.execute(uri: monthlyPath + "?month=2025-05&tenant=globex", method: .get, headers: auth(f.adminKey)))
            #expect(alias.string("tenant_id") == "globex")
            try expectProblem(try await client.execute(uri: monthlyPath + "?tenant=globex&tenant_id=acme", method: .get, headers: auth(f.adminKey)),
                              .badRequest, "invalid-parameter", parameter: "tenant")
            for bad in ["2025-5", "2025-13", "May", "2025-05-01"] {
                try expectProblem(try await client.execute(uri: monthlyPath + "?month=" + bad, method: .get, headers: auth(f.readerA)),
                                  .badRequest, "invalid-parameter", parameter: "month")
            }
            try expectProblem(try await client.execute(uri: monthlyPath + "?format=xml", method: .get, headers: auth(f.readerA)),
                              .badRequest, "invalid-parameter", parameter: "format")
            try expectProblem(try await client.execute(uri: monthlyPath, method: .get, headers: auth(f.writerA)), .forbidden, "forbidden")
        }
    }

    @Test("without a price table, the input/output weights are fitted to the model's days: a split moved at the same prices is all input/output mix")
    func splitShiftWithoutPriceTable() async throws {
        let f = try ServerFixture(seed: false, pricing: nil)
        var records: [CostRecord] = []
        // April: 30 requests of model m, one a day, the split varying a little; May: the same tokens per day, half input.
        for d in 0..<30 {
            let tokens = Int64(1_100 + 40 * d)
            let aprilInput = tokens - Int64(100 + 7 * (d % 5))
            for (month, input) in [("2025-04", aprilInput), ("2025-05", tokens / 2)] {
                let day = (d + 1 < 10 ? "0" : "") + String(d + 1)
                records.append(CostRecord(tenantID: ServerFixture.tenantA, projectID: "p", environment: "prod", userID: "u", featureTag: "chat",
                                          requestID: "\(month)-\(d)", model: "m", inputTokens: input, outputTokens: tokens - input,
                                          costNanos: input * 3_000 + (tokens - input) * 15_000, createdAtMillis: ms("\(month)-\(day)T12:00:00Z")))
            }
        }
        _ = try f.store.append(RecordBatch(records))
        try await f.withRouter { client in
            let report = try json(try await client.execute(uri: monthlyPath + "?month=2025-05", method: .get, headers: auth(f.readerA)))
            let d = try #require(report.object("comparison")?.object("decomposition"))
            let change = try Self.cents(d.string("change_cents"))
            #expect(change > 0)
            #expect(try Self.cents(d.string("io_mix_cents")) == change)
            for key in ["volume_cents", "tokens_per_request_cents", "model_mix_cents", "price_cents"] {
                #expect(try Self.cents(d.string(key)) == 0, "\(key)")
            }
            #expect((d["unweighted_models"] as? [String]) == [])
        }
    }
}

