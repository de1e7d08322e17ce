import TallyText

/// What `PriceTable.importingLiteLLM` did.
public struct PriceImportReport: Sendable, Equatable {
    /// Models new to the table, sorted.
    public var added: [String] = []
    /// Models whose price changed: a new entry from the import's `effectiveFrom`, sorted.
    public var changed: [String] = []
    /// Models already at the imported price.
    public var unchanged = 0
    /// Entries of the map not imported: not a chat or completion model, of another provider, without both
    /// token prices, or with a price that is not exact to a nano-dollar per million tokens.
    public var skipped = 0

    public init() {}
}

/// Reading LiteLLM's public price map, `model_prices_and_context_window.json`:
///
/// ```json
/// {"gpt-4o": {"litellm_provider": "openai", "mode": "chat",
///             "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05, ...}, ...}
/// ```
///
/// Prices there are USD per token as JSON numbers; they are read from their text and shifted exactly (2.5e-06 USD
/// per token is 2.5 USD, 2,500,000,000 nano-dollars, per million tokens), never through a float. A price finer than
/// a nano-dollar per million tokens is not exact in Tally's table and the model is skipped (counted), not rounded.
extension PriceTable {
    /// The model kinds priced per token that Tally records.
    public static let liteLLMModes: Set<String> = ["chat", "completion", "responses"]

    /// This table with LiteLLM's prices merged in: a model new to the table gets its price from `firstPriceFrom`
    /// (records made before that could not be priced), a model whose current price differs gets a new entry from
    /// `effectiveFrom` (its history stays), an equal price changes nothing. `providers` (LiteLLM's
    /// `litellm_provider`) limits what is read; nil reads every provider.
    public func importingLiteLLM(json: [UInt8], effectiveFrom: Int64, firstPriceFrom: Int64,
                                 providers: Set<String>?) throws -> (table: PriceTable, report: PriceImportReport) {
        let root: JSONDocument
        switch json.withUnsafeBytes({ JSONDocument.parse($0) }) {
        case let .success(v): root = v
        case let .failure(f): throw StoreError.invalidArgument("LiteLLM price map is malformed at line \(f.line): it \(f.failure.text)")
        }
        guard case let .object(models) = root else {
            throw StoreError.invalidArgument("LiteLLM price map: the document must be a JSON object of model name to its entry")
        }
        var entries: [String: [PriceEntry]] = [:]
        for model in self.models { entries[model] = self.entries(for: model) }
        var report = PriceImportReport()
        var seen = Set<String>()
        for (model, spec) in models {
            guard case let .object(fields) = spec, !model.isEmpty, !seen.contains(model) else { report.skipped += 1; continue }
            seen.insert(model)
            var provider: String?, mode: String?, input: Int64??, output: Int64??
            for (key, value) in fields {
                switch (key, value) {
                case let ("litellm_provider", .string(s)): provider = s
                case let ("mode", .string(s)): mode = s
                case let ("input_cost_per_token", .number(text)): input = Self.perMillionNanos(perToken: text)
                case let ("output_cost_per_token", .number(text)): output = Self.perMillionNanos(perToken: text)
                default: break
                }
            }
            guard let mode, Self.liteLLMModes.contains(mode), let provider, providers?.contains(provider) ?? true,
                  let input = input ?? nil, let output = output ?? nil
            else { report.skipped += 1; continue }
            let price = PriceEntry(effectiveFromMillis: firstPriceFrom, inputPerMillionNanos: input, outputPerMillionNanos: output)
            guard var history = entries[model], let current = history.last else {
                entries[model] = [price]
                report.added.append(model)
                continue
            }
            if current.inputPerMillionNanos == input && current.outputPerMillionNanos == output {
                report.unchanged += 1
                continue
            }
            // A new price never rewrites the past: it starts at `effectiveFrom`, after the model's last entry.
            let start = max(effectiveFrom, current.effectiveFromMillis + 1)
            history.append(PriceEntry(effectiveFromMillis: start, inputPerMillionNanos: input, outputPerMillionNanos: output))
            entries[model] = history
            report.changed.append(model)
        }
        report.added.sort()
        report.changed.sort()
        return (PriceTable(entries: entries), report)
    }

    /// USD per token, as JSON number text (`2.5e-06`, `0.000003`, `0`), in nano-dollars per million tokens: the
    /// value times 10^15, when that is a whole number below $1e9 per million tokens; nil otherwise.
    static func perMillionNanos(perToken text: String) -> Int64? {
        var digits: [UInt8] = [], fractionDigits = 0, exponent = 0
        var seenDot = false, seenExponent = false, exponentNegative = false, exponentDigits = 0
        for c in text.utf8 {
            switch c {
            case 0x30...0x39 where seenExponent:
                guard exponentDigits < 4 else { return nil }
                exponent = exponent * 10 + Int(c - 0x30)
                exponentDigits += 1
            case 0x30...0x39:
                if digits.isEmpty && c == 0x30 { if seenDot { fractionDigits += 1 }; continue }  // leading zeros
                guard digits.count < 30 else { return nil }
                digits.append(c - 0x30)
                if seenDot { fractionDigits += 1 }
            case 0x2E where !seenDot && !seenExponent: seenDot = true
            case 0x65, 0x45:
                guard !seenExponent else { return nil }
                seenExponent = true
            case 0x2D where seenExponent && exponentDigits == 0 && !exponentNegative: exponentNegative = true
            case 0x2B where seenExponent && exponentDigits == 0: break
            default: return nil
            }
        }
        if seenExponent && exponentDigits == 0 { return nil }
        if digits.isEmpty { return 0 }
        // value = digits x 10^(exponent - fractionDigits); nanos per million = value x 10^15.
        var shift = (exponentNegative ? -exponent : exponent) - fractionDigits + 15
        while shift < 0, digits.last == 0 { digits.removeLast(); shift += 1 }
        guard shift >= 0, digits.count + shift <= 18 else { return nil }
        var nanos: Int64 = 0
        for d in digits { nanos = nanos * 10 + Int64(d) }
        for _ in 0..<shift { nanos *= 10 }
        return nanos <= 1_000_000_000 * 1_000_000_000 ? nanos : nil
    }

    /// The table in the format `load(path:)` reads (models sorted, each one's prices oldest first): what
    /// `tally pricing import` writes.
    public func fileJSON(note: String) -> [UInt8] {
        var out = "{\n  \"currency\": \"USD\",\n  \"note\": \(JSONWriter.literal(note)),\n  \"models\": {"
        for (i, model) in models.enumerated() {
            out += (i == 0 ? "\n    " : ",\n    ") + JSONWriter.literal(model) + ": ["
            for (k, e) in entries(for: model).enumerated() {
                out += (k == 0 ? "\n      " : ",\n      ")
                    + "{\"effective_from\": \(JSONWriter.literal(Self.dateOrTime(e.effectiveFromMillis))), "
                    + "\"input_per_million_usd\": \"\(Self.usd(e.inputPerMillionNanos))\", "
                    + "\"output_per_million_usd\": \"\(Self.usd(e.outputPerMillionNanos))\"}"
            }
            out += "\n    ]"
        }
        return Array((out + "\n  }\n}\n").utf8)
    }

    /// `2024-01-01` for a UTC midnight, the full RFC 3339 time otherwise.
    package static func dateOrTime(_ millis: Int64) -> String {
        let text = Timestamp.format(millis)
        return millis % 86_400_000 == 0 ? String(text.prefix(10)) : text
    }

    /// Nano-dollars as a USD decimal with at least two fraction digits and no trailing zeros beyond them.
    package static func usd(_ nanos: Int64) -> String {
        var fraction = String(nanos % 1_000_000_000)
        fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
        while fraction.count > 2, fraction.hasSuffix("0") { fraction.removeLast() }
        return "\(nanos / 1_000_000_000).\(fraction)"
    }
}
