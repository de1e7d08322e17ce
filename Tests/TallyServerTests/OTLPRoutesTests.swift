import CompressNIO
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import SwiftProtobuf
import TallyAnalytics
import TallyStore
import TallyTestSupport
import Testing
@testable import TallyOTLP
@testable import TallyServer

/// `POST /v1/traces` (and under the API root): the OTLP/HTTP answers, through the real router (every response is
/// checked against the OpenAPI document by `ContractCheckingClient`).
@Suite("OTLP traces")
struct OTLPRoutesTests {
    static let paths = ["/v1/traces", "/api/v1/analytics/v1/traces"]
    static let protobuf: HTTPFields = [.contentType: "application/x-protobuf"]
    static let jsonType: HTTPFields = [.contentType: "application/json"]

    typealias Request = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest
    typealias ExportResponse = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse
    typealias Status = Google_Rpc_Status

    /// A chat span of `model` with these tokens, ending at 2025-05-02T12:00:00Z.
    static func chat(_ id: String, model: String = "gpt-4o", input: Int64, output: Int64, more: [(String, String)] = []) -> Opentelemetry_Proto_Trace_V1_Span {
        var span = Opentelemetry_Proto_Trace_V1_Span()
        span.traceID = Data(repeating: 0xAB, count: 16)
        span.spanID = Data(Hex.decode(Array(id.utf8))!)
        span.name = "chat \(model)"
        span.startTimeUnixNano = 1_746_187_199_000_000_000
        span.endTimeUnixNano = 1_746_187_200_000_000_000
        func kv(_ k: String, _ v: Opentelemetry_Proto_Common_V1_AnyValue.OneOf_Value) -> Opentelemetry_Proto_Common_V1_KeyValue {
            var kv = Opentelemetry_Proto_Common_V1_KeyValue()
            kv.key = k
            kv.value.value = v
            return kv
        }
        span.attributes = [kv("gen_ai.operation.name", .stringValue("chat")), kv("gen_ai.request.model", .stringValue(model)),
                           kv("gen_ai.usage.input_tokens", .intValue(input)), kv("gen_ai.usage.output_tokens", .intValue(output))]
            + more.map { kv($0.0, .stringValue($0.1)) }
        return span
    }

    static func request(_ spans: [Opentelemetry_Proto_Trace_V1_Span], service: String = "chatbot") -> Request {
        var r = Request()
        var rs = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        var name = Opentelemetry_Proto_Common_V1_KeyValue()
        name.key = "service.name"
        name.value.stringValue = service
        rs.resource.attributes = [name]
        var ss = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        ss.spans = spans
        rs.scopeSpans = [ss]
        r.resourceSpans = [rs]
        return r
    }

    static func body(_ r: Request) throws -> ByteBuffer { ByteBuffer(bytes: try r.serializedBytes() as [UInt8]) }

    func status(_ response: TestResponse) throws -> Status {
        if response.headers[.contentType] == "application/x-protobuf" {
            return try Status(serializedBytes: Array(response.body.readableBytesView))
        }
        return try Status(jsonUTF8Bytes: Array(response.body.readableBytesView))
    }

    @Test("protobuf on both paths: 200, an empty ExportTraceServiceResponse, the counts in headers; the answers then add up")
    func protobufExport() async throws {
        let f = try ServerFixture(seed: false)
        try await f.withRouter { client in
            for (i, path) in Self.paths.enumerated() {
                let spans = [Self.chat("000000000000010\(i)", input: 1000, output: 200), Self.chat("000000000000020\(i)", input: 3000, output: 100)]
                var other = Opentelemetry_Proto_Trace_V1_Span()
                other.spanID = Data(repeating: 7, count: 8)
                other.name = "GET /"
                let response = try await client.execute(uri: path, method: .post, headers: auth(f.writerA, Self.protobuf),
                                                         body: try Self.body(Self.request(spans + [other])))
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/x-protobuf")
                #expect(response.body.readableBytes == 0, "an empty ExportTraceServiceResponse")
                #expect(response.headers[OTLPRoutes.spansStored] == "2")
                #expect(response.headers[OTLPRoutes.spansIgnored] == "1")
                #expect(response.headers[OTLPRoutes.spansRejected] == "0")
            }
            let usage = try json(try await client.execute(
                uri: usagePath + "?from=2025-05-02&to=2025-05-03&resolution=day", method: .get, headers: auth(f.readerA)))
            let totals = try #require(usage.object("totals"))
            #expect(totals.int("records") == 4)
            #expect(totals.int("input_tokens") == 8000)
            #expect(totals.int("output_tokens") == 600)
            // gpt-4o at 250 cents per million input tokens and 1000 per million output: 2 + 0.6 cents.
            #expect(totals.string("cost_cents") == "2.6000000")
            let cost = try json(try await client.execute(
                uri: costPath + "?from=2025-05-02&to=2025-05-03&group_by=feature", method: .get, headers: auth(f.readerA)))
            let groups = try #require(cost.array("groups"))
            #expect(groups.map { $0.object("key")?.string("feature_tag") } == ["chatbot"])
            #expect(groups.map { $0.string("cost_cents") } == ["2.6000000"])
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains("tally_otlp_spans_total{result=\"stored\"} 4"))
            #expect(metrics.contains("tally_otlp_spans_total{result=\"ignored\"} 2"))
            #expect(metrics.contains("tally_otlp_exports_total 2"))
        }
    }

    @Test("OTLP JSON in, JSON out; gzip bodies; a re-sent export is stored once (duplicates counted)")
    func jsonAndGzip() async throws {
        let f = try ServerFixture(seed: false)
        try await f.withRouter { client in
            let request = Self.request([Self.chat("00000000000000e1", input: 10, output: 5)])
            var plain = ByteBuffer(bytes: OTLPJSON.encode(request))
            var headers = auth(f.writerA, Self.jsonType)
            let first = try await client.execute(uri: "/v1/traces", method: .post, headers: headers, body: plain)
            #expect(first.status == .ok)
            #expect(first.headers[.contentType] == "application/json")
            #expect(String(buffer: first.body) == "{}")
            headers[.contentEncoding] = "gzip"
            let again = try await client.execute(uri: "/v1/traces", method: .post, headers: headers, body: try plain.compress(with: .gzip))
            #expect(again.status == .ok)
            #expect(again.headers[OTLPRoutes.spansStored] == "0")
            #expect(again.headers[OTLPRoutes.spansDuplicate] == "1")
            var proto = try Self.body(Self.request([Self.chat("00000000000000e2", input: 10, output: 5)]))
            var gz = auth(f.writerA, Self.protobuf)
            gz[.contentEncoding] = "gzip"
            let zipped = try await client.execute(uri: "/v1/traces", method: .post, headers: gz, body: try proto.compress(with: .gzip))
            #expect(zipped.headers[OTLPRoutes.spansStored] == "1")
            #expect(try f.store.snapshot().records(tenant: "acme").map(\.requestID).sorted() == ["00000000000000e1", "00000000000000e2"])
        }
    }

    @Test("partial success: 200 with rejected_spans and the reasons, in the request's encoding")
    func partialSuccess() async throws {
        let f = try ServerFixture(seed: false)
        try await f.withRouter { client in
            let request = Self.request([Self.chat("00000000000000f1", input: 1, output: 1),
                                        Self.chat("00000000000000f2", model: "no-price", input: 1, output: 1)])
            let proto = try await client.execute(uri: "/v1/traces", method: .post, headers: auth(f.writerA, Self.protobuf),
                                                 body: try Self.body(request))
            #expect(proto.status == .ok)
            let answer = try ExportResponse(serializedBytes: Array(proto.body.readableBytesView))
            #expect(answer.partialSuccess.rejectedSpans == 1)
            #expect(answer.partialSuccess.errorMessage.contains("span 00000000000000f2: cost_cents: absent and no price is known for model 'no-price'"))
            let json = try await client.execute(uri: "/v1/traces", method: .post, headers: auth(f.writerA, Self.jsonType),
                                                body: ByteBuffer(bytes: OTLPJSON.encode(request)))
            let body = try JSONSerialization.jsonObject(with: Data(json.body.readableBytesView)) as? [String: Any]
            #expect((body?["partialSuccess"] as? [String: Any])?["rejectedSpans"] as? String == "1")
            #expect(json.headers[OTLPRoutes.spansDuplicate] == "1")
        }
    }

    @Test("failures: 400, 401, 403, 413, 415 carry a google.rpc.Status in the request's encoding, without Retry-After")
    func failures() async throws {
        let f = try ServerFixture(maxBodyBytes: 4096, seed: false)
        try await f.withRouter { client in
            let good = try Self.body(Self.request([Self.chat("0000000000000aa1", input: 1, output: 1)]))
            let cases: [(HTTPFields, ByteBuffer, HTTPResponse.Status, Int32, String)] = [
                (auth(f.writerA, Self.protobuf), ByteBuffer(bytes: [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]), .badRequest, 3, "not a protobuf"),
                (auth(f.writerA, Self.jsonType), ByteBuffer(string: "{\"resourceSpans\": 5}"), .badRequest, 3, "not an OTLP JSON"),
                (Self.protobuf, good, .unauthorized, 16, "Authorization"),
                (auth("tly_unknown", Self.jsonType), good, .unauthorized, 16, "unknown or revoked"),
                (auth(f.readerA, Self.protobuf), good, .forbidden, 7, "reader key"),
                (auth(f.writerA, Self.protobuf), ByteBuffer(repeating: 0, count: 5000), .contentTooLarge, 8, "over the limit"),
                (auth(f.writerA, [.contentType: "text/plain"]), good, .unsupportedMediaType, 3, "application/x-protobuf"),
            ]
            for (headers, body, expected, code, text) in cases {
                let response = try await client.execute(uri: "/v1/traces", method: .post, headers: headers, body: body)
                #expect(response.status == expected)
                let status = try self.status(response)
                #expect(status.code == code, "\(expected)")
                #expect(status.message.contains(text), "\(expected): \(status.message)")
                #expect(response.headers[.retryAfter] == nil)
                let encoding = headers[.contentType] == "application/x-protobuf" ? "application/x-protobuf" : "application/json"
                #expect(response.headers[.contentType] == encoding)
            }
            var gz = auth(f.writerA, Self.protobuf)
            gz[.contentEncoding] = "gzip"
            let badGzip = try await client.execute(uri: "/v1/traces", method: .post, headers: gz, body: good)
            #expect(badGzip.status == .badRequest)
        }
    }

    @Test("429 with Retry-After when too many exports are in progress; 503 with Retry-After when the store refuses writes")
    func retryable() async throws {
        var configuration = ServerConfiguration()
        configuration.otlpMaxConcurrentExports = 1
        let f = try ServerFixture(seed: false)
        let server = APIServer(analytics: f.analytics, configuration: configuration)
        let app = Application(router: server.router(), logger: quietLogger)
        try await app.test(.router) { raw in
            let client = ContractCheckingClient(client: raw)
            let body = try Self.body(Self.request([Self.chat("0000000000000bb1", input: 1, output: 1)]))
            #expect(server.otlpAdmission.enter())
            let throttled = try await client.execute(uri: "/v1/traces", method: .post, headers: auth(f.writerA, Self.protobuf), body: body)
            #expect(throttled.status == .tooManyRequests)
            #expect(throttled.headers[.retryAfter] == "1")
            #expect(try self.status(throttled).code == 8)
            server.otlpAdmission.leave()
            let accepted = try await client.execute(uri: "/v1/traces", method: .post, headers: auth(f.writerA, Self.protobuf), body: body)
            #expect(accepted.status == .ok)
            try f.analytics.close()
            let unavailable = try await client.execute(uri: "/v1/traces", method: .post, headers: auth(f.writerA, Self.jsonType),
                                                       body: ByteBuffer(bytes: OTLPJSON.encode(Self.request([Self.chat("0000000000000bb2", input: 1, output: 1)]))))
            #expect(unavailable.status == .serviceUnavailable)
            #expect(unavailable.headers[.retryAfter] == "5")
            #expect(try self.status(unavailable).code == 14)
        }
    }
}

/// OTLP JSON as exporters write it: the standard protobuf JSON with hex ids.
enum OTLPJSON {
    static func encode(_ request: Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest) -> [UInt8] {
        var text = try! request.jsonString()
        for rs in request.resourceSpans {
            for ss in rs.scopeSpans {
                for span in ss.spans {
                    for id in [span.traceID, span.spanID] where !id.isEmpty {
                        text = text.replacingOccurrences(of: "\"\(id.base64EncodedString())\"", with: "\"\(Hex.encode(id))\"")
                    }
                }
            }
        }
        return Array(text.utf8)
    }
}
