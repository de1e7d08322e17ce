import Foundation
import SwiftProtobuf
import TallyAnalytics
import TallyStore
import TallyTestSupport
import TallyText
import Testing
@testable import TallyOTLP

/// `TraceExport` over a real store: decode, map, the records path, the answer.
@Suite("Trace export")
final class TraceExportTests {
    let directory: TemporaryDirectory
    let store: Store
    let analytics: Analytics
    let writer = Principal(keyID: "key_writer", tenant: "acme", role: .writer)
    let admin = Principal(keyID: "key_admin", tenant: nil, role: .admin)

    init() throws {
        directory = try TemporaryDirectory(prefix: "tally-otlp")
        var storeOptions = testOptions()
        storeOptions.background = false
        storeOptions.durability = .buffered
        store = try Store(path: directory.appending("store"), options: storeOptions)
        var options = AnalyticsOptions()
        options.pricing = SpanRecordMapperTests.pricing
        analytics = Analytics(store: store, catalog: try SQLiteCatalog(directory: directory.appending("store")), options: options)
    }

    deinit {
        try? analytics.close()
        directory.remove()
    }

    func export(_ request: Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest, _ encoding: OTLPEncoding = .protobuf,
                principal: Principal? = nil) async throws -> TraceExportResult {
        let body: [UInt8] = encoding == .protobuf ? try request.serializedBytes() : OTLPJSON.encode(request)
        return try await TraceExport(analytics: analytics).export(body, encoding: encoding, principal: principal ?? writer)
    }

    @Test("GenAI spans are stored priced from the price table (or at the span's cost); a span sent again is stored once")
    func storesAndDeduplicates() async throws {
        let request = SpanBuilder.request([
            SpanBuilder.chat("00000000000000a1", input: 1000, output: 200),
            SpanBuilder.chat("00000000000000a2", input: 10, output: 1, extra: [("tally.cost_cents", .s("7.25"))]),
            SpanBuilder.span("00000000000000a3", [("http.route", .s("/"))]),
        ])
        let first = try await export(request)
        #expect(first == TraceExportResult(spans: 3, stored: 2, duplicates: 0, ignored: 1, rejected: 0, errorMessage: ""))
        let again = try await export(request)
        #expect(again.stored == 0 && again.duplicates == 2 && again.rejected == 0)
        let stored = try store.snapshot().records(tenant: "acme").sorted { $0.requestID < $1.requestID }
        #expect(stored.map(\.requestID) == ["00000000000000a1", "00000000000000a2"])
        // 1000 input tokens at 250 cents per million and 200 output at 1000: 0.25 + 0.2 cents.
        #expect(try stored[0].costNanos == Money.parseCents("0.45").get())
        #expect(try stored[1].costNanos == Money.parseCents("7.25").get())
        #expect(stored[0].createdAtMillis == 1_746_100_800_000)
        #expect(stored[0].featureTag == "chatbot")
        #expect(stored[0].model == "gpt-4o")
        #expect(stored[0].inputTokens == 1000 && stored[0].outputTokens == 200)
    }

    @Test("refused spans make a partial success naming each span and why; the rest is stored")
    func partialSuccess() async throws {
        let request = SpanBuilder.request([
            SpanBuilder.chat("00000000000000b1"),
            SpanBuilder.chat("00000000000000b2", model: "unpriced-model"),
            SpanBuilder.chat("00000000000000b3", extra: [("tally.tenant_id", .s("globex"))]),
            SpanBuilder.span("00000000000000b4", [("gen_ai.operation.name", .s("chat"))]),
        ])
        let result = try await export(request)
        #expect(result.stored == 1)
        #expect(result.rejected == 3)
        #expect(result.errorMessage.hasPrefix("3 of 4 span(s) rejected: "))
        #expect(result.errorMessage.contains("span 00000000000000b4: a GenAI span without a model"))
        #expect(result.errorMessage.contains("span 00000000000000b2: cost_cents: absent and no price is known for model 'unpriced-model'"))
        #expect(result.errorMessage.contains("span 00000000000000b3: tenant_id: belongs to another tenant than the API key"))
        // The answer carries them as partial_success, in both encodings.
        let proto = try Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse(serializedBytes: result.responseBody(.protobuf))
        #expect(proto.partialSuccess.rejectedSpans == 3)
        #expect(proto.partialSuccess.errorMessage == result.errorMessage)
        let json = try JSONSerialization.jsonObject(with: Data(result.responseBody(.json))) as? [String: Any]
        let partial = json?["partialSuccess"] as? [String: Any]
        #expect(partial?["rejectedSpans"] as? String == "3")
        #expect(partial?["errorMessage"] as? String == result.errorMessage)
        // Full success: an empty response.
        let ok = try await export(SpanBuilder.request([SpanBuilder.chat("00000000000000b5")]))
        #expect(ok.responseBody(.protobuf) == [])
        #expect(ok.responseBody(.json) == Array("{}".utf8))
    }

    @Test("an admin key's spans go to the tenant they name")
    func adminTenant() async throws {
        let result = try await export(SpanBuilder.request([SpanBuilder.chat("00000000000000c1", extra: [("tally.tenant_id", .s("globex"))])]),
                                      principal: admin)
        #expect(result.stored == 1)
        #expect(try store.snapshot().records(tenant: "globex").map(\.requestID) == ["00000000000000c1"])
    }

    @Test("a reader key may not export")
    func readerRefused() async throws {
        await #expect(throws: AnalyticsError.self) {
            _ = try await self.export(SpanBuilder.request([SpanBuilder.chat("00000000000000d1")]),
                                      principal: Principal(keyID: "r", tenant: "acme", role: .reader))
        }
    }

    @Test("OTLP JSON: hex ids, camelCase, int64 as strings, enums as numbers, unknown fields ignored")
    func json() async throws {
        let body = """
            {"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"faq"}}]},
             "scopeSpans":[{"scope":{"name":"x"},"futureField":1,"spans":[{"traceId":"5B8EFFF798038103D269B633813FC60C",
             "spanId":"EEE19B7EC3C1B174","parentSpanId":"","name":"chat","kind":3,"startTimeUnixNano":"1746100799000000000",
             "endTimeUnixNano":"1746100800000000000","attributes":[
               {"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}},
               {"key":"gen_ai.usage.input_tokens","value":{"intValue":"2000"}},
               {"key":"gen_ai.usage.output_tokens","value":{"intValue":400}}],
             "status":{"code":1}}]}]}]}
            """
        let result = try await TraceExport(analytics: analytics).export(Array(body.utf8), encoding: .json, principal: writer)
        #expect(result.stored == 1, "\(result)")
        let r = try #require(try store.snapshot().records(tenant: "acme").first)
        #expect(r.requestID == "eee19b7ec3c1b174")
        #expect(r.inputTokens == 2000 && r.outputTokens == 400)
        #expect(r.featureTag == "faq")
        #expect(r.createdAtMillis == 1_746_100_800_000)
        // The same request through the JSON encoder of the tests, which writes hex ids as the OTLP JSON rules say.
        let again = try await export(SpanBuilder.request([SpanBuilder.chat("eee19b7ec3c1b174")]), .json)
        #expect(again.duplicates == 1)
    }

    @Test("bodies that are not an export request are refused whole", arguments: [
        (OTLPEncoding.protobuf, [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F] as [UInt8]),
        (.protobuf, Array("hello, world".utf8)),
        (.json, Array("{".utf8)),
        (.json, Array("[]".utf8)),
        (.json, Array(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"not-hex!"}]}]}]}"#.utf8)),
        (.json, Array(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"AAECAwQFBgc="}]}]}]}"#.utf8)),
        (.json, Array(#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0af7651916cd43dd"}]}]}]}"#.utf8)),
    ])
    func undecodable(_ encoding: OTLPEncoding, _ body: [UInt8]) async throws {
        await #expect(throws: OTLPDecodingError.self) {
            _ = try await TraceExport(analytics: self.analytics).export(body, encoding: encoding, principal: self.writer)
        }
    }

    @Test("an empty protobuf body is an empty request: nothing to store, a full success")
    func emptyRequest() async throws {
        let result = try await TraceExport(analytics: analytics).export([], encoding: .protobuf, principal: writer)
        #expect(result == TraceExportResult())
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
