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
    /// SUSTAINED_DRIFT: the rolling average above the level before the shift (held for the episode) x this factor...
    public var driftFactorPPM: Int64 = 1_250_000
    /// ... on at least this many consecutive days.
    public var driftDays = 3
    /// The rolling window of the drift rule, in days.
    public var driftWindowDays = 7
    /// A day counts only when its spend (spike) or rolling average (drift) is at least this, nano-dollars. Default
    /// 0: the detector judges each entity against its own noise (`SeriesContext`), so small tenants are judged with
    /// wider bands rather than not at all; a tenant may still set a floor (see docs/ANALYTICS.md).
    public var minimumDailyNanos: Int64 = 0
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
    /// Expected spend over those days: spike, the days' baselines summed; drift, the held baseline_7d x days.
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
    /// Not yet confirmed: fewer complete days than the rule needs, or the day in progress (`SeriesContext.today`).
    public var provisional = false
}

/// The day in progress, for intraday detection: its spend so far, what share of a day's spend the entity usually has
/// spent by this time of a day of its kind (weekday or weekend), and whether its number of requests so far is unusual.
public struct PartialDay: Sendable, Equatable {
    /// Spend from the start of the UTC day to now, nano-dollars.
    public var spentNanos: Int64
    /// The share of a whole day's spend usually spent by this time of day, 0 to 1.
    public var fraction: Double
    /// Whether the number of records so far is unlikely against the number usually seen by this time (a
    /// negative-binomial bound on counts: one expensive request, or a few, is no spike). The detector sets it
    /// (`AnomalyDetector.partialDay`).
    public var unusualVolume: Bool

    /// A day in progress.
    public init(spentNanos: Int64, fraction: Double, unusualVolume: Bool = true) {
        self.spentNanos = spentNanos
        self.fraction = fraction
        self.unusualVolume = unusualVolume
    }
}

/// The evidence a single complete day gives beyond its spend, for a provisional spike raised from it (the rule needs
/// more days): whether its number of requests was unusual, and its dearest hour with the share of a day's spend usually
/// spent in that hour (so the day can be judged without it: a few dear requests land in one hour, a dearer kind of
/// request in every hour).
public struct DayEvidence: Sendable, Equatable {
    /// The day's record count is unlikely under the entity's own counts (the same bound as `PartialDay.unusualVolume`).
    public var unusualVolume: Bool
    /// Spend in the day's dearest hour, nano-dollars.
    public var topHourNanos: Int64
    /// The share of a usual day's spend spent in that hour of the day, 0 to 1.
    public var topHourShare: Double

    /// Evidence of one complete day.
    public init(unusualVolume: Bool, topHourNanos: Int64, topHourShare: Double) {
        self.unusualVolume = unusualVolume
        self.topHourNanos = topHourNanos
        self.topHourShare = topHourShare
    }

    /// No hourly history to judge from: a single day raises nothing.
    public static let none = DayEvidence(unusualVolume: false, topHourNanos: .max, topHourShare: 0)
}

/// What the detector knows about a series beyond its numbers: the weekday of each day and how unlikely a finding
/// must be under the entity's own noise. Without one, `AnomalyRules` applies the seed's ratios alone.
public struct SeriesContext: Sendable, Equatable {
    /// Whether each day of the series is a Saturday or Sunday (UTC).
    public var weekend: [Bool]
    /// A day (spike) or rolling average (drift) counts only when its deviation from what was expected is above this
    /// many robust standard deviations of the entity's own day-to-day noise.
    public var z: Double
    /// Days of history before a run from which the weekly rhythm and the noise are read.
    public var referenceDays: Int
    /// The day after the series, in progress (intraday detection); `weekend` then has one more entry, for it.
    public var today: PartialDay?
    /// The last day of the series as evidence for a provisional spike of one complete day; nil: no such check (the
    /// spend alone decides, as in the pure rule tests).
    public var lastDay: DayEvidence?
    /// The number of records of each day of the series (as `weekend`, without the day in progress), or nil. With
    /// them, a day's relative variance is at least that of its record count, 1 / (records a day of its kind): spend
    /// is a count of requests times their cost, and a count of independent requests varies at least as a Poisson
    /// count. A spread read from a few quiet days can be far narrower than that (docs/ANALYTICS.md, session 9).
    public var counts: [Int64]?

    /// Default z and reference (tuned on generated data of seed 42 only; docs/ANALYTICS.md).
    public static let defaultZ = 6.0
    public static let defaultReferenceDays = 28
    /// A day is judged only with at least this many reference days of its kind (weekday or weekend): a weekend factor
    /// read from one or two weekend days is no expectation.
    public static let minimumKindDays = 4
    /// A provisional spike raised from a single complete day whose request count was usual needs the day without its
    /// dearest hour to be over the ratio and this many spreads (a dearer kind of request, not a few dear requests).
    public static let singleDayZ = 10.0

    /// A context.
    public init(weekend: [Bool], z: Double = SeriesContext.defaultZ, referenceDays: Int = SeriesContext.defaultReferenceDays,
                today: PartialDay? = nil, lastDay: DayEvidence? = nil, counts: [Int64]? = nil) {
        self.weekend = weekend
        self.z = z
        self.referenceDays = referenceDays
        self.today = today
        self.lastDay = lastDay
        self.counts = counts
    }

    /// The weekday/weekend rhythm and noise of `daily` over the reference days before `index`.
    func profile(_ daily: [Int64], before index: Int) -> NoiseProfile {
        let from = max(0, index - referenceDays)
        var sums = (0.0, 0.0), counts = (0, 0)
        for d in from..<index {
            if weekend[d] { sums.1 += Double(daily[d]); counts.1 += 1 } else { sums.0 += Double(daily[d]); counts.0 += 1 }
        }
        guard index - from >= 2 else { return NoiseProfile(weekdayFactor: 1, weekendFactor: 1, spread: 0, kindDays: counts) }
        let all = (sums.0 + sums.1) / Double(counts.0 + counts.1)
        guard all > 0 else { return NoiseProfile(weekdayFactor: 1, weekendFactor: 1, spread: 0, kindDays: counts) }
        // Mean records a day of each kind (and over all the reference days), when the counts are known.
        var records: (weekday: Double, weekend: Double, all: Double)?
        if let dayCounts = self.counts, dayCounts.count >= index {
            var r = (0.0, 0.0)
            for d in from..<index { if weekend[d] { r.1 += Double(dayCounts[d]) } else { r.0 += Double(dayCounts[d]) } }
            records = (counts.0 > 0 ? r.0 / Double(counts.0) : 0, counts.1 > 0 ? r.1 / Double(counts.1) : 0,
                       (r.0 + r.1) / Double(counts.0 + counts.1))
        }
        // An entity without spend on more than a quarter of its reference days is too sparse for a ratio to mean
        // anything (a feature used now and then): its spread is infinite, so nothing is unlikely under it.
        let zeroDays = (from..<index).filter { daily[$0] == 0 }.count
        guard zeroDays * 4 <= index - from else {
            return NoiseProfile(weekdayFactor: 1, weekendFactor: 1, spread: .infinity, kindDays: counts, records: records)
        }
        // The mean of a day of each type against the mean of a day: > 1 on busy weekdays, < 1 on quiet weekends.
        let weekdayFactor = counts.0 > 0 && counts.1 > 0 ? sums.0 / Double(counts.0) / all : 1
        let weekendFactor = counts.0 > 0 && counts.1 > 0 ? sums.1 / Double(counts.1) / all : 1
        // Relative residuals of each day against its type's expectation; the spread is 1.4826 x their MAD (a robust
        // standard deviation: one earlier spike does not widen it).
        var residuals: [Double] = []
        for d in from..<index {
            let expected = all * (weekend[d] ? weekendFactor : weekdayFactor)
            residuals.append(expected > 0 ? Double(daily[d]) / expected - 1 : 0)
        }
        let med = median(residuals)
        let mad = median(residuals.map { abs($0 - med) })
        return NoiseProfile(weekdayFactor: weekdayFactor, weekendFactor: weekendFactor, spread: 1.4826 * mad, kindDays: counts,
                            records: records)
    }

    private func median(_ values: [Double]) -> Double {
        let v = values.sorted()
        return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
    }
}

/// An entity's weekly rhythm and day-to-day noise, read from its history.
struct NoiseProfile: Equatable {
    /// A weekday's and a weekend day's expected spend against the mean day.
    var weekdayFactor: Double
    var weekendFactor: Double
    /// Robust standard deviation of a day's spend relative to its expectation.
    var spread: Double
    /// Reference days read: weekdays, weekend days.
    var kindDays: (Int, Int)
    /// Mean records a weekday, a weekend day and a day of the reference days; nil when the counts are not known.
    var records: (weekday: Double, weekend: Double, all: Double)?

    func factor(weekend: Bool) -> Double { weekend ? weekendFactor : weekdayFactor }

    /// The relative variance of one day's spend of a kind (weekend or not; nil: any day): the squared spread, but at
    /// least the relative variance of a Poisson count of the records such a day has, 1 / N (spend is requests times
    /// their cost; the cost of each only adds variance). The spread of a few quiet days can be far under it.
    func dayVariance(weekend: Bool?) -> Double {
        let s2 = spread * spread
        guard let records else { return s2 }
        let n = weekend.map { $0 ? records.weekend : records.weekday } ?? records.all
        return n > 0 ? max(s2, 1 / n) : s2
    }

    /// The relative standard deviation of a day's spend against its expectation (the mean of `baselineDays` days x its
    /// kind factor), widened by the uncertainty of the two estimates the expectation is made of, as the day in
    /// progress's `phi` does (`AnomalyDetector.usualCount`): the day's own variance (`dayVariance`, at least the Poisson
    /// variance of its records), plus the baseline mean's, `dayVariance(nil) / baselineDays`, plus the kind factor's,
    /// (1 - a)^2 x (v_k / m_k + v_o / m_o), `a` the share of the day's kind in the reference days' spend, `v` and `m`
    /// the day variance and number of reference days of its kind (k) and of the other (o). With `countIsUsual` (a day
    /// whose record count was found usual) the day's own term is the spread alone, without the count's Poisson floor:
    /// given its count, a day's spend varies by the cost of its requests only. The expectation's terms keep the floor
    /// (they are read from days whose counts varied).
    func daySpread(weekend: Bool, baselineDays: Int, countIsUsual: Bool = false) -> Double {
        let own = dayVariance(weekend: weekend)
        var variance = (countIsUsual ? spread * spread : own) + dayVariance(weekend: nil) / Double(baselineDays)
        let (mk, mo) = weekend ? (kindDays.1, kindDays.0) : (kindDays.0, kindDays.1)
        if mk > 0 && mo > 0 {
            let fk = factor(weekend: weekend), fo = factor(weekend: !weekend)
            let a = Double(mk) * fk / (Double(mk) * fk + Double(mo) * fo)
            variance += (1 - a) * (1 - a) * (own / Double(mk) + dayVariance(weekend: !weekend) / Double(mo))
        }
        return variance.squareRoot()
    }

    /// Whether a day of this kind has enough reference days of its kind to be judged.
    func judges(weekend: Bool) -> Bool { (weekend ? kindDays.1 : kindDays.0) >= SeriesContext.minimumKindDays }

    static func == (a: NoiseProfile, b: NoiseProfile) -> Bool {
        (a.weekdayFactor, a.weekendFactor, a.spread) == (b.weekdayFactor, b.weekendFactor, b.spread) && a.kindDays == b.kindDays
            && a.records.map { [$0.weekday, $0.weekend, $0.all] } == b.records.map { [$0.weekday, $0.weekend, $0.all] }
    }
}

/// The spike and drift rules as pure functions of a daily spend series (UTC days, oldest first, every day
/// present, zeros included), as a `.day` query of the store gives it per tenant, feature or user.
///
/// With a `SeriesContext` (the detector always gives one), each day's expectation follows the weekly rhythm and a
/// day or rolling average counts only when it is also unlikely under the entity's own noise; without one, the
/// ratios alone decide (the seed's rules as written).
public enum AnomalyRules {
    /// Both rules over `daily`.
    public static func detect(_ daily: [Int64], context: SeriesContext? = nil,
                              thresholds t: AnomalyThresholds = AnomalyThresholds()) -> [DetectedAnomaly] {
        spikes(daily, context: context, thresholds: t) + drifts(daily, context: context, thresholds: t)
    }

    /// ABSOLUTE_SPIKE: runs of at least `spikeDays` consecutive days whose spend is at least the floor and above
    /// baseline x factor, the baseline being the mean of the `baselineDays` days before the run (a spike does not
    /// raise its own baseline). Days without `baselineDays` of history before them are not judged.
    /// With a context, a day's baseline is that mean times its weekday or weekend factor, and the day counts only
    /// when its excess over the baseline is also above z x the entity's spread.
    ///
    /// With a context that has `today` (intraday detection), a spike not yet confirmed is also returned, marked
    /// provisional: the counting days at the end of the series that are fewer than `spikeDays`, extended by the day in
    /// progress when its spend so far counts against what is usually spent by this time (`PartialDay`); or the day in
    /// progress alone. Its last day is then index `daily.count` (today). A spike already confirmed up to the last
    /// complete day is not extended.
    public static func spikes(_ daily: [Int64], context: SeriesContext? = nil,
                              thresholds t: AnomalyThresholds = AnomalyThresholds()) -> [DetectedAnomaly] {
        let (found, tail, _) = completeDaySpikes(daily, context: context, thresholds: t)
        guard let context, let provisional = provisionalSpike(daily, context: context, tail: tail, thresholds: t) else { return found }
        return found + [provisional]
    }

    /// How the spike runs of complete days end: a counting run reaching the last day that is shorter than the rule
    /// needs (its first index), or a confirmed spike reaching it.
    struct SpikeTail: Sendable, Equatable {
        var pendingStart: Int?
        var confirmedToEnd = false
    }

    /// The confirmed spikes of `daily` (complete days), how its runs end, and its `excursions` (from the same runs).
    static func completeDaySpikes(_ daily: [Int64], context: SeriesContext?, thresholds t: AnomalyThresholds)
        -> (found: [DetectedAnomaly], tail: SpikeTail, excursions: Set<Int>) {
        var found: [DetectedAnomaly] = []
        var excursions = Set<Int>()
        var i = t.baselineDays
        var pendingStart: Int?
        var confirmedToEnd = false
        while i < daily.count {
            let judge = SpikeJudge(daily, runStart: i, context: context, thresholds: t)
            guard judge.counts(i) else { i += 1; continue }
            var end = i
            while end + 1 < daily.count && judge.counts(end + 1) { end += 1 }
            let days = end - i + 1
            if days >= t.spikeDays {
                let actual = daily[i...end].reduce(0, +)
                let expectedSum: Int64 = if context == nil {
                    Int64((Int128(judge.baselineSum) * Int128(days) + Int128(t.baselineDays / 2)) / Int128(t.baselineDays))
                } else {
                    Int64((i...end).reduce(0.0) { $0 + judge.expected($1) }.rounded())
                }
                if let severity = AnomalySeverity.of(actual: actual, expected: expectedSum, thresholds: t) {
                    found.append(DetectedAnomaly(kind: .absoluteSpike, severity: severity, firstDay: i, lastDay: end,
                                                 expectedNanos: expectedSum, actualNanos: actual, ongoing: end == daily.count - 1))
                }
                if end == daily.count - 1 { confirmedToEnd = true }
            } else if end == daily.count - 1 {
                pendingStart = i
            }
            if end < daily.count - 1 { excursions.formUnion(i...end) }
            i = end + 1
        }
        return (found, SpikeTail(pendingStart: pendingStart, confirmedToEnd: confirmedToEnd), excursions)
    }

    /// The **excursions** of `daily`, which the drift rule leaves out: the days of every run of consecutive days that
    /// count for the spike rule (`SpikeJudge.counts`, the baseline and noise held from the run's first day; a run of
    /// any length, one day too) and ended before the last day of the series. A run that reaches the last day is left
    /// in: it may be the start of a lasting shift, which must still be a drift.
    public static func excursions(_ daily: [Int64], context: SeriesContext? = nil,
                                  thresholds t: AnomalyThresholds = AnomalyThresholds()) -> Set<Int> {
        completeDaySpikes(daily, context: context, thresholds: t).excursions
    }

    /// The provisional spike of `daily` and the day in progress (`context.today`), given how the complete days' runs
    /// end (`tail`); nil without a day in progress.
    static func provisionalSpike(_ daily: [Int64], context: SeriesContext, tail: SpikeTail,
                                 thresholds t: AnomalyThresholds) -> DetectedAnomaly? {
        let pendingStart = tail.pendingStart
        if let today = context.today, !tail.confirmedToEnd, daily.count >= t.baselineDays, context.weekend.count > daily.count {
            let n = daily.count
            let start = pendingStart ?? n
            let judge = SpikeJudge(daily, runStart: start, context: context, thresholds: t)
            let todayCounts = judge.partialCounts(today, weekend: context.weekend[n])
            // Counting complete days fewer than the rule needs are raised on their own only when the last of them has
            // more to show than its spend (heavy-tailed: a few dear requests make a day): an unusual request count,
            // or spend over the ratio even without its dearest hour.
            let pendingShown = pendingStart != nil && (context.lastDay.map { judge.singleDayShows(n - 1, $0) } ?? true)
            if pendingShown || todayCounts {
                let last = todayCounts ? n : n - 1
                var actual = daily[start..<n].reduce(0, +)
                var expected = (start..<n).reduce(0.0) { $0 + judge.expected($1) }
                if todayCounts {
                    actual += today.spentNanos
                    expected += judge.expected(n) * today.fraction
                }
                let expectedNanos = Int64(expected.rounded())
                if let severity = AnomalySeverity.of(actual: actual, expected: expectedNanos, thresholds: t) {
                    return DetectedAnomaly(kind: .absoluteSpike, severity: severity, firstDay: start, lastDay: last,
                                           expectedNanos: expectedNanos, actualNanos: actual, ongoing: true, provisional: true)
                }
            }
        }
        return nil
    }

    /// Whether days count towards a spike whose run starts at `runStart`: the baseline is the mean of the
    /// `baselineDays` days before it, the rhythm and noise those of the reference days before it.
    struct SpikeJudge {
        let runStartIndex: Int
        let daily: [Int64]
        let baselineSum: Int64
        let profile: NoiseProfile?
        let context: SeriesContext?
        let t: AnomalyThresholds

        init(_ daily: [Int64], runStart i: Int, context: SeriesContext?, thresholds t: AnomalyThresholds) {
            runStartIndex = i
            self.daily = daily
            baselineSum = daily[(i - t.baselineDays)..<i].reduce(0, +)
            profile = context?.profile(daily, before: i)
            self.context = context
            self.t = t
        }

        /// A whole day's expected spend (day `d` may be `daily.count`, the day in progress).
        func expected(_ d: Int) -> Double {
            Double(baselineSum) / Double(t.baselineDays) * (profile.map { $0.factor(weekend: context!.weekend[d]) } ?? 1)
        }

        /// Whether complete day `d` counts: above the floor and baseline x factor, and with a context also unlikely
        /// under the entity's noise: its deviation over z x `NoiseProfile.daySpread`, or its number of records unusual
        /// (`unusualRecords`: a volume spike shows in the count even where spend is noisy).
        func counts(_ d: Int) -> Bool {
            let cost = daily[d]
            guard cost >= t.minimumDailyNanos else { return false }
            guard let profile, let context else {
                // cost > (baselineSum / days) x factor, exactly.
                return Int128(cost) * Int128(t.baselineDays) * 1_000_000 > Int128(baselineSum) * Int128(t.spikeFactorPPM)
            }
            guard profile.judges(weekend: context.weekend[d]) else { return false }
            let e = expected(d)
            guard e > 0 else { return cost > 0 }
            return Double(cost) > e * Double(t.spikeFactorPPM) / 1_000_000
                && (Double(cost) / e - 1 > context.z * profile.daySpread(weekend: context.weekend[d], baselineDays: t.baselineDays)
                    || unusualRecords(d))
        }

        /// Whether complete day `d`'s number of records is unlikely against the reference days of its kind before the
        /// run: `AnomalyDetector.unusualCount` (a negative-binomial upper tail under `AnomalyDetector.volumeAlpha`, with
        /// their mean and overdispersion), as for a single complete day's `DayEvidence`.
        func unusualRecords(_ d: Int) -> Bool {
            guard let context, let dayCounts = context.counts, d < dayCounts.count else { return false }
            let runStart = runStartIndex
            let from = max(0, runStart - context.referenceDays)
            let same = (from..<runStart).filter { context.weekend[$0] == context.weekend[d] }.map { Double(dayCounts[$0]) }
            guard same.count >= SeriesContext.minimumKindDays else { return false }
            let mean = same.reduce(0, +) / Double(same.count)
            return AnomalyDetector.unusualCount(dayCounts[d], usual: mean, overdispersion: AnomalyDetector.overdispersion(totals: same))
        }

        /// Whether the day in progress counts: its spend so far above the usual share of the day's expectation by this
        /// time x factor, and its request count so far unusual (`PartialDay.unusualVolume`: the count bound is the
        /// noise test here; a spend spread of a few hours of heavy-tailed spend would need many hours to be cleared).
        /// Nothing is judged before the entity usually spends anything in the day, nor without enough reference days.
        func partialCounts(_ today: PartialDay, weekend: Bool) -> Bool {
            guard context != nil, let profile, today.fraction > 0, profile.spread.isFinite, today.unusualVolume,
                  profile.judges(weekend: weekend) else {
                return false
            }
            let e = Double(baselineSum) / Double(t.baselineDays) * profile.factor(weekend: weekend) * today.fraction
            guard e > 0, Double(today.spentNanos) >= Double(t.minimumDailyNanos) * today.fraction else { return false }
            return Double(today.spentNanos) > e * Double(t.spikeFactorPPM) / 1_000_000
        }

        /// Whether counting complete day `d` shows a spike on its own (`DayEvidence`): an unusual request count, or the
        /// day without its dearest hour still over the ratio and `SeriesContext.singleDayZ` spreads.
        func singleDayShows(_ d: Int, _ evidence: DayEvidence) -> Bool {
            if evidence.unusualVolume { return true }
            guard let profile, let context, evidence.topHourNanos <= daily[d], evidence.topHourShare < 1 else { return false }
            let rest = Double(daily[d] - evidence.topHourNanos), e = expected(d) * (1 - evidence.topHourShare)
            guard e > 0 else { return false }
            return rest > e * Double(t.spikeFactorPPM) / 1_000_000
                && rest / e - 1 > SeriesContext.singleDayZ * profile.daySpread(weekend: context.weekend[d], baselineDays: t.baselineDays,
                                                                                countIsUsual: true)
        }
    }

    /// SUSTAINED_DRIFT: runs of at least `driftDays` consecutive days on which the rolling average of the
    /// `driftWindowDays` days ending that day is at least the floor and above baseline_7d x factor, where baseline_7d
    /// is the level before the shift began: the rolling average of the window just before the first day's window
    /// (with a context, of up to two such windows), held for the whole run. A lasting step up is therefore one drift
    /// that stays open while spend stays up, not a change that resolves itself once the comparison window catches
    /// up. Days without two full windows of history are not judged. With a context, a day counts only when the
    /// average's excess is also above z x the noise of a window average against the baseline: the day's relative
    /// variance (`NoiseProfile.dayVariance`: the spread, at least the Poisson variance of the records) x (1 / window +
    /// 1 / baseline days).
    ///
    /// The series is read without the spike rule's `excursions`: a spike is not a drift.
    public static func drifts(_ daily: [Int64], context: SeriesContext? = nil,
                              thresholds t: AnomalyThresholds = AnomalyThresholds()) -> [DetectedAnomaly] {
        drifts(daily, context: context, thresholds: t, excursions: excursions(daily, context: context, thresholds: t))
    }

    /// `drifts` with the series' excursions already known (`completeDaySpikes` gives them with the spikes).
    static func drifts(_ daily: [Int64], context: SeriesContext?, thresholds t: AnomalyThresholds,
                       excursions out: Set<Int>) -> [DetectedAnomaly] {
        let w = t.driftWindowDays
        guard daily.count >= 2 * w else { return [] }
        // prefix[k] = spend of days 0..<k that are no excursion; kept[k] = how many of those days.
        var prefix = [Int64](repeating: 0, count: daily.count + 1)
        var kept = [Int](repeating: 0, count: daily.count + 1)
        for (k, c) in daily.enumerated() {
            let left = out.contains(k)
            prefix[k + 1] = prefix[k] + (left ? 0 : c)
            kept[k + 1] = kept[k] + (left ? 0 : 1)
        }
        /// Spend and days kept of days `from..<to`.
        func span(_ from: Int, _ to: Int) -> (sum: Int64, days: Int) { (prefix[to] - prefix[from], kept[to] - kept[from]) }
        /// The rolling window ending on `d` as a window's spend: its days kept, scaled to the window (exactly its
        /// spend when no day is left out); nil when every day of it is an excursion.
        func window(endingOn d: Int) -> (sum: Int64, days: Int)? {
            let k = span(d + 1 - w, d + 1)
            guard k.days > 0 else { return nil }
            return (k.days == w ? k.sum : Int64((Int128(k.sum) * Int128(w) + Int128(k.days / 2)) / Int128(k.days)), k.days)
        }
        /// The level before a run starting on `d`: spend per window over the whole windows before d's window (their
        /// days kept), with the day variance of the noise profile and the number of days it was read from.
        struct Baseline {
            var perWindow: Int64
            var days: Int
            /// Relative variance of one day (0 without a context).
            var variance: Double
        }
        func baseline(startingOn d: Int) -> Baseline? {
            let windowStart = d - w + 1
            let windows = context == nil ? 1 : min(2, windowStart / w)
            let k = span(windowStart - windows * w, windowStart)
            guard k.days > 0 else { return nil }
            let perWindow = Int64(Int128(k.sum) * Int128(w) / Int128(k.days))
            guard let context else { return Baseline(perWindow: perWindow, days: k.days, variance: 0) }
            return Baseline(perWindow: perWindow, days: k.days,
                            variance: context.profile(daily, before: windowStart).dayVariance(weekend: nil))
        }
        func drifting(_ d: Int, _ b: Baseline?) -> Bool {
            guard let b, let now = window(endingOn: d) else { return false }
            guard Int128(now.sum) >= Int128(t.minimumDailyNanos) * Int128(w),
                  Int128(now.sum) * 1_000_000 > Int128(b.perWindow) * Int128(t.driftFactorPPM) else { return false }
            guard let context else { return true }
            // The noise of the window's mean against the baseline's: each read from its days kept.
            let noise = (b.variance * (1 / Double(now.days) + 1 / Double(b.days))).squareRoot()
            return b.perWindow <= 0 || Double(now.sum) / Double(b.perWindow) - 1 > context.z * noise
        }
        var found: [DetectedAnomaly] = []
        var i = 2 * w - 1
        while i < daily.count {
            let held = baseline(startingOn: i)
            guard drifting(i, held) else { i += 1; continue }
            var end = i
            while end + 1 < daily.count && drifting(end + 1, held) { end += 1 }
            if end - i + 1 >= t.driftDays {
                var actual: Int128 = 0
                for d in i...end { actual += Int128(window(endingOn: d)!.sum) }
                let expected = Int128(held!.perWindow) * Int128(end - i + 1)
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
