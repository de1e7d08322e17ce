import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// The wire contract: the OpenAPI document the server serves (`Sources/TallyServer/OpenAPI/openapi.json`), and a
/// check of one response against it.
///
/// Every request the server tests send goes through `ContractCheckingClient`, so a response whose status, media
/// type or body the document does not declare fails the test that provoked it: the document cannot drift from the
/// code unnoticed.
enum ContractCheck {
    /// Where the document lives in the source tree (the server serves these same bytes).
    static let documentPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/TallyServer/OpenAPI/openapi.json").path

    /// The document's bytes.
    static let documentBytes: [UInt8] = {
        guard let data = FileManager.default.contents(atPath: documentPath) else { fatalError("no OpenAPI document at \(documentPath)") }
        return [UInt8](data)
    }()

    /// The parsed document.
    static let document: JSONValue = {
        do { return try JSONValue.parse(documentBytes) } catch { fatalError("\(documentPath): \(error)") }
    }()

    /// One documented operation: its method, path template split at `/`, and its OpenAPI object.
    struct Operation {
        var method: String
        var template: String
        var segments: [Substring]
        var object: JSONValue

        /// `listBudgets (GET /api/v1/analytics/budgets)`.
        var label: String { "\(object["operationId"]?.string ?? "?") (\(method) \(template))" }
    }

    /// Every operation of the document.
    static let operations: [Operation] = {
        var out: [Operation] = []
        for (template, item) in document["paths"]?.members ?? [:] {
            for (method, object) in item.members ?? [:] where object["responses"] != nil {
                out.append(Operation(method: method.uppercased(), template: template,
                                     segments: template.split(separator: "/", omittingEmptySubsequences: false), object: object))
            }
        }
        return out
    }()

    /// The operation a request to `path` (query string allowed) with `method` reaches: the template whose literal
    /// segments match, the one with most literal segments when several do (`anomalies/settings` over
    /// `anomalies/{id}`); nil for a path or method the document does not have.
    static func operation(method: String, path: String) -> Operation? {
        let bare = path.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let segments = bare.split(separator: "/", omittingEmptySubsequences: false)
        var best: (Operation, Int)?
        for op in operations where op.method == method {
            // A last `{path}` takes the rest of the path, slashes included (the provider proxy's `/proxy/openai/{path}`).
            let rest = op.segments.last == "{path}"
            guard op.segments.count == segments.count || (rest && segments.count >= op.segments.count) else { continue }
            var literals = 0
            var matches = true
            for (t, s) in zip(op.segments, segments) {
                if t.hasPrefix("{") && t.hasSuffix("}") { continue }
                guard t == s else { matches = false; break }
                literals += 1
            }
            if matches, literals > (best?.1 ?? -1) { best = (op, literals) }
        }
        return best?.0
    }

    /// What the document says about `response` to a request to `path` with `method`; empty when it conforms.
    /// nil when the document has no such operation (a "no route" 404, which the route test covers).
    static func violations(method: String, path: String, status: Int, headers: HTTPFields, body: ByteBuffer) -> (Operation, [String])? {
        guard let op = operation(method: method, path: path) else { return nil }
        let responses = op.object["responses"]?.members ?? [:]
        guard var declared = responses[String(status)] ?? responses["\(status / 100)XX"] ?? responses["default"] else {
            return (op, ["status \(status) is not declared (declared: \(responses.keys.sorted().joined(separator: ", ")))"])
        }
        let validator = SchemaValidator(document: document)
        if let ref = declared["$ref"]?.string {
            guard let target = validator.resolve(ref) else { return (op, ["response reference \(ref) does not resolve"]) }
            declared = target
        }
        let hasBody = body.readableBytes > 0 && method != "HEAD"
        guard let content = declared["content"]?.members, !content.isEmpty else {
            return (op, hasBody ? ["status \(status) declares no body, but one of \(body.readableBytes) bytes came"] : [])
        }
        guard let contentType = headers[.contentType] else {
            return (op, hasBody ? ["a body without Content-Type"] : [])
        }
        let mediaType = bareMediaType(contentType)
        guard let media = content.first(where: { bareMediaType($0.key) == mediaType })?.value else {
            return (op, ["media type \(mediaType) is not declared for \(status) (declared: \(content.keys.sorted().joined(separator: ", ")))"])
        }
        let isJSON = mediaType == "application/json" || mediaType.hasSuffix("+json")
        let encoded = headers[.contentEncoding].map { $0 != "identity" } ?? false
        guard isJSON, hasBody, !encoded, let schema = media["schema"] else { return (op, []) }
        let value: JSONValue
        do { value = try JSONValue.parse(body.readableBytesView) } catch { return (op, ["body: \(error)"]) }
        return (op, validator.violations(of: value, against: schema).map(\.description))
    }

    /// `application/json` of `application/json; charset=utf-8`.
    static func bareMediaType(_ text: String) -> String {
        String(text.split(separator: ";", maxSplits: 1).first ?? "").trimmingCharacters(in: .whitespaces).lowercased()
    }
}

/// A test client that checks every response against the OpenAPI document (`ContractCheck`) before the test sees
/// it; a violation is a test failure naming the operation, the status and the JSON path.
struct ContractCheckingClient: TestClientProtocol {
    let client: any TestClientProtocol

    var port: Int? { client.port }

    func executeRequest(uri: String, method: HTTPRequest.Method, headers: HTTPFields, body: ByteBuffer?) async throws -> TestResponse {
        let response = try await client.executeRequest(uri: uri, method: method, headers: headers, body: body)
        if let (op, violations) = ContractCheck.violations(method: method.rawValue, path: uri, status: Int(response.status.code),
                                                           headers: response.headers, body: response.body) {
            for v in violations { Issue.record("contract: \(op.label) \(response.status.code): \(v)") }
        }
        return response
    }
}
