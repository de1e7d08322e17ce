/// The thresholds of the spike and drift rules (DESIGN.md section 5); the defaults are the seed's.
///
/// Factors are compared exactly, in parts per million, so "just above" and "just below" a threshold are
/// decided by integer arithmetic, never by floating-point rounding.
public struct AnomalyThresholds: Sendable, Equatable {
    /// ABSOLUTE_SPIKE: a day's spend above baseline x this factor...
    public var spikeFactorPPM: Int64 = 1_400_000
    /// ... on at least this many consecutive days.
    public var spikeDays = 2
    /// The baseline: the mean daily spend of this many days before the spike.
    public var baselineDays = 7
    /// SUSTAINED_DRIFT: the rolling average above the rolling average `driftWindowDays` earlier x this factor...
    public var driftFactorPPM: Int64 = 1_250_000
    /// ... on at least this many consecutive days.
    public var driftDays = 3
    /// The rolling window of the drift rule, in days.
    public var driftWindowDays = 7
    /// A day counts only when its spend (spike) or rolling average (drift) is at least this, nano-dollars:
    /// the floor that keeps tiny entities from flapping (default 5 dollars a day: on generated data a 1-dollar
    /// floor flags about a quarter of the small tenants on day-to-day noise alone, 5 dollars keeps every injected
    /// anomaly and a few false alarms; see docs/ANALYTICS.md).
    public var minimumDailyNanos: Int64 = 500 * 10_000_000
    /// Severity bands: at least this percent above the expectation is LOW, above `medium` MEDIUM, above `high` HIGH.
    public var lowPercent: Int64 = 15
    public var mediumPercent: Int64 = 25
    public var highPercent: Int64 = 40

    /// The defaults.
    public init() {}
}

/// How far an anomaly is above what was expected.
public enum AnomalySeverity: String, Sendable, Comparable, CaseIterable {
    case low = "LOW"
    case medium = "MEDIUM"
    case high = "HIGH"

    var rank: Int {
        switch self {
        case .low: 0
        case .medium: 1
        case .high: 2
        }
    }

    public static func < (a: AnomalySeverity, b: AnomalySeverity) -> Bool { a.rank < b.rank }

    /// The band of `actual` against `expected`: LOW from `lowPercent` % above up to `mediumPercent` % (inclusive),
    /// MEDIUM above that up to `highPercent` % (inclusive), HIGH above; nil below `lowPercent` %.
    /// With nothing expected, any spend is HIGH.
    public static func of(actual: Int64, expected: Int64, thresholds t: AnomalyThresholds = AnomalyThresholds()) -> AnomalySeverity? {
        guard expected > 0 else { return actual > 0 ? .high : nil }
        let a = Int128(actual) * 100, e = Int128(expected)
        if a > e * Int128(100 + t.highPercent) { return .high }
        if a > e * Int128(100 + t.mediumPercent) { return .medium }
        if a >= e * Int128(100 + t.lowPercent) { return .low }
        return nil
    }
}

/// A rule that fired on a daily series: which days, what was expected and what happened.
public struct DetectedAnomaly: Sendable, Equatable {
    /// The rules.
    public enum Kind: String, Sendable, CaseIterable {
        case absoluteSpike = "ABSOLUTE_SPIKE"
        case sustainedDrift = "SUSTAINED_DRIFT"
    }

    public var kind: Kind
    public var severity: AnomalySeverity
    /// Index in the series of the first and last day the condition held (inclusive).
    public var firstDay: Int
    public var lastDay: Int
    /// Expected spend over those days: spike, the baseline x days; drift, the earlier rolling averages summed.
    public var expectedNanos: Int64
    /// Actual spend over those days: spike, the days' spend; drift, the rolling averages summed.
    public var actualNanos: Int64

    /// actual - expected.
    public var impactNanos: Int64 { actualNanos - expectedNanos }
    /// The impact as a percent of the expectation, two decimals; nil when nothing was expected.
    public var impactPercent: Double? {
        expectedNanos == 0 ? nil : (Double(impactNanos) / Double(expectedNanos) * 10_000).rounded() / 100
    }
    /// Whether the condition still holds on the last day of the series (an ongoing episode).
    public var ongoing: Bool
}

/// The spike and drift rules as pure functions of a daily spend series (UTC days, oldest first, every day
/// present, zeros included), as a `.day` query of the store gives it per tenant, feature or user.
public enum AnomalyRules {
    /// Both rules over `daily`.
    public static func detect(_ daily: [Int64], thresholds t: AnomalyThresholds = AnomalyThresholds()) -> [DetectedAnomaly] {
        spikes(daily, thresholds: t) + drifts(daily, thresholds: t)
    }

    /// ABSOLUTE_SPIKE: runs of at least `spikeDays` consecutive days whose spend is at least the floor and above
    /// baseline x factor, the baseline being the mean of the `baselineDays` days before the run (a spike does not
    /// raise its own baseline). Days without `baselineDays` of history before them are not judged.
    public static func spikes(_ daily: [Int64], thresholds t: AnomalyThresholds = AnomalyThresholds()) -> [DetectedAnomaly] {
        var found: [DetectedAnomaly] = []
        var i = t.baselineDays
        while i < daily.count {
            let baselineSum = daily[(i - t.baselineDays)..<i].reduce(0, +)
            func above(_ cost: Int64) -> Bool {
                // cost > (baselineSum / days) x factor, exactly.
                cost >= t.minimumDailyNanos
                    && Int128(cost) * Int128(t.baselineDays) * 1_000_000 > Int128(baselineSum) * Int128(t.spikeFactorPPM)
            }
            guard above(daily[i]) else { i += 1; continue }
            var end = i
            while end + 1 < daily.count && above(daily[end + 1]) { end += 1 }
            let days = end - i + 1
            if days >= t.spikeDays {
                let actual = daily[i...end].reduce(0, +)
                let expected = Int64((Int128(baselineSum) * Int128(days) + Int128(t.baselineDays / 2)) / Int128(t.baselineDays))
                if let severity = AnomalySeverity.of(actual: actual, expected: expected, thresholds: t) {
                    found.append(DetectedAnomaly(kind: .absoluteSpike, severity: severity, firstDay: i, lastDay: end,
                                                 expectedNanos: expected, actualNanos: actual, ongoing: end == daily.count - 1))
                }
            }
            i = end + 1
        }
        return found
    }

    /// SUSTAINED_DRIFT: runs of at least `driftDays` consecutive days on which the rolling average of the
    /// `driftWindowDays` days ending that day is at least the floor and above the rolling average `driftWindowDays`
    /// days earlier x factor. Days without two full windows of history are not judged.
    public static func drifts(_ daily: [Int64], thresholds t: AnomalyThresholds = AnomalyThresholds()) -> [DetectedAnomaly] {
        let w = t.driftWindowDays
        guard daily.count >= 2 * w else { return [] }
        // prefix[k] = spend of days 0..<k.
        var prefix = [Int64](repeating: 0, count: daily.count + 1)
        for (k, c) in daily.enumerated() { prefix[k + 1] = prefix[k] + c }
        func windowSum(endingOn d: Int) -> Int64 { prefix[d + 1] - prefix[d + 1 - w] }
        func drifting(_ d: Int) -> Bool {
            let now = windowSum(endingOn: d), before = windowSum(endingOn: d - w)
            return Int128(now) >= Int128(t.minimumDailyNanos) * Int128(w)
                && Int128(now) * 1_000_000 > Int128(before) * Int128(t.driftFactorPPM)
        }
        var found: [DetectedAnomaly] = []
        var i = 2 * w - 1
        while i < daily.count {
            guard drifting(i) else { i += 1; continue }
            var end = i
            while end + 1 < daily.count && drifting(end + 1) { end += 1 }
            if end - i + 1 >= t.driftDays {
                var actual: Int128 = 0, expected: Int128 = 0
                for d in i...end {
                    actual += Int128(windowSum(endingOn: d))
                    expected += Int128(windowSum(endingOn: d - w))
                }
                let half = Int128(w / 2)
                let a = Int64((actual + half) / Int128(w)), e = Int64((expected + half) / Int128(w))
                if let severity = AnomalySeverity.of(actual: a, expected: e, thresholds: t) {
                    found.append(DetectedAnomaly(kind: .sustainedDrift, severity: severity, firstDay: i, lastDay: end,
                                                 expectedNanos: e, actualNanos: a, ongoing: end == daily.count - 1))
                }
            }
            i = end + 1
        }
        return found
    }
}
