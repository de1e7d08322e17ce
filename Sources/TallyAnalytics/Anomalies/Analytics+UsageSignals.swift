import TallyQuery
import TallyStore
import TallyText

/// One budget's utilisation, as usage signals show it.
public struct BudgetUtilisation: Sendable {
    public var budget: Budget
    public var status: BudgetStatus
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
