import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import TallyTestSupport
import TallyServer
import TallyStore
@testable import TallyAnalytics

/// `/metrics` as Prometheus reads it: parsed by the official client library's parser (prometheus_client), standard
/// process and HTTP server names, spend by tenant and model with a bounded label set, and every metric the shipped
/// Grafana dashboard uses present.
@Suite struct PrometheusMetricsTests {
    /// Python's prometheus_client parses `text`; the families by name, or nil when the tool is missing here
    /// (`make test` sets TALLY_REQUIRE_TOOLS=1, so there a missing tool fails the test instead).
    static func parse(_ text: String) throws -> [String: Any]? {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).txt")
        try text.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let p = try ChildProcess("/usr/bin/env", ["python3", packageRoot() + "/Tests/Python/parse_prometheus.py", file.path], stdin: .null)
        let data = p.stdout!.readDataToEndOfFile()
        let errors = String(decoding: p.stderr!.readDataToEndOfFile(), as: UTF8.self)
        if errors.contains("No module named 'prometheus_client'") || p.terminationStatus == 127 {
            #expect(ProcessInfo.processInfo.environment["TALLY_REQUIRE_TOOLS"] != "1",
                    "prometheus_client is missing (make test-deps installs Tests/requirements.txt)")
            return nil
        }
        #expect(p.terminationStatus == 0, "the Prometheus parser refused /metrics: \(errors)")
        return try JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    static func samples(_ families: [String: Any], _ name: String) -> [(name: String, labels: [String: String], value: Double)] {
        guard let family = families[name] as? [String: Any], let list = family["samples"] as? [[Any]] else { return [] }
        return list.map { ($0[0] as! String, $0[1] as! [String: String], ($0[2] as! NSNumber).doubleValue) }
    }

    @Test("the official parser reads /metrics, with process, HTTP server, store and spend families")
    func parsesAndHoldsTheStandardFamilies() async throws {
        TallyMetricsSystem.bootstrap()
        let f = try ServerFixture()
        try await f.withRouter { client in
            _ = try await client.execute(uri: usagePath, method: .get, headers: auth(f.readerA))
            _ = try await client.execute(uri: usagePath, method: .get, headers: auth("tly_wrong"))
            let text = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            guard let families = try Self.parse(text) else { return }
            for (name, type) in [("process_cpu_seconds", "counter"), ("process_resident_memory_bytes", "gauge"),
                                 ("process_open_fds", "gauge"), ("process_start_time_seconds", "gauge"),
                                 ("http_server_requests", "counter"), ("http_server_request_duration_seconds", "histogram"),
                                 ("tally_store_rows", "gauge"), ("tally_ingest_records", "counter"),
                                 ("tally_query_duration_seconds", "histogram"), ("tally_spend_dollars", "gauge")] {
                #expect((families[name] as? [String: Any])?["type"] as? String == type, "\(name) should be a \(type)")
            }
            let usage = Self.samples(families, "http_server_requests").filter {
                $0.labels["http_route"] == "/api/v1/analytics/statistics/usage" && $0.labels["http_response_status_code"] == "200"
            }
            #expect((usage.first?.value ?? 0) >= 1)
            #expect(Self.samples(families, "tally_http_auth_failures").first?.value == 1)
        }
    }

    @Test("spend by tenant and model equals the cost API; tenants past the top N are summed as other")
    func spendIsBoundedAndExact() async throws {
        let f = try ServerFixture()
        let top1 = APIServer(analytics: f.analytics, metrics: ServerMetrics(spendTopTenants: 1))
        try await top1.application(logger: quietLogger).test(.router) { client in
            let text = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            guard let families = try Self.parse(text) else { return }
            let month = Self.samples(families, "tally_spend_dollars").filter { $0.labels["window"] == "month" }
            var byKey: [String: Double] = [:]
            for s in month { byKey[s.labels["tenant"]! + "/" + s.labels["model"]!] = s.value }
            // Fixture, May 2025 up to "now" (May 4): globex 3,000 cents of gpt-4o (the top tenant); acme's records are
            // summed as "other": gpt-4o 15.5 cents, claude-3-opus 20.25, gpt-4o-mini 0.0000001.
            #expect(byKey["globex/gpt-4o"] == 30.0)
            #expect(byKey["other/gpt-4o"] == 0.155)
            #expect(byKey["other/claude-3-opus"] == 0.2025)
            #expect(Set(month.map { $0.labels["tenant"]! }) == ["globex", "other"])
            #expect(Self.samples(families, "tally_spend_dollars").filter { $0.labels["window"] == "today" }.isEmpty,
                    "nothing was spent on May 4")
        }
        // Spend moves into "today" as records of today arrive, under the same bounded names.
        _ = try f.store.append(RecordBatch([ServerFixture.rec("acme", "t1", "2025-05-03T23:00:00Z", project: "web", env: "prod",
                                                             user: "u", feature: "chat", model: "gpt-4o", input: 1, output: 1, cents: "100")]))
        f.setNow("2025-05-03T23:30:00Z")
        try await top1.application(logger: quietLogger).test(.router) { client in
            let text = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            guard let families = try Self.parse(text) else { return }
            let today = Self.samples(families, "tally_spend_dollars").filter { $0.labels["window"] == "today" }
            #expect(today.map { $0.labels["tenant"]! }.allSatisfy { ["globex", "other"].contains($0) })
            #expect(today.first { $0.labels["tenant"] == "other" && $0.labels["model"] == "gpt-4o" }?.value == 1.0)
        }
    }

    @Test("every metric the shipped Grafana dashboard queries is in /metrics")
    func grafanaDashboardUsesExistingMetrics() async throws {
        TallyMetricsSystem.bootstrap()
        let dashboard = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: packageRoot() + "/dashboards/grafana-tally.json"))) as! [String: Any]
        var expressions: [String] = []
        for panel in dashboard["panels"] as! [[String: Any]] {
            for target in panel["targets"] as? [[String: Any]] ?? [] { expressions.append(target["expr"] as! String) }
        }
        #expect(expressions.count >= 8)
        let queries = expressions
        let f = try ServerFixture()
        try await f.withRouter { client in
            _ = try await client.execute(uri: usagePath, method: .get, headers: auth(f.readerA))
            _ = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType),
                                         body: ndjson([line("acme", "g1")]))
            let text = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            let names = Set(text.split(separator: "\n").compactMap { line -> String? in
                guard !line.hasPrefix("#") else { return nil }
                return String(line.prefix { $0 != "{" && $0 != " " })
            })
            for expr in queries {
                let used = expr.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") })
                    .map(String.init).filter { $0.hasPrefix("tally_") || $0.hasPrefix("http_server_") || $0.hasPrefix("process_") }
                #expect(!used.isEmpty, "\(expr) uses no Tally metric")
                for name in used { #expect(names.contains(name), "the dashboard's \(expr) uses \(name), which /metrics lacks") }
            }
        }
    }
}
