import TallyStore
import TallyText

/// A tenant's anomaly thresholds as the API shows them (factors as decimals, the floor in cents).
public struct AnomalySettingsView: Sendable {
    public var tenant: String
    public var thresholds: AnomalyThresholds
    /// Whether the tenant set its own (false: the defaults).
    public var custom: Bool
}

/// A change of anomaly thresholds: the members given replace the current values.
public struct AnomalySettingsPatch: Sendable {
    public var tenantID: String?
    public var spikeFactor: Double?
    public var spikeDays: Double?
    public var baselineDays: Double?
    public var driftFactor: Double?
    public var driftDays: Double?
    public var driftWindowDays: Double?
    /// Exact decimal string of cents.
    public var minimumDailyCents: String?
    public var lowPercent: Double?
    public var mediumPercent: Double?
    public var highPercent: Double?

    /// A patch.
    public init(tenantID: String? = nil, spikeFactor: Double? = nil, spikeDays: Double? = nil, baselineDays: Double? = nil,
                driftFactor: Double? = nil, driftDays: Double? = nil, driftWindowDays: Double? = nil,
                minimumDailyCents: String? = nil, lowPercent: Double? = nil, mediumPercent: Double? = nil,
                highPercent: Double? = nil) {
        self.tenantID = tenantID
        self.spikeFactor = spikeFactor
        self.spikeDays = spikeDays
        self.baselineDays = baselineDays
        self.driftFactor = driftFactor
        self.driftDays = driftDays
        self.driftWindowDays = driftWindowDays
        self.minimumDailyCents = minimumDailyCents
        self.lowPercent = lowPercent
        self.mediumPercent = mediumPercent
        self.highPercent = highPercent
    }

    /// `t` with the patch applied; every invalid member is named.
    func apply(to current: AnomalyThresholds) throws(AnalyticsError) -> AnomalyThresholds {
        var t = current
        func factor(_ v: Double?, _ name: String) throws(AnalyticsError) -> Int64? {
            guard let v else { return nil }
            guard v.isFinite, v > 1, v <= 100 else { throw .invalidParameter(name: name, reason: "must be a number above 1 and at most 100, such as 1.4") }
            return Int64((v * 1_000_000).rounded())
        }
        func days(_ v: Double?, _ name: String, _ range: ClosedRange<Int>) throws(AnalyticsError) -> Int? {
            guard let v else { return nil }
            guard v.isFinite, v == v.rounded(), range.contains(Int(v)) else {
                throw .invalidParameter(name: name, reason: "must be an integer from \(range.lowerBound) to \(range.upperBound)")
            }
            return Int(v)
        }
        func pct(_ v: Double?, _ name: String) throws(AnalyticsError) -> Int64? {
            guard let v else { return nil }
            guard v.isFinite, v == v.rounded(), v >= 0, v <= 10_000 else {
                throw .invalidParameter(name: name, reason: "must be an integer percent from 0 to 10000")
            }
            return Int64(v)
        }
        if let f = try factor(spikeFactor, "spike_factor") { t.spikeFactorPPM = f }
        if let f = try factor(driftFactor, "drift_factor") { t.driftFactorPPM = f }
        if let d = try days(spikeDays, "spike_days", 1...30) { t.spikeDays = d }
        if let d = try days(baselineDays, "baseline_days", 1...90) { t.baselineDays = d }
        if let d = try days(driftDays, "drift_days", 1...30) { t.driftDays = d }
        if let d = try days(driftWindowDays, "drift_window_days", 2...90) { t.driftWindowDays = d }
        if let text = minimumDailyCents {
            guard case let .success(nanos) = Money.parseCents(text) else {
                throw .invalidParameter(name: "minimum_daily_cents", reason: "must be a decimal string of cents such as \"100\"")
            }
            t.minimumDailyNanos = nanos
        }
        if let p = try pct(lowPercent, "severity_low_pct") { t.lowPercent = p }
        if let p = try pct(mediumPercent, "severity_medium_pct") { t.mediumPercent = p }
        if let p = try pct(highPercent, "severity_high_pct") { t.highPercent = p }
        guard t.lowPercent <= t.mediumPercent, t.mediumPercent <= t.highPercent else {
            throw .invalidParameter(name: "severity_low_pct", reason: "the bands must rise: low <= medium <= high")
        }
        return t
    }
}

extension Analytics {
    /// The anomaly thresholds of the tenant (reader or admin keys; an admin names the tenant).
    public func anomalySettings(tenantID: String?, principal: Principal) async throws -> AnomalySettingsView {
        let tenant = try AccessPolicy.check(.readAnomalySettings, principal, tenant: tenantID)
        return try await blocking { [self] in
            let (t, custom) = try catalog.anomalyThresholds(tenant: tenant, defaults: options.anomalyThresholds)
            return AnomalySettingsView(tenant: tenant, thresholds: t, custom: custom)
        }
    }

    /// Changes the anomaly thresholds of the tenant (admin keys, like budgets: an application must not silence its own
    /// alerts).
    public func updateAnomalySettings(_ patch: AnomalySettingsPatch, principal: Principal) async throws -> AnomalySettingsView {
        let tenant = try AccessPolicy.check(.changeAnomalySettings, principal, tenant: patch.tenantID)
        let now = self.now
        return try await blocking { [self] in
            let t = try patch.apply(to: try catalog.anomalyThresholds(tenant: tenant, defaults: options.anomalyThresholds).thresholds)
            try catalog.setAnomalyThresholds(t, tenant: tenant, actor: principal.keyID, now: now)
            return AnomalySettingsView(tenant: tenant, thresholds: t, custom: true)
        }
    }
}
