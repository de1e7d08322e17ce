#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TallyQuery
import TallyStore

/// Runs the anomaly rules of one tenant over its UTC daily spend, as the query layer gives it: one grouped daily
/// query per level (the tenant, its features, its users), every group's series filled with zero days; then the
/// drivers of each finding, from grouped queries of the entity's spend before and during the anomaly.
struct AnomalyDetector {
    /// Driver values kept per dimension.
    static let driversPerDimension = 3
    /// Dimensions drivers are looked for in.
    static let driverDimensions: [Dimension] = [.model, .feature, .user]

    let tenant: String
    let thresholds: AnomalyThresholds
    let useRollups: Bool
    /// The levels judged (all but in the evaluation harness, which scores tenant-level findings only).
    var levels: [Budget.Level] = Budget.Level.allCases
    /// `SeriesContext.z`.
    var noiseZ = SeriesContext.defaultZ

    /// Days of history read before the first judged day: the spike baseline or two drift windows, plus the reference
    /// days of the noise profile, plus three weeks so a drift's held baseline (the level before it began) is still in
    /// the series while the drift lasts up to three weeks (the query reads a longer range, not more queries).
    var historyDays: Int {
        max(thresholds.baselineDays, 2 * thresholds.driftWindowDays - 1) + SeriesContext.defaultReferenceDays + 21
    }

    /// The daily spend of every judged entity, as the grouped daily queries give it.
    struct DailySeries: Sendable {
        /// The first day of every series (UTC day start) and their length in days.
        var from: Int64
        var count: Int
        /// Each entity's daily spend and daily number of records.
        var entities: [(entity: AnomalyEntity, daily: [Int64], counts: [Int64])]
    }

    /// Spike and drift findings of the days `judgedFrom ..< end` (UTC day starts), at every level.
    /// Episodes that ended before `judgedFrom` are left out.
    func seriesFindings(_ run: inout QueryRun, judgedFrom: Int64, end: Int64) async throws -> [AnomalyFinding] {
        findings(try await dailySeries(&run, judgedFrom: judgedFrom, end: end), judgedFrom: judgedFrom, today: nil)
    }

    /// One grouped daily query per level over the judged days and their history, cut into one series per entity
    /// (zero days filled in).
    func dailySeries(_ run: inout QueryRun, judgedFrom: Int64, end: Int64) async throws -> DailySeries {
        let day = TimeUnit.dayMillis
        let queryFrom = judgedFrom - Int64(historyDays) * day
        let count = Int((end - queryFrom) / day)
        var series = DailySeries(from: queryFrom, count: count, entities: [])
        for level in levels {
            let groupBy: [Query.Key] = level.dimension.map { [.dimension($0)] } ?? []
            let result = try await run.run(try Analytics.query(
                tenants: .one(tenant), from: queryFrom, to: end, bucket: .day, groupBy: groupBy, order: .key, useRollups: useRollups))
            // Rows come ordered by key then day: cut the columns into one series per group.
            var row = 0
            while row < result.rowCount {
                let value = groupBy.isEmpty ? "" : result.keyColumns[0][row]
                var daily = [Int64](repeating: 0, count: count)
                var records = daily
                var next = row
                while next < result.rowCount && (groupBy.isEmpty || result.keyColumns[0][next] == value) {
                    let index = Int((result.bucketStarts[next] - queryFrom) / day)
                    if index >= 0 && index < count {
                        daily[index] = result.cost[next]
                        records[index] = result.count[next]
                    }
                    next += 1
                }
                row = next
                series.entities.append((AnomalyEntity(level: level, value: value), daily, records))
            }
        }
        return series
    }

    /// The rules over each series. `today` is the tenant's day in progress (the day after the series): with it, the
    /// tenant's spike rule also gives provisional findings (`AnomalyRules.spikes`), from one complete day only with the
    /// `lastDay` evidence.
    func findings(_ series: DailySeries, judgedFrom: Int64, today: PartialDay?, lastDay: DayEvidence = .none) -> [AnomalyFinding] {
        let complete = completeDayFindings(series, judgedFrom: judgedFrom)
        return complete.findings
            + (today.flatMap { provisionalFinding(series, tail: complete.tenantTail, today: $0, lastDay: lastDay) }.map { [$0] } ?? [])
    }

    /// The findings of the complete days, and how the tenant's spike runs end (for `provisionalFinding`).
    func completeDayFindings(_ series: DailySeries, judgedFrom: Int64) -> (findings: [AnomalyFinding], tenantTail: AnomalyRules.SpikeTail?) {
        let firstJudged = Int((judgedFrom - series.from) / TimeUnit.dayMillis)
        var found: [AnomalyFinding] = []
        var tail: AnomalyRules.SpikeTail?
        for (entity, daily, counts) in series.entities {
            // An entity's history starts on its first day with spend: the zero days before it are not a baseline
            // (a new feature or user is not a spike of infinite percent).
            guard let born = daily.firstIndex(where: { $0 != 0 }) else { continue }
            let context = context(series, born: born, today: nil, counts: counts)
            let spikes = AnomalyRules.completeDaySpikes(Array(daily[born...]), context: context, thresholds: thresholds)
            if entity == .tenant { tail = spikes.tail }
            let drifts = AnomalyRules.drifts(Array(daily[born...]), context: context, thresholds: thresholds, excursions: spikes.excursions)
            for d in spikes.found + drifts
            where born + d.lastDay >= firstJudged {
                found.append(finding(d, entity: entity, series: series, born: born))
            }
        }
        return (found, tail)
    }

    /// The tenant's provisional spike with the day in progress `today`, if any.
    func provisionalFinding(_ series: DailySeries, tail: AnomalyRules.SpikeTail?, today: PartialDay,
                            lastDay: DayEvidence) -> AnomalyFinding? {
        guard let tail, let tenant = series.entities.first(where: { $0.entity == .tenant }),
              let born = tenant.daily.firstIndex(where: { $0 != 0 }) else { return nil }
        let daily = tenant.daily
        var context = context(series, born: born, today: today, counts: tenant.counts)
        context.lastDay = lastDay
        return AnomalyRules.provisionalSpike(Array(daily[born...]), context: context, tail: tail, thresholds: thresholds)
            .map { finding($0, entity: .tenant, series: series, born: born) }
    }

    private func context(_ series: DailySeries, born: Int, today: PartialDay?, counts: [Int64]) -> SeriesContext {
        let days = series.count + (today == nil ? 0 : 1)
        return SeriesContext(weekend: (born..<days).map { Self.isWeekend(series.from + Int64($0) * TimeUnit.dayMillis) }, z: noiseZ,
                             today: today, counts: Array(counts[born...]))
    }

    private func finding(_ d: DetectedAnomaly, entity: AnomalyEntity, series: DailySeries, born: Int) -> AnomalyFinding {
        let day = TimeUnit.dayMillis
        return AnomalyFinding(
            type: AnomalyType(d.kind), severity: d.severity, entity: entity, budgetID: "",
            firstDay: series.from + Int64(born + d.firstDay) * day, lastDay: series.from + Int64(born + d.lastDay) * day,
            expectedNanos: d.expectedNanos, actualNanos: d.actualNanos, ongoing: d.ongoing, drivers: [], provisional: d.provisional)
    }

    /// The tenant's spend and record count by hour over the reference days before the day holding `now` and that day
    /// up to `now`: one hourly query. Index 0 is the first hour of the first reference day.
    func hourlyHistory(_ run: inout QueryRun, now: Int64) async throws -> (cost: [Int64], count: [Int64]) {
        let today = TimeUnit.dayStart(now)
        let from = today - Int64(SeriesContext.defaultReferenceDays) * TimeUnit.dayMillis
        var hours = [Int64](repeating: 0, count: (SeriesContext.defaultReferenceDays + 1) * 24)
        var counts = hours
        let result = try await run.run(try Analytics.query(
            tenants: .one(tenant), from: from, to: now, bucket: .hour, order: .key, useRollups: useRollups))
        for row in 0..<result.rowCount {
            let index = Int((result.bucketStarts[row] - from) / TimeUnit.hourMillis)
            if index >= 0 && index < hours.count {
                hours[index] += result.cost[row]
                counts[index] += result.count[row]
            }
        }
        return (hours, counts)
    }

    /// Reference days of the same kind needed before the day in progress is judged.
    static let minimumIntradayReferenceDays = 6
    /// How unlikely a complete day's request count must be under the entity's own counts to be unusual (one test a
    /// day, `lastDayEvidence`): the upper tail probability of the count under a negative-binomial law (Poisson noise
    /// plus the day-to-day variation of its counts).
    static let volumeAlpha = 1e-6
    /// The day in progress's count test raises a false alarm on at most this share of an entity's usual days, however
    /// often detection runs (`countEvidence`, Ville's inequality): half the target of 2 false alarms per 100
    /// tenant-months (6.7e-4 a tenant-day), the other half left to the complete days' rules.
    static let intradayAlpha = 3e-4
    /// The spike sizes the day in progress's count evidence weighs equally: request rates 1.5, 2 and 3 times the usual
    /// (from about the seed's 1.4 up; a larger surge shows through the 3 x term within a few requests). Bounded, so
    /// a handful of records where almost none are usual (early hours, small tenants) is no evidence of a spike.
    static let intradayRatios: [Double] = [1.5, 2, 3]

    /// The day in progress at `now` from `hourly` and `counts` (`hourlyHistory`: the reference days, then the day
    /// holding `now`, whose hours hold records before `now` only): its spend so far; the share of a day's spend the
    /// entity usually has by this time of day, over the reference days of the same kind (weekday or weekend) since its
    /// first day with spend; and whether today's record count so far is unusual (`countEvidence` at least 1 / `alpha`
    /// against `usualCount`: the level of the last 7 days times the within-day shape of the reference days, with the
    /// overdispersion of their whole-day counts plus the uncertainty of that estimate). Nil with fewer than
    /// `minimumIntradayReferenceDays` such days, when they spent nothing, or when the entity has fewer than 7 days.
    static func partialDay(hourly: [Int64], counts: [Int64], now: Int64, alpha: Double = intradayAlpha) -> PartialDay? {
        let days = hourly.count / 24 - 1
        guard days >= 1, counts.count == hourly.count else { return nil }
        let today = TimeUnit.dayStart(now)
        let elapsed = now - today
        let fullHours = Int(elapsed / TimeUnit.hourMillis)
        let part = Double(elapsed % TimeUnit.hourMillis) / Double(TimeUnit.hourMillis)
        guard let same = sameKindDays(hourly: hourly, before: days, dayStart: today),
              same.count >= minimumIntradayReferenceDays else { return nil }
        let meanSoFar = same.map { byNow(hourly, $0, fullHours: fullHours, part: part) }.reduce(0, +) / Double(same.count)
        let meanTotal = Double(same.map { dayTotal(hourly, $0) }.reduce(0, +)) / Double(same.count)
        guard meanTotal > 0, let born = firstDayWithSpend(hourly, before: days),
              let usual = usualCount(counts, days: days, dayStart: today, born: born, same: same, fullHours: fullHours, part: part)
        else { return nil }
        let spent = hourly[(days * 24)...].reduce(0, +)
        let seen = counts[(days * 24)...].reduce(0, +)
        let unusual = usual.n > 0 && Double(seen) > usual.n
            && countEvidence(seen, usual: usual.n, overdispersion: usual.phi) >= 1 / alpha
        return PartialDay(spentNanos: spent, fraction: meanSoFar / meanTotal, unusualVolume: unusual)
    }

    /// What `series` holds in day `d` before `fullHours` hours and `part` of the next (prorated).
    private static func byNow(_ series: [Int64], _ d: Int, fullHours: Int, part: Double) -> Double {
        let whole = series[(d * 24)..<(d * 24 + fullHours)].reduce(0, +)
        return Double(whole) + (fullHours < 24 ? part * Double(series[d * 24 + fullHours]) : 0)
    }

    /// The number of records usually seen by this time of a day like today (day index `days` of `counts`, starting at
    /// `dayStart`), `n`, and the relative variance `phi` of today's rate around it, from the reference days since the
    /// entity's first day with spend `born` (`same`: those of today's kind); nil when the last 7 days are not all from
    /// `born` on.
    ///
    /// `n = L x k x f`: the **level** L, the mean whole-day count of the last 7 days (as the spend baseline: a growing
    /// entity's 28-day mean lags its rate); the **kind factor** k, a day of today's kind against the days of a week
    /// (7 consecutive days are always 5 weekdays and 2 weekend days): k = mean(today's kind) / ((5 x mean(weekday) +
    /// 2 x mean(weekend)) / 7) over the reference days; the **shape** f, the share of a day's records seen by this
    /// time (the current hour prorated) over the reference days of today's kind, sum(by now) / sum(whole day).
    /// `phi` adds to the day-to-day variation of the whole-day counts beyond Poisson noise (`overdispersion`, `phi_d`)
    /// the relative variances of the three estimates: L, 1/S7 + phi_d/7 (S7 the 7 days' records); k, (1 - a)^2 x
    /// ((phi_d + 1/N_k)/m_k + (phi_d + 1/N_o)/m_o), a the share of today's kind in the week, N and m the mean count and
    /// number of reference days of today's kind (k) and the other (o); f, binomial, (1 - f)/(m_k x N_k x f).
    static func usualCount(_ counts: [Int64], days: Int, dayStart: Int64, born: Int, same: [Int], fullHours: Int,
                           part: Double) -> (n: Double, phi: Double)? {
        let week = 7
        guard days >= week, born <= days - week, !same.isEmpty else { return nil }
        let others = (born..<days).filter { !same.contains($0) }
        guard !others.isEmpty else { return nil }
        let kindTotal = Double(same.map { dayTotal(counts, $0) }.reduce(0, +))
        let otherTotal = Double(others.map { dayTotal(counts, $0) }.reduce(0, +))
        let meanKind = kindTotal / Double(same.count), meanOther = otherTotal / Double(others.count)
        let weekendToday = isWeekend(dayStart)
        let kindPerWeek = weekendToday ? 2.0 : 5.0
        let weekMean = (kindPerWeek * meanKind + (7 - kindPerWeek) * meanOther) / 7
        let s7 = Double(((days - week)..<days).map { dayTotal(counts, $0) }.reduce(0, +))
        guard weekMean > 0, kindTotal > 0, s7 > 0 else { return (0, 0) }
        let level = s7 / Double(week)
        let kindFactor = meanKind / weekMean
        let soFar = same.map { byNow(counts, $0, fullHours: fullHours, part: part) }.reduce(0, +)
        let shape = soFar / kindTotal
        guard shape > 0 else { return (0, 0) }
        let phiDay = overdispersion(counts, days: same)
        let a = kindPerWeek * meanKind / (7 * weekMean)
        let levelVariance = 1 / s7 + phiDay / Double(week)
        let kindVariance = (1 - a) * (1 - a) * ((phiDay + 1 / meanKind) / Double(same.count)
            + (meanOther > 0 ? (phiDay + 1 / meanOther) / Double(others.count) : 0))
        let shapeVariance = (1 - shape) / soFar
        return (level * kindFactor * shape, phiDay + levelVariance + kindVariance + shapeVariance)
    }

    /// The evidence that `seen` records so far come from a request rate `intradayRatios` times the usual rather than
    /// the usual (`usual` records expected by now): the mean over those ratios rho of the likelihood ratio of the counts
    /// so far under a mixed Poisson (Polya) process whose day level varies with relative variance `phi` (the
    /// overdispersion of the day's count; Poisson when 0): rho^k x ((r + n) / (r + rho x n))^(r + k), r = 1 / phi
    /// (rho^k x e^(-(rho - 1) x n) when phi is 0), for k seen and n usual. Under the usual rate it is a martingale in
    /// the time of day with mean 1, so the chance that it ever reaches 1 / alpha during a day is at most alpha (Ville's
    /// inequality), whether the day is judged once an hour or every 10 minutes.
    static func countEvidence(_ seen: Int64, usual n: Double, overdispersion phi: Double) -> Double {
        let k = Double(seen)
        let logs = intradayRatios.map { rho in
            phi < 1e-9 ? k * log(rho) - (rho - 1) * n
                : k * log(rho) + (1 / phi + k) * (log(1 / phi + n) - log(1 / phi + rho * n))
        }
        let top = logs.max()!
        return exp(top) * logs.reduce(0) { $0 + exp($1 - top) } / Double(logs.count)
    }

    /// What the last complete day of `hourly` and `counts` (the reference days before the day holding `now`, as
    /// `hourlyHistory` gives them) shows beyond its spend, judged against the days of its kind before it; `.none` with
    /// fewer than `SeriesContext.minimumKindDays` of them.
    static func lastDayEvidence(hourly: [Int64], counts: [Int64], now: Int64) -> DayEvidence {
        let last = hourly.count / 24 - 2
        guard last >= 1, counts.count == hourly.count,
              let same = sameKindDays(hourly: hourly, before: last, dayStart: TimeUnit.dayStart(now) - TimeUnit.dayMillis),
              same.count >= SeriesContext.minimumKindDays else { return .none }
        let usual = Double(same.map { dayTotal(counts, $0) }.reduce(0, +)) / Double(same.count)
        let unusual = unusualCount(dayTotal(counts, last), usual: usual, overdispersion: overdispersion(counts, days: same))
        let hours = hourly[(last * 24)..<(last * 24 + 24)]
        let top = hours.indices.max { hours[$0] < hours[$1] }!
        let hourOfDay = top - last * 24
        let total = Double(same.map { dayTotal(hourly, $0) }.reduce(0, +))
        let share = total > 0 ? Double(same.map { hourly[$0 * 24 + hourOfDay] }.reduce(0, +)) / total : 0
        return DayEvidence(unusualVolume: unusual, topHourNanos: hourly[top], topHourShare: share)
    }

    private static func dayTotal(_ series: [Int64], _ d: Int) -> Int64 { series[(d * 24)..<(d * 24 + 24)].reduce(0, +) }

    /// The first day before index `end` with spend in `hourly`; nil when none.
    private static func firstDayWithSpend(_ hourly: [Int64], before end: Int) -> Int? {
        (0..<end).first { dayTotal(hourly, $0) != 0 }
    }

    /// The days before index `end` (day `end` starts at `dayStart`) of the same kind as it, from the entity's first day
    /// with spend; nil when it has none.
    private static func sameKindDays(hourly: [Int64], before end: Int, dayStart: Int64) -> [Int]? {
        guard let born = firstDayWithSpend(hourly, before: end) else { return nil }
        let weekend = isWeekend(dayStart)
        return (born..<end).filter { isWeekend(dayStart - Int64(end - $0) * TimeUnit.dayMillis) == weekend }
    }

    /// The day-to-day variation of `counts` over `days` beyond Poisson noise: phi = max(0, s^2 - 1/mean), s the robust
    /// relative spread (1.4826 x MAD) of their whole-day counts; a count with mean n then varies by n + phi x n^2.
    static func overdispersion(_ counts: [Int64], days: [Int]) -> Double {
        overdispersion(totals: days.map { Double(dayTotal(counts, $0)) })
    }

    /// `overdispersion` of whole-day record totals.
    static func overdispersion(totals: [Double]) -> Double {
        let mean = totals.reduce(0, +) / Double(max(1, totals.count))
        guard mean > 0 else { return 0 }
        let residuals = totals.map { $0 / mean - 1 }
        let med = median(residuals)
        let s = 1.4826 * median(residuals.map { abs($0 - med) })
        return max(0, s * s - 1 / mean)
    }

    /// Whether `seen` records (a complete day's) are unusual where `usual` are expected: P(X >= seen) < `volumeAlpha` for X negative
    /// binomial with mean `usual` and variance usual + phi x usual^2 (Poisson when phi is 0).
    static func unusualCount(_ seen: Int64, usual: Double, overdispersion phi: Double) -> Bool {
        guard usual > 0, Double(seen) > usual else { return false }
        return upperTail(seen, mean: usual, overdispersion: phi) < volumeAlpha
    }

    /// P(X >= k) for X negative binomial with `mean` m and variance m + phi x m^2 (Poisson for phi 0), k > m: the
    /// terms from k up, in logs, until they no longer add.
    static func upperTail(_ k: Int64, mean m: Double, overdispersion phi: Double) -> Double {
        let kk = Double(k)
        let logTerm: Double
        let ratio: (Double) -> Double
        if phi < 1e-9 {
            logTerm = kk * log(m) - m - lgamma(kk + 1)
            ratio = { j in m / (j + 1) }
        } else {
            let r = 1 / phi, q = m / (r + m)  // success probability of each extra count
            logTerm = lgamma(kk + r) - lgamma(r) - lgamma(kk + 1) + r * log(1 - q) + kk * log(q)
            ratio = { j in (j + r) / (j + 1) * q }
        }
        var sum = 0.0, term = exp(logTerm), j = kk
        for _ in 0..<100_000 {
            sum += term
            term *= ratio(j)
            j += 1
            if term < sum * 1e-12 || term == 0 { break }
        }
        return min(1, sum)
    }

    static func median(_ values: [Double]) -> Double {
        let v = values.sorted()
        return v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
    }

    /// Whether the UTC day starting at `dayStart` is a Saturday or Sunday (1970-01-01 was a Thursday).
    static func isWeekend(_ dayStart: Int64) -> Bool {
        (TimeUnit.floorDiv(dayStart, TimeUnit.dayMillis) + 3) % 7 >= 5
    }

    /// The periods drivers compare for a spike or drift finding: the anomaly's days (a drift: its last rolling window)
    /// against the baseline before them.
    /// (A provisional finding's last day is in progress: its current period ends at `now`.)
    func driverPeriods(_ f: AnomalyFinding, now: Int64) -> (current: Range<Int64>, baseline: Range<Int64>) {
        let day = TimeUnit.dayMillis
        let end = max(f.firstDay + 1, min(f.lastDay + day, now))
        switch f.type {
        case .sustainedDrift:
            let w = Int64(thresholds.driftWindowDays) * day
            let start = f.lastDay + day - w
            return (start..<end, (start - w)..<start)
        default:
            return (f.firstDay..<end, (f.firstDay - Int64(thresholds.baselineDays) * day)..<f.firstDay)
        }
    }

    /// What each value of the driver dimensions spent over an anomaly's periods.
    struct DriverBreakdown {
        /// The values whose spend grew most, top `driversPerDimension` per dimension, with their share.
        var top: [AnomalyDriver] = []
        /// Every value with spend, per dimension (shares not set).
        var all: [Dimension: [String: AnomalyDriver]] = [:]
        /// The entity's change over the periods (the sum of the first dimension's values).
        var entityChange: Int64?

        /// The entity driver of a feature or user finding grouped under the anomaly: its spend over the anomaly's
        /// periods and its share of the anomaly's change; the finding's own figures when the breakdown lacks it.
        func entityDriver(for f: AnomalyFinding) -> AnomalyEntityDriver {
            let d = f.entity.level.dimension.flatMap { all[$0]?[f.entity.value] }
            let expected = d?.expectedNanos ?? f.expectedNanos, actual = d?.actualNanos ?? f.actualNanos
            let share: Int64? = if let d, let change = entityChange, change != 0 {
                Int64(Int128(d.changeNanos) * 1_000_000 / Int128(change))
            } else { nil }
            return AnomalyEntityDriver(entity: f.entity, type: f.type, severity: f.severity, firstDay: f.firstDay, lastDay: f.lastDay,
                                       expectedNanos: expected, actualNanos: actual, sharePPM: share)
        }
    }

    /// The values of each driver dimension whose spend grew most from `baseline` (scaled to the length of `current`)
    /// to `current`, with their share of the entity's growth: one grouped daily query per dimension.
    func drivers(_ run: inout QueryRun, entity: AnomalyEntity, current: Range<Int64>,
                 baseline: Range<Int64>) async throws -> DriverBreakdown {
        let currentLength = Int128(current.upperBound - current.lowerBound)
        let baselineLength = Int128(max(1, baseline.upperBound - baseline.lowerBound))
        var breakdown = DriverBreakdown()
        for dimension in Self.driverDimensions where dimension != entity.level.dimension {
            let result = try await run.run(try Analytics.query(
                tenants: .one(tenant), from: baseline.lowerBound, to: current.upperBound, filters: entity.filters, bucket: .day,
                groupBy: [.dimension(dimension)], order: .key, useRollups: useRollups))
            var before: [String: Int64] = [:], during: [String: Int64] = [:]
            for row in 0..<result.rowCount where result.cost[row] != 0 {
                let value = result.keyColumns[0][row]
                if result.bucketStarts[row] < current.lowerBound {
                    before[value, default: 0] += result.cost[row]
                } else {
                    during[value, default: 0] += result.cost[row]
                }
            }
            var candidates: [AnomalyDriver] = []
            var total: Int64 = 0
            for value in Set(before.keys).union(during.keys) {
                let expected = Int64(Int128(before[value] ?? 0) * currentLength / baselineLength)
                let d = AnomalyDriver(dimension: dimension, value: value, expectedNanos: expected,
                                      actualNanos: during[value] ?? 0, sharePPM: nil)
                total += d.changeNanos
                breakdown.all[dimension, default: [:]][value] = d
                if d.changeNanos > 0 { candidates.append(d) }
            }
            if breakdown.entityChange == nil { breakdown.entityChange = total }
            candidates.sort { ($0.changeNanos, $1.value) > ($1.changeNanos, $0.value) }
            breakdown.top += candidates.prefix(Self.driversPerDimension)
        }
        if let change = breakdown.entityChange, change > 0 {
            for i in breakdown.top.indices {
                breakdown.top[i].sharePPM = Int64(Int128(breakdown.top[i].changeNanos) * 1_000_000 / Int128(change))
            }
        }
        return breakdown
    }
}
