import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import TallyServer
import TallyStore
import TallyTestSupport
import Testing

@Suite("GET statistics/cost")
struct CostTests {
    static let window = "from=2025-05-01&to=2025-05-04"

    @Test("group_by feature: groups by cost descending, with shares, totals and what the rest adds up to")
    func byFeature() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let body = try json(try await client.execute(uri: costPath + "?\(Self.window)&group_by=feature&limit=2", method: .get,
                                                         headers: auth(f.readerA)))
            let groups = try #require(body.array("groups"))
            #expect(groups.map { $0.object("key")?.string("feature_tag") } == ["search", "chat"])
            #expect(groups.map { $0.string("cost_cents") } == ["20.2500000", "15.5000000"])
            #expect(groups.map { $0["share_pct"] as? Double } == [56.64, 43.36])
            #expect(body.object("totals")?.string("cost_cents") == "35.7500001")
            #expect(body.object("others")?.string("cost_cents") == "0.0000001")
            #expect(body.object("others")?.int("records") == 1)
            #expect(body["group_by"] as? [String] == ["feature_tag"])
            #expect(body.string("order") == "cost")
            #expect(body.int("limit") == 2)
            #expect(body.object("provenance")?.string("aggregation")?.contains("feature_tag") == true)
        }
    }

    @Test("several keys, another order, and filters")
    func severalKeys() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let body = try json(try await client.execute(
                uri: costPath + "?\(Self.window)&group_by=user,model&order=key&model=gpt-4o&model=gpt-4o-mini", method: .get,
                headers: auth(f.readerA)))
            let groups = try #require(body.array("groups"))
            #expect(groups.map { [$0.object("key")?.string("user_id"), $0.object("key")?.string("model")] }
                    == [["u1", "gpt-4o"], ["u3", "gpt-4o-mini"]])
            #expect(groups.map { $0.int("records") } == [2, 1])
            #expect(body.object("totals")?.string("cost_cents") == "15.5000001")
            let byRecords = try json(try await client.execute(
                uri: costPath + "?\(Self.window)&group_by=project&order=records", method: .get, headers: auth(f.readerA)))
            #expect(byRecords.array("groups")?.map { $0.object("key")?.string("project_id") } == ["api", "web"])
        }
    }

    @Test("resolution adds a series per group, every bucket present")
    func perGroupSeries() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let body = try json(try await client.execute(uri: costPath + "?\(Self.window)&group_by=feature&resolution=day", method: .get,
                                                         headers: auth(f.readerA)))
            let groups = try #require(body.array("groups"))
            let chat = try #require(groups.first { $0.object("key")?.string("feature_tag") == "chat" })
            #expect(chat.array("series")?.map { $0.string("cost_cents") } == ["10.5000000", "5.0000000", "0.0000000"])
            #expect(body.object("window")?.int("buckets") == 3)
        }
    }

    @Test("trailing_days gives each group's daily baseline")
    func trailing() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let body = try json(try await client.execute(uri: costPath + "?\(Self.window)&group_by=feature&trailing_days=2", method: .get,
                                                         headers: auth(f.readerA)))
            let chat = try #require(body.array("groups")?.first { $0.object("key")?.string("feature_tag") == "chat" })
            let trailing = try #require(chat.object("trailing"))
            // Days 05-02 and 05-03: 5 cents over 2 days; the 2 days before (04-30, 05-01): 7 + 10.5.
            #expect(trailing.string("through") == "2025-05-03T00:00:00Z")
            #expect(trailing.string("average_daily_cost_cents") == "2.5000000")
            #expect(trailing.string("previous_average_daily_cost_cents") == "8.7500000")
            #expect(trailing.int("days") == 2)
            let daily = try json(try await client.execute(
                uri: costPath + "?\(Self.window)&group_by=feature&trailing_days=2&resolution=day", method: .get, headers: auth(f.readerA)))
            let points = try #require(daily.array("groups")?.first { $0.object("key")?.string("feature_tag") == "chat" }?.array("series"))
            #expect(points.map { $0.string("trailing_average_cost_cents") } == ["8.7500000", "7.7500000", "2.5000000"])
        }
    }

    @Test("without group_by: the summary, totals and the top five features, users and models")
    func summary() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let body = try json(try await client.execute(uri: costPath + "?\(Self.window)", method: .get, headers: auth(f.readerA)))
            #expect(body.object("totals")?.string("cost_cents") == "35.7500001")
            let top = try #require(body.object("top"))
            #expect(top.array("model")?.map { $0.object("key")?.string("model") } == ["claude-3-opus", "gpt-4o", "gpt-4o-mini"])
            #expect(top.array("user_id")?.map { $0.object("key")?.string("user_id") } == ["u2", "u1", "u3"])
            #expect(top.array("feature_tag")?.count == 3)
            #expect(body["series"] == nil)
            #expect(body.object("provenance") != nil)
            let series = try json(try await client.execute(uri: costPath + "?\(Self.window)&resolution=day", method: .get, headers: auth(f.readerA)))
            #expect(series.array("series")?.map { $0.int("records") } == [2, 1, 1])
        }
    }

    @Test("an admin may group by tenant; a tenant key may not")
    func byTenant() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let body = try json(try await client.execute(uri: costPath + "?\(Self.window)&group_by=tenant", method: .get, headers: auth(f.adminKey)))
            #expect(body.array("groups")?.map { $0.object("key")?.string("tenant_id") } == ["globex", "acme"])
            let series = try json(try await client.execute(uri: costPath + "?\(Self.window)&group_by=tenant&resolution=day", method: .get,
                                                           headers: auth(f.adminKey)))
            #expect(series.array("groups")?.first?.array("series")?.map { $0.string("cost_cents") } == ["1000.0000000", "2000.0000000", "0.0000000"])
            let r = try await client.execute(uri: costPath + "?\(Self.window)&group_by=tenant", method: .get, headers: auth(f.readerA))
            try expectProblem(r, .forbidden, "forbidden")
        }
    }

    @Test("bad parameters get 400 naming the parameter", arguments: [
        ("group_by=colour", "group_by"),
        ("group_by=model,model", "group_by"),
        ("limit=0", "limit"),
        ("limit=100000", "limit"),
        ("limit=ten", "limit"),
        ("order=price", "order"),
        ("resolution=minute", "resolution"),
        ("trailing_days=0", "trailing_days"),
        ("group_by=model&trailing_days=7&resolution=hour", "trailing_days"),
        ("trailing_days=7", "trailing_days"),
        ("from=2025-05-04&to=2025-05-01", "from"),
        ("from=2000-01-01&to=2025-01-01&resolution=hour", "from"),
        ("colour=red", "colour"),
    ])
    func badParameters(query: String, parameter: String) async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let r = try await client.execute(uri: costPath + "?" + query, method: .get, headers: auth(f.readerA))
            try expectProblem(r, .badRequest, "invalid-parameter", parameter: parameter)
        }
    }
}
