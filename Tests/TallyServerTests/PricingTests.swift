import Foundation
import HTTPTypes
import HummingbirdTesting
import TallyAnalytics
import TallyStore
import Testing

@Suite("GET pricing")
struct PricingTests {
    @Test("lists every model's prices with their dates, the one in force marked, to any key")
    func lists() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            for key in [f.readerA, f.writerB, f.adminKey] {
                let r = try await client.execute(uri: pricingPath, method: .get, headers: auth(key))
                #expect(r.status == .ok)
                let body = try json(r)
                #expect(body["configured"] as? Bool == true)
                let models = try #require(body.array("models"))
                #expect(models.map { $0.string("model") } == ["gpt-4o"])
                let prices = try #require(models.first?.array("prices"))
                #expect(prices.count == 1)
                #expect(prices[0].string("input_per_million_cents") == "250.0000000")
                #expect(prices[0].string("output_per_million_cents") == "1000.0000000")
                #expect(prices[0].string("effective_from") == "1970-01-01T00:00:00Z")
                #expect(prices[0]["in_force"] as? Bool == true)
                #expect(prices[0]["effective_to"] is NSNull)
            }
            try expectProblem(try await client.execute(uri: pricingPath, method: .get), .unauthorized, "unauthorized")
            try expectProblem(try await client.execute(uri: pricingPath + "?model=x", method: .get, headers: auth(f.readerA)),
                              .badRequest, "invalid-parameter", parameter: "model")
        }
    }

    @Test("Sources/TallyServer/Pricing/pricing.json as the server loads it: history with effective_to, the current price in force")
    func realFile() async throws {
        let table = try PriceTable.load(path: packageRoot() + "/Sources/TallyServer/Pricing/pricing.json")
        let f = try ServerFixture(pricing: table)
        f.setNow("2024-06-01T00:00:00Z")
        try await f.withRouter { client in
            let body = try json(try await client.execute(uri: pricingPath, method: .get, headers: auth(f.readerA)))
            let models = try #require(body.array("models"))
            #expect(models.count == table.models.count)
            let gpt4o = try #require(models.first { $0.string("model") == "gpt-4o" }?.array("prices"))
            #expect(gpt4o.map { $0.string("effective_from") } == ["2023-01-01T00:00:00Z", "2024-01-01T00:00:00Z"])
            #expect(gpt4o.map { $0.string("effective_to") } == ["2024-01-01T00:00:00Z", nil])
            #expect(gpt4o.map { $0["in_force"] as? Bool } == [false, true])
            // $2.50 per million input tokens = 250 cents.
            #expect(gpt4o.map { $0.string("input_per_million_cents") } == ["500.0000000", "250.0000000"])
        }
    }

    @Test("without a price table: configured false, no models")
    func unconfigured() async throws {
        let f = try ServerFixture(pricing: nil)
        try await f.withRouter { client in
            let body = try json(try await client.execute(uri: pricingPath, method: .get, headers: auth(f.readerA)))
            #expect(body["configured"] as? Bool == false)
            #expect(body.array("models")?.isEmpty == true)
        }
    }
}

/// The package directory (the tests run from anywhere).
func packageRoot(_ file: String = #filePath) -> String {
    var url = URL(fileURLWithPath: file)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}

let pricingPath = "/api/v1/analytics/pricing"
