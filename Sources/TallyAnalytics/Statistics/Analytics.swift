import Synchronization
import TallyQuery
import TallyStore

#if canImport(Glibc)
import Glibc
#endif

/// Settings of the analytics services.
public struct AnalyticsOptions: Sendable {
    /// Whether per-hour totals and rollups may answer (`tally serve --no-rollups` turns them off).
    public var useRollups = true
    /// Most buckets a series may have (a guard against hour buckets over years).
    public var maxBuckets: Int64 = 5_000
    /// Most groups a cost breakdown returns.
    public var maxLimit = 1_000
    /// Price table for records without `cost_cents`.
    public var pricing: PriceTable?
    /// Bounds the record parsers enforce.
    public var ingestLimits = IngestLimits()
    /// Most record errors listed in one receipt (all are counted).
    public var maxListedErrors = 1_000
    /// Free bytes below which the health check fails.
    public var minFreeDiskBytes: Int64 = 64 << 20
    /// Worker threads of one query.
    public var queryThreads = 2
    /// Seconds a verified API key is used from memory at most before the catalog is asked again (0: ask every time).
    /// Any revocation this process sees (through its own catalog object, or, with the embedded SQLite catalog, by any
    /// process) ends it at once; this bounds only what it cannot see: a revocation by another process or node
    /// sharing a PostgreSQL catalog (`VerifiedKeys`).
    public var keyCacheSeconds = 2.0
    /// Anomaly thresholds of the tenants that set none of their own (default: the seed's).
    public var anomalyThresholds = AnomalyThresholds()
    /// How many robust standard deviations of its own noise a finding must be (`SeriesContext.z`).
    public var anomalyNoiseZ = SeriesContext.defaultZ
    /// The share of an entity's usual days on which the day in progress's request count may look unusual
    /// (`AnomalyDetector.countEvidence`; docs/ANALYTICS.md "Intraday").
    public var anomalyIntradayAlpha = AnomalyDetector.intradayAlpha
    /// How long an export stays downloadable, in ms, before the sweeper deletes its file (default 24 hours).
    public var exportTTLMillis: Int64 = 24 * 3_600_000
    /// Where export files are written (default: `exports/` beside the catalog, in the data directory). Several nodes
    /// serve each other's exports when this is one directory they share (`tally serve --exports-dir`).
    public var exportsDirectory: String?
    /// This process among the nodes of a deployment: the owner of the leases it takes (background jobs, running
    /// exports). Unique per process by default.
    public var nodeID = AnalyticsOptions.newNodeID()
    /// How long a running export's lease lasts unless renewed, ms (its writer renews it every third of this).
    public var exportLeaseMillis: Int64 = 60_000

    /// A node identity no other process has: the host name, the process id and random bits.
    public static func newNodeID() -> String {
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count) == 0 ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "host"
        return "\(host):\(getpid()):\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
    }

    /// How long a policy reservation holds its estimate unless settled or cancelled first, ms (default 15 minutes).
    public var reservationTTLMillis: Int64 = 15 * 60_000
    /// The longest `ttl_seconds` a reservation may ask for, ms (default 24 hours).
    public var maxReservationTTLMillis: Int64 = 24 * 3_600_000
    /// How long settled, cancelled and expired reservations stay readable before they are purged, ms (default 7 days).
    public var reservationRetentionMillis: Int64 = 7 * 86_400_000

    /// Whether incident webhooks may point at loopback, link-local, private and other non-public addresses
    /// (`tally serve --allow-private-webhooks`; default no, see `WebhookAddress`).
    public var allowPrivateWebhooks = false

    /// The server's address as people reach it (`tally serve --public-url`): alert messages link to its console and
    /// API.
    public var publicURL = "http://127.0.0.1:8080"

    /// The defaults.
    public init() {}
}

/// The domain services the HTTP facade calls: ingestion, usage series with signals, cost breakdowns and
/// summaries, health. Every rule of the facade lives here; the server only translates HTTP to these calls.
///
/// Records are read and written through a `RecordStore`, never a concrete engine. Blocking work (SQLite, export
/// files, and the embedded store's appends and scans) runs on one `BlockingPool`, never on the cooperative pool.
public final class Analytics: Sendable {
    /// The record store.
    public let records: any RecordStore
    /// Keys, idempotent answers, budgets and the rest of the mutable state (`SQLiteCatalog` embedded).
    public let catalog: any Catalog
    /// Settings.
    public let options: AnalyticsOptions
    let pool: BlockingPool
    /// Where "now" comes from (tests pin it).
    public let clock: TimeSource
    let closed = Mutex(false)
    /// When released and expired reservations were last purged from the catalog, ms UTC.
    let reservationsPurgedAt = Mutex(Int64.min)
    /// Export jobs running in the background, by export id.
    let exportJobs = Mutex([String: Task<Void, Never>]())
    /// Keys verified lately (`authenticate`).
    let verifiedKeys: VerifiedKeys
    /// The anomalies and budgets usage signals read lately, by tenant and window (`usageSignals`).
    let signalLists = CatalogAnswers<SignalListsKey, SignalLists>()

    /// Services over `records` and `catalog`, blocking work on `pool` (give the record store the same pool);
    /// `clock` gives "now" (tests pin it).
    public init(records: any RecordStore, catalog: any Catalog, options: AnalyticsOptions = AnalyticsOptions(),
                pool: BlockingPool, clock: TimeSource = .system) {
        self.records = records
        self.catalog = catalog
        self.options = options
        self.pool = pool
        self.clock = clock
        verifiedKeys = VerifiedKeys(ttl: options.keyCacheSeconds)
    }

    /// Now, ms UTC.
    public var now: Int64 { clock.wallMillis() }

    /// Whether `close()` has run.
    public var isClosed: Bool { closed.withLock { $0 } || !records.isOpen }

    /// Closes the record store (the embedded one seals its head); later appends fail.
    public func close() throws {
        let already = closed.withLock { c -> Bool in
            defer { c = true }
            return c
        }
        if !already { try records.close() }
    }

    /// Runs blocking work off the cooperative pool (see `BlockingPool.run` for cancellation).
    public func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.run(body)
    }

    /// The principal of an API key secret (nil when unknown or revoked): from `verifiedKeys` while the catalog's
    /// revision is unchanged and the entry young, else looked up in the catalog off the cooperative pool.
    public func authenticate(secret: String) async throws -> Principal? {
        guard APIKey.plausibleSecret(secret) else { return nil }
        let digest = VerifiedKeys.Digest(secret)
        let now = clock.monotonicSeconds()
        // Read before the lookup: a change committed while it runs makes the entry stale at the next request.
        let revision = catalog.revision()
        if let revision, let principal = verifiedKeys.principal(for: digest, revision: revision, now: now) { return principal }
        let catalog = self.catalog
        let principal = try await pool.run { try catalog.verify(secret: secret) }
        if let principal, let revision { verifiedKeys.keep(principal, for: digest, revision: revision, now: now) }
        return principal
    }
}

extension Query.Tenants {
    /// The tenant id for a response's scope (nil for all tenants).
    var scopeTenant: String? {
        if case let .one(t) = self { return t }
        return nil
    }
}
