import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TallyAnalytics
@testable import TallyServer
import TallyStore
import Testing

/// The background jobs of `tally serve` as services: each runs its job on schedule, survives a failing pass, and
/// stops within a bounded time when its service group shuts down gracefully.
@Suite("Background services")
struct BackgroundServiceTests {
    /// The longest a graceful shutdown may take: far below the hour a long interval would hold a job that ignored
    /// the shutdown, and far above the fraction of a second it takes alone (the whole suite in parallel on two cores
    /// starves the cooperative pool for seconds).
    static let shutdownBound: Duration = .seconds(30)
    /// A short interval: a few passes within a test.
    static let short: Duration = .milliseconds(20)

    /// Runs `services` in a service group while `body` runs, then shuts the group down gracefully; returns how long
    /// the shutdown took (the group's `run()` returning included). A service that ignores the graceful shutdown is
    /// cancelled after `shutdownBound`, so it fails the bound instead of hanging the test.
    static func withServiceGroup(
        _ services: [any Service], _ body: () async throws -> Void
    ) async throws -> Duration {
        var configuration = ServiceGroupConfiguration(services: services, logger: quietLogger)
        configuration.maximumGracefulShutdownDuration = shutdownBound
        let group = ServiceGroup(configuration: configuration)
        let running = Task { try await group.run() }
        do {
            try await body()
        } catch {
            await group.triggerGracefulShutdown()
            _ = try? await running.value
            throw error
        }
        let clock = ContinuousClock()
        let start = clock.now
        await group.triggerGracefulShutdown()
        try await running.value
        return clock.now - start
    }

    /// Waits until `condition` holds, failing after `limit` (generous: the whole suite in parallel starves the
    /// cooperative pool for minutes; alone, every wait here ends within a second).
    static func eventually(
        _ what: String, within limit: Duration = .seconds(300), _ condition: () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + limit
        while try await !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting until \(what)")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    struct PassFailed: Error {}

    /// A job that counts its passes and fails every second one.
    struct CountingJob: Service {
        let interval: Duration
        let logger: Logger
        let passes = Counter()

        func run() async {
            await runPeriodically(every: interval, logger: logger, failure: "counting pass failed") { [passes] in
                if passes.increment() % 2 == 0 { throw PassFailed() }
            }
        }
    }

    @Test("a periodic job runs at start and on schedule, logs a failing pass and goes on, and stops at shutdown")
    func schedule() async throws {
        let log = CapturedLog()
        let job = CountingJob(interval: Self.short, logger: log.logger)
        let took = try await Self.withServiceGroup([job]) {
            try await Self.eventually("six passes ran") { job.passes.value >= 6 }
        }
        #expect(took < Self.shutdownBound, "shutdown took \(took)")
        #expect(log.messages("counting pass failed").count >= 3, "every second pass failed and was logged")
        let stopped = job.passes.value
        try await Task.sleep(for: .milliseconds(100))
        #expect(job.passes.value == stopped, "no pass after shutdown")
    }

    @Test("a job sleeping a long interval stops at once on graceful shutdown")
    func shutdownWhileSleeping() async throws {
        let job = CountingJob(interval: .seconds(3_600), logger: quietLogger)
        let took = try await Self.withServiceGroup([job]) {
            try await Self.eventually("the first pass ran") { job.passes.value == 1 }
        }
        #expect(took < Self.shutdownBound, "shutdown took \(took)")
        #expect(job.passes.value == 1)
    }

    @Test("anomaly detection runs over every tenant at start and then every interval")
    func detection() async throws {
        let f = try ServerFixture.spikeFixture()
        let log = CapturedLog()
        let service = PeriodicJob.anomalyDetection(analytics: f.analytics, interval: Self.short, logger: log.logger)
        let took = try await Self.withServiceGroup([service]) {
            try await Self.eventually("detection ran three times") { log.messages("anomaly detection ran").count >= 3 }
        }
        #expect(took < Self.shutdownBound, "shutdown took \(took)")
        let runs = log.messages("anomaly detection ran")
        #expect(runs.first?.metadata?["created"].map { "\($0)" } != "0", "the first run found the spikes")
        #expect(runs.first?.metadata?["tenants"].map { "\($0)" } == "2")
        #expect(log.messages("anomaly detection failed").isEmpty)
    }

    @Test("webhook deliveries: a delivery that falls due while the service runs is sent by a later pass")
    func deliveries() async throws {
        let listener = try TestHTTPListener(statuses: [200])
        defer { listener.stop() }
        let f = try ServerFixture.spikeFixture(allowPrivateWebhooks: true)
        try f.analytics.catalog.setWebhook(Webhook(
            tenant: ServerFixture.tenantA, url: "http://127.0.0.1:\(listener.port)/hook", secret: "0123456789abcdef-secret",
            createdAt: ServerFixture.now, updatedAt: ServerFixture.now, updatedBy: "test"))
        let service = WebhookDeliveryService(analytics: f.analytics, interval: Self.short, logger: quietLogger)
        let took = try await Self.withServiceGroup([service]) {
            try await Task.sleep(for: .milliseconds(100))
            #expect(listener.received.isEmpty, "nothing is due yet")
            _ = try await f.analytics.detectAllTenants()  // opens an incident of tenant A: a delivery row
            try await Self.eventually("the deliveries were sent") {
                try f.analytics.catalog.dueDeliveries(now: Int64.max, limit: 10).isEmpty && !listener.received.isEmpty
            }
        }
        #expect(took < Self.shutdownBound, "shutdown took \(took)")
    }

    @Test("export sweeps: an export that expires while the service runs has its file deleted by a later pass")
    func exportSweep() async throws {
        let f = try ServerFixture()
        let id = try await f.withRouter { client in
            let status = try await ExportTests.export(
                f, client, key: f.readerA, ["kind": "usage", "format": "json", "from": "2025-05-01", "to": "2025-05-04"])
            return try #require(status.string("id"))
        }
        let path = f.analytics.exportPath(try #require(try f.analytics.catalog.export(id: id)))
        let service = PeriodicJob.exportSweep(analytics: f.analytics, interval: Self.short, logger: quietLogger)
        let took = try await Self.withServiceGroup([service]) {
            try await Task.sleep(for: .milliseconds(100))
            #expect(FileManager.default.fileExists(atPath: path), "not expired yet")
            f.setNow("2025-05-05T00:00:00Z")
            try await Self.eventually("the export expired") { try f.analytics.catalog.export(id: id)?.status == .expired }
        }
        #expect(took < Self.shutdownBound, "shutdown took \(took)")
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("reservation purges: a reservation that passes its retention while the service runs is deleted by a later pass")
    func reservationPurge() async throws {
        let f = try ServerFixture()
        let (old, held) = try await f.withRouter { client in
            let old = try ReservationTests.id(try await ReservationTests.reserve(client, f.writerA, #"{"estimated_cost_cents":"1","ttl_seconds":60}"#))
            let held = try ReservationTests.id(try await ReservationTests.reserve(client, f.writerA, #"{"estimated_cost_cents":"1","ttl_seconds":86400}"#))
            return (old, held)
        }
        let service = PeriodicJob.reservationPurge(analytics: f.analytics, interval: Self.short, logger: quietLogger)
        let took = try await Self.withServiceGroup([service]) {
            try await Task.sleep(for: .milliseconds(100))
            #expect(try f.analytics.catalog.reservation(id: old) != nil, "within its retention")
            f.setNow("2025-05-11T01:00:00Z")  // old expired at 2025-05-04T00:01:00Z, 7 days and an hour ago
            try await Self.eventually("the old reservation was purged") { try f.analytics.catalog.reservation(id: old) == nil }
        }
        #expect(took < Self.shutdownBound, "shutdown took \(took)")
        #expect(try f.analytics.catalog.reservation(id: held) != nil, "an expired one within its retention is kept")
    }

    /// A periodic job's name, or another service's type.
    static func name(_ service: any Service) -> String { (service as? PeriodicJob)?.name ?? "\(type(of: service))" }

    @Test("the server's background services: detection only when its interval is set, the others always")
    func backgroundServices() throws {
        let f = try ServerFixture()
        let names = f.server.backgroundServices(logger: quietLogger).map(Self.name)
        #expect(names == ["anomaly detection", "WebhookDeliveryService", "AlertDeliveryService", "export sweep", "reservation purge"])
        var configuration = f.server.configuration
        configuration.detectIntervalSeconds = 0
        let off = APIServer(analytics: f.analytics, configuration: configuration)
        #expect(off.backgroundServices(logger: quietLogger).map(Self.name)
            == ["WebhookDeliveryService", "AlertDeliveryService", "export sweep", "reservation purge"])
    }

    @Test("the application with its background services (serve's defaults) shuts down gracefully within the bound")
    func applicationShutdown() async throws {
        let f = try ServerFixture()
        let bound = Counter()
        let app = f.server.application(logger: quietLogger, services: f.server.backgroundServices(logger: quietLogger)) { port in
            bound.set(port)
        }
        let took = try await Self.withServiceGroup([app]) {
            try await Self.eventually("the server is listening") { bound.value != 0 }
        }
        #expect(took < Self.shutdownBound, "shutdown took \(took)")
    }
}

/// An integer shared between a job and its test.
final class Counter: Sendable {
    private let count = Mutex(0)

    /// Adds one; returns the new value.
    func increment() -> Int { count.withLock { n in n += 1; return n } }
    /// Sets the value.
    func set(_ value: Int) { count.withLock { $0 = value } }
    /// The value now.
    var value: Int { count.withLock { $0 } }
}

/// Log messages kept for a test to read.
final class CapturedLog: Sendable {
    struct Entry: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: Logger.Metadata?
    }

    private let entries = Mutex([Entry]())

    /// A logger (level debug) whose messages land here.
    var logger: Logger {
        var logger = Logger(label: "test") { _ in Handler(log: self) }
        logger.logLevel = .debug
        return logger
    }

    /// The entries whose message is `message`.
    func messages(_ message: String) -> [Entry] { entries.withLock { $0.filter { $0.message == message } } }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug
        var metadataProvider: Logger.MetadataProvider?

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let entry = Entry(level: event.level, message: event.message.description, metadata: event.metadata)
            log.entries.withLock { $0.append(entry) }
        }
    }
}
