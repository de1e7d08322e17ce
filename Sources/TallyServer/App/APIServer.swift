import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import TallyAnalytics

/// The HTTP facade `/api/v1/analytics/*` over the analytics services: a Hummingbird router and application.
public struct APIServer: Sendable {
    /// The services answered.
    public let analytics: Analytics
    /// Settings.
    public let configuration: ServerConfiguration
    /// Counters and latencies for `/metrics`.
    public let metrics: ServerMetrics
    /// The bound on OTLP exports in progress (shared by the two OTLP paths).
    let otlpAdmission: ExportAdmission
    /// The provider proxy (`/proxy/...`); nil when `tally serve` has no `--proxy-upstream` (its routes then answer 404).
    public let proxy: ProxySetup?

    /// A facade over `analytics`, with the provider proxy when `proxy` is given.
    public init(analytics: Analytics, configuration: ServerConfiguration = ServerConfiguration(), metrics: ServerMetrics = ServerMetrics(),
                proxy: ProxySetup? = nil) {
        self.analytics = analytics
        self.configuration = configuration
        self.metrics = metrics
        otlpAdmission = ExportAdmission(limit: configuration.otlpMaxConcurrentExports)
        self.proxy = proxy
    }

    /// The router: metrics, problem responses and the body deadline around every route; the keyed routes behind
    /// `AuthMiddleware`, each feature's routes added by its collection.
    public func router() -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        // Hummingbird's own metrics (swift-metrics: http_server_* once `TallyMetricsSystem.bootstrap()` ran).
        router.add(middleware: MetricsMiddleware<APIRequestContext>())
        router.add(middleware: ProblemMiddleware())
        router.add(middleware: BodyDeadlineMiddleware(seconds: configuration.bodyTimeoutSeconds))
        let keyed = router.group(RouterPath(APIPath.root))
            .add(middleware: AuthMiddleware(analytics: analytics, metrics: metrics))
            .group(context: AuthenticatedContext.self)
        let idempotency = IdempotencyMiddleware(analytics: analytics, action: .writeRecords, maxBodyBytes: configuration.maxBodyBytes)
        RecordsRoutes(analytics: analytics, configuration: configuration, metrics: metrics, idempotency: idempotency)
            .addRoutes(to: keyed)
        StatisticsRoutes(analytics: analytics, metrics: metrics).addRoutes(to: keyed)
        BudgetRoutes(analytics: analytics).addRoutes(to: keyed)
        PolicyRoutes(analytics: analytics).addRoutes(to: keyed)
        AnomalyRoutes(analytics: analytics).addRoutes(to: keyed)
        IncidentRoutes(analytics: analytics).addRoutes(to: keyed)
        AlertChannelRoutes(analytics: analytics).addRoutes(to: keyed)
        ExportRoutes(analytics: analytics, fileIO: Hummingbird.FileIO()).addRoutes(to: keyed)
        ReportRoutes(analytics: analytics).addRoutes(to: keyed)
        FeatureTagRoutes(analytics: analytics).addRoutes(to: keyed)
        AuditRoutes(analytics: analytics).addRoutes(to: keyed)
        ConsoleRoutes().addRoutes(to: router.group())
        OTLPRoutes(analytics: analytics, configuration: configuration, metrics: metrics, admission: otlpAdmission)
            .addRoutes(to: router)
        ProxyRoutes(analytics: analytics, metrics: metrics, setup: proxy, maxBodyBytes: configuration.maxBodyBytes).addRoutes(to: router)
        // Last: `_status` lists the routes the others added.
        OperationsRoutes(analytics: analytics, configuration: configuration, metrics: metrics).addRoutes(to: router)
        return router
    }

    /// The background work of a serving process, as services for the application's service group: anomaly
    /// detection every `detectIntervalSeconds` (none when 0), webhook deliveries and alert passes (queue, then send) every
    /// `deliveryPollSeconds`, export
    /// sweeps every `exportSweepSeconds` and reservation purges every `reservationPurgeSeconds`. Each runs its first
    /// pass at start, on the one node of the deployment holding the job's lease (the proxy spool: on every node).
    public func backgroundServices(logger: Logger) -> [any Service] {
        var services: [any Service] = []
        let c = configuration
        // One node of a deployment runs each job (JobLease); a lease outlives two intervals, so a holder that is only slow
        // keeps it, and one that died is replaced within `jobLeaseSeconds` (or two intervals) and one more pass.
        func lease(_ job: String, every seconds: Double) -> JobLease {
            JobLease(job, analytics: analytics, ttlSeconds: max(c.jobLeaseSeconds, 2 * seconds))
        }
        if c.detectIntervalSeconds > 0 {
            services.append(PeriodicJob.anomalyDetection(
                analytics: analytics, interval: .seconds(c.detectIntervalSeconds), lease: lease("detection", every: c.detectIntervalSeconds),
                logger: logger))
        }
        services.append(WebhookDeliveryService(
            analytics: analytics, interval: .seconds(c.deliveryPollSeconds), lease: lease("webhook-delivery", every: c.deliveryPollSeconds),
            logger: logger))
        services.append(AlertDeliveryService(
            analytics: analytics, interval: .seconds(c.deliveryPollSeconds), lease: lease("alert-delivery", every: c.deliveryPollSeconds),
            logger: logger))
        services.append(PeriodicJob.exportSweep(
            analytics: analytics, interval: .seconds(c.exportSweepSeconds), lease: lease("export-sweep", every: c.exportSweepSeconds),
            logger: logger))
        services.append(PeriodicJob.reservationPurge(
            analytics: analytics, interval: .seconds(c.reservationPurgeSeconds),
            lease: lease("reservation-purge", every: c.reservationPurgeSeconds), logger: logger))
        if let proxy {
            services.append(PeriodicJob.proxySpool(
                recorder: proxy.recorder, interval: .seconds(configuration.proxySpoolRetrySeconds), logger: logger))
        }
        return services
    }

    /// The application serving the router on `configuration.host:port`, running `services` in its service group
    /// (none by default: tests get the HTTP side alone); `onServerRunning` gets the bound port.
    public func application(
        logger: Logger, services: [any Service] = [], onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(),
            server: .http1(configuration: .init(idleTimeout: .seconds(Int64(configuration.idleTimeoutSeconds)))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "tally"),
            services: services,
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// Serves with the background services (`backgroundServices`) in one service group until SIGTERM or SIGINT,
    /// then shuts down gracefully, in reverse order of start: the HTTP server first (it stops accepting connections
    /// and finishes the requests in flight), then the background services, each cancelled at its next suspension
    /// point. Closing the store is the caller's (it may outlive the server).
    public func serve(logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        try await application(logger: logger, services: backgroundServices(logger: logger), onServerRunning: onServerRunning)
            .runService()
    }
}
