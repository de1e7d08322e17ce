import TallyAnalytics
import TallyQuery
import TallyStore
import TallyText

// The API encoding of the price list: the members, in this order, are the wire contract (OpenAPI/openapi.json).

extension PricingList: JSONWritable {
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
