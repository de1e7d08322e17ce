import Foundation
import PostgresNIO
import Synchronization
import TallyAnalytics
import TallyStore

/// The `Catalog` on a PostgreSQL server, shared by every `tally serve` node of a deployment.
///
/// Synchronous like the protocol: the domain calls the catalog from its blocking pool, so each call takes one of
/// this catalog's connections and waits on postgres-nio's futures (which complete on NIO's event loop threads, never
/// the caller's). The protocol stays synchronous: an async catalog would change every call site of the domain for no
/// gain while the other implementation (SQLite) blocks anyway.
///
/// Concurrency across nodes: `write` runs READ COMMITTED transactions in which every read of the rows a rule then
/// changes takes a lock until commit (`PostgresCatalogTransaction`): a budget is read `FOR UPDATE`, so reservations
/// against one budget queue on its row, and each one's sum of holds sees every reservation committed before it. This
/// keeps a limit exact across nodes without SERIALIZABLE's aborts, which under many concurrent reservations of one
/// hot budget would make most of them retry. A deadlock (two rules locking the same rows in another order) rolls
/// one back; it runs again.
public final class PostgresCatalog: Catalog {
    /// Where export files go by default (a local directory: shared export storage is not built yet).
    public let directory: String?
    /// The PostgreSQL schema holding the tables.
    public let schema: String
    let connections: PostgresConnections
    /// The connection holding this node's deployment locks (`PostgresCatalog+Leases.swift`).
    let lockSession: PostgresLockSession
    /// Key changes made through this catalog object (`revision()`).
    let keyChanges = Atomic<UInt64>(0)

    /// How often `write` runs a transaction again after a deadlock or serialization failure.
    static let retries = 10

    /// Connects to the server at `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`), creating and migrating the
    /// catalog's tables in `schema` when needed. At most `connections` connections are open at once.
    public init(url: String, schema: String = "public", connections: Int = 8, directory: String? = nil) throws {
        let location = try PostgresLocation(url: url)
        self.schema = schema
        self.directory = directory
        self.connections = PostgresConnections(location: location, schema: schema, capacity: connections)
        lockSession = PostgresLockSession(connections: self.connections, schema: schema)
        try self.connections.with { try Self.migrate($0, schema: schema, now: TimeSource.systemWallMillis()) }
    }

    /// The schema version of the catalog's tables.
    public func schemaVersion() throws -> Int {
        try connections.with { try $0.rows("SELECT COALESCE(MAX(version), 0) FROM schema_version").first?.decode(Int.self) ?? 0 }
    }

    /// Counts this process's key changes only: another node's revocation is not seen without a round trip to the
    /// server, so a key cached on this node may outlive its revocation elsewhere by `AnalyticsOptions.keyCacheSeconds`
    /// at most (docs/ARCHITECTURE.md, "API keys").
    public func revision() -> CatalogRevision? {
        CatalogRevision(value: keyChanges.load(ordering: .acquiring), coversOtherWriters: false)
    }

    /// Runs one statement on the catalog's schema (tests and diagnostics).
    package func execute(_ sql: String) throws {
        try session { try $0.run(PostgresQuery(unsafeSQL: sql)) }
    }

    public func write<T>(_ body: (any CatalogTransaction) throws -> T) throws -> T {
        var attempt = 0
        while true {
            do {
                return try transaction { try body(PostgresCatalogTransaction(session: $0)) }
            } catch let error as PostgresCatalogError where error.isRetryable && attempt < Self.retries {
                attempt += 1
            }
        }
    }

    /// Runs `body` in one transaction on one connection.
    func transaction<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        try connections.with { try $0.transaction(body) }
    }

    /// Runs `body` on one connection, each statement its own transaction.
    @discardableResult
    func session<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        try connections.with(body)
    }

    // MARK: Audit

    static func appendAudit(_ s: PostgresSession, at: Int64, actor: String, tenant: String?, action: String, entityType: String,
                            entityID: String, before: String?, after: String?) throws {
        try s.run("""
            INSERT INTO audit_log (at, actor, tenant_id, action, entity_type, entity_id, before_json, after_json)
            VALUES (\(at), \(actor), \(tenant), \(action), \(entityType), \(entityID), \(before), \(after))
            """)
    }

    public func auditEntries(_ filter: AuditFilter) throws -> [AuditEntry] {
        var q = SQL("SELECT * FROM audit_log WHERE TRUE")
        if let tenant = filter.tenant { q.add(" AND tenant_id = ", tenant) }
        if let from = filter.from { q.add(" AND at >= ", from) }
        if let to = filter.to { q.add(" AND at < ", to) }
        if let type = filter.entityType { q.add(" AND entity_type = ", type) }
        if let id = filter.entityID { q.add(" AND entity_id = ", id) }
        if let action = filter.action { q.add(" AND action = ", action) }
        if let before = filter.beforeID { q.add(" AND id < ", before) }
        q.add(" ORDER BY id DESC LIMIT ", max(0, filter.limit))
        return try session { try $0.rows(q.query).map(Rows.audit) }
    }

    // MARK: Locks

    /// Takes a transaction-level advisory lock on `key` (released at commit or rollback): serializes the rules that
    /// read then write rows no single row lock covers (a tenant's anomaly series, a row that may not exist yet).
    static func lock(_ s: PostgresSession, _ key: String) throws {
        try s.run("SELECT pg_advisory_xact_lock(hashtextextended(\(key), 0))")
    }
}

/// A statement built piece by piece, with `$n` parameters.
struct SQL {
    var text: String
    var binds = PostgresBindings()

    init(_ text: String) { self.text = text }

    /// Appends `text` then a parameter holding `value`.
    mutating func add<V: PostgresDynamicTypeEncodable>(_ text: String, _ value: V) {
        binds.append(value)
        self.text += text + "$\(binds.count)"
    }

    mutating func add(_ text: String) { self.text += text }

    var query: PostgresQuery { PostgresQuery(unsafeSQL: text, binds: binds) }
}
