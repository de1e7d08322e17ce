/// One price of a model, in force from `effectiveFromMillis` until the model's next entry.
public struct PriceEntry: Sendable, Hashable {
    /// Start of validity, milliseconds since the epoch (UTC).
    public var effectiveFromMillis: Int64
    /// Price of one million input tokens in nano-dollars (USD * 1e9).
    public var inputPerMillionNanos: Int64
    /// Price of one million output tokens in nano-dollars (USD * 1e9).
    public var outputPerMillionNanos: Int64

    /// Creates an entry.
    public init(effectiveFromMillis: Int64, inputPerMillionNanos: Int64, outputPerMillionNanos: Int64) {
        self.effectiveFromMillis = effectiveFromMillis
        self.inputPerMillionNanos = inputPerMillionNanos
        self.outputPerMillionNanos = outputPerMillionNanos
    }

    /// Cost of a call at this price, in nano-dollars.
    ///
    /// `(inputTokens * inputPerMillionNanos + outputTokens * outputPerMillionNanos) / 1_000_000`, computed
    /// exactly in 128-bit integers and rounded half up once, on the sum. For every price that is a whole
    /// number of nano-dollars per token (all of the price table (`Sources/TallyServer/Pricing/pricing.json`, shipped with tally)) nothing is rounded at all. Saturates
    /// at `Int64.max`; negative token counts count as zero.
    public func costNanos(inputTokens: Int64, outputTokens: Int64) -> Int64 {
        let total = Int128(max(0, inputTokens)) * Int128(inputPerMillionNanos)
            + Int128(max(0, outputTokens)) * Int128(outputPerMillionNanos)
        let rounded = (total + 500_000) / 1_000_000
        return rounded > Int128(Int64.max) ? Int64.max : Int64(rounded)
    }
}

/// Prices per model with history: the price of a call is the one in force when the call was made.
///
/// Loaded from the price table (`Sources/TallyServer/Pricing/pricing.json`, shipped with tally). Prices are exact integers (nano-dollars per million tokens), never floats.
public struct PriceTable: Sendable {
    /// Entries per model, sorted by `effectiveFromMillis`; indexed by `scheduleIndex(of:)`.
    private var schedules: [[PriceEntry]]
    private var names: [String]
    private var indexByName: [String: Int]

    /// Creates a table. Entries of a model may come in any order; of two entries with the same
    /// start the later one in the array wins.
    public init(entries: [String: [PriceEntry]]) {
        names = entries.keys.sorted()
        indexByName = [:]
        schedules = []
        for (i, name) in names.enumerated() {
            indexByName[name] = i
            var list: [PriceEntry] = []
            for e in entries[name]! {
                if let k = list.firstIndex(where: { $0.effectiveFromMillis == e.effectiveFromMillis }) {
                    list[k] = e
                } else {
                    list.append(e)
                }
            }
            list.sort { $0.effectiveFromMillis < $1.effectiveFromMillis }
            schedules.append(list)
        }
    }

    /// The priced models, sorted.
    public var models: [String] { names }

    /// The price history of a model, oldest first (empty for an unknown model).
    public func entries(for model: String) -> [PriceEntry] {
        indexByName[model].map { schedules[$0] } ?? []
    }

    /// The price of `model` in force at `millis`, if any.
    public func price(model: String, at millis: Int64) -> PriceEntry? {
        guard let s = indexByName[model] else { return nil }
        return price(schedule: s, at: millis)
    }

    /// Cost of a call in nano-dollars, or nil for an unknown model or a time before its first price.
    /// See `PriceEntry.costNanos(inputTokens:outputTokens:)` for the rounding.
    public func costNanos(model: String, inputTokens: Int64, outputTokens: Int64, at millis: Int64) -> Int64? {
        price(model: model, at: millis)?.costNanos(inputTokens: inputTokens, outputTokens: outputTokens)
    }

    /// Index of a model's schedule, for callers that cache it per dictionary code.
    package func scheduleIndex(of model: String) -> Int? { indexByName[model] }

    /// The entry of schedule `s` in force at `millis`.
    @inline(__always)
    package func price(schedule s: Int, at millis: Int64) -> PriceEntry? {
        let list = schedules[s]
        var k = list.count - 1
        while k >= 0 {
            if list[k].effectiveFromMillis <= millis { return list[k] }
            k -= 1
        }
        return nil
    }
}
