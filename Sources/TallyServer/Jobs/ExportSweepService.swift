import Logging
import ServiceLifecycle
import TallyAnalytics

/// Deletes the files of expired exports and fails exports an earlier process left unfinished
/// (`Analytics.sweepExports`) at start and then every `interval` (a minute in `tally serve`), until graceful shutdown.
public struct ExportSweepService: Service {
    let analytics: Analytics
    let interval: Duration
    let logger: Logger

    /// Sweeps of `analytics`' exports every `interval`.
    public init(analytics: Analytics, interval: Duration, logger: Logger) {
        self.analytics = analytics
        self.interval = interval
        self.logger = logger
    }

    /// Runs passes until graceful shutdown.
    public func run() async {
        await runPeriodically(every: interval, logger: logger, failure: "export sweep failed", level: .warning) { [analytics] in
            _ = try await analytics.blocking { try analytics.sweepExports(now: analytics.now) }
        }
    }
}
