import CompressNIO
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import TallyServer
import TallyStore
import TallyTestSupport
import Testing

@Suite("POST records")
struct RecordsTests {
    @Test("each wire format is stored and answered with a receipt", arguments: [
        ("application/x-ndjson", "{\"tenant_id\":\"acme\",\"request_id\":\"n1\",\"model\":\"gpt-4o\",\"cost_cents\":\"2.5\",\"created_at\":\"2025-05-02T01:00:00Z\"}\n"),
        ("application/json", "[{\"tenant_id\":\"acme\",\"request_id\":\"n1\",\"model\":\"gpt-4o\",\"cost_cents\":2.5,\"created_at\":\"2025-05-02T01:00:00Z\"}]"),
        ("text/csv", "tenant_id,request_id,model,cost_cents,created_at\nacme,n1,gpt-4o,2.5,2025-05-02T01:00:00Z\n"),
    ])
    func formats(contentType: String, body: String) async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let r = try await client.execute(uri: recordsPath, method: .post,
                                             headers: auth(f.writerA, [.contentType: contentType]), body: ByteBuffer(string: body))
            #expect(r.status == .ok)
            let receipt = try json(r)
            #expect(receipt.string("status") == "stored")
            #expect(receipt.int("inserted") == 1)
            #expect(receipt.int("received") == 1)
            let usage = try json(try await client.execute(
                uri: usagePath + "?from=2025-05-02&to=2025-05-03&resolution=hour", method: .get, headers: auth(f.readerA)))
            // a3 (5 cents at 08:00) and the new record (2.5 cents at 01:00).
            #expect(usage.object("totals")?.string("cost_cents") == "7.5000000")
            #expect(usage.array("series")?[1].string("cost_cents") == "2.5000000")
        }
    }

    @Test("a record without cost_cents is priced from the price table")
    func pricing() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let r = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType),
                                             body: ndjson([line("acme", "p1", at: "2025-05-02T01:00:00Z", cents: nil)]))
            #expect(r.status == .ok)
            let usage = try json(try await client.execute(
                uri: usagePath + "?from=2025-05-02T01:00:00Z&to=2025-05-02T02:00:00Z&resolution=hour", method: .get, headers: auth(f.readerA)))
            // 10 input tokens at 250 cents per million + 5 output tokens at 1000 cents per million.
            #expect(usage.object("totals")?.string("cost_cents") == "0.0075000")
        }
    }

    @Test("resending stored records inserts nothing and lists them as duplicates by line")
    func duplicates() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let body = ndjson([line("acme", "d1"), line("acme", "d2")])
            let first = try json(try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType), body: body))
            #expect(first.int("inserted") == 2)
            let again = ndjson([line("acme", "d3"), line("acme", "d1"), line("acme", "d2")])
            let second = try json(try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType), body: again))
            #expect(second.int("inserted") == 1)
            #expect(second.object("duplicates")?.int("count") == 2)
            #expect(second.object("duplicates")?["lines"] as? [Int] == [2, 3])
        }
    }

    @Test("a batch with a bad record stores nothing and names each bad line and field")
    func allOrNothing() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let body = ndjson([line("acme", "g1"), "{\"tenant_id\":\"acme\",\"request_id\":\"g2\",\"model\":\"gpt-4o\",\"input_tokens\":-1,\"cost_cents\":1,\"created_at\":\"2025-05-02T12:00:00Z\"}", line("acme", "g3", at: "yesterday")])
            let r = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType), body: body)
            let problem = try expectProblem(r, .unprocessableContent, "invalid-records")
            let errors = try #require(problem.array("errors"))
            #expect(errors.map { $0.int("line") } == [2, 3])
            #expect(errors.map { $0.string("field") } == ["input_tokens", "created_at"])
            #expect(problem.object("receipt")?.int("inserted") == 0)
            #expect(problem.object("receipt")?.string("status") == "rejected")
            let usage = try json(try await client.execute(uri: usagePath + "?from=2025-05-02&to=2025-05-03", method: .get, headers: auth(f.readerA)))
            #expect(usage.object("totals")?.int("records") == 1)  // a3 only: g1 was not stored
        }
    }

    @Test("on_error=skip stores the good records and reports the bad ones")
    func skipInvalid() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let body = ndjson([line("acme", "s1"), "not json", line("acme", "s3")])
            let r = try await client.execute(uri: recordsPath + "?on_error=skip", method: .post, headers: auth(f.writerA, ndjsonType), body: body)
            #expect(r.status == .ok)
            let receipt = try json(r)
            #expect(receipt.int("inserted") == 2)
            #expect(receipt.object("rejected")?.int("count") == 1)
            #expect(receipt.object("rejected")?.array("errors")?.first?.int("line") == 2)
        }
    }

    @Test("a writer's records for another tenant are rejected, never stored")
    func foreignTenantRecords() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let body = ndjson([line("acme", "t1"), line("globex", "t2")])
            let strict = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType), body: body)
            let problem = try expectProblem(strict, .unprocessableContent, "invalid-records")
            #expect(problem.array("errors")?.first?.string("field") == "tenant_id")
            #expect(problem.array("errors")?.first?.int("line") == 2)
            let skip = try json(try await client.execute(uri: recordsPath + "?on_error=skip", method: .post,
                                                         headers: auth(f.writerA, ndjsonType), body: body))
            #expect(skip.int("inserted") == 1)
            let b = try json(try await client.execute(uri: usagePath + "?tenant_id=globex&from=2025-05-02&to=2025-05-03", method: .get,
                                                      headers: auth(f.adminKey)))
            #expect(b.object("totals")?.int("records") == 1)  // b2 only
        }
    }

    @Test("another tenant's records are rejected in every wire format", arguments: [
        ("text/csv", "tenant_id,request_id,model,cost_cents,created_at\nacme,c1,gpt-4o,1,2025-05-02T01:00:00Z\nglobex,c2,gpt-4o,1,2025-05-02T01:00:00Z\n", 3),
        ("application/json", "[{\"tenant_id\":\"acme\",\"request_id\":\"c1\",\"model\":\"gpt-4o\",\"cost_cents\":1,\"created_at\":\"2025-05-02T01:00:00Z\"},\n{\"tenant_id\":\"globex\",\"request_id\":\"c2\",\"model\":\"gpt-4o\",\"cost_cents\":1,\"created_at\":\"2025-05-02T01:00:00Z\"}]", 2),
    ])
    func foreignTenantInEveryFormat(contentType: String, body: String, badLine: Int) async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let r = try await client.execute(uri: recordsPath + "?on_error=skip", method: .post,
                                             headers: auth(f.writerA, [.contentType: contentType]), body: ByteBuffer(string: body))
            let receipt = try json(r)
            #expect(receipt.int("inserted") == 1)
            #expect(receipt.object("rejected")?.array("errors")?.map { $0.string("field") } == ["tenant_id"])
            #expect(receipt.object("rejected")?.array("errors")?.first?.int("line") == badLine)
        }
        #expect(try f.store.snapshot().records(tenant: "globex").count == 2)
    }

    @Test("concurrent writers lose nothing and store nothing twice")
    func concurrentWriters() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for w in 0..<16 {
                    group.addTask {
                        // Writers overlap by half their ids, so each id is sent twice.
                        let body = ndjson((0..<50).map { line("acme", "w\((w / 2) * 50 + $0)") })
                        let r = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType), body: body)
                        return try json(r).int("inserted") ?? -1
                    }
                }
                var inserted = 0
                for try await n in group { inserted += n }
                #expect(inserted == 400)
            }
            let usage = try json(try await client.execute(uri: usagePath + "?from=2025-05-02&to=2025-05-03", method: .get, headers: auth(f.readerA)))
            #expect(usage.object("totals")?.int("records") == 401)
        }
    }

    @Test("an admin key writes any tenant")
    func adminWrites() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let r = try json(try await client.execute(uri: recordsPath, method: .post, headers: auth(f.adminKey, ndjsonType),
                                                      body: ndjson([line("acme", "m1"), line("globex", "m2"), line("initech", "m3")])))
            #expect(r.int("inserted") == 3)
        }
    }

    @Test("Idempotency-Key replays the first answer; the same key with another body is refused")
    func idempotency() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            var headers = auth(f.writerA, ndjsonType)
            headers[.idempotencyKey] = "batch-0001"
            let body = ndjson([line("acme", "i1"), line("acme", "i2")])
            let first = try await client.execute(uri: recordsPath, method: .post, headers: headers, body: body)
            #expect(first.status == .ok)
            #expect(first.headers[HTTPField.Name("Idempotent-Replayed")!] == nil)
            let second = try await client.execute(uri: recordsPath, method: .post, headers: headers, body: body)
            #expect(second.status == .ok)
            #expect(second.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(Array(second.body.readableBytesView) == Array(first.body.readableBytesView))
            #expect(try json(second).int("inserted") == 2)  // the first answer, not "2 duplicates"

            let other = try await client.execute(uri: recordsPath, method: .post, headers: headers, body: ndjson([line("acme", "i3")]))
            try expectProblem(other, .unprocessableContent, "idempotency-key-reused", parameter: "Idempotency-Key")

            // Keys are per tenant: B's writer may use the same key for its own batch.
            var b = auth(f.writerB, ndjsonType)
            b[.idempotencyKey] = "batch-0001"
            let fromB = try await client.execute(uri: recordsPath, method: .post, headers: b, body: ndjson([line("globex", "i1")]))
            #expect(try json(fromB).int("inserted") == 1)

            // A rejected batch's answer is replayed too.
            headers[.idempotencyKey] = "batch-0002"
            let bad = ndjson(["{}"])
            let r1 = try await client.execute(uri: recordsPath, method: .post, headers: headers, body: bad)
            let r2 = try await client.execute(uri: recordsPath, method: .post, headers: headers, body: bad)
            #expect(r1.status == .unprocessableContent)
            #expect(r2.status == .unprocessableContent)
            #expect(r2.headers[.contentType] == "application/problem+json")
            #expect(r2.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")

            headers[.idempotencyKey] = "bad key with spaces"
            let invalid = try await client.execute(uri: recordsPath, method: .post, headers: headers, body: body)
            try expectProblem(invalid, .badRequest, "invalid-parameter", parameter: "Idempotency-Key")
        }
        let stored = try f.store.snapshot().records(tenant: "acme").filter { $0.requestID.hasPrefix("i") }
        #expect(stored.count == 2)
    }

    @Test("Idempotency-Key with a gzip body: the retry, compressed or not the same way, replays the first answer")
    func idempotentGzip() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            var plain = ndjson([line("acme", "g1"), line("acme", "g2")])
            let compressed = try plain.compress(with: .gzip)
            var headers = auth(f.writerA, ndjsonType)
            headers[.idempotencyKey] = "gzip-0001"
            headers[.contentEncoding] = "gzip"
            let first = try await client.execute(uri: recordsPath, method: .post, headers: headers, body: compressed)
            #expect(first.status == .ok)
            #expect(try json(first).int("inserted") == 2)
            let second = try await client.execute(uri: recordsPath, method: .post, headers: headers, body: compressed)
            #expect(second.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(second.body == first.body)
            // The same records sent uncompressed are another request (its Content-Encoding differs).
            headers[.contentEncoding] = nil
            let other = try await client.execute(uri: recordsPath, method: .post, headers: headers,
                                                 body: ndjson([line("acme", "g1"), line("acme", "g2")]))
            try expectProblem(other, .unprocessableContent, "idempotency-key-reused", parameter: "Idempotency-Key")
        }
    }

    @Test("a reader key with another key's Idempotency-Key is refused (403), not given the kept answer")
    func idempotencyNeedsWriteRole() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            var headers = auth(f.writerA, ndjsonType)
            headers[.idempotencyKey] = "role-0001"
            let body = ndjson([line("acme", "r1")])
            #expect(try await client.execute(uri: recordsPath, method: .post, headers: headers, body: body).status == .ok)
            var reader = auth(f.readerA, ndjsonType)
            reader[.idempotencyKey] = "role-0001"
            try expectProblem(try await client.execute(uri: recordsPath, method: .post, headers: reader, body: body), .forbidden, "forbidden")
        }
    }

    @Test("gzip bodies are accepted")
    func gzip() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            var plain = ndjson((0..<50).map { line("acme", "z\($0)") })
            let compressed = try plain.compress(with: .gzip)
            var headers = auth(f.writerA, ndjsonType)
            headers[.contentEncoding] = "gzip"
            let r = try await client.execute(uri: recordsPath, method: .post, headers: headers, body: compressed)
            #expect(r.status == .ok)
            #expect(try json(r).int("inserted") == 50)
        }
    }

    @Test("bodies over the limit get 413, before or after decompression, and store nothing")
    func tooLarge() async throws {
        let f = try ServerFixture(maxBodyBytes: 4096)
        try await f.withRouter { client in
            let big = ndjson((0..<100).map { line("acme", "big\($0)") })
            #expect(big.readableBytes > 4096)
            let r = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType), body: big)
            try expectProblem(r, .contentTooLarge, "body-too-large")

            // A small gzip body that inflates past the limit (a "zip bomb").
            var zeros = ByteBuffer(repeating: UInt8(ascii: " "), count: 1 << 20)
            let bomb = try zeros.compress(with: .gzip)
            #expect(bomb.readableBytes < 4096)
            var headers = auth(f.writerA, ndjsonType)
            headers[.contentEncoding] = "gzip"
            let b = try await client.execute(uri: recordsPath, method: .post, headers: headers, body: bomb)
            try expectProblem(b, .contentTooLarge, "body-too-large")
        }
        #expect(try f.store.snapshot().records(tenant: "acme").count == 5)
    }

    @Test("bad media types, encodings, bodies and parameters are refused with a problem naming them")
    func badRequests() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let body = ndjson([line("acme", "x1")])
            let xml = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, [.contentType: "application/xml"]), body: body)
            try expectProblem(xml, .unsupportedMediaType, "unsupported-media-type", parameter: "Content-Type")
            let none = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA), body: body)
            try expectProblem(none, .unsupportedMediaType, "unsupported-media-type", parameter: "Content-Type")
            var br = auth(f.writerA, ndjsonType)
            br[.contentEncoding] = "br"
            try expectProblem(try await client.execute(uri: recordsPath, method: .post, headers: br, body: body),
                              .unsupportedMediaType, "unsupported-media-type", parameter: "Content-Encoding")
            var gz = auth(f.writerA, ndjsonType)
            gz[.contentEncoding] = "gzip"
            try expectProblem(try await client.execute(uri: recordsPath, method: .post, headers: gz, body: body),
                              .badRequest, "invalid-parameter", parameter: "Content-Encoding")
            try expectProblem(try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType), body: ByteBuffer()),
                              .badRequest, "invalid-parameter", parameter: "body")
            try expectProblem(try await client.execute(uri: recordsPath + "?on_error=ignore", method: .post, headers: auth(f.writerA, ndjsonType), body: body),
                              .badRequest, "invalid-parameter", parameter: "on_error")
            try expectProblem(try await client.execute(uri: recordsPath + "?dry_run=1", method: .post, headers: auth(f.writerA, ndjsonType), body: body),
                              .badRequest, "invalid-parameter", parameter: "dry_run")
            let garbage = ByteBuffer(bytes: (0..<512).map { UInt8(truncatingIfNeeded: $0 &* 31) })
            let r = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType), body: garbage)
            try expectProblem(r, .unprocessableContent, "invalid-records")
        }
        #expect(try f.store.snapshot().records(tenant: "acme").count == 5)
    }
}
