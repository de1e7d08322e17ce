#if canImport(Glibc)
import Glibc
#endif
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import TallyStore
import TallyTestSupport
import Testing

@testable import TallyServer

@Suite("Probes, metrics, the API document and unknown routes")
struct OperationsTests {
    @Test("_status lists each capability with its state and endpoint")
    func status() async throws {
        let f = try ServerFixture(useRollups: false)
        try await f.withRouter { client in
            let r = try await client.execute(uri: "/api/v1/analytics/_status", method: .get)
            #expect(r.status == .ok)
            let caps = try #require(try json(r).array("capabilities"))
            let state = Dictionary(uniqueKeysWithValues: caps.map { ($0.string("name")!, $0.string("state")!) })
            #expect(state["ingest"] == "available")
            #expect(state["usage"] == "available")
            #expect(state["cost"] == "available")
            #expect(state["rollups"] == "disabled")
            #expect(state["pricing"] == "available")
            #expect(state["budgets"] == "available")
            #expect(state["policy_check"] == "available")
            #expect(state["anomalies"] == "available")
            #expect(state["incidents"] == "available")
            #expect(caps.first { $0.string("name") == "usage" }?.string("endpoint") == "GET /api/v1/analytics/statistics/usage")
            // Each endpoint is a registered route, written as Hummingbird lists it.
            let endpoints = caps.map { [$0.string("name")!, $0.string("endpoint") ?? "-"] }
            #expect(endpoints == [
                ["ingest", "POST /api/v1/analytics/records"], ["usage", "GET /api/v1/analytics/statistics/usage"],
                ["cost", "GET /api/v1/analytics/statistics/cost"], ["pricing", "GET /api/v1/analytics/pricing"],
                ["budgets", "/api/v1/analytics/budgets"], ["policy_check", "POST /api/v1/analytics/policy/check"],
                ["policy_reservations", "POST /api/v1/analytics/policy/reservations"],
                ["feature_tags", "/api/v1/analytics/feature-tags"], ["audit", "GET /api/v1/analytics/audit"],
                ["exports", "POST /api/v1/analytics/reporting/exports"], ["monthly_reports", "GET /api/v1/analytics/reports/monthly"],
                ["console", "GET /console"], ["rollups", "-"], ["health", "GET /api/v1/analytics/health"],
                ["metrics", "GET /metrics"], ["openapi", "GET /api/v1/analytics/openapi.json"],
                ["anomalies", "GET /api/v1/analytics/statistics/anomalies"], ["anomaly_detection", "POST /api/v1/analytics/anomalies/detect"],
                ["incidents", "GET /api/v1/analytics/incidents"],
            ])
        }
    }

    @Test("health is 200 while the store is open and 503 once it is closed")
    func health() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let ok = try await client.execute(uri: "/api/v1/analytics/health", method: .get)
            #expect(ok.status == .ok)
            let body = try json(ok)
            #expect(body.string("status") == "ok")
            #expect(body.array("checks")?.map { $0.string("name") } == ["store_open", "wal_writable", "parts_readable", "disk_space", "wal_intact"])
            try f.analytics.close()
            let failing = try await client.execute(uri: "/api/v1/analytics/health", method: .get)
            #expect(failing.status == .serviceUnavailable)
            #expect(try json(failing).array("checks")?.first?["ok"] as? Bool == false)
            let status = try json(try await client.execute(uri: "/api/v1/analytics/_status", method: .get))
            #expect(status.array("capabilities")?.first { $0.string("name") == "ingest" }?.string("state") == "degraded")
            // Writes to a closed store are a 503 problem, not a crash.
            let write = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType),
                                                 body: ndjson([line("acme", "late")]))
            try expectProblem(write, .serviceUnavailable, "storage-unavailable")
        }
    }

    @Test("health is 503 naming the WAL failure while the disk is full; writes and health come back once it is not; nothing lost")
    func healthAfterWALFailure() async throws {
        let f = try ServerFixture()
        let store = f.directory.appending("store")
        defer { FaultInjection.remove(under: store + "/") }
        try await f.withRouter { client in
            FaultInjection.install(.init(prefix: store + "/", contains: "/wal/", operation: .write, fault: .fail(errno: ENOSPC)))
            let refused = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType),
                                                   body: ndjson([line("acme", "full1")]))
            try expectProblem(refused, .serviceUnavailable, "storage-unavailable")
            let failing = try await client.execute(uri: "/api/v1/analytics/health", method: .get)
            #expect(failing.status == .serviceUnavailable)
            let body = try json(failing)
            #expect(body.string("status") == "failing")
            let wal = try #require(body.array("checks")?.first { $0.string("name") == "wal_writable" })
            #expect(wal["ok"] as? Bool == false)
            #expect(wal.string("detail")?.contains("No space left on device") == true, "\(wal)")
            #expect(wal.string("detail")?.contains("resume") == true, "\(wal)")
            #expect(String(buffer: try await client.execute(uri: "/metrics", method: .get).body).contains("tally_store_wal_failed 1"))

            FaultInjection.remove(under: store + "/")
            let stored = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType),
                                                  body: ndjson([line("acme", "full1"), line("acme", "a1")]))
            #expect(stored.status == .ok)
            let healthy = try await client.execute(uri: "/api/v1/analytics/health", method: .get)
            #expect(healthy.status == .ok)
            #expect(try json(healthy).string("status") == "ok")
            #expect(String(buffer: try await client.execute(uri: "/metrics", method: .get).body).contains("tally_store_wal_failed 0"))
        }
        var count: [String: Int] = [:]
        for r in try f.store.snapshot().records() { count[r.requestID, default: 0] += 1 }
        #expect(count.count == ServerFixture.records.count + 1 && count.values.allSatisfy { $0 == 1 }, "\(count)")
    }

    @Test("health is degraded (200) and lists the WAL losses while their records are in quarantine/; metrics count them")
    func healthDegradedByWALLoss() async throws {
        let f = try ServerFixture()
        let quarantine = f.directory.appending("store") + "/quarantine"
        let loss = WALLoss(segment: 3, start: 4096, end: 4700, damagedAt: 4200, reason: "frame checksum mismatch", batches: 1,
                           records: 7, exact: true, cut: false, copy: "0000000000000003.wal.damaged-4096-4700")
        try FileIO.writeAtomically(loss.encode(), to: quarantine + "/" + loss.recordName, directory: quarantine)
        try await f.withRouter { client in
            let degraded = try await client.execute(uri: "/api/v1/analytics/health", method: .get)
            #expect(degraded.status == .ok)
            let body = try json(degraded)
            #expect(body.string("status") == "degraded")
            let check = try #require(body.array("checks")?.first { $0.string("name") == "wal_intact" })
            #expect(check["degraded"] as? Bool == true)
            #expect(check.string("detail")?.contains("1 acknowledged batch") == true, "\(check)")
            let listed = try #require(body.array("wal_losses")?.first)
            #expect(listed.string("segment") == "0000000000000003.wal" && listed.int("start") == 4096 && listed.int("end") == 4700)
            #expect(listed.int("batches") == 1 && listed.int("records") == 7)
            #expect(listed.string("record") == "quarantine/" + loss.recordName)
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains("tally_store_wal_lost_batches 1") && metrics.contains("tally_store_wal_lost_records 7"))
            // The operator has handled it and removes the record: healthy again, no restart.
            unlink(quarantine + "/" + loss.recordName)
            let healthy = try await client.execute(uri: "/api/v1/analytics/health", method: .get)
            #expect(try json(healthy).string("status") == "ok")
        }
    }

    @Test("metrics count requests, ingested records and latencies, and show the store")
    func metrics() async throws {
        TallyMetricsSystem.bootstrap()
        let f = try ServerFixture()
        try await f.withRouter { client in
            _ = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType),
                                         body: ndjson([line("acme", "m1"), line("acme", "a1")]))
            _ = try await client.execute(uri: usagePath, method: .get, headers: auth(f.readerA))
            _ = try await client.execute(uri: costPath + "?limit=0", method: .get, headers: auth(f.readerA))
            let r = try await client.execute(uri: "/metrics", method: .get)
            #expect(r.status == .ok)
            #expect(r.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = String(buffer: r.body)
            for expected in [
                "tally_ingest_records_total{result=\"inserted\"} 1",
                "tally_ingest_records_total{result=\"duplicate\"} 1",
                "tally_ingest_batches_total 1",
                "tally_ingest_duration_seconds_count 1",
                "tally_query_duration_seconds_count{endpoint=\"usage\"} 1",
                "http_server_requests_total{http_route=\"/api/v1/analytics/statistics/cost\",http_request_method=\"GET\",http_response_status_code=\"400\"}",
                "tally_store_rows 8",
                "tally_store_parts 0",
                "# TYPE tally_store_compactions_total counter",
                "tally_store_seals_total 0",
                "tally_store_newest_record_age_seconds 0",
                "tally_store_bytes{kind=\"wal\"} ",
            ] {
                #expect(text.contains(expected), "missing: \(expected)")
            }
        }
    }

    @Test("unknown routes and methods get a problem, never an HTML page")
    func unknownRoutes() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            try expectProblem(try await client.execute(uri: "/api/v1/analytics/no-such-route", method: .get, headers: auth(f.adminKey)),
                              .notFound, "not-found")
            try expectProblem(try await client.execute(uri: usagePath, method: .delete, headers: auth(f.adminKey)), .notFound, "not-found")
            try expectProblem(try await client.execute(uri: "/no-such-page", method: .get), .notFound, "not-found")
            try expectProblem(try await client.execute(uri: "/", method: .post), .notFound, "not-found")
        }
    }

    @Test("the server's address opened in a browser leads to the console")
    func rootLeadsToTheConsole() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let root = try await client.execute(uri: "/", method: .get)
            #expect(root.status == .found)
            #expect(root.headers[.location] == "/console")
        }
    }
}
