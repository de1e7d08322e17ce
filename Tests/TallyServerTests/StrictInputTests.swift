import CompressNIO
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import TallyServer
import TallyStore
import Testing

/// Issue 11 items 6 and 10 through the real router: a body of bad records is answered with its first errors
/// and their count (not every error), and input that used to slip through is refused, naming what is wrong.
@Suite("Strict and bounded input on POST records")
struct StrictInputTests {
    @Test("a body of 100,000 `{}` lines: 422 with the first 1,000 errors by line, the total count and the record count")
    func badBodyListsTheFirstErrorsAndCountsAll() async throws {
        let f = try ServerFixture(maxBodyBytes: 4 << 20)
        try await f.withRouter { client in
            let body = ByteBuffer(string: String(repeating: "{}\n", count: 100_000))
            let r = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType), body: body)
            try expectProblem(r, .unprocessableContent, "invalid-records")
            let problem = try json(r)
            let errors = try #require(problem.array("errors"))
            #expect(errors.count == 1_000)
            #expect(errors.first?.int("line") == 1 && errors.first?.string("field") == "tenant_id")
            #expect(errors.first?.string("reason") == "is required")
            #expect(errors.last?.int("line") == 250)
            let rejected = try #require(problem.object("receipt")?.object("rejected"))
            #expect(rejected.int("count") == 100_000)
            #expect(rejected.int("error_count") == 400_000)
            #expect(rejected["truncated"] as? Bool == true)
            #expect(problem.object("receipt")?.int("received") == 100_000)
        }
        #expect(try f.store.snapshot().records(tenant: "acme").count == 5)
    }

    @Test("a tenant key's records for another tenant count among the rejected ones beyond the listed errors")
    func foreignRecordsAreCountedBeyondTheList() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let body = ndjson((0..<1_500).map { line("globex", "g\($0)") })
            let r = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType), body: body)
            try expectProblem(r, .unprocessableContent, "invalid-records")
            let problem = try json(r)
            #expect(problem.array("errors")?.count == 1_000)
            #expect(problem.array("errors")?.first?.int("line") == 1)
            #expect(problem.object("receipt")?.object("rejected")?.int("count") == 1_500)
            #expect(problem.object("receipt")?.object("rejected")?.int("error_count") == 1_500)
        }
    }

    @Test("created_at as a bare date is refused, naming the field", arguments: ["2026-11-30", "2026-11-30T00:00"])
    func bareDateIsNotATimestamp(value: String) async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let body = ndjson([line("acme", "d1", at: value)])
            let r = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, ndjsonType), body: body)
            try expectProblem(r, .unprocessableContent, "invalid-records")
            let e = try #require(try json(r).array("errors")?.first)
            #expect(e.string("field") == "created_at")
            #expect(e.string("reason")?.contains("RFC 3339") == true)
        }
        #expect(try f.store.snapshot().records(tenant: "acme").count == 5)
    }

    /// gzip bodies cut anywhere in their trailer (or with bytes after it) are refused; the whole one is stored.
    @Test("a gzip body without its whole CRC-32 and length trailer is refused with 400")
    func gzipTrailerIsRequired() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            var plain = ndjson((0..<50).map { line("acme", "gz\($0)") })
            let whole = try plain.compress(with: .gzip)
            let bytes = Array(whole.readableBytesView)
            var headers = auth(f.writerA, ndjsonType)
            headers[.contentEncoding] = "gzip"
            var crcFlipped = bytes
            crcFlipped[bytes.count - 6] ^= 0x01
            var sizeWrong = bytes
            sizeWrong[bytes.count - 3] ^= 0x01
            let broken: [(String, [UInt8])] = [
                ("no trailer", Array(bytes.dropLast(8))),
                ("half a trailer", Array(bytes.dropLast(4))),
                ("one byte short", Array(bytes.dropLast(1))),
                ("bad CRC", crcFlipped),
                ("bad length", sizeWrong),
                ("bytes after the end", bytes + [0x00, 0x01]),
            ]
            for (name, body) in broken {
                let r = try await client.execute(uri: recordsPath, method: .post, headers: headers, body: ByteBuffer(bytes: body))
                #expect(r.status == .badRequest, "\(name)")
                try expectProblem(r, .badRequest, "invalid-parameter", parameter: "Content-Encoding")
            }
            #expect(try f.store.snapshot().records(tenant: "acme").count == 5)
            let ok = try await client.execute(uri: recordsPath, method: .post, headers: headers, body: whole)
            #expect(ok.status == .ok)
            #expect(try json(ok).int("inserted") == 50)
        }
    }

    /// An empty body, blank lines, a CSV header alone and `[]` hold no records: the same 400 for each.
    @Test("a body without records gets the same 400 as an empty body, in every format", arguments: [
        ("application/x-ndjson", ""),
        ("application/x-ndjson", "\n\n  \n"),
        ("text/csv", ""),
        ("text/csv", "tenant_id,request_id,model,created_at\n"),
        ("text/csv", "tenant_id,request_id,model,created_at"),
        ("application/json", "[]"),
        ("application/json", " [ \n ] \n"),
    ])
    func noRecordsIsOneAnswer(contentType: String, body: String) async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let r = try await client.execute(uri: recordsPath, method: .post, headers: auth(f.writerA, [.contentType: contentType]),
                                             body: ByteBuffer(string: body))
            try expectProblem(r, .badRequest, "invalid-parameter", parameter: "body")
            #expect(try json(r).string("detail") == "body: the request body holds no records")
        }
    }
}
