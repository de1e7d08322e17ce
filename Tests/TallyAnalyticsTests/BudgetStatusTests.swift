import TallyAnalytics
import TallyStore
import TallyText
import Testing

@Suite("Budget periods, burn rate and projection")
struct BudgetStatusTests {
    static func t(_ text: String) -> Int64 { try! Timestamp.parse(text).get() }
    static let cent = Money.nanosPerCent

    static func budget(_ period: Budget.Period, limitCents: Int64, warnRatio: Double = 0.8) -> Budget {
        Budget(id: "bud_test", tenant: "acme", level: .tenant, subject: "", period: period, limitNanos: limitCents * cent,
               warnRatio: warnRatio, enforce: true, createdAt: 0, updatedAt: 0, createdBy: "key_test")
    }

    @Test("monthly periods are UTC calendar months: month ends, year end, leap day and 29-day February",
          arguments: [
              ("2025-01-31T23:59:59.999Z", "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z"),
              ("2025-02-01T00:00:00Z", "2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"),
              ("2025-02-28T23:59:59.999Z", "2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"),
              ("2024-02-29T12:00:00Z", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"),
              ("2024-03-01T00:00:00Z", "2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z"),
              ("2024-12-31T23:59:59.999Z", "2024-12-01T00:00:00Z", "2025-01-01T00:00:00Z"),
              ("2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z"),
              ("1970-01-15T23:00:00Z", "1970-01-01T00:00:00Z", "1970-02-01T00:00:00Z"),
          ])
    func monthly(now: String, start: String, end: String) {
        let b = Budget.Period.monthly.bounds(containing: Self.t(now))
        #expect(b.start == Self.t(start))
        #expect(b.end == Self.t(end))
    }

    @Test("daily periods are UTC days, leap day included",
          arguments: [
              ("2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"),
              ("2024-02-29T23:59:59.999Z", "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"),
              ("2024-02-28T23:59:59.999Z", "2024-02-28T00:00:00Z", "2024-02-29T00:00:00Z"),
              ("2025-12-31T10:00:00Z", "2025-12-31T00:00:00Z", "2026-01-01T00:00:00Z"),
          ])
    func daily(now: String, start: String, end: String) {
        let b = Budget.Period.daily.bounds(containing: Self.t(now))
        #expect(b.start == Self.t(start))
        #expect(b.end == Self.t(end))
    }

    @Test("burn rate and projection: half the leap February gone, 40% spent -> 80% projected, no exceed date")
    func leapFebruaryProjection() {
        // February 2024 has 29 days = 696 hours; at 2024-02-15T12:00Z, 348 hours have elapsed.
        let s = BudgetStatus(budget: Self.budget(.monthly, limitCents: 1_000), spentNanos: 400 * Self.cent,
                             now: Self.t("2024-02-15T12:00:00Z"))
        #expect(s.periodStart == Self.t("2024-02-01T00:00:00Z"))
        #expect(s.periodEnd == Self.t("2024-03-01T00:00:00Z"))
        #expect(s.burnNanosPerHour == Int64((400 * Self.cent * 10 + 348 * 5) / (348 * 10)))
        #expect(s.projectedNanos == 800 * Self.cent)
        #expect(s.utilizationPercent == 40)
        #expect(s.state == .ok)
        #expect(s.projectedExceededAt == nil)
        #expect(!s.willExceed)
        #expect(s.remainingNanos == 600 * Self.cent)
    }

    @Test("a burn rate that passes the limit gives the projected time it is exceeded")
    func exceedDate() {
        // Day 10 of a 30-day month over: 10 days elapsed, 500 of 1000 spent -> 50 per day, 1500 projected;
        // the limit is reached after 20 days, so exceeded just after 2025-04-21T00:00Z.
        let s = BudgetStatus(budget: Self.budget(.monthly, limitCents: 1_000), spentNanos: 500 * Self.cent,
                             now: Self.t("2025-04-11T00:00:00Z"))
        #expect(s.burnNanosPerHour == 500 * Self.cent / 240)
        #expect(s.projectedNanos == 1_500 * Self.cent)
        #expect(s.projectedExceededAt == Self.t("2025-04-21T00:00:00.001Z"))
        #expect(s.willExceed)
        #expect(s.state == .ok)  // 50% <= 80%
    }

    @Test("a projection exactly at the limit does not exceed it; one nano-dollar more does")
    func projectionAtLimit() {
        // Half of a daily period gone with half the limit spent: exactly the limit at the end.
        let now = Self.t("2025-04-11T12:00:00Z")
        let atLimit = BudgetStatus(budget: Self.budget(.daily, limitCents: 100), spentNanos: 50 * Self.cent, now: now)
        #expect(atLimit.projectedNanos == 100 * Self.cent)
        #expect(atLimit.projectedExceededAt == nil)
        // One nano-dollar more: the limit is passed in the last millisecond of the day.
        let over = BudgetStatus(budget: Self.budget(.daily, limitCents: 100), spentNanos: 50 * Self.cent + 1, now: now)
        #expect(over.projectedNanos == 100 * Self.cent + 2)
        #expect(over.projectedExceededAt == Self.t("2025-04-12T00:00:00Z"))
        // 51 of 100 cents in 12 h: the limit is reached after 12 h x 100 / 51 = 23.53 h.
        let faster = BudgetStatus(budget: Self.budget(.daily, limitCents: 100), spentNanos: 51 * Self.cent, now: now)
        #expect(faster.projectedExceededAt == Self.t("2025-04-11T23:31:45.883Z"))
    }

    @Test("states: warning just above limit x warn_ratio, exceeded just above the limit")
    func states() {
        let now = Self.t("2025-04-11T12:00:00Z")
        let b = Self.budget(.daily, limitCents: 100, warnRatio: 0.8)
        #expect(BudgetStatus(budget: b, spentNanos: 80 * Self.cent, now: now).state == .ok)
        #expect(BudgetStatus(budget: b, spentNanos: 80 * Self.cent + 1, now: now).state == .warning)
        #expect(BudgetStatus(budget: b, spentNanos: 100 * Self.cent, now: now).state == .warning)
        let exceeded = BudgetStatus(budget: b, spentNanos: 100 * Self.cent + 1, now: now)
        #expect(exceeded.state == .exceeded)
        #expect(exceeded.remainingNanos == -1)
        #expect(exceeded.projectedExceededAt == nil)  // already exceeded: no future date
        #expect(exceeded.willExceed)
    }

    @Test("at the first instant of a period nothing has elapsed: no burn rate, projection = spend")
    func periodStart() {
        let s = BudgetStatus(budget: Self.budget(.monthly, limitCents: 100), spentNanos: 5 * Self.cent,
                             now: Self.t("2025-03-01T00:00:00Z"))
        #expect(s.burnNanosPerHour == nil)
        #expect(s.projectedNanos == 5 * Self.cent)
        #expect(s.projectedExceededAt == nil)
    }

    @Test("no spend: zero burn, zero projection, never exceeded")
    func noSpend() {
        let s = BudgetStatus(budget: Self.budget(.daily, limitCents: 100), spentNanos: 0, now: Self.t("2025-03-01T05:00:00Z"))
        #expect(s.burnNanosPerHour == 0)
        #expect(s.projectedNanos == 0)
        #expect(!s.willExceed)
        #expect(s.utilizationPercent == 0)
    }
}
