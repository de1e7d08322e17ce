import Logging
import ServiceLifecycle
import TallyAnalytics

/// Deletes policy reservations released or expired longer ago than the retention (`Analytics.purgeReservations`)
/// at start and then every `interval` (an hour in `tally serve`), until graceful shutdown, so the table stays small
/// while no new reservation arrives to purge it on the way.
public struct ReservationPurgeService: Service {
    let analytics: Analytics
    let interval: Duration
    let logger: Logger

    /// Purges of `analytics`' reservations every `interval`.
    public init(analytics: Analytics, interval: Duration, logger: Logger) {
        self.analytics = analytics
        self.interval = interval
        self.logger = logger
    }

    /// Runs passes until graceful shutdown.
    public func run() async {
        await runPeriodically(every: interval, logger: logger, failure: "reservation purge failed", level: .warning) { [analytics] in
            _ = try await analytics.blocking { try analytics.purgeReservations(now: analytics.now) }
        }
    }
}
