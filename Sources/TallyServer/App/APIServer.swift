import Hummingbird
import Logging
import NIOCore
import TallyAnalytics

/// The HTTP facade `/api/v1/analytics/*` over the analytics services: a Hummingbird router and application.
public struct APIServer: Sendable {
    /// The services answered.
    public let analytics: Analytics
    /// Settings.
    public let configuration: ServerConfiguration
    /// Counters and latencies for `/metrics`.
    public let metrics: ServerMetrics

    /// A facade over `analytics`.
    public init(analytics: Analytics, configuration: ServerConfiguration = ServerConfiguration(), metrics: ServerMetrics = ServerMetrics()) {
        self.analytics = analytics
        self.configuration = configuration
        self.metrics = metrics
    }

    /// The router with every route of `Endpoint`, problem responses, auth and metrics.
    public func router() -> Router<APIRequestContext> {
        let router = Router(context: APIRequestContext.self)
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        router.add(middleware: ProblemMiddleware())
        router.add(middleware: BodyDeadlineMiddleware(seconds: configuration.bodyTimeoutSeconds))
        let handlers = Handlers(analytics: analytics, configuration: configuration, metrics: metrics)
        let open = router.group()
        let keyed = router.group().add(middleware: AuthMiddleware(analytics: analytics, metrics: metrics))
        for endpoint in Endpoint.allCases {
            let group = endpoint.requiresKey ? keyed : open
            group.on(RouterPath(endpoint.path), method: endpoint.method) { request, context in
                try await handlers.respond(endpoint, request, context)
            }
        }
        return router
    }

    /// The application serving the router on `configuration.host:port`; `onServerRunning` gets the bound channel.
    public func application(
        logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(),
            server: .http1(configuration: .init(idleTimeout: .seconds(Int64(configuration.idleTimeoutSeconds)))),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "tally"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully: stops accepting connections and finishes the
    /// requests in flight. Closing the store is the caller's (it may outlive the server).
    /// The background jobs (anomaly detection every `detectIntervalSeconds`, webhook deliveries) run beside it and are
    /// cancelled once the HTTP side has stopped.
    public func serve(logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let jobs = BackgroundJobs(analytics: analytics, configuration: configuration, logger: logger)
        let background = Task { await jobs.run() }
        defer { background.cancel() }
        try await application(logger: logger, onServerRunning: onServerRunning).runService()
        background.cancel()
        await background.value
    }
}
