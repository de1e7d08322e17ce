import CompressNIO
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TallyAnalytics
@testable import TallyServer
import TallyStore
import TallyTestSupport
import TallyText
import Testing

let exportsPath = "/api/v1/analytics/reporting/exports"

/// `POST/GET reporting/exports` and the download.
@Suite("Exports")
struct ExportTests {
    /// The known records plus 3000 generated ones of tenant A (edge values included), sealed into parts, plus
    /// a few left in the head.
    static func fixture() throws -> ServerFixture {
        let f = try ServerFixture()
        let more = RandomRecords(seed: 5, options: .init(tenants: 1, window: ms("2025-05-01T00:00:00Z")..<ms("2025-05-04T00:00:00Z"),
                                                             edgeFraction: 0.05))
            .records(3_000).map { r -> CostRecord in
                var r = r
                r.tenantID = ServerFixture.tenantA
                // Ingestion refuses control characters; commas, quotes and unicode stay.
                for d in TallyStore.Dimension.allCases {
                    r[d] = String(String.UnicodeScalarView(r[d].unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
                }
                return r
            }
        _ = try f.store.append(RecordBatch(more[..<2_900]))
        try f.store.flush()
        _ = try f.store.append(RecordBatch(more[2_900...]))
        return f
    }

    static func body(_ members: [String: Any]) throws -> ByteBuffer {
        ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: members))
    }

    static let jsonType: HTTPFields = [.contentType: "application/json"]

    /// Creates an export with `key`, waits for it, and returns its status object.
    static func export(_ f: ServerFixture, _ client: some TestClientProtocol, key: String, _ members: [String: Any]) async throws -> [String: Any] {
        let r = try await client.execute(uri: exportsPath, method: .post, headers: auth(key, jsonType), body: try body(members))
        #expect(r.status == .accepted, "\(String(buffer: r.body))")
        let created = try json(r)
        let id = try #require(created.string("id"))
        #expect(r.headers[.location] == exportsPath + "/" + id)
        #expect(["pending", "running", "ready"].contains(created.string("status") ?? ""))
        await f.analytics.waitForExport(id: id)
        let status = try await client.execute(uri: exportsPath + "/" + id, method: .get, headers: auth(key))
        #expect(status.status == .ok)
        return try json(status)
    }

    /// The totals of records parsed from `bytes`, stored into a fresh store (the import path).
    static func reimportedTotals(_ bytes: [UInt8], format: InputFormat) throws -> Totals {
        let dir = try TemporaryDirectory(prefix: "tally-reimport")
        defer { dir.remove() }
        var options = StoreOptions()
        options.background = false
        options.durability = .buffered
        let store = try Store(path: dir.appending("store"), options: options)
        defer { try? store.close() }
        let outcome = RecordParser(format: format).parse(bytes)
        #expect(outcome.errors.isEmpty, "\(outcome.errors.prefix(3))")
        let receipt = try store.append(outcome.batch)
        #expect(receipt.duplicates.isEmpty)
        let records = try store.snapshot().records()
        return Totals(records: Int64(records.count), inputTokens: records.reduce(0) { $0 + $1.inputTokens },
                      outputTokens: records.reduce(0) { $0 + $1.outputTokens }, costNanos: records.reduce(0) { $0 + $1.costNanos })
    }

    @Test("a records export re-imports into a fresh store to the same totals as the cost API", arguments: ["csv", "ndjson", "json"])
    func recordsRoundTrip(format: String) async throws {
        let f = try Self.fixture()
        try await f.withRouter { client in
            let status = try await Self.export(f, client, key: f.readerA, [
                "kind": "records", "format": format, "from": "2025-04-01", "to": "2025-06-01",
            ])
            #expect(status.string("status") == "ready")
            let url = try #require(status.string("download_url"))
            let download = try await client.execute(uri: url, method: .get, headers: auth(f.readerA))
            #expect(download.status == .ok)
            #expect(download.headers[.contentEncoding] == nil)
            #expect(download.headers[.contentDisposition]?.contains("attachment") == true)
            let bytes = Array(download.body.readableBytesView)
            #expect(status.int("bytes") == bytes.count)
            let reimported = try Self.reimportedTotals(bytes, format: InputFormat(rawValue: format)!)

            let cost = try json(try await client.execute(
                uri: costPath + "?from=2025-04-01&to=2025-06-01", method: .get, headers: auth(f.readerA)))
            let totals = try #require(cost.object("totals"))
            #expect(Int64(totals.int("records") ?? -1) == reimported.records)
            #expect(status.int("rows") == Int(reimported.records))
            #expect(Int64(totals.int("input_tokens") ?? -1) == reimported.inputTokens)
            #expect(Int64(totals.int("output_tokens") ?? -1) == reimported.outputTokens)
            #expect(totals.string("cost_cents") == Money.formatCents(reimported.costNanos))
            #expect(reimported.records == 3_005, "A's five known records and 3000 generated ones")
        }
    }

    @Test("filters and the window narrow a records export")
    func filteredRecords() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let status = try await Self.export(f, client, key: f.readerA, [
                "kind": "records", "format": "ndjson", "from": "2025-05-01", "to": "2025-05-04", "filters": ["model": "gpt-4o"],
            ])
            let download = try await client.execute(uri: try #require(status.string("download_url")), method: .get, headers: auth(f.readerA))
            let lines = String(buffer: download.body).split(separator: "\n")
            #expect(lines.count == 2, "a1 and a3: gpt-4o in the window (a5 is the day before)")
            #expect(lines.allSatisfy { $0.contains("\"model\":\"gpt-4o\"") && $0.contains("\"tenant_id\":\"acme\"") })
        }
    }

    @Test("the download is gzip-compressed with Accept-Encoding: gzip or gzip=1, and decompresses to the plain file")
    func gzipDownload() async throws {
        let f = try Self.fixture()
        try await f.withRouter { client in
            let status = try await Self.export(f, client, key: f.readerA, ["kind": "records", "format": "csv", "from": "2025-04-01", "to": "2025-06-01"])
            let url = try #require(status.string("download_url"))
            let plain = try await client.execute(uri: url, method: .get, headers: auth(f.readerA))
            for (uri, headers) in [(url, auth(f.readerA, [.acceptEncoding: "br;q=1.0, gzip;q=0.8"])), (url + "?gzip=1", auth(f.readerA))] {
                let zipped = try await client.execute(uri: uri, method: .get, headers: headers)
                #expect(zipped.status == .ok)
                #expect(zipped.headers[.contentEncoding] == "gzip")
                #expect(zipped.body.readableBytes < plain.body.readableBytes)
                var body = zipped.body
                let unzipped = try body.decompress(with: .gzip, maxSize: 64 << 20)
                #expect(unzipped == plain.body)
            }
            let refused = try await client.execute(uri: url, method: .get, headers: auth(f.readerA, [.acceptEncoding: "gzip;q=0"]))
            #expect(refused.headers[.contentEncoding] == nil)
        }
    }

    @Test("a tenant sees only its own exports: another tenant's id is 404, also for the download")
    func isolation() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let status = try await Self.export(f, client, key: f.readerA, ["kind": "records", "format": "csv", "from": "2025-04-01", "to": "2025-06-01"])
            let id = try #require(status.string("id"))
            let url = try #require(status.string("download_url"))
            try expectProblem(try await client.execute(uri: exportsPath + "/" + id, method: .get, headers: auth(f.readerB)), .notFound, "not-found")
            try expectProblem(try await client.execute(uri: url, method: .get, headers: auth(f.readerB)), .notFound, "not-found")
            let listB = try json(try await client.execute(uri: exportsPath, method: .get, headers: auth(f.readerB)))
            #expect(listB.array("exports")?.isEmpty == true)
            let listA = try json(try await client.execute(uri: exportsPath, method: .get, headers: auth(f.readerA)))
            #expect(listA.array("exports")?.map { $0.string("id") } == [id])
            #expect(try await client.execute(uri: url, method: .get, headers: auth(f.adminKey)).status == .ok)
            // B cannot export A's records by naming A.
            let named = try await client.execute(uri: exportsPath, method: .post, headers: auth(f.readerB, Self.jsonType),
                                                 body: try Self.body(["kind": "records", "format": "csv", "tenant_id": "acme"]))
            try expectProblem(named, .forbidden, "forbidden")
            // A writer key reads nothing.
            let writer = try await client.execute(uri: exportsPath, method: .post, headers: auth(f.writerA, Self.jsonType),
                                                  body: try Self.body(["kind": "records", "format": "csv"]))
            try expectProblem(writer, .forbidden, "forbidden")
        }
    }

    @Test("an export expires: the sweeper deletes its file, its status says expired and the download is 404")
    func expiry() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let status = try await Self.export(f, client, key: f.readerA, ["kind": "usage", "format": "json", "from": "2025-05-01", "to": "2025-05-04"])
            let id = try #require(status.string("id"))
            #expect(status.string("expires_at") == "2025-05-05T00:00:00Z", "24 hours after now")
            let export = try #require(try f.analytics.catalog.export(id: id))
            let path = f.analytics.exportPath(export)
            #expect(FileManager.default.fileExists(atPath: path))
            #expect(try f.analytics.sweepExports(now: ms("2025-05-04T23:59:59Z")) == 0)
            #expect(FileManager.default.fileExists(atPath: path))
            f.setNow("2025-05-05T00:00:00Z")
            #expect(try f.analytics.sweepExports(now: f.clock.now) == 1)
            #expect(!FileManager.default.fileExists(atPath: path))
            let after = try json(try await client.execute(uri: exportsPath + "/" + id, method: .get, headers: auth(f.readerA)))
            #expect(after.string("status") == "expired")
            #expect(after["download_url"] is NSNull)
            let download = try await client.execute(uri: exportsPath + "/" + id + "/download", method: .get, headers: auth(f.readerA))
            try expectProblem(download, .notFound, "not-found")
            #expect(try f.analytics.sweepExports(now: f.clock.now) == 0, "sweeping again finds nothing")
        }
    }

    @Test("a ready export whose file is gone is a 404 naming it, counted under the download route")
    func fileGone() async throws {
        TallyMetricsSystem.bootstrap()
        let f = try ServerFixture()
        try await f.withRouter { client in
            let status = try await Self.export(f, client, key: f.readerA, ["kind": "usage", "format": "json", "from": "2025-05-01", "to": "2025-05-04"])
            let id = try #require(status.string("id"))
            let export = try #require(try f.analytics.catalog.export(id: id))
            try FileManager.default.removeItem(atPath: f.analytics.exportPath(export))
            let download = try await client.execute(uri: exportsPath + "/" + id + "/download", method: .get, headers: auth(f.readerA))
            let problem = try expectProblem(download, .notFound, "not-found")
            #expect(problem.string("detail") == "the file of export \(id) is gone; ask for a new one")
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains("http_server_requests_total{http_route=\"/api/v1/analytics/reporting/exports/{id}/download\","
                + "http_request_method=\"GET\",http_response_status_code=\"404\"}"))
        }
    }

    @Test("over a socket, the plain download has the file's Content-Length and the gzip one is chunked")
    func downloadLengthLive() async throws {
        let f = try ServerFixture()
        try await f.server.application(logger: quietLogger).test(.live) { client in
            let status = try await Self.export(f, client, key: f.readerA, ["kind": "records", "format": "csv", "from": "2025-04-01", "to": "2025-06-01"])
            let url = try #require(status.string("download_url"))
            let plain = try await client.execute(uri: url, method: .get, headers: auth(f.readerA))
            #expect(plain.status == .ok)
            #expect(plain.headers[.contentLength] == String(try #require(status.int("bytes"))))
            #expect(plain.body.readableBytes == status.int("bytes"))
            #expect(plain.headers[.contentType] == status.string("media_type"))
            let zipped = try await client.execute(uri: url + "?gzip=1", method: .get, headers: auth(f.readerA))
            #expect(zipped.headers[.contentLength] == nil)
            var body = zipped.body
            #expect(try body.decompress(with: .gzip, maxSize: 1 << 20) == plain.body)
        }
    }

    @Test("usage and cost exports hold the same numbers as the usage and cost APIs")
    func aggregates() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let usage = try await Self.export(f, client, key: f.readerA, ["kind": "usage", "format": "csv", "from": "2025-05-01", "to": "2025-05-04"])
            let csv = String(buffer: try await client.execute(uri: try #require(usage.string("download_url")), method: .get,
                                                              headers: auth(f.readerA)).body)
            let api = try json(try await client.execute(uri: usagePath + "?from=2025-05-01&to=2025-05-04", method: .get, headers: auth(f.readerA)))
            let series = try #require(api.array("series"))
            let lines = csv.split(separator: "\n")
            #expect(lines.first == "start,records,input_tokens,output_tokens,total_tokens,cost_cents")
            #expect(lines.count == series.count + 1)
            for (line, point) in zip(lines.dropFirst(), series) {
                let cells = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                #expect(cells[0] == point.string("start"))
                #expect(Int(cells[1]) == point.int("records"))
                #expect(cells[5] == point.string("cost_cents"))
            }

            let cost = try await Self.export(f, client, key: f.readerA, [
                "kind": "cost", "format": "ndjson", "from": "2025-05-01", "to": "2025-05-04", "group_by": ["model"],
            ])
            let rows = String(buffer: try await client.execute(uri: try #require(cost.string("download_url")), method: .get,
                                                               headers: auth(f.readerA)).body).split(separator: "\n")
            let breakdown = try json(try await client.execute(uri: costPath + "?from=2025-05-01&to=2025-05-04&group_by=model&order=key",
                                                              method: .get, headers: auth(f.readerA)))
            let groups = try #require(breakdown.array("groups"))
            #expect(rows.count == groups.count)
            for (row, group) in zip(rows, groups) {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(row.utf8)) as? [String: Any])
                #expect(object.string("model") == group.object("key")?.string("model"))
                #expect(object.string("cost_cents") == group.string("cost_cents"))
            }
        }
    }

    @Test("bad export requests are 400s naming the field; a download before the file is ready is 409")
    func badRequests() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            for (members, parameter) in [
                (["kind": "records"] as [String: Any], "format"),
                (["kind": "bills", "format": "csv"], "kind"),
                (["kind": "records", "format": "xml"], "format"),
                (["kind": "records", "format": "csv", "group_by": ["model"]], "group_by"),
                (["kind": "cost", "format": "csv", "group_by": ["colour"]], "group_by"),
                (["kind": "records", "format": "csv", "filters": ["colour": ["red"]]], "filters"),
                (["kind": "records", "format": "csv", "from": "2025-05-04", "to": "2025-05-01"], "from"),
                (["kind": "records", "format": "csv", "extra": 1], "extra"),
                (["kind": "usage", "format": "csv", "resolution": "hour", "from": "2024-01-01", "to": "2025-05-01"], "from"),
            ] {
                let r = try await client.execute(uri: exportsPath, method: .post, headers: auth(f.readerA, Self.jsonType), body: try Self.body(members))
                try expectProblem(r, .badRequest, "invalid-parameter", parameter: parameter)
            }
            let id = "exp_000000000000000000000000"
            try expectProblem(try await client.execute(uri: exportsPath + "/" + id, method: .get, headers: auth(f.readerA)), .notFound, "not-found")
            // A pending export (inserted directly, no job) cannot be downloaded yet.
            let pending = Export(
                id: id, tenant: ServerFixture.tenantA, spec: ExportSpec(kind: .records, format: .csv, from: 0, to: 1), status: .pending,
                file: id + ".csv", rows: 0, bytes: 0, error: nil, createdBy: "test", createdAt: ServerFixture.now,
                expiresAt: ServerFixture.now + 1000)
            try f.analytics.catalog.insertExport(pending)
            try expectProblem(try await client.execute(uri: exportsPath + "/" + id + "/download", method: .get, headers: auth(f.readerA)),
                              .conflict, "conflict")
            // Without a job running it, the sweeper marks it failed (a restart interrupted it).
            try f.analytics.sweepExports(now: ServerFixture.now)
            #expect(try f.analytics.catalog.export(id: id)?.status == .failed)
        }
    }
}
