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
        let lists = try await signalLists.value(for: SignalListsKey(tenant: tenant, from: window.from, to: window.to), catalog: catalog) {
            try await blocking {
                SignalLists(
                    anomalies: try catalog.anomalies(
                        tenant: tenant, filter: AnomalyFilter(from: window.from, to: window.to, limit: Self.maxSignalAnomalies)),
                    budgets: try catalog.budgets(tenant: tenant))
            }
        }
        let (anomalies, listed) = (lists.anomalies, lists.budgets)
        var budgets: [BudgetUtilisation] = []
        for b in listed.prefix(Self.maxSignalAnomalies) {
            budgets.append(BudgetUtilisation(budget: b, status: BudgetStatus(budget: b, spentNanos: try await spend(&run, b, now: now), now: now)))
        }
        return (anomalies, budgets)
    }
}

/// Which catalog lists usage signals read: a tenant's (every tenant's when nil) in a window.
struct SignalListsKey: Hashable, Sendable {
    let tenant: String?
    let from: Int64
    let to: Int64
}

/// The anomalies overlapping a window and the budgets of its tenant(s), as the catalog listed them.
struct SignalLists: Sendable {
    let anomalies: [Anomaly]
    let budgets: [Budget]
}
