import TallyText

/// Reading the price table (`Sources/TallyServer/Pricing/pricing.json`, shipped with tally):
///
/// ```json
/// {"currency": "USD",
///  "models": {"gpt-4o": [{"effective_from": "2024-01-01",
///                         "input_per_million_usd": "2.50", "output_per_million_usd": "10.00"}]}}
/// ```
///
/// Prices are decimal strings or JSON numbers read from their text (never through a float), with at most
/// nine fraction digits, i.e. exact to one nano-dollar per million tokens. `effective_from` is a date or
/// an RFC 3339 timestamp (UTC midnight for a bare date).
extension PriceTable {
    /// Loads a pricing file; throws `StoreError.io` when it cannot be read and `StoreError.invalidArgument`
    /// naming the file and the bad entry when it does not parse.
    public static func load(path: String) throws -> PriceTable {
        let bytes = try FileIO.readAll(path)
        do {
            return try parse(json: bytes)
        } catch let StoreError.invalidArgument(text) {
            throw StoreError.invalidArgument("\(path): \(text)")
        }
    }

    /// Parses the pricing JSON; throws `StoreError.invalidArgument` naming the bad entry.
    public static func parse(json: [UInt8]) throws -> PriceTable {
        let doc = json.withUnsafeBytes { JSONDocument.parse($0) }
        let root: JSONDocument
        switch doc {
        case let .success(v): root = v
        case let .failure(f): throw StoreError.invalidArgument("pricing JSON is malformed at line \(f.line): it \(f.failure.text)")
        }
        guard case let .object(top) = root else { throw invalid("the document must be a JSON object") }
        var models: [(key: String, value: JSONDocument)]?
        for (key, value) in top {
            switch key {
            case "models":
                guard models == nil else { throw invalid("'models' appears more than once") }
                guard case let .object(m) = value else { throw invalid("'models' must be an object of model name to price list") }
                models = m
            case "currency":
                guard value == .string("USD") else { throw invalid("'currency' must be \"USD\"") }
            case "note":
                guard case .string = value else { throw invalid("'note' must be a string") }
            default:
                throw invalid("unknown top-level key '\(clip(key))' (expected models, currency, note)")
            }
        }
        guard let models else { throw invalid("'models' is missing") }
        var entries: [String: [PriceEntry]] = [:]
        for (model, list) in models {
            guard !model.isEmpty else { throw invalid("a model name is empty") }
            guard entries[model] == nil else { throw invalid("model '\(clip(model))' appears more than once") }
            guard case let .array(items) = list, !items.isEmpty else {
                throw invalid("models.\(clip(model)) must be a non-empty array of prices")
            }
            var parsed: [PriceEntry] = []
            for (k, item) in items.enumerated() {
                let at = "models.\(clip(model))[\(k)]"
                parsed.append(try entry(item, at: at))
            }
            let starts = parsed.map(\.effectiveFromMillis)
            guard Set(starts).count == starts.count else {
                throw invalid("models.\(clip(model)) has two prices with the same effective_from")
            }
            entries[model] = parsed
        }
        return PriceTable(entries: entries)
    }

    private static func entry(_ item: JSONDocument, at: String) throws -> PriceEntry {
        guard case let .object(fields) = item else { throw invalid("\(at) must be an object") }
        var from: Int64?, input: Int64?, output: Int64?
        for (key, value) in fields {
            switch key {
            case "effective_from":
                guard from == nil else { throw invalid("\(at).effective_from appears more than once") }
                guard case let .string(text) = value, case let .success(ms) = Timestamp.parse(text) else {
                    throw invalid("\(at).effective_from must be a date (YYYY-MM-DD) or an RFC 3339 timestamp")
                }
                from = ms
            case "input_per_million_usd", "output_per_million_usd":
                let text: String
                switch value {
                case let .string(s), let .number(s): text = s
                default: throw invalid("\(at).\(key) must be a decimal string or number")
                }
                guard let nanos = parseUSDNanos(text) else {
                    throw invalid("\(at).\(key) must be a decimal >= 0 with at most 9 fraction digits")
                }
                if key == "input_per_million_usd" {
                    guard input == nil else { throw invalid("\(at).\(key) appears more than once") }
                    input = nanos
                } else {
                    guard output == nil else { throw invalid("\(at).\(key) appears more than once") }
                    output = nanos
                }
            default:
                throw invalid("\(at) has an unknown key '\(clip(key))'")
            }
        }
        guard let from else { throw invalid("\(at).effective_from is missing") }
        guard let input else { throw invalid("\(at).input_per_million_usd is missing") }
        guard let output else { throw invalid("\(at).output_per_million_usd is missing") }
        return PriceEntry(effectiveFromMillis: from, inputPerMillionNanos: input, outputPerMillionNanos: output)
    }

    /// Parses a dollar amount such as `2.50` into nano-dollars (at most 9 fraction digits, at most $1e9).
    static func parseUSDNanos(_ text: String) -> Int64? {
        var whole: Int64 = 0, frac: Int64 = 0
        var wholeDigits = 0, fracDigits = 0, seenDot = false
        for c in text.utf8 {
            switch c {
            case 0x30...0x39:
                if seenDot {
                    guard fracDigits < 9 else { return nil }
                    frac = frac * 10 + Int64(c - 0x30)
                    fracDigits += 1
                } else {
                    guard whole < 100_000_000 else { return nil }
                    whole = whole * 10 + Int64(c - 0x30)
                    wholeDigits += 1
                }
            case 0x2E where !seenDot:
                seenDot = true
            default:
                return nil
            }
        }
        guard wholeDigits > 0 || fracDigits > 0, !seenDot || fracDigits > 0 else { return nil }
        for _ in fracDigits..<9 { frac *= 10 }
        return whole * 1_000_000_000 + frac
    }

    private static func invalid(_ text: String) -> StoreError { .invalidArgument("pricing: " + text) }

    private static func clip(_ s: String) -> String { s.count <= 64 ? s : String(s.prefix(64)) + "..." }
}
