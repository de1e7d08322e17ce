@testable import TallyAnalytics
import TallyStore
import Testing

/// Issue 13 items 2 and 3: feature and user findings grouped under the tenant finding they explain; the day in progress
/// judged against what the entity usually spends by this time (provisional spikes, confirmed or withdrawn); budget
/// periods judged once more after they close.
@Suite("Anomaly detection: drivers grouping, intraday spikes, closed budget periods")
struct IntradayDetectionTests {
    static let cent = DetectionFixture.cent
    static let day = DetectionFixture.day
    static let hour = TimeUnit.hourMillis
    static func dayStart(_ d: Int) -> Int64 { DetectionFixture.may1 + Int64(d) * day }

    @Test("a tenant spike lists the feature and user spikes it explains as entity drivers; they are no anomalies of their own")
    func groupedUnderTenant() async throws {
        let f = try DetectionFixture()
        try f.append(f.steady("t1", days: 0..<26) + f.spike("t1", days: 24..<26))
        f.setNow(day: 26)
        let report = try await f.detect()
        let all = try await f.anomalies()
        #expect(all.allSatisfy { $0.entity == .tenant }, "\(all.map { ($0.type, $0.entity) })")
        let spike = try #require(all.first { $0.type == .absoluteSpike })
        #expect(report.tenants[0].changes.incidentsOpened.count == 1)
        // chat and u1 carry the whole change (2000 cents on each of the 2 days): each explains all of it.
        #expect(spike.entityDrivers.map(\.entity) == [AnomalyEntity(level: .feature, value: "chat"), AnomalyEntity(level: .user, value: "u1")])
        for d in spike.entityDrivers {
            #expect(d.type == .absoluteSpike && d.severity == .high)
            #expect(d.changeNanos == 4_000 * Self.cent && d.sharePPM == 1_000_000)
            #expect(d.firstDay == Self.dayStart(24) && d.lastDay == Self.dayStart(25))
        }
    }

    @Test("a feature spike its tenant does not show stands alone (judged against its own noise)")
    func featureAlone() async throws {
        let f = try DetectionFixture()
        // A steady tenant of 10 dollars a day, plus a small feature 'ocr' of 50 cents a day that triples on days 24-25:
        // +100 cents on 1050 is no tenant spike.
        try f.append(f.steady("t1", days: 0..<26) + (0..<26).map { f.record("t1", day: $0, cents: $0 >= 24 ? 150 : 50, feature: "ocr") })
        f.setNow(day: 26)
        _ = try await f.detect()
        let all = try await f.anomalies()
        #expect(all.map(\.entity) == [AnomalyEntity(level: .feature, value: "ocr")], "\(all.map { ($0.type, $0.entity) })")
        #expect(all[0].type == .absoluteSpike && all[0].entityDrivers.isEmpty && !all[0].provisional)
        // Its drivers name the model and user, never its own dimension.
        #expect(all[0].drivers.map(\.dimension) == [.model, .user])
        #expect(all[0].drivers.first?.value == "m1")
    }

    @Test("intraday: a spike is raised provisionally within an hour of starting, kept over its first complete day, confirmed by the second")
    func provisionalConfirmed() async throws {
        let f = try DetectionFixture()
        // Spend lands at noon each day; the spike too (days 24 and 25), 20 requests more than the usual 2.
        try f.append(f.steady("t1", days: 0..<26) + f.busySpike("t1", days: 24..<26))
        // Before noon nothing is usually spent: nothing is judged.
        f.setNow(day: 24, hours: 11)
        _ = try await f.detect()
        #expect(try await f.anomalies().isEmpty)
        // The spike as one dear request is not raised before its day completes (the volume is usual), nor from its first
        // complete day alone (a usual count, and nothing left of the day without its dearest hour): the rule confirms it
        // when its second day completes.
        let dear = try DetectionFixture()
        try dear.append(dear.steady("t1", days: 0..<26))
        try dear.append(dear.spike("t1", days: 24..<26), requests: 1)
        dear.setNow(day: 24, hours: 13)
        _ = try await dear.detect()
        #expect(try await dear.anomalies().isEmpty)
        dear.setNow(day: 25, hours: 1)
        _ = try await dear.detect()
        #expect(try await dear.anomalies().isEmpty)
        dear.setNow(day: 26, hours: 1)
        _ = try await dear.detect()
        let confirmed = try await dear.anomalies()
        #expect(confirmed.map(\.type) == [.absoluteSpike] && confirmed.first?.provisional == false)
        // An hour after the spike began.
        f.setNow(day: 24, hours: 13)
        let raised = try await f.detect()
        let all = try await f.anomalies()
        #expect(all.count == 1)
        let p = try #require(all.first)
        #expect(p.type == .absoluteSpike && p.entity == .tenant && p.provisional && p.status == .open && p.severity == .high)
        #expect(p.firstDay == Self.dayStart(24) && p.lastDay == Self.dayStart(24))
        #expect(p.expectedNanos == 1_000 * Self.cent && p.actualNanos == 3_000 * Self.cent)
        #expect(raised.tenants[0].changes.incidentsOpened.count == 1 && p.incidentID != nil)
        // Day 24 complete and over: still provisional (the rule needs 2 days), the same anomaly.
        f.setNow(day: 25, hours: 1)
        _ = try await f.detect()
        var now = try #require(try await f.anomalies().first)
        #expect(now.id == p.id && now.provisional && now.status == .open && now.lastDay == Self.dayStart(24))
        f.setNow(day: 25, hours: 13)
        _ = try await f.detect()
        now = try #require(try await f.anomalies().first)
        #expect(now.id == p.id && now.provisional && now.lastDay == Self.dayStart(25))
        // Both days complete: confirmed, the same episode and incident.
        f.setNow(day: 26, hours: 1)
        _ = try await f.detect()
        let spikes = try await f.anomalies(AnomalyFilter(tenantID: "t1", type: .absoluteSpike))
        #expect(spikes.count == 1)
        #expect(spikes[0].id == p.id && !spikes[0].provisional && spikes[0].status == .open && spikes[0].incidentID == p.incidentID)
        #expect(spikes[0].firstDay == Self.dayStart(24) && spikes[0].lastDay == Self.dayStart(25))
        #expect(try await f.analytics.incidents(tenantID: "t1", status: nil, principal: f.admin).incidents.count == 1)
    }

    @Test("intraday: a one-day excursion is raised provisionally and withdrawn when the next complete day does not count")
    func provisionalWithdrawn() async throws {
        let f = try DetectionFixture()
        try f.append(f.steady("t1", days: 0..<26) + f.busySpike("t1", days: 24..<25))
        f.setNow(day: 24, hours: 14)
        _ = try await f.detect()
        let p = try #require(try await f.anomalies().first)
        #expect(p.provisional && p.status == .open)
        // A dip in the day in progress does not withdraw it; the day must complete.
        f.setNow(day: 25, hours: 13)
        _ = try await f.detect()
        #expect(try await f.analytics.anomaly(id: p.id, principal: f.admin).anomaly.status == .open)
        f.setNow(day: 26, hours: 0)
        let run = try await f.detect()
        #expect(run.tenants[0].changes.resolved == [p.id])
        let withdrawn = try await f.analytics.anomaly(id: p.id, principal: f.admin).anomaly
        #expect(withdrawn.withdrawn && withdrawn.provisional && withdrawn.resolvedBy == Anomaly.detectorActor)
        #expect(try await f.anomalies(AnomalyFilter(tenantID: "t1", resolved: false)).isEmpty)
    }

    @Test("a window that does not end with the last complete day judges no day in progress")
    func explicitWindow() async throws {
        let f = try DetectionFixture()
        try f.append(f.steady("t1", days: 0..<26) + f.spike("t1", days: 24..<25))
        f.setNow(day: 24, hours: 14)
        _ = try await f.analytics.detectAnomalies(tenantID: "t1", from: Self.dayStart(10), to: Self.dayStart(20), principal: f.admin)
        #expect(try await f.anomalies().isEmpty)
    }

    @Test("budgets: an overrun after the last run of its day is reported by the first run after the day closed")
    func closedBudgetPeriod() async throws {
        let f = try DetectionFixture()
        try f.append(f.steady("t1", days: 0..<28))  // 10 dollars a day, at noon
        _ = try await f.analytics.createBudget(
            BudgetDraft(tenantID: "t1", level: "tenant", period: "daily", limitCents: "1500"), principal: f.admin)
        f.setNow(day: 27, hours: 22)
        _ = try await f.detect()
        #expect(try await f.anomalies(AnomalyFilter(tenantID: "t1", type: .budgetExceeded)).isEmpty)
        // 23:30: 600 cents more, after the day's last run.
        var late = f.record("t1", day: 27, cents: 600)
        late.createdAtMillis = Self.dayStart(27) + 23 * Self.hour + 30 * 60_000
        try f.append([late])
        f.setNow(day: 28, hours: 0)
        let run = try await f.detect()
        let exceeded = try #require(try await f.anomalies(AnomalyFilter(tenantID: "t1", type: .budgetExceeded)).first)
        #expect(exceeded.firstDay == Self.dayStart(27) && exceeded.lastDay == Self.dayStart(27))
        #expect(exceeded.actualNanos == 1_600 * Self.cent && exceeded.expectedNanos == 1_500 * Self.cent)
        // Reported (with its incident) and resolved at once: its period is over.
        #expect(run.tenants[0].changes.created.contains(exceeded.id) && run.tenants[0].changes.resolved.contains(exceeded.id))
        #expect(exceeded.status == .resolved && exceeded.incidentID != nil)
        // Runs later that day judge it again without a second anomaly or incident.
        f.setNow(day: 28, hours: 5)
        let again = try await f.detect()
        #expect(again.tenants[0].changes.created.isEmpty && again.tenants[0].changes.incidentsOpened.isEmpty)
        #expect(try await f.anomalies(AnomalyFilter(tenantID: "t1", type: .budgetExceeded)).count == 1)
    }

    // MARK: The pure parts

    @Test("the day in progress from hourly history: spend so far, the usual share by this time, unusual volume")
    func partialDayFromHours() {
        // 28 reference days starting on a Thursday (2025-05-01) then today (day 28, a Thursday): each day 10 in hour 2
        // (5 records) and 30 in hour 20 (10 records); weekend days twice that. Today so far: 25 in hour 2, from 20 records.
        var hourly = [Int64](repeating: 0, count: 29 * 24)
        var counts = hourly
        for d in 0..<28 {
            let k: Int64 = AnomalyDetector.isWeekend(Self.dayStart(d)) ? 2 : 1
            hourly[d * 24 + 2] = 10 * k
            hourly[d * 24 + 20] = 30 * k
            counts[d * 24 + 2] = 5 * k
            counts[d * 24 + 20] = 10 * k
        }
        hourly[28 * 24 + 2] = 25
        counts[28 * 24 + 2] = 20
        let at3 = AnomalyDetector.partialDay(hourly: hourly, counts: counts, now: Self.dayStart(28) + 3 * Self.hour)
        // 20 records where 5 are usual (level 135 / 7 a day from the last 7 days, kind factor 15 / (135 / 7), shape 1/3; the
        // counts do not vary, so phi is the estimates' uncertainty alone: 1/135 + (4/9)^2 x (1/(20 x 15) + 1/(8 x 30)) +
        // (2/3)/100 = 0.015556): count evidence 14538 >= 1 / 3e-4.
        #expect(at3 == PartialDay(spentNanos: 25, fraction: 0.25, unusualVolume: true))
        // 18 records: 2273, not unusual.
        counts[28 * 24 + 2] = 18
        #expect(AnomalyDetector.partialDay(hourly: hourly, counts: counts, now: Self.dayStart(28) + 3 * Self.hour)?.unusualVolume == false)
        // Half-way through hour 2, half its usual spend is expected by now.
        let mid = AnomalyDetector.partialDay(hourly: hourly, counts: counts, now: Self.dayStart(28) + 2 * Self.hour + 30 * 60_000)
        #expect(mid?.fraction == 0.125)
        // Before anything is usually spent, the share is 0 (nothing is judged).
        #expect(AnomalyDetector.partialDay(hourly: hourly, counts: counts, now: Self.dayStart(28) + Self.hour)?.fraction == 0)
        // Fewer than 6 reference days of today's kind: not judged.
        #expect(AnomalyDetector.partialDay(hourly: Array(hourly[(22 * 24)...]), counts: Array(counts[(22 * 24)...]),
                                           now: Self.dayStart(28) + 3 * Self.hour) == nil)
        // Counts that vary from day to day (every other weekday 3 times the records): the same 20 are usual enough.
        var varying = counts
        for d in stride(from: 0, to: 28, by: 2) where !AnomalyDetector.isWeekend(Self.dayStart(d)) {
            varying[d * 24 + 2] *= 3
            varying[d * 24 + 20] *= 3
        }
        varying[28 * 24 + 2] = 20
        #expect(AnomalyDetector.partialDay(hourly: hourly, counts: varying, now: Self.dayStart(28) + 3 * Self.hour)?.unusualVolume == false)
    }

    /// 28 reference days from Thursday 2025-05-01 whose records come evenly through the day, 20 an hour on weekdays and
    /// 10 on weekend days for 3 weeks, then half as many again in the last 7 days (days 21-27): a tenant that grew. Today
    /// is day 28, a Thursday; `today(k)` puts k records (and k nano-dollars) in today's hours before `hours`.
    struct GrownTenant {
        var hourly = [Int64](repeating: 0, count: 29 * 24)
        init() {
            for d in 0..<28 {
                let perHour: Int64 = (AnomalyDetector.isWeekend(IntradayDetectionTests.dayStart(d)) ? 10 : 20) * (d >= 21 ? 3 : 2) / 2
                for h in 0..<24 { hourly[d * 24 + h] = perHour }
            }
        }
        func today(_ perHour: Int64, hours: Int) -> [Int64] {
            var series = hourly
            for h in 0..<hours { series[28 * 24 + h] = perHour }
            return series
        }
        func partial(_ perHour: Int64, hours: Int) -> PartialDay? {
            let series = today(perHour, hours: hours)
            return AnomalyDetector.partialDay(hourly: series, counts: series, now: IntradayDetectionTests.dayStart(28) + Int64(hours) * IntradayDetectionTests.hour)
        }
    }

    @Test("the usual count by now: the last 7 days' level x the kind factor x the within-day shape, with their uncertainty in phi")
    func usualCountLevelShape() throws {
        let t = GrownTenant()
        let same = (0..<28).filter { !AnomalyDetector.isWeekend(Self.dayStart($0)) }
        #expect(same.count == 20)
        let usual = try #require(AnomalyDetector.usualCount(t.hourly, days: 28, dayStart: Self.dayStart(28), born: 0, same: same,
                                                            fullHours: 2, part: 0))
        // Level: the last 7 days, 5 weekdays of 720 and 2 weekend days of 360: 4320 / 7 = 617.14 a day. Kind factor:
        // weekdays 540 (15 of 480, 5 of 720), weekend days 270 (6 of 240, 2 of 360), a week's day (5 x 540 + 2 x 270) / 7
        // = 462.86: 540 / 462.86 = 7/6. Shape by 02:00: 2/24. n = 617.14 x 7/6 / 12 = 60 (the flat 28-day mean: 45).
        #expect(abs(usual.n - 60) < 1e-9)
        // phi: the whole-day counts vary by no more than Poisson (MAD 0: phi_d = 0); level 1/4320; kind factor
        // (1 - 5/6)^2 x (1/(20 x 540) + 1/(8 x 270)) = 1.5432e-5; shape (1 - 1/12) / (20 x 45) = 1.01852e-3.
        let phi = 1.0 / 4320 + 1.0 / 36 * (1.0 / 10_800 + 1.0 / 2_160) + (11.0 / 12) / 900
        #expect(abs(usual.phi - phi) < 1e-12)
        #expect(abs(usual.phi - 0.0012654) < 1e-7)
        // Not from 7 days of history: no level.
        #expect(AnomalyDetector.usualCount(t.hourly, days: 28, dayStart: Self.dayStart(28), born: 22, same: same.filter { $0 >= 22 },
                                           fullHours: 2, part: 0) == nil)
        // Prorated: at 02:30 the shape is 2.5/24 and n = 75.
        let half = try #require(AnomalyDetector.usualCount(t.hourly, days: 28, dayStart: Self.dayStart(28), born: 0, same: same,
                                                           fullHours: 2, part: 0.5))
        #expect(abs(half.n - 75) < 1e-9)
    }

    @Test("a tenant that grew: its usual day at the new level does not fire, a x2 spike on it does within the hour")
    func grownTenant() throws {
        let t = GrownTenant()
        // A usual day at the new level, 30 records an hour: 600 by 20:00 where the flat 28-day mean had 450 (its
        // evidence there 1.2e7, an alarm); against the level of the last week 600 are usual: no evidence.
        let usual = try #require(t.partial(30, hours: 20))
        #expect(!usual.unusualVolume)
        #expect(AnomalyDetector.countEvidence(600, usual: 450, overdispersion: 1.0 / (20 * 450)) > 1 / AnomalyDetector.intradayAlpha)
        // Every hour of the day, the usual count does not fire.
        for hours in 1...23 { #expect(t.partial(30, hours: hours)?.unusualVolume == false, "at \(hours) h") }
        // Twice the new level from midnight: 60 records by 01:00 where 30 are usual, evidence 15447 >= 3333.
        #expect(t.partial(60, hours: 1)?.unusualVolume == true)
        let evidence = AnomalyDetector.countEvidence(60, usual: 30, overdispersion: 1.0 / 4320 + 1.0 / 36 * (1.0 / 10_800 + 1.0 / 2_160) + (23.0 / 24) / 450)
        #expect(abs(evidence / 15446.805 - 1) < 1e-5)
        // A x1.5 surge on the new level (45 an hour) shows by 04:00 (evidence 45413), not yet by 03:00 (2478).
        #expect(t.partial(45, hours: 4)?.unusualVolume == true)
        #expect(t.partial(45, hours: 3)?.unusualVolume == false)
        // The day in progress as the spike rule judges it (spend against the last 7 days' baseline, 720 a weekday: 30 by
        // 01:00): the x2 spike is a provisional HIGH spike of today, the usual day nothing. (The step itself, noiseless
        // here, is a spike of complete days 21-27; the tail is left out to judge today alone.)
        let weekend = (0..<29).map { AnomalyDetector.isWeekend(Self.dayStart($0)) }
        let daily = (0..<28).map { d in t.hourly[(d * 24)..<(d * 24 + 24)].reduce(0, +) }
        func today(_ partial: PartialDay) -> DetectedAnomaly? {
            AnomalyRules.provisionalSpike(daily, context: SeriesContext(weekend: weekend, today: partial), tail: .init(),
                                          thresholds: AnomalyThresholds())
        }
        let doubled = try #require(t.partial(60, hours: 1))
        let spike = try #require(today(doubled))
        #expect(spike.provisional && spike.firstDay == 28 && spike.lastDay == 28 && spike.severity == .high)
        #expect(spike.actualNanos == 60 && spike.expectedNanos == 30)
        let usualDay = try #require(t.partial(30, hours: 20))
        #expect(today(usualDay) == nil)
    }

    @Test("counts: the negative-binomial upper tail (Poisson without overdispersion)")
    func countTail() {
        // Poisson(5): P(X >= 20) = 3.4521e-7; P(X >= 5) = 0.5595.
        #expect(abs(AnomalyDetector.upperTail(20, mean: 5, overdispersion: 0) - 3.4521e-7) < 1e-10)
        #expect(abs(AnomalyDetector.upperTail(5, mean: 5, overdispersion: 0) - 0.55951) < 1e-5)
        // Negative binomial, mean 5, phi 0.5 (r = 2; variance 17.5): P(X >= 20) = 0.0080249 (scipy.stats.nbinom.sf(19, 2, 2/7)).
        #expect(abs(AnomalyDetector.upperTail(20, mean: 5, overdispersion: 0.5) - 0.0080249) < 1e-6)
        #expect(!AnomalyDetector.unusualCount(5, usual: 5, overdispersion: 0))
        #expect(AnomalyDetector.unusualCount(20, usual: 5, overdispersion: 0))
        #expect(!AnomalyDetector.unusualCount(20, usual: 5, overdispersion: 0.5))
    }

    @Test("the day in progress's count evidence: a likelihood ratio over spike sizes 1.5-3 x, held to alpha per day")
    func countEvidence() {
        // Hand-computed: mean over rho in {1.5, 2, 3} of rho^k e^(-(rho - 1) n) (Poisson), of the Polya ratio with phi.
        // 20 records where 5 are usual: (e^5.609 + e^8.863 + e^11.972) / 3 = 55212.7: a spike (>= 1 / 3e-4 = 3333).
        #expect(abs(AnomalyDetector.countEvidence(20, usual: 5, overdispersion: 0) / 55212.657 - 1) < 1e-6)
        // A doubling once 30 records are usual: 39834.9, a spike.
        #expect(abs(AnomalyDetector.countEvidence(60, usual: 30, overdispersion: 0) / 39834.935 - 1) < 1e-6)
        // The same with a day level that varies a lot (phi 0.5, r = 2): 1.66, no evidence.
        #expect(abs(AnomalyDetector.countEvidence(60, usual: 30, overdispersion: 0.5) / 1.6614383 - 1) < 1e-6)
        // 5 records in the night where 0.15 are usual: P(X >= 5) = 5.6e-7 would have passed the old per-run tail bound
        // of 1e-6, but no spike of 1.5-3 x makes 5 out of 0.15: evidence 71.5, not a spike.
        #expect(abs(AnomalyDetector.countEvidence(5, usual: 0.15, overdispersion: 0) / 71.535512 - 1) < 1e-6)
        #expect(AnomalyDetector.upperTail(5, mean: 0.15, overdispersion: 0) < 1e-6)
        // Fewer records than usual: evidence below 1.
        #expect(AnomalyDetector.countEvidence(20, usual: 30, overdispersion: 0) < 1)
    }

    @Test("a provisional spike from one complete day needs an unusual count or the day without its dearest hour over the ratio")
    func singleDayEvidence() {
        let steady = [Int64](repeating: 100, count: 20)
        let weekend = [Bool](repeating: false, count: 22)
        let quiet = PartialDay(spentNanos: 25, fraction: 0.25, unusualVolume: false)
        func run(_ daily: [Int64], _ evidence: DayEvidence) -> [DetectedAnomaly] {
            AnomalyRules.spikes(daily, context: SeriesContext(weekend: Array(weekend.prefix(daily.count + 1)), today: quiet,
                                                              lastDay: evidence))
        }
        let oneDay = steady + [300]
        // Unusual volume: raised.
        #expect(run(oneDay, DayEvidence(unusualVolume: true, topHourNanos: 300, topHourShare: 0.1)).count == 1)
        // Usual volume, all of it in one hour: not raised.
        #expect(run(oneDay, DayEvidence(unusualVolume: false, topHourNanos: 300, topHourShare: 0.1)).isEmpty)
        // Usual volume, spread over the day (the dearest hour 15 of 300, usually 5 of 100): 285 against 95, raised.
        #expect(run(oneDay, DayEvidence(unusualVolume: false, topHourNanos: 15, topHourShare: 0.05)).count == 1)
        // Without hourly history: nothing from one day.
        #expect(run(oneDay, .none).isEmpty)

        // With the days' record counts (24 a day, the spike day too): a usual count leaves the cost of its requests as
        // the day's only noise, so the count's Poisson floor (1/24, a spread of 0.204: 10 x that would need +204 %) is not
        // in its own term; the expectation's is, sqrt((1/24) / 7) = 0.0772, so the band is 10 x 0.0772 = +77 %.
        func counted(_ daily: [Int64], _ evidence: DayEvidence) -> [DetectedAnomaly] {
            AnomalyRules.spikes(daily, context: SeriesContext(weekend: Array(weekend.prefix(daily.count + 1)), today: quiet,
                                                              lastDay: evidence, counts: [Int64](repeating: 24, count: daily.count)))
        }
        // Three times the cost for the usual 24 requests (285 against 95 without the dearest hour, +200 %): raised.
        #expect(counted(oneDay, DayEvidence(unusualVolume: false, topHourNanos: 15, topHourShare: 0.05)).count == 1)
        // 1.6 times (152 against 95, +60 %: over the 1.4 ratio, under the band): not raised.
        #expect(counted(steady + [160], DayEvidence(unusualVolume: false, topHourNanos: 8, topHourShare: 0.05)).isEmpty)
    }

    @Test("a day is judged only with 4 reference days of its kind")
    func kindDays() {
        // 10 days of 100 (days 5 and 6 a weekend), then a weekend at 300, 300: 2 weekend reference days, not judged;
        // the same with a weekday pair is a spike.
        let weekend = [false, false, false, false, false, true, true, false, false, false, false, false, true, true]
        let daily: [Int64] = [100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 300, 300]
        #expect(AnomalyRules.spikes(daily, context: SeriesContext(weekend: weekend)).isEmpty)
        let weekdays = [Bool](repeating: false, count: 14)
        #expect(AnomalyRules.spikes(daily, context: SeriesContext(weekend: weekdays)).map { [$0.firstDay, $0.lastDay] } == [[12, 13]])
    }

    @Test("the spike rule with a day in progress: provisional from the first counting day, extended, not over a confirmed spike")
    func pendingSpikes() {
        let steady = [Int64](repeating: 100, count: 20)
        let weekend = [Bool](repeating: false, count: 22)
        let quarter = PartialDay(spentNanos: 25, fraction: 0.25)
        let hot = PartialDay(spentNanos: 80, fraction: 0.25)
        func run(_ daily: [Int64], _ today: PartialDay) -> [DetectedAnomaly] {
            AnomalyRules.spikes(daily, context: SeriesContext(weekend: Array(weekend.prefix(daily.count + 1)), today: today))
        }
        // The day in progress at 3.2 x its share: a provisional spike of today alone (index 20).
        #expect(run(steady, hot) == [DetectedAnomaly(kind: .absoluteSpike, severity: .high, firstDay: 20, lastDay: 20,
                                                     expectedNanos: 25, actualNanos: 80, ongoing: true, provisional: true)])
        // Usual spend by now: nothing.
        #expect(run(steady, quarter).isEmpty)
        // Yesterday counted (one day of two): provisional whatever today shows so far; today extends it when it counts.
        let oneDay = steady + [300]
        #expect(run(oneDay, quarter).map { [$0.firstDay, $0.lastDay] } == [[20, 20]])
        #expect(run(oneDay, quarter).allSatisfy { $0.provisional })
        #expect(run(oneDay, hot).map { [$0.firstDay, $0.lastDay] } == [[20, 21]])
        // Two counting days: confirmed (not provisional), and today does not add a provisional one.
        let twoDays = steady + [300, 300]
        #expect(run(twoDays, hot).map { ($0.firstDay, $0.lastDay, $0.provisional) }.elementsEqual([(20, 21, false)]) { $0 == $1 })
        // Without a day in progress the rule is the seed's: no provisional findings.
        #expect(AnomalyRules.spikes(oneDay, context: SeriesContext(weekend: Array(weekend.prefix(21)))).isEmpty)
    }
}
