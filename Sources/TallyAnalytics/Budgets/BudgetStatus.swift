import TallyStore

/// Where a budget stands in its current period: spend so far, utilisation, burn rate and the projection
/// to the end of the period at that rate.
///
/// A pure function of the budget, the spend in the period and "now", so every boundary is testable.
public struct BudgetStatus: Sendable, Equatable {
    /// How spend compares with the budget.
    public enum State: String, Sendable {
        /// At or below the warn threshold.
        case ok
        /// Above `limit x warn_ratio`, at or below the limit.
        case warning
        /// Above the limit.
        case exceeded
    }

    /// Start of the current period, ms UTC.
    public var periodStart: Int64
    /// End of the current period (exclusive), ms UTC.
    public var periodEnd: Int64
    /// Spend of the records in the period, nano-dollars.
    public var spentNanos: Int64
    /// The limit minus the spend (negative when exceeded).
    public var remainingNanos: Int64
    /// Spend as a percent of the limit, two decimals.
    public var utilizationPercent: Double
    public var state: State
    /// Spend per hour of the period elapsed, nano-dollars; nil at the very start of the period.
    public var burnNanosPerHour: Int64?
    /// Spend at the end of the period if the burn rate holds (the spend so far when nothing has elapsed).
    public var projectedNanos: Int64
    /// When spend will pass the limit at the burn rate; nil when it will not within the period or already has.
    public var projectedExceededAt: Int64?

    /// The status of `budget` with `spentNanos` spent in the period that holds `now`.
    public init(budget: Budget, spentNanos: Int64, now: Int64) {
        (periodStart, periodEnd) = budget.period.bounds(containing: now)
        self.spentNanos = spentNanos
        remainingNanos = budget.limitNanos - spentNanos
        utilizationPercent = percent(spentNanos, of: budget.limitNanos) ?? 0
        state = spentNanos > budget.limitNanos ? .exceeded : spentNanos > budget.warnThresholdNanos ? .warning : .ok
        let elapsed = now - periodStart
        guard elapsed > 0 else {
            burnNanosPerHour = nil
            projectedNanos = spentNanos
            projectedExceededAt = nil
            return
        }
        let spent = Int128(spentNanos)
        burnNanosPerHour = Self.clamp(Self.divideRounded(spent * Int128(TimeUnit.hourMillis), Int128(elapsed)))
        projectedNanos = Self.clamp(Self.divideRounded(spent * Int128(periodEnd - periodStart), Int128(elapsed)))
        if spentNanos <= budget.limitNanos && projectedNanos > budget.limitNanos {
            // Spend reaches the limit at start + limit x elapsed / spent; it passes it the millisecond after.
            let reach = Int128(budget.limitNanos) * Int128(elapsed) / spent
            projectedExceededAt = periodStart + Int64(reach) + 1
        } else {
            projectedExceededAt = nil
        }
    }

    /// Whether spend will pass the limit by the end of the period at the burn rate (or already has).
    public var willExceed: Bool { state == .exceeded || projectedExceededAt != nil }

    static func divideRounded(_ a: Int128, _ b: Int128) -> Int128 { (a + b / 2) / b }

    static func clamp(_ v: Int128) -> Int64 { v > Int128(Int64.max) ? Int64.max : Int64(v) }
}
