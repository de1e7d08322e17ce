import TallyText
/// A small JSON tree for configuration files such as the price table (`Sources/TallyServer/Pricing/pricing.json`, shipped with tally) (not for records: those are
/// parsed in place by the record parser). Numbers keep their source text so decimals stay exact.
indirect enum JSONDocument: Equatable {
    case object([(key: String, value: JSONDocument)])
    case array([JSONDocument])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    static func == (a: JSONDocument, b: JSONDocument) -> Bool {
        switch (a, b) {
        case let (.object(x), .object(y)):
            x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case let (.array(x), .array(y)): x == y
        case let (.string(x), .string(y)): x == y
        case let (.number(x), .number(y)): x == y
        case let (.bool(x), .bool(y)): x == y
        case (.null, .null): true
        default: false
        }
    }

    /// Parses a whole document; the error says what is wrong and on which line.
    struct ParseError: Error {
        var line: Int
        var failure: JSONLexer.Failure
    }

    static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<JSONDocument, ParseError> {
        var r = Reader(p: bytes, i: 0)
        do throws(JSONLexer.Failure) {
            let v = try r.value(depth: 0)
            r.i = JSONLexer.skipSpace(bytes, r.i, bytes.count)
            guard r.i == bytes.count else { throw JSONLexer.Failure.unexpected("data after the end of the document") }
            return .success(v)
        } catch {
            return .failure(ParseError(line: r.line(), failure: error))
        }
    }

    private struct Reader {
        let p: UnsafeRawBufferPointer
        var i: Int

        func line() -> Int {
            var n = 1
            for k in 0..<min(i, p.count) where p[k] == 0x0A { n += 1 }
            return n
        }

        mutating func value(depth: Int) throws(JSONLexer.Failure) -> JSONDocument {
            let end = p.count
            i = JSONLexer.skipSpace(p, i, end)
            guard i < end else { throw .unexpectedEnd }
            guard depth < 64 else { throw .unexpected("nesting deeper than 64 levels") }
            switch p[i] {
            case 0x7B:  // {
                i += 1
                var members: [(key: String, value: JSONDocument)] = []
                i = JSONLexer.skipSpace(p, i, end)
                if i < end, p[i] == 0x7D { i += 1; return .object(members) }
                while true {
                    i = JSONLexer.skipSpace(p, i, end)
                    guard i < end else { throw .unexpectedEnd }
                    guard p[i] == 0x22 else { throw .unexpected("a key that is not a string") }
                    let key = try string()
                    i = JSONLexer.skipSpace(p, i, end)
                    guard i < end else { throw .unexpectedEnd }
                    guard p[i] == 0x3A else { throw .unexpected("no ':' after a key") }
                    i += 1
                    members.append((key, try value(depth: depth + 1)))
                    i = JSONLexer.skipSpace(p, i, end)
                    guard i < end else { throw .unexpectedEnd }
                    if p[i] == 0x2C { i += 1; continue }
                    if p[i] == 0x7D { i += 1; return .object(members) }
                    throw .unexpected("no ',' or '}' after an object member")
                }
            case 0x5B:  // [
                i += 1
                var items: [JSONDocument] = []
                i = JSONLexer.skipSpace(p, i, end)
                if i < end, p[i] == 0x5D { i += 1; return .array(items) }
                while true {
                    items.append(try value(depth: depth + 1))
                    i = JSONLexer.skipSpace(p, i, end)
                    guard i < end else { throw .unexpectedEnd }
                    if p[i] == 0x2C { i += 1; continue }
                    if p[i] == 0x5D { i += 1; return .array(items) }
                    throw .unexpected("no ',' or ']' after an array element")
                }
            case 0x22:
                return .string(try string())
            case 0x74 where JSONLexer.hasLiteral(p, i, end, "true"):
                i += 4
                return .bool(true)
            case 0x66 where JSONLexer.hasLiteral(p, i, end, "false"):
                i += 5
                return .bool(false)
            case 0x6E where JSONLexer.hasLiteral(p, i, end, "null"):
                i += 4
                return .null
            case 0x2D, 0x30...0x39:
                guard let e = JSONLexer.scanNumber(p, i, end) else { throw .badNumber }
                let text = String(utf8: UnsafeRawBufferPointer(rebasing: p[i..<e]))
                i = e
                return .number(text)
            default:
                throw .unexpected("an unexpected character")
            }
        }

        /// Reads a string whose opening quote is at `i`.
        mutating func string() throws(JSONLexer.Failure) -> String {
            let start = i + 1
            let (close, escaped) = try JSONLexer.scanString(p, start, p.count).get()
            i = close + 1
            let body = UnsafeRawBufferPointer(rebasing: p[start..<close])
            if !escaped {
                guard ByteChecks.isValidUTF8(body) else { throw .unexpected("invalid UTF-8 in a string") }
                return String(utf8: body)
            }
            let out = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, close - start), alignment: 1)
            defer { out.deallocate() }
            let n = try JSONLexer.decodeString(p, start, close, into: out.baseAddress!).get()
            let decoded = UnsafeRawBufferPointer(rebasing: out[..<n])
            guard ByteChecks.isValidUTF8(decoded) else { throw .unexpected("invalid UTF-8 in a string") }
            return String(utf8: decoded)
        }
    }
}
