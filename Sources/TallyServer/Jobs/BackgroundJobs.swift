import AsyncHTTPClient
import Logging
import TallyAnalytics

/// The server's background work: anomaly detection for every tenant every `detectIntervalSeconds` (0: never), and
/// webhook deliveries every `deliveryPollSeconds`. Runs until its task is cancelled (the server cancels it after the
/// HTTP side has shut down gracefully); a pass in progress finishes first, since catalog writes are not interrupted.
struct BackgroundJobs: Sendable {
    let analytics: Analytics
    let configuration: ServerConfiguration
    let logger: Logger

    func run() async {
        await withTaskGroup(of: Void.self) { group in
            if configuration.detectIntervalSeconds > 0 {
                group.addTask { await detectionLoop() }
            }
            group.addTask { await deliveryLoop() }
        }
    }

    private func detectionLoop() async {
        while !Task.isCancelled {
            do {
                let report = try await analytics.detectAllTenants()
                let created = report.tenants.reduce(0) { $0 + $1.changes.created.count }
                let resolved = report.tenants.reduce(0) { $0 + $1.changes.resolved.count }
                let incidents = report.tenants.reduce(0) { $0 + $1.changes.incidentsOpened.count }
                logger.info("anomaly detection ran", metadata: [
                    "tenants": "\(report.tenants.count)", "created": "\(created)", "resolved": "\(resolved)",
                    "incidents_opened": "\(incidents)",
                ])
            } catch {
                logger.error("anomaly detection failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(configuration.detectIntervalSeconds))
        }
    }

    private func deliveryLoop() async {
        let deliverer = WebhookDeliverer(analytics: analytics, logger: logger)
        while !Task.isCancelled {
            do {
                try await deliverer.deliverDue()
            } catch {
                logger.error("webhook deliveries failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(configuration.deliveryPollSeconds))
        }
        try? await deliverer.shutdown()
    }
}
