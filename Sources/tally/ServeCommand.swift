import ArgumentParser
import Foundation
import Logging
import TallyAnalytics
import TallyClickHouse
import TallyOTLP
import TallyServer
import TallyStore

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serves the HTTP facade /api/v1/analytics/* over a data directory.",
        discussion: """
            Keys come from `tally keys create`. SIGTERM or SIGINT stops the server gracefully: it stops accepting \
            connections, finishes the requests in flight, stops the background jobs (detection, webhook and alert deliveries, \
            export sweeps, reservation purges), then closes the store (sealing its head). With --records clickhouse and \
            --catalog postgres, several serve nodes share one ClickHouse cluster and one PostgreSQL database (create the \
            ClickHouse schema first with tally clickhouse init); --data then holds only export files and local state.
            """)

    @OptionGroup var store: StoreOptionGroup

    @OptionGroup var catalogOptions: CatalogOptions

    @OptionGroup var recordOptions: RecordOptions
    @OptionGroup(title: "Provider proxy") var proxyOptions: ProxyOptions

    @Option(help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(help: "Port to bind.")
    var port = 8080

    @Flag(name: .customLong("no-rollups"), help: "Answer every query by scanning rows (for comparisons and checks).")
    var noRollups = false

    @Option(help: "Price table for records without cost_cents (default: the one shipped with tally; see tally pricing).")
    var pricing: String?

    @Option(help: "Largest accepted request body in bytes, also after gzip decompression.")
    var maxBodyBytes = 16 << 20

    @Option(help: "Most buckets a series may have.")
    var maxBuckets = 5_000

    @Option(name: .customLong("reservation-ttl"), help: "Seconds a policy reservation holds its estimate unless settled or cancelled first.")
    var reservationTTL = 900

    @Option(help: "Seconds between background anomaly detection runs over every tenant (0 disables them).")
    var detectInterval: Double = 600

    @Option(name: .customLong("export-ttl-hours"), help: "Hours an export stays downloadable before its file is deleted.")
    var exportTTLHours = 24

    @Option(name: .customLong("exports-dir"),
            help: "Directory export files are written to and served from (default: DIR/exports). With several nodes, one directory they all mount, so any node serves any node's export. Default: $TALLY_EXPORTS_DIR.")
    var exportsDir: String?

    @Option(name: .customLong("job-lease-seconds"),
            help: "Seconds a background job's lease lasts at least (one node of a deployment runs each job; when it dies another takes over after this).")
    var jobLeaseSeconds: Double = 30

    @Option(name: .customLong("delivery-interval"), help: "Seconds between passes over the webhook and alert deliveries that are due.")
    var deliveryInterval: Double = 5

    @Option(name: .customLong("idle-timeout"), help: "Seconds a connection may stay idle (no request, or a request trickling in) before it is closed.")
    var idleTimeout = 60

    @Option(name: .customLong("body-timeout"), help: "Seconds a client has to send a whole request body (408 after).")
    var bodyTimeout: Double = 60

    @Option(name: .customLong("metrics-top-tenants"),
            help: "Tenants named in the spend metrics of /metrics (the rest are summed as tenant \"other\"); 0 leaves spend out.")
    var metricsTopTenants = 20

    @Flag(name: .customLong("allow-private-webhooks"),
          help: "Let incident webhooks reach loopback, private, link-local and other non-public addresses (refused by default: a writer key chooses the URL).")
    var allowPrivateWebhooks = false

    @Option(name: .customLong("otlp-mapping"),
            help: "JSON file changing which span and resource attributes fill which record field on POST /v1/traces (docs/API.md, \"OpenTelemetry traces\").")
    var otlpMapping: String?

    @Option(name: .customLong("otlp-max-concurrent-exports"), help: "OTLP exports in progress at once; beyond it 429 with Retry-After.")
    var otlpMaxConcurrentExports = 16

    @Option(name: .customLong("public-url"),
            help: "The server's address as people reach it, for the links in alert messages (default: http://<host>:<port>).")
    var publicURL: String?

    func validate() throws {
        guard otlpMaxConcurrentExports >= 1 else { throw ValidationError("--otlp-max-concurrent-exports must be at least 1") }
        try catalogOptions.check(data: store.data)
        try recordOptions.check(data: store.data)
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard maxBodyBytes >= 1024 else { throw ValidationError("--max-body-bytes must be at least 1024") }
        guard maxBuckets >= 1 else { throw ValidationError("--max-buckets must be at least 1") }
        guard detectInterval == 0 || (detectInterval >= 1 && detectInterval <= 7 * 86_400) else {
            throw ValidationError("--detect-interval must be 0 (off) or 1 to 604800 seconds")
        }
        guard jobLeaseSeconds >= 1 && jobLeaseSeconds <= 86_400 else { throw ValidationError("--job-lease-seconds must be 1 to 86400") }
        guard deliveryInterval >= 0.1 && deliveryInterval <= 3_600 else { throw ValidationError("--delivery-interval must be 0.1 to 3600 seconds") }
        guard exportTTLHours >= 1 else { throw ValidationError("--export-ttl-hours must be at least 1") }
        guard (1...3_600).contains(idleTimeout) else { throw ValidationError("--idle-timeout must be 1 to 3600 seconds") }
        guard bodyTimeout >= 1 && bodyTimeout <= 3_600 else { throw ValidationError("--body-timeout must be 1 to 3600 seconds") }
        guard (0...1_000).contains(metricsTopTenants) else { throw ValidationError("--metrics-top-tenants must be 0 to 1000") }
        guard (1...86_400).contains(reservationTTL) else { throw ValidationError("--reservation-ttl must be 1 to 86400 seconds") }
        if let publicURL, WebhookURL(publicURL) == nil {
            throw ValidationError("--public-url must be an http:// or https:// URL, e.g. https://tally.example.com")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "tally")
        logger.logLevel = .info

        // Before the store opens: a bad mapping file stops the command with nothing to close.
        var spanMapping = SpanMapping.standard
        if let otlpMapping {
            do {
                spanMapping = try SpanMapping(json: FileIO.readAll(otlpMapping))
            } catch let e as SpanMapping.FileError {
                throw ValidationError("--otlp-mapping \(otlpMapping): \(e)")
            }
        }
        var options = AnalyticsOptions()
        options.useRollups = !noRollups
        options.pricing = try loadPricing(pricing)
        options.maxBuckets = Int64(maxBuckets)
        options.reservationTTLMillis = Int64(reservationTTL) * 1000
        options.exportTTLMillis = Int64(exportTTLHours) * 3_600_000
        options.allowPrivateWebhooks = allowPrivateWebhooks
        options.exportsDirectory = exportsDir ?? ProcessInfo.processInfo.environment["TALLY_EXPORTS_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        options.publicURL = publicURL ?? "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        let catalog = try catalogOptions.open(data: store.data)
        let analytics: Analytics
        switch try recordOptions.kind() {
        case .embedded:
            let s = try store.open()
            for line in s.openReport { logger.notice("store opened", metadata: ["note": "\(line)"]) }
            analytics = Analytics(store: s, catalog: catalog, options: options)
        case .clickhouse:
            analytics = try recordOptions.clickHouseAnalytics(catalog: catalog, options: options)
            let health = await analytics.records.health()
            let url = try recordOptions.clickHouseConfiguration().url
            logger.notice("records in ClickHouse", metadata: ["url": "\(url)", "health": "\(health.status)"])
        }
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.maxBodyBytes = maxBodyBytes
        configuration.detectIntervalSeconds = detectInterval
        configuration.jobLeaseSeconds = jobLeaseSeconds
        configuration.deliveryPollSeconds = deliveryInterval
        configuration.idleTimeoutSeconds = idleTimeout
        configuration.bodyTimeoutSeconds = bodyTimeout
        configuration.otlpMaxConcurrentExports = otlpMaxConcurrentExports
        configuration.otlpMapping = spanMapping
        TallyMetricsSystem.bootstrap()
        let proxy = try proxyOptions.setup(analytics: analytics, data: store.data, logger: logger)
        let server = APIServer(analytics: analytics, configuration: configuration, metrics: ServerMetrics(spendTopTenants: metricsTopTenants),
                               proxy: proxy)
        let host = self.host
        let announcer = logger
        do {
            try await server.serve(logger: logger) { bound in
                // Logged (standard error, flushed per line) rather than printed: stdout is block-buffered when it is
                // not a terminal, and this line must reach a log as it happens.
                announcer.notice("serving http://\(host):\(bound)/api/v1/analytics/ (console: http://\(host):\(bound)/console; Ctrl-C to stop)")
                if let proxy {
                    for kind in proxy.upstreams.keys.sorted(by: { $0.rawValue < $1.rawValue }) {
                        announcer.notice("proxying http://\(host):\(bound)/proxy/\(kind.rawValue)/ to \(proxy.upstreams[kind]!)")
                    }
                }
            }
        } catch {
            try? await proxy?.shutdown()
            try? analytics.close()
            throw error
        }
        await proxy?.recorder.settle()
        try? await proxy?.shutdown()
        try analytics.close()
        logger.info("stopped; the store is closed")
    }
}
