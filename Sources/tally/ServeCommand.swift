import ArgumentParser
import Logging
import TallyAnalytics
import TallyServer
import TallyStore

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serves the HTTP facade /api/v1/analytics/* over a data directory.",
        discussion: """
            Keys come from `tally keys create`. SIGTERM or SIGINT stops the server gracefully: it stops accepting
            connections, finishes the requests in flight, then closes the store (sealing its head).
            """)

    @OptionGroup var store: StoreOptionGroup

    @Option(help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(help: "Port to bind.")
    var port = 8080

    @Flag(name: .customLong("no-rollups"), help: "Answer every query by scanning rows (for comparisons and checks).")
    var noRollups = false

    @Option(help: "Price table for records without cost_cents (default: data/pricing.json when present).")
    var pricing: String?

    @Option(help: "Largest accepted request body in bytes, also after gzip decompression.")
    var maxBodyBytes = 16 << 20

    @Option(help: "Most buckets a series may have.")
    var maxBuckets = 5_000

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard maxBodyBytes >= 1024 else { throw ValidationError("--max-body-bytes must be at least 1024") }
        guard maxBuckets >= 1 else { throw ValidationError("--max-buckets must be at least 1") }
    }

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "tally")
        logger.logLevel = .info

        let s = try store.open()
        for line in s.openReport { logger.notice("store opened", metadata: ["note": "\(line)"]) }
        var options = AnalyticsOptions()
        options.useRollups = !noRollups
        options.pricing = try loadPricing(pricing)
        options.maxBuckets = Int64(maxBuckets)
        let analytics = Analytics(store: s, catalog: try Catalog(directory: store.data), options: options)
        var configuration = ServerConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.maxBodyBytes = maxBodyBytes
        let server = APIServer(analytics: analytics, configuration: configuration)
        let host = self.host
        do {
            try await server.serve(logger: logger) { bound in
                print("tally serving http://\(host):\(bound)/api/v1/analytics/ (Ctrl-C to stop)")
            }
        } catch {
            try? analytics.close()
            throw error
        }
        try analytics.close()
        logger.info("stopped; the store is closed")
    }
}
