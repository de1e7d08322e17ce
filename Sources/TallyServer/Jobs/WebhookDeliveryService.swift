import Logging
import ServiceLifecycle
import TallyAnalytics

/// Sends the incident webhook deliveries that are due (`WebhookDeliverer.deliverDue`) at start and then every
/// `interval`, until graceful shutdown; owns the deliverer's HTTP client for its run.
public struct WebhookDeliveryService: Service {
    let analytics: Analytics
    let interval: Duration
    let lease: JobLease?
    let options: WebhookDeliverer.Options
    let logger: Logger

    /// Deliveries of `analytics`' outbox every `interval`.
    public init(analytics: Analytics, interval: Duration, lease: JobLease? = nil, options: WebhookDeliverer.Options = .init(),
                logger: Logger) {
        self.analytics = analytics
        self.interval = interval
        self.lease = lease
        self.options = options
        self.logger = logger
    }

    /// Runs passes until graceful shutdown.
    public func run() async {
        let deliverer = WebhookDeliverer(analytics: analytics, options: options, logger: logger)
        await runPeriodically(every: interval, lease: lease, logger: logger, failure: "webhook deliveries failed") {
            try await deliverer.deliverDue()
        }
        try? await deliverer.shutdown()
    }
}
