import TallyAnalytics
import TallyStore
import TallySynthetic

extension InjectedAnomaly {
    /// The rule that should find it: ABSOLUTE_SPIKE for a volume spike, SUSTAINED_DRIFT for a token drift.
    var expectedType: AnomalyType { kind == .spike ? .absoluteSpike : .sustainedDrift }

    /// Whether `anomaly` finds it: the expected rule, at tenant level, for its tenant, with days overlapping its days.
    func isFound(by anomaly: Anomaly) -> Bool {
        anomaly.type == expectedType && anomaly.entity.level == .tenant && anomaly.tenant == tenantID
            && overlaps(anomaly)
    }

    /// Whether `anomaly` is about its tenant and its days overlap the injected days (of any rule or level: a spike
    /// also lifts the tenant's weekly average, and the features and users that carried it).
    func explains(_ anomaly: Anomaly) -> Bool {
        anomaly.tenant == tenantID && overlaps(anomaly)
    }

    private func overlaps(_ a: Anomaly) -> Bool {
        a.firstDay < end && a.lastDay + TimeUnit.dayMillis > start
    }
}
