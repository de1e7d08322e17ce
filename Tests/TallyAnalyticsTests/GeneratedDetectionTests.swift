import TallyAnalytics
import TallyStore
import TallySynthetic
import TallyTestSupport
import Testing

@Suite("Detection on generated data: the injected spikes and drifts are found")
struct GeneratedDetectionTests {
    @Test("200k generated records, 12 tenants, 30 days: every injected anomaly is found at tenant level on its days")
    func injectedAreFound() async throws {
        try await withTemporaryDirectory(prefix: "tally-generated") { dir in
            var o = StoreOptions()
            o.background = false
            o.durability = .buffered
            let store = try Store(path: dir + "/store", options: o)
            let generator = SyntheticGenerator(.init(rows: 200_000, days: 30, seed: 11, tenants: 12))
            try generator.generate { batch in _ = try store.append(batch) }
            try store.flush()
            let end = SyntheticGenerator.Options.defaultEnd
            // 200k rows over 12 tenants make small tenants: judge them with a 1-dollar floor. Issue 13: the default
            // noise threshold (z = 6, tuned on 45 days x 200 tenants of seed 42 for <= 2 false alarms per 100
            // tenant-months) misses the 1.5-1.8 x spike of tnt_1b999ac3 here, whose daily spend varies by 21 %
            // (a recall limit recorded in docs/ANALYTICS.md); z = 2.5 finds all 7.
            var options = AnalyticsOptions()
            options.anomalyThresholds.minimumDailyNanos = 100 * 10_000_000
            options.anomalyNoiseZ = 2.5
            let analytics = Analytics(store: store, catalog: try SQLiteCatalog(directory: dir + "/store"), options: options, clock: { end })
            let report = try await analytics.detectAllTenants()
            let found = report.tenants.flatMap(\.anomalies)
            let visible = generator.anomalies
            #expect(visible.count == 7, "the sample must exercise both rules")
            #expect(Set(visible.map(\.kind)) == [.spike, .drift])
            for injected in visible {
                #expect(found.contains { injected.isFound(by: $0) }, "not found: \(injected)")
            }
            // Found on the right days: a spike within its days, a drift once a full week of it fills the window.
            for injected in visible {
                for a in found where injected.isFound(by: a) {
                    #expect(a.firstDay >= injected.start - TimeUnit.dayMillis && a.lastDay < injected.end, "\(injected): \(a.firstDay)")
                }
            }
            try analytics.close()
        }
    }
}

extension InjectedAnomaly {
    /// Whether `anomaly` finds it: the expected rule (ABSOLUTE_SPIKE for a spike, SUSTAINED_DRIFT for a drift), at
    /// tenant level, for its tenant, with days overlapping its days. The rule `tally anomalies detect --generated`
    /// applies (Sources/tally/InjectedAnomaly+Detection.swift); the analytics module does not know the generator.
    fileprivate func isFound(by anomaly: Anomaly) -> Bool {
        anomaly.type == (kind == .spike ? .absoluteSpike : .sustainedDrift) && anomaly.entity.level == .tenant
            && anomaly.tenant == tenantID && anomaly.firstDay < end && anomaly.lastDay + TimeUnit.dayMillis > start
    }
}
