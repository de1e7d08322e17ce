import Logging
import ServiceLifecycle
import TallyAnalytics

/// Runs anomaly detection over every tenant (`Analytics.detectAllTenants`) at start and then every `interval`
/// (`tally serve --detect-interval`), until graceful shutdown.
public struct AnomalyDetectionService: Service {
    let analytics: Analytics
    let interval: Duration
    let logger: Logger

    /// Detection over `analytics` every `interval`.
    public init(analytics: Analytics, interval: Duration, logger: Logger) {
        self.analytics = analytics
        self.interval = interval
        self.logger = logger
    }

    /// Runs passes until graceful shutdown.
    public func run() async {
        await runPeriodically(every: interval, logger: logger, failure: "anomaly detection failed") { [analytics, logger] in
            let report = try await analytics.detectAllTenants()
            let created = report.tenants.reduce(0) { $0 + $1.changes.created.count }
            let resolved = report.tenants.reduce(0) { $0 + $1.changes.resolved.count }
            let incidents = report.tenants.reduce(0) { $0 + $1.changes.incidentsOpened.count }
            logger.info("anomaly detection ran", metadata: [
                "tenants": "\(report.tenants.count)", "created": "\(created)", "resolved": "\(resolved)",
                "incidents_opened": "\(incidents)",
            ])
        }
    }
}
