@testable import TallyAnalytics
import TallyStore
import TallyText
import Testing

/// Issue 13, session 9: a spike is reported once (its days are no drift), and the bands of the complete-day rules are
/// widened by what a short history cannot know: the Poisson noise of the entity's requests and the uncertainty of the
/// estimates its expectation is made of.
@Suite("Anomaly rules: spike days left out of drifts; the noise of few requests and short histories")
struct ExcursionAndNoiseTests {
    static let cent = Money.nanosPerCent
    static let base: Int64 = 1_000 * cent

    /// Weekend flags of `count` days whose days 2 and 3 of every week are the weekend.
    static func weekend(_ count: Int) -> [Bool] { (0..<count).map { $0 % 7 == 2 || $0 % 7 == 3 } }

    @Test("a 3-day x2 spike followed by usual days is a spike, not also a drift: its days are an ended excursion")
    func spikeIsNoDrift() {
        // Days 10-12 at 2 x. Before session 9 the windows ending on days 13-17 (holding 3, 3, 3, 3 and 2 spike days:
        // 1.43 and 1.29 x the week before) were a drift of days 13-17 reported after the spike.
        let series = [Int64](repeating: Self.base, count: 10) + [Int64](repeating: 2 * Self.base, count: 3)
            + [Int64](repeating: Self.base, count: 8)
        #expect(AnomalyRules.spikes(series).map { [$0.firstDay, $0.lastDay] } == [[10, 12]])
        #expect(AnomalyRules.excursions(series) == Set(10...12))
        #expect(AnomalyRules.drifts(series).isEmpty)
        // The same with a context (weekdays only, no noise, many requests): the same.
        let context = SeriesContext(weekend: [Bool](repeating: false, count: series.count),
                                    counts: [Int64](repeating: 1_000_000, count: series.count))
        #expect(AnomalyRules.excursions(series, context: context) == Set(10...12))
        #expect(AnomalyRules.drifts(series, context: context).isEmpty)
        // A spike still going on at the end of the series is no excursion yet: it may be the start of a lasting step.
        let ongoing = Array(series[0..<13])
        #expect(AnomalyRules.excursions(ongoing).isEmpty)
    }

    @Test("a spike followed by a real +30 % step is still a drift, from the days of the step alone")
    func spikeThenStep() {
        // Days 10-12 at 2 x (the spike, ended when day 13 is under 1.4 x its baseline), then 1.3 x from day 13 on.
        let step = Self.base * 13 / 10
        let series = [Int64](repeating: Self.base, count: 10) + [Int64](repeating: 2 * Self.base, count: 3)
            + [Int64](repeating: step, count: 12)
        #expect(AnomalyRules.excursions(series) == Set(10...12))
        let drifts = AnomalyRules.drifts(series)
        // Window of day 15: days 9 and 13-15 kept, (1000 + 3 x 1300) x 7 / 4 = 8575 cents, 1.225 x the week before
        // (days 2-8, 7000): not above 1.25. Day 16: days 13-16 kept, 1300 x 7 = 9100 cents, 1.3 x: from there on.
        #expect(drifts.map { [$0.firstDay, $0.lastDay] } == [[16, 24]])
        #expect(drifts.first?.ongoing == true)
        #expect(drifts.first?.expectedNanos == 9 * Self.base)
        #expect(drifts.first?.actualNanos == 9 * step)
        #expect(drifts.first?.severity == .medium)
    }

    @Test("a day's variance is at least the Poisson variance of its requests, widened by its estimates' uncertainty")
    func dayNoise() throws {
        // A week of identical days: the spend spread is 0. With 100 requests a day the day's relative variance is
        // 1/100; its expectation adds the baseline's, 0.01/7, and the weekday factor's, (1 - 5/7)^2 x (0.01/5 + 0.01/2)
        // = 0.000571: 0.012 in all, a standard deviation of 10.95 %, a band of 6 x 10.95 = 65.7 %.
        let week = [Int64](repeating: Self.base, count: 7)
        let hundred = [Int64](repeating: 100, count: 9)
        let context = SeriesContext(weekend: Self.weekend(9), counts: hundred)
        let profile = context.profile(week + [0, 0], before: 7)
        #expect(profile.spread == 0)
        #expect(abs(profile.dayVariance(weekend: nil) - 0.01) < 1e-12)
        #expect(abs(profile.daySpread(weekend: false, baselineDays: 7) - 0.012.squareRoot()) < 1e-12)
        // Two weekdays at 1.6 x (60 % over, under 65.7 %) are no spike; at 1.7 x they are.
        let at16 = week + [Self.base * 16 / 10, Self.base * 16 / 10]
        #expect(AnomalyRules.spikes(at16, context: context).isEmpty)
        let at17 = week + [Self.base * 17 / 10, Self.base * 17 / 10]
        #expect(AnomalyRules.spikes(at17, context: context).map { [$0.firstDay, $0.lastDay] } == [[7, 8]])
        // Without record counts the spread alone (0) decides, as before: 1.6 x is a spike.
        #expect(AnomalyRules.spikes(at16, context: SeriesContext(weekend: Self.weekend(9))).count == 1)
        // The same 1.6 x with twice the usual requests (200 where 100 are usual: a Poisson tail far under 10^-6) is a
        // spike by its count, whatever the spend's noise.
        let busier = SeriesContext(weekend: Self.weekend(9), counts: [Int64](repeating: 100, count: 7) + [200, 200])
        #expect(AnomalyRules.spikes(at16, context: busier).map { [$0.firstDay, $0.lastDay] } == [[7, 8]])
    }

    @Test("a +30 % step on 100 requests a day: no drift against one week of history, a drift against two")
    func driftNoiseShortHistory() {
        // One week before the step: the noise of a 7-day average against a 7-day baseline of 100 requests a day is
        // sqrt(0.01 x (1/7 + 1/7)) = 5.35 %, a band of 32.1 %: +30 % is not enough.
        let step = Self.base * 13 / 10
        let short = [Int64](repeating: Self.base, count: 7) + [Int64](repeating: step, count: 10)
        let hundred = SeriesContext(weekend: Self.weekend(17), counts: [Int64](repeating: 100, count: 17))
        #expect(AnomalyRules.drifts(short, context: hundred).isEmpty)
        // With 1,000 requests a day the band is 6 x sqrt(0.001 x 2/7) = 10.1 %: the step is a drift from its first full week.
        let thousand = SeriesContext(weekend: Self.weekend(17), counts: [Int64](repeating: 1_000, count: 17))
        #expect(AnomalyRules.drifts(short, context: thousand).map { [$0.firstDay, $0.lastDay] } == [[13, 16]])
        // Two weeks before the step, 100 requests a day: 6 x sqrt(0.01 x (1/7 + 1/14)) = 27.8 %: the step is a drift
        // from day 20 (its first full window, with two baseline windows). Day 19's window (6 days of the step, 1.257 x)
        // has one baseline window only (band 32.1 %).
        let long = [Int64](repeating: Self.base, count: 14) + [Int64](repeating: step, count: 10)
        let longContext = SeriesContext(weekend: Self.weekend(24), counts: [Int64](repeating: 100, count: 24))
        #expect(AnomalyRules.drifts(long, context: longContext).map { [$0.firstDay, $0.lastDay] } == [[20, 23]])
    }
}
