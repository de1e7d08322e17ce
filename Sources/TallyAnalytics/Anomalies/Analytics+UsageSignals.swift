import TallyQuery
import TallyStore

/// One budget's utilisation, as usage signals show it.
public struct BudgetUtilisation: Sendable, JSONWritable {
    public var budget: Budget
    public var status: BudgetStatus

    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("budget_id", budget.id)
            w.field("tenant_id", budget.tenant)
            w.field("level", budget.level.rawValue)
            w.field("subject", budget.level == .tenant ? nil : budget.subject)
            w.field("period", budget.period.rawValue)
            w.field("limit_cents", cents: budget.limitNanos)
            w.field("spent_cents", cents: status.spentNanos)
            w.field("utilization_pct", status.utilizationPercent)
            w.field("state", status.state.rawValue)
        }
    }
}

extension Analytics {
    /// Most anomalies and budgets a usage response lists among its signals.
    public static let maxSignalAnomalies = 50

    /// The anomalies overlapping `window` and the utilisation of the budgets of `tenants` (every tenant's for an admin
    /// reading all of them, at most `maxSignalAnomalies` each).
    func usageSignals(_ run: inout QueryRun, tenants: Query.Tenants, window: Window,
                      now: Int64) async throws -> ([Anomaly], [BudgetUtilisation]) {
        let tenant = tenants.scopeTenant
        let catalog = self.catalog
        let (anomalies, listed) = try await blocking {
            (try catalog.anomalies(tenant: tenant, filter: AnomalyFilter(from: window.from, to: window.to, limit: Self.maxSignalAnomalies)),
             try catalog.budgets(tenant: tenant))
        }
        var budgets: [BudgetUtilisation] = []
        for b in listed.prefix(Self.maxSignalAnomalies) {
            budgets.append(BudgetUtilisation(budget: b, status: BudgetStatus(budget: b, spentNanos: try await spend(&run, b, now: now), now: now)))
        }
        return (anomalies, budgets)
    }
}
