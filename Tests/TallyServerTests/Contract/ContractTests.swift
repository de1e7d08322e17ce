import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TallyServer
import Testing

@Suite("The wire contract (OpenAPI document)")
struct ContractTests {
    /// A small document: an object with a required integer, an optional nullable string, a date-time, an enum, and
    /// an array of a referenced schema with no extra members allowed.
    static let document = try! JSONValue.parse(Array("""
        {"components": {"schemas": {
          "Item": {"type": "object", "required": ["n"], "additionalProperties": false,
                   "properties": {"n": {"type": "integer"}}},
          "Thing": {"type": "object", "required": ["count", "at", "kind", "items"], "additionalProperties": false,
                    "properties": {"count": {"type": "integer"}, "note": {"type": ["string", "null"]},
                                   "at": {"type": "string", "format": "date-time"},
                                   "kind": {"type": "string", "enum": ["a", "b"]},
                                   "share": {"type": "number"},
                                   "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                                   "items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}}}
        }}}
        """.utf8))
    static let thing = document["components"]!["schemas"]!["Thing"]!

    func violations(_ json: String) throws -> [String] {
        SchemaValidator(document: Self.document).violations(of: try JSONValue.parse(Array(json.utf8)), against: Self.thing)
            .map(\.description)
    }

    @Test("the validator accepts a conforming value")
    func validatorAccepts() throws {
        #expect(try violations(#"{"count": 1, "note": null, "at": "2025-05-01T00:00:00.000Z", "kind": "a", "share": 2, "either": 3, "items": [{"n": 1}]}"#) == [])
    }

    @Test("the validator rejects a missing required member, a wrong type and an extra member, naming the path",
          arguments: [
            (#"{"at": "2025-05-01T00:00:00Z", "kind": "a", "items": []}"#, "$: required member count is missing"),
            (#"{"count": "1", "at": "2025-05-01T00:00:00Z", "kind": "a", "items": []}"#, #"$.count: string "1" where the schema says integer"#),
            (#"{"count": 1.5, "at": "2025-05-01T00:00:00Z", "kind": "a", "items": []}"#, "$.count: number 1.5 where the schema says integer"),
            (#"{"count": 1, "at": "2025-05-01T00:00:00Z", "kind": "a", "items": [], "extra": 1}"#,
             "$.extra: member is not in the schema (additionalProperties: false)"),
            (#"{"count": 1, "at": "2025-05-01T00:00:00Z", "kind": "a", "items": [{"n": 1}, {}]}"#,
             "$.items[1]: required member n is missing"),
            (#"{"count": 1, "at": "2025-05-01", "kind": "a", "items": []}"#, #"$.at: "2025-05-01" is not a date-time"#),
            (#"{"count": 1, "at": "2025-05-01T00:00:00Z", "kind": "c", "items": []}"#, #"$.kind: "c" is not one of "a", "b""#),
            (#"{"count": 1, "at": "2025-05-01T00:00:00Z", "kind": "a", "items": [], "note": 3}"#,
             "$.note: integer 3 where the schema says string or null"),
            (#"{"count": 1, "at": "2025-05-01T00:00:00Z", "kind": "a", "items": [], "either": true}"#,
             "$.either: matches 0 of oneOf, not exactly one (closest: $.either: boolean true where the schema says string)"),
          ])
    func validatorRejects(json: String, expected: String) throws {
        #expect(try violations(json) == [expected])
    }

    @Test("the response check fails an undeclared status, an undeclared media type and a body off its schema")
    func responseCheck() throws {
        let budget = #"{"id":"bud_1"}"#
        let path = "/api/v1/analytics/budgets/bud_000000000000"
        let json: HTTPFields = [.contentType: "application/json"]
        let undeclared = try #require(ContractCheck.violations(method: "GET", path: path, status: 418, headers: json, body: ByteBuffer(string: budget)))
        #expect(undeclared.0.template == "/api/v1/analytics/budgets/{id}")
        #expect(undeclared.1.first?.hasPrefix("status 418 is not declared") == true)
        let media = try #require(ContractCheck.violations(method: "GET", path: path, status: 200, headers: [.contentType: "text/plain"],
                                                          body: ByteBuffer(string: budget)))
        #expect(media.1.first?.hasPrefix("media type text/plain is not declared for 200") == true)
        let body = try #require(ContractCheck.violations(method: "GET", path: path + "?x=1", status: 200, headers: json,
                                                         body: ByteBuffer(string: budget)))
        #expect(body.1.contains("$: required member budget is missing"))
        #expect(body.1.contains("$.id: member is not in the schema (additionalProperties: false)"))
        // A literal segment wins over a template: `anomalies/settings` is not `anomalies/{id}`.
        #expect(ContractCheck.operation(method: "GET", path: "/api/v1/analytics/anomalies/settings")?.template
                == "/api/v1/analytics/anomalies/settings")
        #expect(ContractCheck.operation(method: "GET", path: "/api/v1/analytics/no-such-route") == nil)
    }

    @Test("the served document is the resource file, byte for byte")
    func servedAsIs() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let r = try await client.execute(uri: "/api/v1/analytics/openapi.json", method: .get)
            #expect(r.status == .ok)
            #expect(r.headers[.contentType] == "application/json")
            #expect(Array(r.body.readableBytesView) == ContractCheck.documentBytes)
            #expect(ContractCheck.document["openapi"]?.string?.hasPrefix("3.") == true)
        }
    }

    @Test("every object a response carries declares its required members and whether others may appear")
    func responseSchemasAreClosed() throws {
        let validator = SchemaValidator(document: ContractCheck.document)
        var seen: Set<String> = []
        var problems: [String] = []
        func walk(_ schema: JSONValue, _ at: String) {
            if let ref = schema["$ref"]?.string {
                guard seen.insert(ref).inserted else { return }
                guard let target = validator.resolve(ref) else { problems.append("\(at): \(ref) does not resolve"); return }
                walk(target, ref)
            }
            if let properties = schema["properties"]?.members {
                if schema["required"] == nil { problems.append("\(at): no required list") }
                if schema["additionalProperties"] == nil { problems.append("\(at): no additionalProperties") }
                for (name, p) in properties { walk(p, at + "." + name) }
            }
            if let items = schema["items"] { walk(items, at + "[]") }
            if let extra = schema["additionalProperties"], extra.members != nil { walk(extra, at + ".*") }
            for key in ["oneOf", "anyOf", "allOf"] {
                for (i, sub) in (schema[key]?.elements ?? []).enumerated() { walk(sub, at + ".\(key)[\(i)]") }
            }
        }
        for op in ContractCheck.operations {
            for (status, response) in op.object["responses"]?.members ?? [:] {
                var r = response
                if let ref = r["$ref"]?.string, let target = validator.resolve(ref) { r = target }
                for (media, content) in r["content"]?.members ?? [:] {
                    if let schema = content["schema"] { walk(schema, "\(op.label) \(status) \(media)") }
                }
            }
        }
        #expect(problems == [])
    }

    @Test("the document has exactly the router's routes, says which need no key, and every one is routed")
    func routesMatchDocument() async throws {
        let f = try ServerFixture()
        // Hummingbird writes a catch-all (`**`) where the document has `{path}` (the provider proxy's routes).
        let routes = Set(f.server.router().routes.map { "\($0.method.rawValue) \($0.path)".replacingOccurrences(of: "/**", with: "/{path}") })
        let documented = Set(ContractCheck.operations.map { "\($0.method) \($0.template)" })
        #expect(routes.subtracting(documented).sorted() == [], "routes missing from the document")
        #expect(documented.subtracting(routes).sorted() == [], "documented operations that are not routes")
        try await f.withRouter { client in
            for op in ContractCheck.operations.sorted(by: { $0.label < $1.label }) {
                #expect(op.object["operationId"]?.string != nil, "\(op.label) has no operationId")
                let uri = op.template.replacingOccurrences(of: "{id}", with: "bud_000000000000")
                    .replacingOccurrences(of: "{file}", with: "no-such-file.js")
                    .replacingOccurrences(of: "{path}", with: "v1/models")
                let method = HTTPRequest.Method(rawValue: op.method)!
                // An operation that declares `security: []` answers without a key; every other one wants a key.
                let open = op.object["security"]?.elements == []
                let anonymous = try await client.execute(uri: uri, method: method)
                #expect((anonymous.status == .unauthorized) != open, "\(op.label): \(anonymous.status) without a key")
                // Routed: an unknown id's 404 is an answer, a "no route matches" 404 is not.
                let answer = try await client.execute(uri: uri, method: method, headers: auth(f.adminKey))
                if answer.status == .notFound {
                    #expect(try json(answer).string("detail")?.contains("no route") == false, "\(op.label)")
                }
            }
        }
    }
}
