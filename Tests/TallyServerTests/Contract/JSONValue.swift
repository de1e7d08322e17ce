/// A parsed JSON value that keeps what a schema check needs and `JSONSerialization` loses: an integer apart from
/// a number with a fraction or exponent, `true` apart from `1`, and a repeated member name (a parse error).
indirect enum JSONValue: Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    /// A number as written; `isInteger` when it has neither fraction nor exponent.
    case number(String, isInteger: Bool)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The member `name` of an object; nil for a missing member or a value that is not an object.
    subscript(name: String) -> JSONValue? {
        if case .object(let members) = self { members[name] } else { nil }
    }

    /// The string, or nil for another kind.
    var string: String? {
        if case .string(let s) = self { s } else { nil }
    }

    /// The members of an object, or nil for another kind.
    var members: [String: JSONValue]? {
        if case .object(let m) = self { m } else { nil }
    }

    /// The elements of an array, or nil for another kind.
    var elements: [JSONValue]? {
        if case .array(let a) = self { a } else { nil }
    }

    /// The JSON type name as JSON Schema spells it (`integer` for a number without fraction or exponent).
    var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number(_, let isInteger): isInteger ? "integer" : "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// Short text for messages.
    var description: String {
        switch self {
        case .null: "null"
        case .bool(let b): String(b)
        case .number(let text, _): text
        case .string(let s): "\"" + s + "\""
        case .array(let a): "[\(a.count) elements]"
        case .object(let m): "{\(m.count) members}"
        }
    }

    /// Parses `bytes` (one JSON text, UTF-8).
    static func parse(_ bytes: some Sequence<UInt8>) throws(JSONParseError) -> JSONValue {
        var parser = Parser(bytes: Array(bytes))
        let value = try parser.value()
        parser.skipSpace()
        guard parser.offset == parser.bytes.count else { throw JSONParseError(offset: parser.offset, reason: "text after the value") }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        var offset = 0

        mutating func skipSpace() {
            while offset < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[offset]) { offset += 1 }
        }

        func fail(_ reason: String) -> JSONParseError { JSONParseError(offset: offset, reason: reason) }

        mutating func value() throws(JSONParseError) -> JSONValue {
            skipSpace()
            guard offset < bytes.count else { throw fail("unexpected end") }
            switch bytes[offset] {
            case UInt8(ascii: "{"): return try object()
            case UInt8(ascii: "["): return try array()
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            default: return try number()
            }
        }

        mutating func literal(_ word: String) throws(JSONParseError) {
            let w = Array(word.utf8)
            guard offset + w.count <= bytes.count, Array(bytes[offset..<offset + w.count]) == w else { throw fail("expected \(word)") }
            offset += w.count
        }

        mutating func object() throws(JSONParseError) -> JSONValue {
            offset += 1
            var members: [String: JSONValue] = [:]
            skipSpace()
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") { offset += 1; return .object(members) }
            while true {
                skipSpace()
                guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
                let name = try string()
                guard members[name] == nil else { throw fail("member \(name) twice") }
                skipSpace()
                guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else { throw fail("expected :") }
                offset += 1
                members[name] = try value()
                skipSpace()
                guard offset < bytes.count else { throw fail("unexpected end in an object") }
                if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
                guard bytes[offset] == UInt8(ascii: "}") else { throw fail("expected , or }") }
                offset += 1
                return .object(members)
            }
        }

        mutating func array() throws(JSONParseError) -> JSONValue {
            offset += 1
            var elements: [JSONValue] = []
            skipSpace()
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") { offset += 1; return .array(elements) }
            while true {
                elements.append(try value())
                skipSpace()
                guard offset < bytes.count else { throw fail("unexpected end in an array") }
                if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
                guard bytes[offset] == UInt8(ascii: "]") else { throw fail("expected , or ]") }
                offset += 1
                return .array(elements)
            }
        }

        mutating func string() throws(JSONParseError) -> String {
            offset += 1
            var out: [UInt8] = []
            while offset < bytes.count {
                let b = bytes[offset]
                offset += 1
                switch b {
                case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard offset < bytes.count else { throw fail("unexpected end in an escape") }
                    let e = bytes[offset]
                    offset += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800..<0xDC00).contains(scalar) {
                            try literal("\\u")
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let s = Unicode.Scalar(scalar) else { throw fail("bad \\u escape") }
                        out.append(contentsOf: Array(String(Character(s)).utf8))
                    default: throw fail("bad escape")
                    }
                case 0..<0x20: throw fail("control character in a string")
                default: out.append(b)
                }
            }
            throw fail("unterminated string")
        }

        mutating func hex4() throws(JSONParseError) -> UInt32 {
            guard offset + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[offset..<offset + 4], as: UTF8.self), radix: 16)
            else { throw fail("bad \\u escape") }
            offset += 4
            return v
        }

        mutating func number() throws(JSONParseError) -> JSONValue {
            let start = offset
            var isInteger = true
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "-") { offset += 1 }
            func digits(_ p: inout Parser) -> Int {
                let s = p.offset
                while p.offset < p.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p.bytes[p.offset]) { p.offset += 1 }
                return p.offset - s
            }
            guard digits(&self) > 0 else { throw fail("expected a value") }
            if offset < bytes.count, bytes[offset] == UInt8(ascii: ".") {
                offset += 1
                isInteger = false
                guard digits(&self) > 0 else { throw fail("expected digits after .") }
            }
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "e") || bytes[offset] == UInt8(ascii: "E") {
                offset += 1
                isInteger = false
                if offset < bytes.count, bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-") { offset += 1 }
                guard digits(&self) > 0 else { throw fail("expected digits in the exponent") }
            }
            return .number(String(decoding: bytes[start..<offset], as: UTF8.self), isInteger: isInteger)
        }
    }
}

/// A body that is not JSON: where and why.
struct JSONParseError: Error, CustomStringConvertible {
    var offset: Int
    var reason: String
    var description: String { "not JSON at byte \(offset): \(reason)" }
}
