import TallyStore
import TallyText

/// `{ configured, currency, models: [{ model, prices: [...] }], generated_at }`: the price table ingestion uses.
public struct PricingList: Sendable, JSONWritable {
    /// Whether the server was started with a price table (without one, records must carry `cost_cents`).
    public var configured: Bool
    /// Each priced model with its price history, oldest first.
    public var models: [(model: String, entries: [PriceEntry])]
    /// "Now", to mark the price in force.
    public var now: Int64

    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("configured", configured)
            w.field("currency", "USD")
            w.key("models")
            w.array { w in
                for (model, entries) in models {
                    w.object { w in
                        w.field("model", model)
                        let current = entries.lastIndex { $0.effectiveFromMillis <= now }
                        w.key("prices")
                        w.array { w in
                            for (i, e) in entries.enumerated() {
                                w.object { w in
                                    w.field("effective_from", time: e.effectiveFromMillis)
                                    w.field("effective_to", time: i + 1 < entries.count ? entries[i + 1].effectiveFromMillis : nil)
                                    w.field("in_force", i == current)
                                    // Prices are nano-dollars per million tokens; shown as cents per million tokens, exact.
                                    w.field("input_per_million_cents", cents: e.inputPerMillionNanos)
                                    w.field("output_per_million_cents", cents: e.outputPerMillionNanos)
                                }
                            }
                        }
                    }
                }
            }
            w.field("generated_at", time: now)
        }
    }
}

extension Analytics {
    /// The price table records without `cost_cents` are priced from (any key may read it: it holds no tenant data).
    public func pricing() -> PricingList {
        guard let table = options.pricing else { return PricingList(configured: false, models: [], now: now) }
        return PricingList(configured: true, models: table.models.map { ($0, table.entries(for: $0)) }, now: now)
    }
}
