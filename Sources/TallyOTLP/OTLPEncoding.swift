import Foundation
import SwiftProtobuf

/// The two encodings of OTLP/HTTP: binary protobuf and the OTLP JSON mapping.
///
/// An answer is in the encoding of its request (the OTLP/HTTP specification: "the server MUST use the same
/// Content-Type in the response as it received in the request").
public enum OTLPEncoding: String, Sendable, CaseIterable {
    case protobuf
    case json

    /// The encoding of a `Content-Type` (parameters such as `charset` ignored), nil for any other media type.
    public init?(contentType: String) {
        let base = contentType.split(separator: ";", maxSplits: 1).first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
        switch base {
        case "application/x-protobuf", "application/protobuf": self = .protobuf
        case "application/json": self = .json
        default: return nil
        }
    }

    /// The `Content-Type` of an answer in this encoding.
    public var mediaType: String {
        switch self {
        case .protobuf: "application/x-protobuf"
        case .json: "application/json"
        }
    }
}

/// Why an OTLP request body is refused as a whole (an HTTP 400: the client must not retry it).
public struct OTLPDecodingError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// The body of an OTLP/HTTP 4xx or 5xx answer: a `google.rpc.Status` (the specification's "Failures"), in the
/// request's encoding. `code` is a gRPC status code (the specification says clients need not look at it).
public enum OTLPStatus {
    /// gRPC `INVALID_ARGUMENT`.
    public static let invalidArgument: Int32 = 3
    /// gRPC `PERMISSION_DENIED`.
    public static let permissionDenied: Int32 = 7
    /// gRPC `RESOURCE_EXHAUSTED`.
    public static let resourceExhausted: Int32 = 8
    /// gRPC `UNIMPLEMENTED`.
    public static let unimplemented: Int32 = 12
    /// gRPC `INTERNAL`.
    public static let `internal`: Int32 = 13
    /// gRPC `UNAVAILABLE`.
    public static let unavailable: Int32 = 14
    /// gRPC `UNAUTHENTICATED`.
    public static let unauthenticated: Int32 = 16

    /// The encoded `Status { code, message }`.
    public static func body(code: Int32, message: String, encoding: OTLPEncoding) -> [UInt8] {
        var status = Google_Rpc_Status()
        status.code = code
        status.message = message
        return OTLPWire.encode(status, encoding)
    }
}

/// Encoding and decoding of the generated messages, the OTLP JSON exceptions included.
enum OTLPWire {
    /// `message` in `encoding`; encoding these messages cannot fail (no `Any` with an unknown type, no required fields).
    static func encode(_ message: some SwiftProtobuf.Message, _ encoding: OTLPEncoding) -> [UInt8] {
        switch encoding {
        case .protobuf: return (try? message.serializedBytes()) ?? []
        case .json: return (try? message.jsonUTF8Bytes()) ?? Array("{}".utf8)
        }
    }

    /// Decodes an export request. JSON follows the OTLP JSON mapping: lowerCamelCase keys, unknown fields ignored
    /// (the specification: receivers MUST ignore them), enums as integers, 64-bit integers as strings or numbers,
    /// and trace and span ids as hex strings, not base64 (see `hexIDs`).
    static func decodeTraceRequest(_ bytes: [UInt8], _ encoding: OTLPEncoding) throws -> ExportTraceServiceRequest {
        do {
            switch encoding {
            case .protobuf:
                var options = BinaryDecodingOptions()
                options.messageDepthLimit = 64
                return try ExportTraceServiceRequest(serializedBytes: bytes, options: options)
            case .json:
                var options = JSONDecodingOptions()
                options.ignoreUnknownFields = true
                options.messageDepthLimit = 64
                var request = try ExportTraceServiceRequest(jsonUTF8Bytes: bytes, options: options)
                try hexIDs(&request)
                return request
            }
        } catch let e as OTLPDecodingError {
            throw e
        } catch {
            let kind = encoding == .protobuf ? "a protobuf" : "an OTLP JSON"
            throw OTLPDecodingError(description: "the body is not \(kind) ExportTraceServiceRequest (\(error))")
        }
    }

    /// Turns the ids of a JSON request into their bytes.
    ///
    /// OTLP JSON writes `traceId`, `spanId` and `parentSpanId` (and a link's ids) as hex, where the standard protobuf
    /// JSON mapping, which swift-protobuf implements, expects base64 for `bytes`. Every hex digit is also a base64
    /// digit, and ids of 16 and 32 hex digits are whole groups of 4 base64 digits, so the decoder has read each such
    /// id as base64 without loss: encoding those bytes as base64 again gives back the hex text exactly, which is
    /// then read as hex. An id that is not 16 (span) or 32 (trace) hex digits, or empty, is an error of the body.
    static func hexIDs(_ request: inout ExportTraceServiceRequest) throws {
        for r in request.resourceSpans.indices {
            for s in request.resourceSpans[r].scopeSpans.indices {
                for i in request.resourceSpans[r].scopeSpans[s].spans.indices {
                    var span = request.resourceSpans[r].scopeSpans[s].spans[i]
                    span.traceID = try hexID(span.traceID, digits: 32, "traceId")
                    span.spanID = try hexID(span.spanID, digits: 16, "spanId")
                    span.parentSpanID = try hexID(span.parentSpanID, digits: 16, "parentSpanId")
                    for l in span.links.indices {
                        span.links[l].traceID = try hexID(span.links[l].traceID, digits: 32, "links.traceId")
                        span.links[l].spanID = try hexID(span.links[l].spanID, digits: 16, "links.spanId")
                    }
                    request.resourceSpans[r].scopeSpans[s].spans[i] = span
                }
            }
        }
    }

    /// The bytes of a hex id that the JSON decoder read as base64 (see `hexIDs`); empty stays empty.
    static func hexID(_ misread: Data, digits: Int, _ name: String) throws -> Data {
        if misread.isEmpty { return misread }
        let text = Array(misread.base64EncodedString().utf8)
        guard text.count == digits, let bytes = Hex.decode(text) else {
            throw OTLPDecodingError(description: "\(name) must be \(digits) hex digits (OTLP JSON writes ids in hex, not base64)")
        }
        return Data(bytes)
    }
}

/// Lower-case hex text of bytes and back.
enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Lower-case hex of `bytes`.
    static func encode(_ bytes: some Collection<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of hex text (either case), nil when it has an odd length or a non-hex character.
    static func decode(_ text: [UInt8]) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 2)
        var i = 0
        while i < text.count {
            guard let hi = value(text[i]), let lo = value(text[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func value(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

// Short names for the generated messages used in this module.
package typealias ExportTraceServiceRequest = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest
package typealias ExportTraceServiceResponse = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse
typealias Span = Opentelemetry_Proto_Trace_V1_Span
typealias KeyValue = Opentelemetry_Proto_Common_V1_KeyValue
typealias AnyValue = Opentelemetry_Proto_Common_V1_AnyValue
