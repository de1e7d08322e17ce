import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import TallyServer
import TallyStore
import TallyTestSupport
import Testing

@Suite("GET statistics/usage")
struct UsageTests {
    @Test("a day series has every bucket, zeros included, with totals, signals and provenance")
    func daySeries() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let r = try await client.execute(uri: usagePath + "?from=2025-05-01&to=2025-05-05&resolution=day", method: .get,
                                             headers: auth(f.readerA))
            #expect(r.status == .ok)
            #expect(r.headers[.contentType] == "application/json")
            let body = try json(r)
            let series = try #require(body.array("series"))
            #expect(series.map { $0.string("start") } == ["2025-05-01T00:00:00Z", "2025-05-02T00:00:00Z", "2025-05-03T00:00:00Z", "2025-05-04T00:00:00Z"])
            #expect(series.map { $0.string("cost_cents") } == ["30.7500000", "5.0000000", "0.0000001", "0.0000000"])
            #expect(series.map { $0.int("records") } == [2, 1, 1, 0])
            let totals = try #require(body.object("totals"))
            #expect(totals.int("records") == 4)
            #expect(totals.int("input_tokens") == 3600)
            #expect(totals.int("output_tokens") == 360)
            #expect(totals.int("total_tokens") == 3960)
            #expect(totals.string("cost_cents") == "35.7500001")
            #expect(body.object("window")?.string("from") == "2025-05-01T00:00:00Z")
            #expect(body.object("window")?.int("buckets") == 4)
            #expect(body.object("scope")?.string("tenant_id") == "acme")

            let signals = try #require(body.object("signals"))
            let change = try #require(signals.object("change"))
            // The previous 4 days hold a5 only: 7 cents.
            #expect(change.object("previous_window")?.string("from") == "2025-04-27T00:00:00Z")
            #expect(change.object("previous_totals")?.string("cost_cents") == "7.0000000")
            #expect(change.string("cost_cents_delta") == "28.7500001")
            #expect((change["cost_change_pct"] as? Double) == 410.71)
            #expect(change.int("records_delta") == 3)
            #expect(signals.object("peak")?.string("start") == "2025-05-01T00:00:00Z")
            #expect(signals.object("freshness")?.string("newest_record_at") == "2025-05-03T23:59:59.999Z")
            #expect(signals.object("freshness")?.int("lag_seconds") == 0)

            let provenance = try #require(body.object("provenance"))
            #expect(provenance.array("sources")?.first?.string("name") == "tally-store")
            #expect(provenance.object("window")?.string("to") == "2025-05-05T00:00:00Z")
            #expect(provenance.string("aggregation")?.contains("UTC day") == true)
            #expect(provenance.string("generated_at") == "2025-05-04T00:00:00Z")
        }
    }

    @Test("hour buckets: the window widens to whole hours and holds every hour")
    func hourSeries() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let body = try json(try await client.execute(
                uri: usagePath + "?from=2025-05-01T09:30:00Z&to=2025-05-01T12:00:01Z&resolution=hour", method: .get, headers: auth(f.readerA)))
            let series = try #require(body.array("series"))
            #expect(series.count == 4)  // 09, 10, 11, 12
            #expect(series.map { $0.int("records") } == [0, 2, 0, 0])
            #expect(body.object("window")?.string("to") == "2025-05-01T13:00:00Z")
        }
    }

    @Test("scope project and env narrow the series", arguments: [
        ("scope=project&project_id=web", "30.7500000", 2),
        ("scope=project&project_id=api", "5.0000001", 2),
        ("scope=env&environment=staging", "20.2500000", 1),
        ("scope=env&environment=prod&project_id=web", "10.5000000", 1),
        ("scope=project&project_id=none", "0.0000000", 0),
    ])
    func scopes(query: String, cost: String, records: Int) async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let body = try json(try await client.execute(uri: usagePath + "?from=2025-05-01&to=2025-05-04&\(query)", method: .get,
                                                         headers: auth(f.readerA)))
            #expect(body.object("totals")?.string("cost_cents") == cost)
            #expect(body.object("totals")?.int("records") == records)
            #expect(body.array("series")?.count == 3)
        }
    }

    @Test("an admin without tenant_id reads every tenant; with it, one")
    func adminScopes() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let all = try json(try await client.execute(uri: usagePath + "?from=2025-05-01&to=2025-05-04", method: .get, headers: auth(f.adminKey)))
            #expect(all.object("totals")?.string("cost_cents") == "3035.7500001")
            #expect(all.object("scope")?["tenant_id"] is NSNull)
            let b = try json(try await client.execute(uri: usagePath + "?from=2025-05-01&to=2025-05-04&tenant_id=globex", method: .get,
                                                      headers: auth(f.adminKey)))
            #expect(b.object("totals")?.string("cost_cents") == "3000.0000000")
        }
    }

    @Test("rollups on and off give the same answer")
    func rollupsOff() async throws {
        let on = try ServerFixture(useRollups: true)
        let off = try ServerFixture(useRollups: false)
        try on.store.flush()
        try off.store.flush()
        let uri = usagePath + "?from=2025-04-28&to=2025-05-04&resolution=hour"
        let a = try json(try await on.withRouter { try await $0.execute(uri: uri, method: .get, headers: auth(on.readerA)) })
        let b = try json(try await off.withRouter { try await $0.execute(uri: uri, method: .get, headers: auth(off.readerA)) })
        #expect(a.array("series")?.map { $0.string("cost_cents") } == b.array("series")?.map { $0.string("cost_cents") })
        #expect(a.object("totals")?.string("cost_cents") == b.object("totals")?.string("cost_cents"))
        #expect(b.object("provenance")?.array("sources")?.first?["rollups"] as? Bool == false)
    }

    @Test("without from and to the window is the last 30 days up to now")
    func defaults() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let body = try json(try await client.execute(uri: usagePath, method: .get, headers: auth(f.readerA)))
            #expect(body.object("window")?.string("to") == "2025-05-04T00:00:00Z")
            #expect(body.object("window")?.string("from") == "2025-04-04T00:00:00Z")
            #expect(body.array("series")?.count == 30)
            #expect(body.object("totals")?.int("records") == 5)
        }
    }

    @Test("bad parameters get 400 naming the parameter", arguments: [
        ("from=2025-05-03&to=2025-05-01", "from"),
        ("from=2025-05-03&to=2025-05-03", "from"),
        ("from=yesterday", "from"),
        ("to=2025-13-01", "to"),
        ("resolution=week", "resolution"),
        ("scope=team", "scope"),
        ("scope=project", "project_id"),
        ("scope=env", "environment"),
        ("project_id=web", "project_id"),
        ("from=2020-01-01&to=2025-01-01&resolution=hour", "from"),
        ("group_by=model", "group_by"),
        ("resolution=day&resolution=hour", "resolution"),
        ("tenant_id=bad%20tenant", "tenant_id"),
    ])
    func badParameters(query: String, parameter: String) async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let r = try await client.execute(uri: usagePath + "?" + query, method: .get, headers: auth(f.readerA))
            let problem = try expectProblem(r, .badRequest, "invalid-parameter", parameter: parameter)
            #expect(problem.string("detail")?.hasPrefix(parameter) == true)
        }
    }
}
