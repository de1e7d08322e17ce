import TallyQuery
import TallyStore
import TallyText

/// Spend of one tenant (or of the tenants summed as "other") on one model.
public struct SpendSlice: Sendable, Equatable {
    public var tenant: String
    public var model: String
    public var costNanos: Int64
    public var records: Int64

    public init(tenant: String, model: String, costNanos: Int64, records: Int64) {
        self.tenant = tenant
        self.model = model
        self.costNanos = costNanos
        self.records = records
    }
}

extension Analytics {
    /// The tenant name that stands for every tenant outside the top ones in `spendSlices`.
    public static let otherTenants = "other"

    /// Spend in `[from, to)` by tenant and model, with a bounded number of tenants: the `topTenants` tenants that spent
    /// the most are named, every other tenant's spend is summed per model under tenant "other" (so a metrics label
    /// set stays bounded however many tenants there are). Sorted by tenant (the top ones by spend, "other" last), then
    /// model.
    public func spendSlices(from: Int64, to: Int64, topTenants: Int) async throws -> [SpendSlice] {
        try await spendSlices(from: from, to: to) { byTenant in
            byTenant.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(max(0, topTenants)).map(\.key)
        }
    }

    /// Spend in `[from, to)` by tenant and model, naming only `tenants` (in that order) and summing every other
    /// tenant's spend as "other": another window's slices bucketed by the same tenants.
    public func spendSlices(from: Int64, to: Int64, naming tenants: [String]) async throws -> [SpendSlice] {
        try await spendSlices(from: from, to: to) { _ in tenants }
    }

    /// The slices, naming the tenants `choose` picks from every tenant's spend in the window.
    private func spendSlices(from: Int64, to: Int64, choose: ([String: Int64]) -> [String]) async throws -> [SpendSlice] {
        var run = try await QueryRun(records, useRollups: options.useRollups)
        let result = try await run.run(try Self.query(tenants: .all, from: from, to: to, groupBy: [.tenant, .dimension(.model)],
                                                      order: .key, useRollups: options.useRollups))
        var byTenant: [String: Int64] = [:]
        for row in 0..<result.rowCount { byTenant[result.keyColumns[0][row], default: 0] += result.cost[row] }
        let named = Dictionary(choose(byTenant).enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })
        var slices: [String: [String: SpendSlice]] = [:]
        for row in 0..<result.rowCount {
            let tenant = named[result.keyColumns[0][row]] != nil ? result.keyColumns[0][row] : Self.otherTenants
            let model = result.keyColumns[1][row]
            slices[tenant, default: [:]][model, default: SpendSlice(tenant: tenant, model: model, costNanos: 0, records: 0)].costNanos += result.cost[row]
            slices[tenant]![model]!.records += result.count[row]
        }
        let order = { (t: String) in named[t] ?? Int.max }
        return slices.keys.sorted { order($0) != order($1) ? order($0) < order($1) : $0 < $1 }
            .flatMap { t in slices[t]!.keys.sorted().map { slices[t]![$0]! } }
    }
}
