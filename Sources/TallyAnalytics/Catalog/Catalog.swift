import TallyStore
/// The small mutable state beside the record store: API keys, idempotent answers, budgets, reservations, anomalies,
/// incidents, webhooks and their deliveries, alert channels and theirs, feature tags, exports, anomaly settings and the audit log.
///
/// The catalog stores and the domain decides: every method reads or writes rows, and each change of an entity a
/// person configures (keys, budgets, feature tags, webhooks, settings) appends its audit entry in the same
/// transaction. Rules that span several rows and must hold together (which finding continues which anomaly, which
/// incident an anomaly joins, whether a reservation fits its budgets) live in the domain and run inside one
/// `write` transaction over `CatalogTransaction`'s primitive row operations.
///
/// `SQLiteCatalog` is the embedded implementation; `CatalogContract` in the tests is the suite any implementation
/// must pass. Nothing here names a storage engine's types.
public protocol Catalog: DeploymentLock, Sendable {
    /// The local directory the catalog lives in, when it has one (export files default to a folder beside it).
    var directory: String? { get }

    /// Runs `body` in one write transaction: everything it writes commits together, or nothing when it throws.
    ///
    /// What `body` reads through the transaction stays true until it commits: the embedded catalog runs transactions
    /// one after the other; a catalog several nodes share (PostgreSQL) locks what each read returns until commit.
    /// Such a catalog may run `body` again after a deadlock rolled it back, so `body` acts only through the
    /// transaction (and on values it returns).
    func write<T>(_ body: (any CatalogTransaction) throws -> T) throws -> T

    // MARK: Keys

    /// Creates a key; returns it with its secret, which is not stored and cannot be shown again. Audited as `actor`'s.
    func createKey(tenant: String?, role: Role, now: Int64, actor: String) throws -> (key: APIKey, secret: String)
    /// The principal of a working key with this secret; nil when no such key exists or it was revoked.
    func verify(secret: String) throws -> Principal?
    /// Every key, oldest first (revoked ones too when asked).
    func listKeys(includeRevoked: Bool) throws -> [APIKey]
    /// Revokes the key `id` (a revoked key keeps its first revocation time); nil when there is no such key.
    func revokeKey(id: String, now: Int64, actor: String) throws -> APIKey?

    /// Where the catalog is now in its history of changes, told without blocking (from memory or shared memory,
    /// never a round trip to a server); nil when it cannot be told at once. Caches of what the catalog answers (verified
    /// keys, the anomalies and budgets of usage signals) keep the revision they read at and are used only while the
    /// revision is still the same (`CatalogRevision`).
    func revision() -> CatalogRevision?

    // MARK: Idempotent answers

    /// The answer stored for `key` in `scope` (a tenant, or `*` for admin keys), if it is still kept.
    func idempotentAnswer(scope: String, key: String, now: Int64) throws -> IdempotentAnswer?
    /// Keeps the first answer for `key` in `scope` (a later save for the same key is ignored) and drops expired ones.
    func saveIdempotentAnswer(scope: String, key: String, answer: IdempotentAnswer) throws

    // MARK: Budgets

    /// Stores a new budget, audited as `actor`'s; `alreadyExists` when the tenant has one for the same level,
    /// subject and period.
    func insertBudget(_ budget: Budget, actor: String) throws
    /// The budget `id`, if any.
    func budget(id: String) throws -> Budget?
    /// The budgets of `tenant` (every tenant's when nil), by tenant, level, subject and period.
    func budgets(tenant: String?) throws -> [Budget]
    /// Replaces the limit, warn ratio, enforcement and update time of a stored budget, audited; false when it is gone.
    func updateBudget(_ budget: Budget, actor: String) throws -> Bool
    /// Deletes the budget `id`, audited as `actor`'s at `at`; false when there was none.
    func deleteBudget(id: String, actor: String, at: Int64) throws -> Bool

    // MARK: Reservations

    /// What active, unexpired reservations hold against `budget` at `now`, nano-dollars.
    func reservedNanos(for budget: Budget, now: Int64) throws -> Int64
    /// The reservation `id`, if any.
    func reservation(id: String) throws -> Reservation?
    /// Deletes reservations released or expired before `cutoff` (they hold nothing); returns how many.
    @discardableResult
    func purgeReservations(before cutoff: Int64) throws -> Int

    // MARK: Anomalies and settings

    /// The anomaly `id`, with its drivers.
    func anomaly(id: String) throws -> Anomaly?
    /// The anomalies of `tenant` (every tenant's when nil) that pass `filter`, newest last day first.
    func anomalies(tenant: String?, filter: AnomalyFilter) throws -> [Anomaly]
    /// Every tenant that has a budget or anomaly settings, sorted.
    func tenantsWithConfiguration() throws -> [String]
    /// The thresholds of `tenant`: its settings (`custom`), or `defaults`.
    func anomalyThresholds(tenant: String, defaults: AnomalyThresholds) throws -> (thresholds: AnomalyThresholds, custom: Bool)
    /// Stores the thresholds of `tenant`, audited as `actor`'s.
    func setAnomalyThresholds(_ thresholds: AnomalyThresholds, tenant: String, actor: String, now: Int64) throws

    // MARK: Incidents

    /// The incident `id` with its anomalies.
    func incident(id: String) throws -> IncidentView?
    /// The incidents of `tenant` (every tenant's when nil), optionally with one status, newest first, at most `limit`.
    func incidents(tenant: String?, status: Incident.Status?, limit: Int) throws -> [IncidentView]

    // MARK: Webhooks and deliveries

    /// Sets (creates or replaces) the webhook of `webhook.tenant`, audited (never the secret).
    func setWebhook(_ webhook: Webhook) throws
    /// The webhook of `tenant`.
    func webhook(tenant: String) throws -> Webhook?
    /// Deletes the webhook of `tenant` and fails its pending deliveries, audited; false when there was none.
    func deleteWebhook(tenant: String, actor: String, now: Int64) throws -> Bool
    /// Counts of the deliveries of `tenant` by state (`pending`, `delivered`, `failed`).
    func deliveryCounts(tenant: String) throws -> [String: Int]
    /// Pending deliveries due at `now`, oldest first, with their webhook.
    func dueDeliveries(now: Int64, limit: Int) throws -> [(WebhookDelivery, Webhook)]
    /// Records the outcome of an attempt: delivered, retried at `retryAt`, or given up (`retryAt` nil after a failure).
    func recordDeliveryAttempt(id: String, delivered: Bool, error: String?, retryAt: Int64?, now: Int64) throws
    /// State, attempts and last error of delivery `id` (tests and diagnostics).
    func deliveryState(id: String) throws -> (state: String, attempts: Int, lastError: String?)?

    // MARK: Alert channels and alert deliveries

    /// Stores a new alert channel, audited as `channel.updatedBy`'s (never its secrets).
    func insertAlertChannel(_ channel: AlertChannel) throws
    /// The alert channel `id`, with its secrets.
    func alertChannel(id: String) throws -> AlertChannel?
    /// The alert channels of `tenant` (every tenant's when nil), by tenant, creation time, then id.
    func alertChannels(tenant: String?) throws -> [AlertChannel]
    /// Replaces the settings and update time of a stored channel, audited; false when it is gone.
    func updateAlertChannel(_ channel: AlertChannel) throws -> Bool
    /// Deletes channel `id` and gives up its pending deliveries, audited; false when there was none.
    func deleteAlertChannel(id: String, actor: String, at: Int64) throws -> Bool
    /// The deliveries of channel `id`, newest first (creation time, then id descending), at most `limit`.
    func alertDeliveries(channel id: String, limit: Int) throws -> [AlertDelivery]
    /// Counts of the deliveries of channel `id` by state (`pending`, `delivered`, `failed`).
    func alertDeliveryCounts(channel id: String) throws -> [String: Int]
    /// Pending alert deliveries due at `now`, oldest first (next attempt, creation time, id), with their channel.
    func dueAlertDeliveries(now: Int64, limit: Int) throws -> [(AlertDelivery, AlertChannel)]
    /// Records the outcome of an attempt: delivered, retried at `retryAt`, or given up (`retryAt` nil after a failure).
    func recordAlertAttempt(id: String, delivered: Bool, error: String?, retryAt: Int64?, now: Int64) throws

    // MARK: Feature tags

    /// Registers a tag, audited as `actor`'s; `alreadyExists` when the tenant has registered it.
    func insertFeatureTag(_ tag: FeatureTag, actor: String) throws
    /// The tag registration `id`, if any.
    func featureTag(id: String) throws -> FeatureTag?
    /// The registered tags of `tenant`, by tag.
    func featureTags(tenant: String) throws -> [FeatureTag]
    /// Replaces the description, owner and update time of a registered tag, audited; nil when it is gone.
    func updateFeatureTag(id: String, _ patch: FeatureTagPatch, at: Int64, actor: String) throws -> FeatureTag?
    /// Deletes the registration `id`, audited; false when there was none.
    func deleteFeatureTag(id: String, at: Int64, actor: String) throws -> Bool

    // MARK: Exports

    /// Stores a new export.
    func insertExport(_ export: Export) throws
    /// The export `id`, if any.
    func export(id: String) throws -> Export?
    /// The exports of `tenant` (every tenant's when nil), newest first, at most `limit`.
    func exports(tenant: String?, limit: Int) throws -> [Export]
    /// Sets the status of an export, and when given its rows, bytes, completion time and error.
    func updateExport(id: String, status: ExportStatus, rows: Int64?, bytes: Int64?, completedAt: Int64?, error: String?) throws
    /// Exports not yet expired whose `expires_at` is at or before `now`, soonest first.
    func exportsDue(now: Int64) throws -> [Export]
    /// Exports pending or running.
    func exportsInProgress() throws -> [Export]

    // MARK: Audit

    /// Audit entries matching `filter`, newest first, at most `filter.limit`.
    func auditEntries(_ filter: AuditFilter) throws -> [AuditEntry]

    // MARK: Leases (one node of a deployment runs a job)

    /// Takes or renews the lease `name` for `owner` until `now + ttlMillis`: true when `owner` holds it afterwards (it
    /// was free, released, expired at or before `now`, or already `owner`'s), false while another owner's lease runs.
    /// Times are the callers' clocks: a lease must last longer than the clocks of the nodes differ.
    func acquireLease(_ name: String, owner: String, now: Int64, ttlMillis: Int64) throws -> Bool
    /// Gives up `owner`'s lease `name` at once (nothing when another owner holds it, or no one).
    func releaseLease(_ name: String, owner: String) throws
}

/// A lock every node of a deployment sees: while one caller holds a name, no other caller (on this node or another)
/// holds it. A holder that dies loses its locks (the catalog's session ends), so a lock never outlives its node.
public protocol DeploymentLock: Sendable {
    /// Runs `body` holding the locks `names` (taken in sorted order, so two callers never wait on each other in a
    /// cycle), then releases them, also when `body` throws.
    func withExclusiveLocks<T: Sendable>(_ names: [String], _ body: @Sendable () async throws -> T) async throws -> T
}

/// The primitive row operations a domain rule uses inside `Catalog.write`: reads see the transaction's own writes.
///
/// Lists come in a fixed order (named per method) so that a rule decides the same way on every implementation.
public protocol CatalogTransaction {
    /// Appends one entry to the audit log. `before` and `after` are JSON objects, served as they are.
    func appendAudit(at: Int64, actor: String, tenant: String?, action: String, entityType: String, entityID: String,
                     before: String?, after: String?) throws

    // MARK: Budgets and reservations

    /// The budget `id`, if any.
    func budget(id: String) throws -> Budget?
    /// What active, unexpired reservations hold against `budget` at `now`, nano-dollars.
    func reservedNanos(for budget: Budget, now: Int64) throws -> Int64
    /// The reservation `id`, if any.
    func reservation(id: String) throws -> Reservation?
    /// Inserts a new reservation.
    func insertReservation(_ reservation: Reservation) throws
    /// Replaces the stored state, release time and actual cost of reservation `reservation.id`.
    func updateReservation(_ reservation: Reservation) throws

    // MARK: Anomalies

    /// The anomaly `id`, with its drivers.
    func anomaly(id: String) throws -> Anomaly?
    /// The anomalies of one series of `tenant` (one type on one entity; `budgetID` empty for the series rules), newest
    /// last day first, then id.
    func anomalies(tenant: String, type: AnomalyType, entity: AnomalyEntity, budgetID: String) throws -> [Anomaly]
    /// The open anomalies of `tenant`, by first day, then id.
    func openAnomalies(tenant: String) throws -> [Anomaly]
    /// Inserts or replaces anomaly `anomaly.id` with its drivers.
    func saveAnomaly(_ anomaly: Anomaly) throws

    // MARK: Incidents and deliveries

    /// The incident `id`, if any.
    func incident(id: String) throws -> Incident?
    /// The incidents of `tenant` not resolved yet, oldest first (opened time, then id).
    func unresolvedIncidents(tenant: String) throws -> [Incident]
    /// The anomalies of incident `id`, by first day, then id.
    func anomalies(incident id: String) throws -> [Anomaly]
    /// Inserts or replaces incident `incident.id`.
    func saveIncident(_ incident: Incident) throws
    /// The webhook of `tenant`.
    func webhook(tenant: String) throws -> Webhook?
    /// Inserts a pending delivery, created at `now`.
    func insertDelivery(_ delivery: WebhookDelivery, now: Int64) throws

    // MARK: Alerts

    /// The alert channels of `tenant`, by creation time, then id. A catalog several nodes share locks the tenant's
    /// alerting until commit, so two nodes never queue the same alert.
    func alertChannels(tenant: String) throws -> [AlertChannel]
    /// The most recent delivery of channel `channel` for anomaly series `series` (creation time, then id), if any.
    func lastAlert(channel: String, series: String) throws -> AlertDelivery?
    /// Inserts a pending alert delivery.
    func insertAlertDelivery(_ delivery: AlertDelivery) throws
}

extension Catalog {
    /// Actor of changes made with the `tally` command line rather than a key.
    public static var cliActor: String { "cli" }
    /// Prefix of every key secret, so leaked keys are easy to recognise and scan for.
    public static var secretPrefix: String { "tly_" }
    /// How long idempotent answers are kept: a retry later than this is a new request.
    public static var idempotencyRetentionMillis: Int64 { 24 * 3_600_000 }

    /// Creates a key now, as the command line (`tally keys`) does.
    public func createKey(tenant: String?, role: Role) throws -> (key: APIKey, secret: String) {
        try createKey(tenant: tenant, role: role, now: TimeSource.systemWallMillis(), actor: Self.cliActor)
    }

    /// Revokes the key `id` now, as the command line (`tally keys`) does.
    @discardableResult
    public func revokeKey(id: String) throws -> APIKey? {
        try revokeKey(id: id, now: TimeSource.systemWallMillis(), actor: Self.cliActor)
    }
}

/// A point in a catalog's history of changes (`Catalog.revision()`).
public struct CatalogRevision: Sendable, Equatable {
    /// Differs from an earlier revision's value whenever a change that `coversOtherWriters` says it sees was committed
    /// in between.
    public var value: UInt64
    /// Whether every writer's changes move `value`: other processes' and nodes' as well as this process's
    /// (`SQLiteCatalog`: SQLite's data version of the file). When false, only this process's key changes move it
    /// (`PostgresCatalog`: other nodes' changes are not seen), so a cache must also bound the age of what it keeps
    /// (`AnalyticsOptions.keyCacheSeconds`) and keeps nothing else.
    public var coversOtherWriters: Bool

    /// A revision.
    public init(value: UInt64, coversOtherWriters: Bool) {
        self.value = value
        self.coversOtherWriters = coversOtherWriters
    }
}

/// A catalog row that cannot be read as what it stores: the row is reported, never skipped.
public enum CatalogError: Error, Equatable, CustomStringConvertible {
    /// Column `column` of row `id` in `table` holds `value`, which is not one of the values the column may hold.
    case undecodableRow(table: String, id: String, column: String, value: String)

    public var description: String {
        switch self {
        case let .undecodableRow(table, id, column, value):
            "catalog table \(table), row \(id): column \(column) holds \(value.debugDescription), which is not a valid value"
        }
    }
}
