import TallyStore
import TallyText

/// `{ configured, currency, models: [{ model, prices: [...] }], generated_at }`: the price table ingestion uses.
public struct PricingList: Sendable {
    /// Whether the server was started with a price table (without one, records must carry `cost_cents`).
    public var configured: Bool
    /// Each priced model with its price history, oldest first.
    public var models: [(model: String, entries: [PriceEntry])]
    /// "Now", to mark the price in force.
    public var now: Int64
}

extension Analytics {
    /// The price table records without `cost_cents` are priced from (any key may read it: it holds no tenant data).
    public func pricing() -> PricingList {
        guard let table = options.pricing else { return PricingList(configured: false, models: [], now: now) }
        return PricingList(configured: true, models: table.models.map { ($0, table.entries(for: $0)) }, now: now)
    }
}
