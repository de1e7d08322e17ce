import AsyncHTTPClient
import Logging
import ServiceLifecycle
import TallyAnalytics

/// Sends the alert deliveries of the catalog's outbox to their channels: Slack-compatible incoming webhooks (a JSON
/// POST, with the address checks of incident webhooks) and email (`SMTPClient` on the blocking pool).
///
/// The same machinery as incident webhooks (`WebhookDeliverer`): a delivery row is written when the alert is queued
/// (`Analytics.queueAlerts`), attempted when due, retried with exponential backoff (`WebhookSignature.backoffMillis`)
/// until it succeeds or `maxAttempts` are spent (`failed`), and its state, attempts and last error are kept (the
/// channel's API view lists them). A permanent SMTP refusal (5xx) is not retried.
public struct AlertDeliverer: Sendable {
    let analytics: Analytics
    let webhooks: WebhookDeliverer
    let options: WebhookDeliverer.Options
    let logger: Logger

    /// A deliverer over `analytics`' catalog with its own HTTP client; call `shutdown()` when done.
    public init(analytics: Analytics, options: WebhookDeliverer.Options = .init(), logger: Logger) {
        self.analytics = analytics
        self.webhooks = WebhookDeliverer(analytics: analytics, options: options, logger: logger)
        self.options = options
        self.logger = logger
    }

    /// Shuts the HTTP client down.
    public func shutdown() async throws {
        try await webhooks.shutdown()
    }

    /// One pass: queues the alerts the open anomalies call for, then attempts every delivery due.
    @discardableResult
    public func pass() async throws -> (queued: Int, delivered: Int, failed: Int) {
        let queued = try await analytics.queueAlerts()
        let (delivered, failed) = try await deliverDue()
        return (queued.count, delivered, failed)
    }

    /// Attempts every alert delivery due now once; returns how many were delivered and how many failed this pass.
    @discardableResult
    public func deliverDue() async throws -> (delivered: Int, failed: Int) {
        let now = analytics.now
        let catalog = analytics.catalog
        let due = try await analytics.blocking { [options] in try catalog.dueAlertDeliveries(now: now, limit: options.batch) }
        var delivered = 0, failed = 0
        for (delivery, channel) in due {
            let outcome = await attempt(delivery, channel)
            let attempts = delivery.attempts + 1
            let retryAt: Int64? = outcome == nil || outcome!.permanent || attempts >= options.maxAttempts
                ? nil : analytics.now + WebhookSignature.backoffMillis(attempt: attempts, baseMillis: options.backoffMillis)
            let at = analytics.now
            try await analytics.blocking {
                try catalog.recordAlertAttempt(id: delivery.id, delivered: outcome == nil, error: outcome?.error, retryAt: retryAt, now: at)
            }
            if let outcome {
                failed += 1
                logger.warning("alert delivery failed", metadata: [
                    "delivery": "\(delivery.id)", "channel": "\(channel.id)", "tenant": "\(delivery.tenant)", "attempt": "\(attempts)",
                    "error": "\(outcome.error)",
                ])
            } else {
                delivered += 1
            }
        }
        return (delivered, failed)
    }

    /// Sends `delivery` to `channel` now; nil when it was accepted, else why not and whether a retry could help.
    public func attempt(_ delivery: AlertDelivery, _ channel: AlertChannel) async -> (error: String, permanent: Bool)? {
        switch channel.kind {
        case .slack:
            let error = await webhooks.postChecked(url: channel.url, headers: [
                ("Content-Type", "application/json"),
                ("User-Agent", "tally-alerts/1"),
                ("X-Tally-Alert", delivery.id),
            ], body: Array(delivery.body.utf8))
            return error.map { ($0, false) }
        case .email:
            guard let smtp = channel.smtp else { return ("the channel has no SMTP settings", true) }
            let message = SMTPMessage(from: smtp.from, to: smtp.to, subject: delivery.subject, body: delivery.body, date: analytics.now,
                                      messageID: delivery.id + "@tally")
            let client = SMTPClient(.init(host: smtp.host, port: smtp.port, username: smtp.username, password: smtp.password,
                                          timeoutSeconds: Double(options.timeoutSeconds)))
            do {
                try await analytics.blocking { try client.send(message) }
                return nil
            } catch let error as SMTPClient.SMTPError {
                return (error.description, error.isPermanent)
            } catch {
                return ("\(error)", false)
            }
        }
    }
}

/// Queues and sends alerts (`AlertDeliverer.pass`) at start and then every `interval`, until graceful shutdown.
public struct AlertDeliveryService: Service {
    let analytics: Analytics
    let interval: Duration
    let lease: JobLease?
    let options: WebhookDeliverer.Options
    let logger: Logger

    /// Alert passes over `analytics`' open anomalies and outbox every `interval`.
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
        let deliverer = AlertDeliverer(analytics: analytics, options: options, logger: logger)
        await runPeriodically(every: interval, lease: lease, logger: logger, failure: "alert deliveries failed") { [logger] in
            let (queued, delivered, failed) = try await deliverer.pass()
            logger.debug("alert pass", metadata: ["queued": "\(queued)", "delivered": "\(delivered)", "failed": "\(failed)"])
        }
        try? await deliverer.shutdown()
    }
}
