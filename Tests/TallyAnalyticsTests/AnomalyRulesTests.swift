import TallyAnalytics
import TallyStore
import TallyText
import Testing

@Suite("Anomaly rules on daily series: spike, drift, floors, severity bands")
struct AnomalyRulesTests {
    static let cent = Money.nanosPerCent
    /// 10 dollars a day: well above the 1-dollar floor.
    static let base: Int64 = 1_000 * cent

    /// Seven days at `base`, then `days`.
    static func afterBaseline(_ days: [Int64], base: Int64 = base) -> [Int64] {
        [Int64](repeating: base, count: 7) + days
    }

    @Test("spike: exactly baseline x 1.4 on two days is not a spike; one nano-dollar more is")
    func spikeThreshold() {
        let at = Self.base * 14 / 10
        #expect(AnomalyRules.spikes(Self.afterBaseline([at, at, Self.base])).isEmpty)
        let spikes = AnomalyRules.spikes(Self.afterBaseline([at + 1, at + 1, Self.base]))
        #expect(spikes.count == 1)
        let s = spikes[0]
        #expect(s.kind == .absoluteSpike)
        #expect(s.firstDay == 7 && s.lastDay == 8)
        #expect(s.expectedNanos == 2 * Self.base)
        #expect(s.actualNanos == 2 * at + 2)
        #expect(s.impactNanos == 2 * (at - Self.base) + 2)
        #expect(s.severity == .high)  // > 40 % above
        #expect(!s.ongoing)
    }

    @Test("spike: one day above is not enough, two are, three make one longer episode")
    func spikeDays() {
        let high = Self.base * 2
        #expect(AnomalyRules.spikes(Self.afterBaseline([high, Self.base, high, Self.base])).isEmpty)
        let two = AnomalyRules.spikes(Self.afterBaseline([high, high]))
        #expect(two.map { [$0.firstDay, $0.lastDay] } == [[7, 8]])
        #expect(two[0].ongoing)
        let three = AnomalyRules.spikes(Self.afterBaseline([high, high, high, Self.base]))
        #expect(three.map { [$0.firstDay, $0.lastDay] } == [[7, 9]])
        #expect(three[0].expectedNanos == 3 * Self.base)  // the spike does not raise its own baseline
        #expect(three[0].impactPercent == 100)
    }

    @Test("spike: the baseline is the mean of the 7 days before; days without 7 days of history are not judged")
    func spikeBaseline() {
        // Baseline: (0 + 200 + ... + 1200) / 7 = 600 cents a day, so 840 is the line.
        let ramp = (0..<7).map { Int64($0) * 200 * Self.cent }
        #expect(AnomalyRules.spikes(ramp + [840 * Self.cent, 840 * Self.cent]).isEmpty)
        #expect(AnomalyRules.spikes(ramp + [840 * Self.cent + 1, 840 * Self.cent + 1]).count == 1)
        // Day 6 has only six days before it and is not judged; days 7 and 8 are (baseline (6 x 10 + 100) / 7 dollars).
        let short = [Int64](repeating: Self.base, count: 6) + [Int64](repeating: 10 * Self.base, count: 3)
        #expect(AnomalyRules.spikes(short).map { [$0.firstDay, $0.lastDay] } == [[7, 8]])
    }

    @Test("spike: the minimum-spend floor keeps tiny entities quiet; a zero baseline is HIGH without a percent")
    func spikeFloor() {
        // 10 cents a day to 50 cents: 5x, but below the 1-dollar floor.
        // (The default floor is 0 since issue 13: the detector judges small entities against their own noise.)
        let tiny = Self.afterBaseline([50 * Self.cent, 50 * Self.cent], base: 10 * Self.cent)
        var dollar = AnomalyThresholds()
        dollar.minimumDailyNanos = 100 * Self.cent
        #expect(AnomalyRules.spikes(tiny, thresholds: dollar).isEmpty)
        #expect(AnomalyRules.spikes(tiny).count == 1)
        var lowFloor = AnomalyThresholds()
        lowFloor.minimumDailyNanos = 50 * Self.cent
        #expect(AnomalyRules.spikes(tiny, thresholds: lowFloor).count == 1)
        lowFloor.minimumDailyNanos = 50 * Self.cent + 1
        #expect(AnomalyRules.spikes(tiny, thresholds: lowFloor).isEmpty)
        let fromZero = AnomalyRules.spikes(Self.afterBaseline([2 * Self.base, 2 * Self.base], base: 0))
        #expect(fromZero.first?.severity == .high)
        #expect(fromZero.first?.impactPercent == nil)
    }

    static let bands: [(percentAbove: Int64, extraNanos: Int64, severity: AnomalySeverity?)] = [
        (14, 0, nil), (15, -1, nil), (15, 0, .low), (25, 0, .low), (25, 1, .medium), (40, 0, .medium), (40, 1, .high), (200, 0, .high),
    ]

    @Test("severity bands: LOW 15-25 %, MEDIUM above 25 up to 40 %, HIGH above 40 %", arguments: bands)
    func severity(percentAbove: Int64, extraNanos: Int64, severity: AnomalySeverity?) {
        let expected = 7_000 * Self.cent
        let actual = expected * (100 + percentAbove) / 100 + extraNanos
        #expect(AnomalySeverity.of(actual: actual, expected: expected) == severity)
        // The same band through the spike rule with a lowered factor (so mild spikes are judged).
        var t = AnomalyThresholds()
        t.spikeFactorPPM = 1_100_000
        let day = Self.base * (100 + percentAbove) / 100 + extraNanos
        let found = AnomalyRules.spikes(Self.afterBaseline([day, day]), thresholds: t)
        #expect(found.first?.severity == severity)
        #expect(found.count == (severity == nil ? 0 : 1))
    }

    @Test("drift: the 7-day average just above 1.25x the week before the shift fires; exactly 1.25x does not")
    func driftThreshold() {
        var one = AnomalyThresholds()
        one.driftDays = 1
        let at = Self.base * 125 / 100
        let exactly = Self.afterBaseline([Int64](repeating: at, count: 7))
        #expect(AnomalyRules.drifts(exactly, thresholds: one).isEmpty)
        let above = Self.afterBaseline([Int64](repeating: at + 1, count: 7))
        let found = AnomalyRules.drifts(above, thresholds: one)
        #expect(found.map { [$0.firstDay, $0.lastDay] } == [[13, 13]])
        #expect(found.first?.kind == .sustainedDrift)
    }

    @Test("drift: 2 consecutive days are not enough, 3 are; the baseline is the level before the shift, held while it lasts")
    func driftDays() {
        // Issue 13: the baseline is held at the level before the shift, so a lasting step of 1.35 B is one drift from
        // its first full window (day 13) while it lasts (it was never a drift against a window sliding up behind it).
        let step = Self.afterBaseline([Int64](repeating: Self.base * 135 / 100, count: 10))
        let found = AnomalyRules.drifts(step)
        #expect(found.map { [$0.firstDay, $0.lastDay] } == [[13, 16]])
        #expect(found.first?.actualNanos == 4 * Self.base * 135 / 100)
        #expect(found.first?.expectedNanos == 4 * Self.base)
        #expect(found.first?.severity == .medium)
        #expect(found.first?.ongoing == true)
        // Three days are needed: a step that falls back after two days over the line is not a drift.
        let back = Self.afterBaseline([Int64](repeating: Self.base * 135 / 100, count: 7)
                                      + [Int64](repeating: Self.base * 100 / 100, count: 8))
        // Day 13: 1.35 B; day 14: (6 x 1.35 + 1) / 7 = 1.30 B; day 15: 1.25 B (not above).
        #expect(AnomalyRules.drifts(back).isEmpty)
        let three = Self.afterBaseline([Int64](repeating: Self.base * 140 / 100, count: 7)
                                       + [Int64](repeating: Self.base, count: 8))
        // Day 15: (5 x 1.4 + 2) / 7 = 1.286 B: three days.
        #expect(AnomalyRules.drifts(three).map { [$0.firstDay, $0.lastDay] } == [[13, 15]])
    }

    @Test("drift: below the floor nothing fires; fewer than two full windows are not judged")
    func driftFloor() {
        let tiny = Self.afterBaseline([Int64](repeating: 20 * Self.cent, count: 10), base: 10 * Self.cent)
        var dollar = AnomalyThresholds()
        dollar.minimumDailyNanos = 100 * Self.cent
        #expect(AnomalyRules.drifts(tiny, thresholds: dollar).isEmpty)
        var t = AnomalyThresholds()
        t.minimumDailyNanos = 10 * Self.cent
        #expect(AnomalyRules.drifts(tiny, thresholds: t).count == 1)
        #expect(AnomalyRules.drifts(Self.afterBaseline([Int64](repeating: 3 * Self.base, count: 6))).isEmpty)
    }

    @Test("detect runs both rules: a step change is a spike and, a week on, a drift")
    func both() {
        let series = Self.afterBaseline([Int64](repeating: 2 * Self.base, count: 10))
        let found = AnomalyRules.detect(series)
        #expect(found.map(\.kind) == [.absoluteSpike, .sustainedDrift])
        #expect(found.allSatisfy { $0.severity == .high })
        #expect(AnomalyRules.detect([Int64](repeating: Self.base, count: 30)).isEmpty)
    }
}
