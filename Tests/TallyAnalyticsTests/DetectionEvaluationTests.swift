import TallyAnalytics
import TallyStore
import TallyText
import Testing

@Suite("Detection evaluation: recall, false alarms and time to detection")
struct DetectionEvaluationTests {
    static let day = DetectionFixture.day
    static let may1 = DetectionFixture.may1

    static func at(_ d: Int, hours: Int64 = 0) -> Int64 { may1 + Int64(d) * day + hours * TimeUnit.hourMillis }

    @Test("scoring: a planted anomaly is found by the first report of its rule, tenant and days; episodes no plant explains are false alarms, once each")
    func scoring() {
        let planted = [
            PlantedAnomaly(tenant: "a", type: .absoluteSpike, start: Self.at(10), end: Self.at(13)),
            PlantedAnomaly(tenant: "b", type: .sustainedDrift, start: Self.at(20), end: Self.at(30)),
            PlantedAnomaly(tenant: "c", type: .absoluteSpike, start: Self.at(10), end: Self.at(13)),
        ]
        func report(_ id: String, _ tenant: String, _ type: AnomalyType, _ first: Int, _ last: Int, at: Int) -> DetectionEvaluation.Report {
            .init(id: id, tenant: tenant, type: type, severity: .high, firstDay: Self.at(first), lastDay: Self.at(last), reportedAt: Self.at(at))
        }
        let reports = [
            // a: found by a spike on days 10-11, reported at the end of day 11 (48 h), and again a day later.
            report("s1", "a", .absoluteSpike, 10, 11, at: 12),
            report("s1", "a", .absoluteSpike, 10, 12, at: 13),
            // b: a drift of another tenant's days does not find it; a spike on its days does not either (wrong rule),
            // but it is explained, so no false alarm; its drift is found at the end of day 24 (5 days).
            report("x1", "b", .absoluteSpike, 21, 22, at: 23),
            report("d1", "b", .sustainedDrift, 22, 24, at: 25),
            // c: never found. A drift of c's before its spike is a false alarm, reported twice, counted once.
            report("f1", "c", .sustainedDrift, 3, 5, at: 6),
            report("f1", "c", .sustainedDrift, 3, 6, at: 7),
            // d (no plant): a false alarm.
            report("f2", "d", .absoluteSpike, 15, 16, at: 17),
        ]
        let bands: [String: TenantSizeBand] = ["a": .atLeast5, "b": .from1to5, "c": .under1, "d": .atLeast5, "e": .under1]
        let e = DetectionEvaluation.score(planted: planted, reports: reports, bands: bands, judgedDays: 30)

        #expect(e.outcomes.map(\.detectedAt) == [Self.at(12), Self.at(25), nil])
        #expect(e.outcomes.map(\.band) == [.atLeast5, .from1to5, .under1])
        #expect(e.recall() == (2, 3))
        #expect(e.recall(type: .absoluteSpike) == (1, 2))
        #expect(e.recall(bands: [.from1to5, .atLeast5]) == (2, 2))
        #expect(e.falseAlarms.map(\.report.id) == ["f1", "f2"])
        #expect(e.falseAlarms[0].report.lastDay == Self.at(6) && e.falseAlarms[0].report.reportedAt == Self.at(6))
        // 5 tenants x 30 days = 5 tenant-months: 2 false alarms are 40 per 100.
        #expect(e.tenantMonths() == 5)
        #expect(e.falseAlarmRate().count == 2 && e.falseAlarmRate().per100 == 40)
        // Band >= $5: tenants a and d, 2 tenant-months, one false alarm (d): 50 per 100.
        #expect(e.falseAlarmRate(bands: [.atLeast5]).per100 == 50)
        #expect(e.falseAlarmRate(type: .sustainedDrift).count == 1)
        // 48 h and 120 h: median 84.
        #expect(e.hoursToDetection()! == (84, 120))
        #expect(e.hoursToDetection(type: .absoluteSpike)! == (48, 48))
        #expect(e.table().contains("| both | >=$1/day | 2/2 (100%) | 1 (33.33) | 84.0 / 120.0 |"))

        let two = DetectionEvaluation.combined([e, e])
        #expect(two.recall() == (4, 6) && two.tenantMonths() == 10 && two.falseAlarmRate().per100 == 40)
    }

    @Test("the harness over a hand-built store: hourly runs find the planted spike in 13 h (provisionally) and the drift in 5 days; an unplanted spike is a false alarm, once (its days are no drift)")
    func harness() async throws {
        let f = try DetectionFixture()
        // t1: $10/day, +$20 on days 20-21 (planted). t2: $10/day, $16/day from day 20 on (planted drift).
        // t3: $10/day, +$20 on days 24-25 (not planted: a false alarm). t4: $0.40/day, quiet.
        try f.append(f.steady("t1", days: 0..<30) + f.busySpike("t1", days: 20..<22))
        try f.append(f.steady("t2", days: 0..<20) + f.steady("t2", days: 20..<30, cents: 800))
        try f.append(f.steady("t3", days: 0..<30) + f.busySpike("t3", days: 24..<26))
        try f.append(f.steady("t4", days: 0..<30, cents: 20))
        let planted = [
            PlantedAnomaly(tenant: "t1", type: .absoluteSpike, start: Self.at(20), end: Self.at(22)),
            PlantedAnomaly(tenant: "t2", type: .sustainedDrift, start: Self.at(20), end: Self.at(30)),
        ]
        let e = try await f.analytics.evaluateDetection(planted: planted, window: Self.at(0)..<Self.at(30), judgeFrom: Self.at(7),
                                                        setNow: { f.clock.set($0) })
        #expect(e.judgedDays == 23)
        #expect(e.tenants == [.atLeast5: 3, .under1: 1])
        // Hourly runs. The spike's spend lands at noon of day 20: the 13:00 run raises it, provisionally (13 h). The
        // drift's rolling average passes 1.25 x on day 22 (three of seven days at 1.6 x) and holds three days, through
        // day 24: reported at the start of day 25.
        #expect(e.outcomes.map(\.hoursToDetection) == [13, 120])
        // t3: the spike, raised at 13:00 on day 24 (provisional, then confirmed). Its days lift the 7-day average 28.6 %
        // and 57 % over the week before, but once day 26 is back to usual they are an ended excursion of the spike
        // rule, which the drift rule leaves out (session 9): the spike is reported once, as a spike (until session 8 it
        // was also a drift, raised when day 26 completed).
        #expect(e.falseAlarms.map(\.report.tenant) == ["t3"])
        #expect(e.falseAlarms.map(\.report.type) == [.absoluteSpike])
        #expect(e.falseAlarms.map(\.report.reportedAt) == [Self.at(24) + 13 * TimeUnit.hourMillis])
        #expect(e.falseAlarms.map(\.report.provisional) == [false])
        // Once a day at midnight (complete days only, as before issue 13 item 3): the spike when its second day completes.
        let daily = try DetectionFixture()
        try daily.append(daily.steady("t1", days: 0..<30) + daily.busySpike("t1", days: 20..<22))
        let once = try await daily.analytics.evaluateDetection(planted: [planted[0]], window: Self.at(0)..<Self.at(30), judgeFrom: Self.at(7),
                                                               stepMinutes: 1_440, setNow: { daily.clock.set($0) })
        // The first complete day is provisional (the rule needs two): raised at the start of day 21.
        #expect(once.outcomes.map(\.hoursToDetection) == [24])
        // 4 tenants x 23 days = 3.07 tenant-months.
        #expect(abs(e.falseAlarmRate().per100! - 100 / (4.0 * 23 / 30)) < 1e-9)
        #expect(e.queries > 0)
    }
}
