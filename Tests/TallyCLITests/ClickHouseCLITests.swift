import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TallyTestSupport

/// The CLI on a real ClickHouse cluster (two shards from `scripts/clickhouse.sh start`, run by
/// `make test-cluster-clickhouse`, which exports TALLY_CLICKHOUSE_URL, _CLUSTER and _SHARDS): `tally clickhouse init`,
/// `tally migrate` from an embedded store (exact totals, resumable), `tally query --records clickhouse` answering
/// what the embedded store answers byte for byte, and `tally serve --records clickhouse` taking and answering records.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["TALLY_CLICKHOUSE_URL"] != nil, "needs TALLY_CLICKHOUSE_URL"))
struct ClickHouseCLITests {
    let environment = ProcessInfo.processInfo.environment
    var url: String { environment["TALLY_CLICKHOUSE_URL"]! }
    var shards: String { environment["TALLY_CLICKHOUSE_SHARDS"] ?? url }
    var cluster: String { environment["TALLY_CLICKHOUSE_CLUSTER"] ?? "tally_cluster" }

    func clusterArgs(_ database: String) -> [String] {
        ["--records", "clickhouse", "--clickhouse-url", url, "--clickhouse-cluster", cluster, "--clickhouse-shards", shards,
         "--clickhouse-database", database]
    }

    static func database() -> String { "tally_cli_" + String(UInt64.random(in: 0...UInt64.max), radix: 16) }

    /// An embedded store of generated records (20 tenants, 12 days).
    func seededStore(_ dir: TemporaryDirectory) throws -> String {
        let data = dir.path + "/store"
        let csv = try runTally(["generate", "--rows", "6000", "--days", "12", "--tenants", "20", "--seed", "5",
                                "--end", "2025-06-01T00:00:00Z", "--format", "csv", "--out", "-"])
        #expect(csv.status == 0)
        let imported = try runTally(["import", "--data", data, "--format", "csv", "-"], stdin: csv.out)
        #expect(imported.status == 0, "\(imported.err)")
        return data
    }

    @Test func migrateCopiesExactlyAndQueriesAnswerAlike() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let data = try seededStore(dir)
        let database = Self.database()
        var run = try runTally(["clickhouse", "init"] + Array(clusterArgs(database).dropFirst(2)))
        #expect(run.status == 0 && run.out.contains("schema version"), "\(run.err)")
        run = try runTally(["migrate", "--from", data, "--to-clickhouse", url, "--clickhouse-cluster", cluster,
                            "--clickhouse-shards", shards, "--clickhouse-database", database, "--batch", "700"])
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out.contains("copied 6000 records (0 already there)"))
        #expect(run.out.contains("checked: every tenant's record count and cost are equal"))
        // Resumable: a rerun skips finished tenants; with the progress file gone, dedup stores nothing twice.
        run = try runTally(["migrate", "--from", data, "--to-clickhouse", url, "--clickhouse-cluster", cluster,
                            "--clickhouse-shards", shards, "--clickhouse-database", database])
        #expect(run.out.contains("copied 0 records (0 already there)"))
        try FileManager.default.removeItem(atPath: data + "/migrate-clickhouse.progress")
        run = try runTally(["migrate", "--from", data, "--to-clickhouse", url, "--clickhouse-cluster", cluster,
                            "--clickhouse-shards", shards, "--clickhouse-database", database])
        #expect(run.out.contains("copied 0 records (6000 already there)"), "\(run.out)")

        let tenant = try #require(try runTally(["query", "--data", data, "cost", "--tenant", "*", "--group-by", "tenant",
                                                "--limit", "1", "--format", "csv"]).out.split(separator: "\n").dropFirst().first?
            .split(separator: ",").first.map(String.init))
        let queries: [[String]] = [
            ["cost", "--tenant", "*", "--group-by", "model", "--order", "key"],
            ["cost", "--tenant", "*", "--group-by", "tenant,feature", "--limit", "15"],
            ["usage", "--tenant", tenant, "--resolution", "day", "--from", "2025-05-20", "--to", "2025-06-01"],
            ["usage", "--tenant", tenant, "--resolution", "hour", "--from", "2025-05-30", "--to", "2025-05-31", "--group-by", "model"],
            ["cost", "--tenant", tenant, "--group-by", "user", "--limit", "5", "--model", "gpt-4o,claude-3-5-sonnet"],
            ["baseline", "--tenant", tenant, "--trailing-days", "3", "--from", "2025-05-25", "--to", "2025-06-01"],
        ]
        for q in queries {
            let embedded = try runTally(["query", "--data", data] + q + ["--format", "csv"])
            let clickhouse = try runTally(["query"] + clusterArgs(database) + q + ["--format", "csv"])
            #expect(embedded.status == 0 && clickhouse.status == 0, "\(q): \(embedded.err) \(clickhouse.err)")
            #expect(clickhouse.out == embedded.out, "\(q) answers differently on ClickHouse")
            #expect(embedded.out.split(separator: "\n").count > 1, "\(q) answers nothing: the comparison would prove nothing")
        }
        run = try runTally(["query"] + clusterArgs(database) + ["cost", "--tenant", "no-such-tenant"])
        #expect(run.status == 1 && run.err.contains("no records of tenant 'no-such-tenant' in the ClickHouse cluster"))

        // tally export: the same file from either store (a records export's rows in no particular order: compared sorted).
        let exports: [[String]] = [
            ["--kind", "records", "--format", "csv", "--from", "2025-05-25", "--to", "2025-06-01"],
            ["--kind", "records", "--format", "ndjson", "--filter", "model=gpt-4o"],
            ["--kind", "usage", "--format", "csv", "--resolution", "hour", "--from", "2025-05-30", "--to", "2025-05-31"],
            ["--kind", "cost", "--format", "json", "--group-by", "model,feature_tag", "--resolution", "day", "--from", "2025-05-20", "--to", "2025-06-01"],
        ]
        for e in exports {
            let args = ["export", "--tenant", tenant] + e + (e.contains("--from") ? [] : ["--from", "2025-05-01", "--to", "2025-06-01"]) + ["--out", "-"]
            let embedded = try runTally(args + ["--data", data])
            let clickhouse = try runTally(args + clusterArgs(database))
            #expect(embedded.status == 0 && clickhouse.status == 0, "\(e): \(embedded.err) \(clickhouse.err)")
            let sorted = { (text: String) in text.split(separator: "\n").sorted() }
            if e[1] == "records" {
                #expect(sorted(clickhouse.out) == sorted(embedded.out), "\(e) exports differently from ClickHouse")
            } else {
                #expect(clickhouse.out == embedded.out, "\(e) exports differently from ClickHouse")
            }
            #expect(embedded.out.split(separator: "\n").count > 3, "\(e) exports nothing: the comparison would prove nothing")
        }

        // tally anomalies detect: the same findings (each run into a fresh catalog); the first line is the timing.
        let catalogDir = dir.path + "/clickhouse-catalog"
        try FileManager.default.createDirectory(atPath: catalogDir, withIntermediateDirectories: true)
        let detectEmbedded = try runTally(["anomalies", "detect", "--data", data, "--now", "2025-06-01T00:00:00Z"])
        let detectClickHouse = try runTally(["anomalies", "detect", "--data", catalogDir, "--now", "2025-06-01T00:00:00Z"] + clusterArgs(database))
        #expect(detectEmbedded.status == 0 && detectClickHouse.status == 0, "\(detectEmbedded.err) \(detectClickHouse.err)")
        #expect(detectClickHouse.out.split(separator: "\n").dropFirst() == detectEmbedded.out.split(separator: "\n").dropFirst(),
                "anomalies detect finds differently on ClickHouse:\n\(detectEmbedded.out)\n---\n\(detectClickHouse.out)")
        #expect(detectEmbedded.out.contains("tenant-level anomalies:"))
    }

    /// A tenant the cluster holds nothing of is copied without the duplicate check; one that a cut-short run (or a
    /// server) left part of is checked, so its records already there are not stored twice.
    @Test func migrateChecksOnlyTenantsTheClusterAlreadyHolds() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let csv = try runTally(["generate", "--rows", "4000", "--days", "8", "--tenants", "12", "--seed", "9",
                                "--end", "2025-06-01T00:00:00Z", "--format", "csv", "--out", "-"]).out
        var lines = csv.split(separator: "\n").map(String.init)
        let header = lines.removeFirst()
        let tenantColumn = try #require(header.split(separator: ",").firstIndex(of: "tenant_id"))
        var firstTenants: [Substring] = []
        for line in lines where firstTenants.count < 4 {
            let t = line.split(separator: ",", omittingEmptySubsequences: false)[tenantColumn]
            if !firstTenants.contains(t) { firstTenants.append(t) }
        }
        // Store A: every other record of four tenants, what a run cut short might have left in the cluster.
        let partial = lines.enumerated().filter { i, line in
            i % 2 == 0 && firstTenants.contains(line.split(separator: ",", omittingEmptySubsequences: false)[tenantColumn])
        }.map(\.element)
        #expect(partial.count > 100)
        let storeA = dir.path + "/a", storeB = dir.path + "/b"
        #expect(try runTally(["import", "--data", storeA, "--format", "csv", "-"], stdin: ([header] + partial).joined(separator: "\n") + "\n").status == 0)
        #expect(try runTally(["import", "--data", storeB, "--format", "csv", "-"], stdin: csv).status == 0)
        let database = Self.database()
        let target = ["--to-clickhouse", url, "--clickhouse-cluster", cluster, "--clickhouse-shards", shards, "--clickhouse-database", database]
        var run = try runTally(["clickhouse", "init"] + Array(clusterArgs(database).dropFirst(2)))
        #expect(run.status == 0, "\(run.err)")
        run = try runTally(["migrate", "--from", storeA] + target)
        #expect(run.status == 0 && run.out.contains("copied \(partial.count) records (0 already there)"), "\(run.out) \(run.err)")
        run = try runTally(["migrate", "--from", storeB, "--batch", "300"] + target)
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out.contains("copied \(lines.count - partial.count) records (\(partial.count) already there)"), "\(run.out)")
        #expect(run.out.contains("checked: every tenant's record count and cost are equal"))
    }

    @Test func serveTakesAndAnswersRecordsOnClickHouse() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let database = Self.database()
        #expect(try runTally(["clickhouse", "init"] + Array(clusterArgs(database).dropFirst(2))).status == 0)
        let data = dir.path + "/node"
        let writer = try runTally(["keys", "create", "--data", data, "--tenant", "acme", "--role", "writer"]).out
        let reader = try runTally(["keys", "create", "--data", data, "--tenant", "acme", "--role", "reader"]).out
        func secret(_ text: String) -> String { String(text.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.hasPrefix("tly_") } ?? "") }
        let port = Int.random(in: 20_000...40_000)
        let serve = try ChildProcess(tallyExecutable(), ["serve", "--data", data, "--port", String(port), "--detect-interval", "0"] + clusterArgs(database),
                                     stdin: .null, stdout: .null, stderr: .null)
        defer { serve.terminate(); serve.waitUntilExit() }
        let base = "http://127.0.0.1:\(port)/api/v1/analytics"
        func call(_ method: String, _ path: String, _ key: String?, body: String? = nil) async throws -> (Int, String) {
            var request = URLRequest(url: URL(string: base + path)!)
            request.httpMethod = method
            if let key { request.setValue("Bearer " + key, forHTTPHeaderField: "Authorization") }
            if let body {
                request.httpBody = Data(body.utf8)
                request.setValue("application/x-ndjson", forHTTPHeaderField: "Content-Type")
            }
            let (data, response) = try await URLSession.shared.data(for: request)
            return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
        }
        var up = false
        for _ in 0..<300 where !up {
            up = ((try? await call("GET", "/health", nil))?.0 == 200)
            if !up { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(up, "tally serve --records clickhouse did not answer")
        let lines = (0..<50).map {
            "{\"tenant_id\":\"acme\",\"request_id\":\"r\($0)\",\"model\":\"gpt-4o\",\"input_tokens\":100,\"output_tokens\":10,"
                + "\"cost_cents\":\"1.25\",\"created_at\":\"2025-05-02T10:\(String(format: "%02d", $0)):00Z\"}"
        }.joined(separator: "\n")
        var (status, body) = try await call("POST", "/records", secret(writer), body: lines)
        #expect(status == 200, "\(body)")
        (status, body) = try await call("POST", "/records", secret(writer), body: lines)
        #expect(status == 200 && body.contains("\"inserted\":0"), "a resent batch stores nothing twice: \(body)")
        (status, body) = try await call("GET", "/statistics/usage?from=2025-05-01&to=2025-05-04&resolution=day", secret(reader))
        #expect(status == 200)
        #expect(body.contains("\"records\":50") && body.contains("\"cost_cents\":\"62.5000000\""), "\(body)")
        let q = try runTally(["query"] + clusterArgs(database) + ["usage", "--tenant", "acme", "--from", "2025-05-02", "--to", "2025-05-03",
                                                                  "--format", "csv"])
        #expect(q.out.contains("2025-05-02T00:00:00Z,50,5000,500,62.5000000"), "\(q.out)")
    }
}
