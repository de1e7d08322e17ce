import Foundation
import SwiftProtobuf
@testable import TallyOTLP

/// Builds OTLP export requests for tests.
struct SpanBuilder {
    /// An attribute value.
    enum V {
        case s(String), i(Int64), d(Double), b(Bool)

        var any: Opentelemetry_Proto_Common_V1_AnyValue {
            var v = Opentelemetry_Proto_Common_V1_AnyValue()
            switch self {
            case let .s(x): v.stringValue = x
            case let .i(x): v.intValue = x
            case let .d(x): v.doubleValue = x
            case let .b(x): v.boolValue = x
            }
            return v
        }
    }

    static func attributes(_ pairs: [(String, V)]) -> [Opentelemetry_Proto_Common_V1_KeyValue] {
        pairs.map { k, v in
            var kv = Opentelemetry_Proto_Common_V1_KeyValue()
            kv.key = k
            kv.value = v.any
            return kv
        }
    }

    /// A span with id `spanID` (16 hex digits) ending at `endMillis`.
    static func span(_ spanID: String, endMillis: Int64 = 1_746_100_800_000, name: String = "chat gpt-4o",
                     _ attributes: [(String, V)]) -> Opentelemetry_Proto_Trace_V1_Span {
        var s = Opentelemetry_Proto_Trace_V1_Span()
        s.traceID = Data(Hex.decode(Array("0af7651916cd43dd8448eb211c80319c".utf8))!)
        s.spanID = Data(Hex.decode(Array(spanID.utf8))!)
        s.name = name
        s.kind = .client
        s.startTimeUnixNano = UInt64(endMillis - 1500) * 1_000_000
        s.endTimeUnixNano = UInt64(endMillis) * 1_000_000 + 123_456
        s.attributes = Self.attributes(attributes)
        return s
    }

    /// A request of one resource (with `resource` attributes) holding `spans`.
    static func request(resource: [(String, V)] = [("service.name", .s("chatbot"))],
                        _ spans: [Opentelemetry_Proto_Trace_V1_Span]) -> Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest {
        var scope = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        scope.scope.name = "tally-tests"
        scope.spans = spans
        var rs = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        rs.resource.attributes = Self.attributes(resource)
        rs.scopeSpans = [scope]
        var request = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest()
        request.resourceSpans = [rs]
        return request
    }

    /// A chat span as the GenAI semantic conventions describe it.
    static func chat(_ spanID: String, model: String = "gpt-4o", input: Int64 = 1000, output: Int64 = 200,
                     endMillis: Int64 = 1_746_100_800_000, extra: [(String, V)] = []) -> Opentelemetry_Proto_Trace_V1_Span {
        span(spanID, endMillis: endMillis, [
            ("gen_ai.operation.name", .s("chat")), ("gen_ai.provider.name", .s("openai")),
            ("gen_ai.request.model", .s(model)), ("gen_ai.usage.input_tokens", .i(input)),
            ("gen_ai.usage.output_tokens", .i(output)),
        ] + extra)
    }
}

/// The NDJSON lines of a mapping, as JSON objects.
func records(_ mapped: MappedSpans) throws -> [[String: Any]] {
    try String(decoding: mapped.ndjson, as: UTF8.self).split(separator: "\n").map {
        try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
    }
}
