import Foundation

/// Checks a JSON value against a schema of the OpenAPI document: the subset of JSON Schema the document uses.
///
/// `type` (a name or a list; `integer` is a number without fraction or exponent), `nullable`, `enum`, `const`,
/// `properties`, `required`, `additionalProperties` (false or a schema), `items`, `$ref` (local pointers into the
/// document), `allOf` / `anyOf` / `oneOf`, `pattern`, `minimum` / `maximum` / `exclusiveMinimum`,
/// `minLength` / `maxLength`, and `format: date-time` (loosely: RFC 3339 with a time and an offset). Other keywords
/// (`description`, `example`, `default`, `format: int64`) do not constrain.
struct SchemaValidator {
    /// The document `$ref`s point into.
    let document: JSONValue

    /// One place where a value breaks its schema.
    struct Violation: CustomStringConvertible, Equatable {
        /// JSON path of the value, `$.budgets[0].limit_cents`.
        var path: String
        var message: String
        var description: String { "\(path): \(message)" }
    }

    /// Every violation of `value` against `schema`, at `path`; empty when it validates.
    func violations(of value: JSONValue, against schema: JSONValue, at path: String = "$") -> [Violation] {
        var out: [Violation] = []
        check(value, schema, path, &out)
        return out
    }

    private func check(_ value: JSONValue, _ schema: JSONValue, _ path: String, _ out: inout [Violation]) {
        guard let s = schema.members else {
            if schema == .bool(false) { out.append(Violation(path: path, message: "no value is allowed here")) }
            return
        }
        if let ref = s["$ref"]?.string {
            guard let target = resolve(ref) else {
                out.append(Violation(path: path, message: "schema reference \(ref) does not resolve"))
                return
            }
            check(value, target, path, &out)
        }
        if let all = s["allOf"]?.elements {
            for sub in all { check(value, sub, path, &out) }
        }
        if let any = s["anyOf"]?.elements, !any.contains(where: { violations(of: value, against: $0, at: path).isEmpty }) {
            out.append(Violation(path: path, message: "matches none of anyOf (\(value.typeName) \(value))"))
        }
        if let one = s["oneOf"]?.elements {
            let matching = one.filter { violations(of: value, against: $0, at: path).isEmpty }.count
            if matching != 1 {
                let closest = one.map { violations(of: value, against: $0, at: path) }.min { $0.count < $1.count } ?? []
                out.append(Violation(path: path, message: "matches \(matching) of oneOf, not exactly one"
                                     + (closest.isEmpty ? "" : " (closest: \(closest.map(\.description).joined(separator: "; ")))")))
            }
        }
        if let allowed = s["enum"]?.elements, !allowed.contains(value) {
            out.append(Violation(path: path, message: "\(value) is not one of \(allowed.map(\.description).joined(separator: ", "))"))
        }
        if let constant = s["const"], constant != value {
            out.append(Violation(path: path, message: "\(value) is not \(constant)"))
        }
        if let type = s["type"] {
            var names = type.elements?.compactMap(\.string) ?? type.string.map { [$0] } ?? []
            if s["nullable"] == .bool(true) { names.append("null") }
            let actual = value.typeName
            let ok = names.contains(actual) || (actual == "integer" && names.contains("number"))
            if !ok {
                out.append(Violation(path: path, message: "\(actual) \(value) where the schema says \(names.joined(separator: " or "))"))
                return
            }
        }
        switch value {
        case .object(let members): checkObject(members, s, path, &out)
        case .array(let elements):
            if let items = s["items"] {
                for (i, element) in elements.enumerated() { check(element, items, path + "[\(i)]", &out) }
            }
        case .string(let text): checkString(text, s, path, &out)
        case .number(let text, _): checkNumber(text, s, path, &out)
        case .null, .bool: break
        }
    }

    private func checkObject(_ members: [String: JSONValue], _ s: [String: JSONValue], _ path: String, _ out: inout [Violation]) {
        let properties = s["properties"]?.members ?? [:]
        for name in s["required"]?.elements?.compactMap(\.string) ?? [] where members[name] == nil {
            out.append(Violation(path: path, message: "required member \(name) is missing"))
        }
        for (name, member) in members.sorted(by: { $0.key < $1.key }) {
            let memberPath = path + "." + name
            if let property = properties[name] {
                check(member, property, memberPath, &out)
            } else if let additional = s["additionalProperties"] {
                if additional == .bool(false) {
                    out.append(Violation(path: memberPath, message: "member is not in the schema (additionalProperties: false)"))
                } else {
                    check(member, additional, memberPath, &out)
                }
            }
        }
    }

    private func checkString(_ text: String, _ s: [String: JSONValue], _ path: String, _ out: inout [Violation]) {
        if let pattern = s["pattern"]?.string, text.range(of: pattern, options: .regularExpression) == nil {
            out.append(Violation(path: path, message: "\"\(text)\" does not match \(pattern)"))
        }
        if s["format"]?.string == "date-time",
           text.range(of: #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"#, options: .regularExpression) == nil {
            out.append(Violation(path: path, message: "\"\(text)\" is not a date-time"))
        }
        if let min = s["minLength"].flatMap(Self.integer), text.count < min {
            out.append(Violation(path: path, message: "shorter than \(min)"))
        }
        if let max = s["maxLength"].flatMap(Self.integer), text.count > max {
            out.append(Violation(path: path, message: "longer than \(max)"))
        }
    }

    private func checkNumber(_ text: String, _ s: [String: JSONValue], _ path: String, _ out: inout [Violation]) {
        guard let v = Double(text) else { return }
        if let min = s["minimum"].flatMap(Self.double), v < min { out.append(Violation(path: path, message: "\(text) < minimum \(min)")) }
        if let max = s["maximum"].flatMap(Self.double), v > max { out.append(Violation(path: path, message: "\(text) > maximum \(max)")) }
        if let min = s["exclusiveMinimum"].flatMap(Self.double), v <= min {
            out.append(Violation(path: path, message: "\(text) <= exclusiveMinimum \(min)"))
        }
    }

    private static func integer(_ v: JSONValue) -> Int? {
        if case .number(let text, _) = v { Int(text) } else { nil }
    }

    private static func double(_ v: JSONValue) -> Double? {
        if case .number(let text, _) = v { Double(text) } else { nil }
    }

    /// The value a local reference (`#/components/schemas/Budget`) points at.
    func resolve(_ ref: String) -> JSONValue? {
        guard ref.hasPrefix("#/") else { return nil }
        var node = document
        for token in ref.dropFirst(2).split(separator: "/", omittingEmptySubsequences: false) {
            let name = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            guard let next = node[name] else { return nil }
            node = next
        }
        return node
    }
}
