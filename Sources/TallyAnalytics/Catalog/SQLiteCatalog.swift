import GRDB
import TallyStore

#if canImport(Glibc)
import Glibc
#endif

/// The embedded `Catalog`: one SQLite file (`catalog.sqlite`) in the data directory, read and written through GRDB
/// record types (`SQLiteCatalog+Records.swift`), with page checksums.
///
/// WAL mode with a busy timeout, so `tally keys` can change keys while `tally serve` reads them. The server keeps
/// the keys it verified in memory, but uses one only while the file's data version (`revision()`) is unchanged, and
/// any commit of any process changes it: a revoked key stops working at once.
public final class SQLiteCatalog: Catalog {
    /// The SQLite file.
    public let path: String
    /// The data directory the file lives in.
    public let directory: String?
    let pool: DatabasePool
    /// The job leases (`SQLiteCatalog+Leases.swift`).
    let leases = LocalLeases()
    /// The deployment's locks, which on one node are the process's.
    let locks = LocalLocks()
    /// What `revision()` reads (`SQLiteCatalog+Revision.swift`).
    let dataVersion: SQLiteDataVersion

    /// The catalog file of a data directory.
    public static func path(in directory: String) -> String { directory + "/catalog.sqlite" }

    /// Opens (creating and migrating if needed) the catalog of the data directory `directory`.
    public init(directory: String) throws {
        try FileIO.makeDirectory(directory)
        path = Self.path(in: directory)
        self.directory = directory
        try Self.registerPageChecksums()
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.label = "tally-catalog"
        configuration.prepareDatabase { db in try SQLiteCatalog.reservePageChecksumBytes(db) }
        var pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
        if try !pool.read(Self.hasPageChecksums) {
            // A catalog written before page checksums: VACUUM rewrites every page with the reserved bytes, and
            // connections opened before it must not keep the old layout.
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "VACUUM")
                try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            }
            try pool.close()
            pool = try DatabasePool(path: path, configuration: configuration)
            guard try pool.read(Self.hasPageChecksums) else {
                throw DatabaseError(resultCode: .SQLITE_CANTOPEN, message: "\(path): cannot add page checksums to the catalog")
            }
        }
        self.pool = pool
        dataVersion = SQLiteDataVersion(path: path)
    }

    /// One IMMEDIATE transaction (GRDB's kind for a pool write): it takes the write lock at its start, so a rule's
    /// reads cannot be overtaken by another process's write (`tally keys`) before it commits.
    public func write<T>(_ body: (any CatalogTransaction) throws -> T) throws -> T {
        try pool.write { db in try body(SQLiteCatalogTransaction(db: db)) }
    }

    /// SQLite's `PRAGMA integrity_check` of the catalog of `directory`, opened read-only (nothing is written):
    /// the problems found, none when the file is sound or absent.
    public static func integrityProblems(directory: String) -> [String] {
        let path = Self.path(in: directory)
        guard FileIO.exists(path) else { return [] }
        do {
            // Through the page-checksum VFS: integrity_check reads every page of every table and index.
            try registerPageChecksums()
            var configuration = Configuration()
            configuration.readonly = true
            configuration.busyMode = .timeout(5)
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            let rows = try queue.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
            return rows == ["ok"] ? [] : rows
        } catch {
            return ["\(path) cannot be read as a SQLite database: \(error)"]
        }
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1: api keys and idempotent answers") { db in
            try db.execute(sql: """
                CREATE TABLE api_keys (
                    id            TEXT PRIMARY KEY NOT NULL,
                    tenant_id     TEXT,
                    role          TEXT NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
                    secret_sha256 BLOB NOT NULL UNIQUE,
                    created_at    INTEGER NOT NULL,
                    revoked_at    INTEGER,
                    CHECK ((role = 'admin') = (tenant_id IS NULL))
                );
                CREATE TABLE idempotent_answers (
                    scope        TEXT NOT NULL,
                    key          TEXT NOT NULL,
                    fingerprint  BLOB NOT NULL,
                    status       INTEGER NOT NULL,
                    content_type TEXT NOT NULL,
                    body         BLOB NOT NULL,
                    created_at   INTEGER NOT NULL,
                    PRIMARY KEY (scope, key)
                );
                CREATE INDEX idempotent_answers_created_at ON idempotent_answers (created_at);
                """)
        }
        m.registerMigration("v2: budgets") { db in
            // subject: the feature tag or user id limited, '' for a tenant budget (so UNIQUE sees it).
            try db.execute(sql: """
                CREATE TABLE budgets (
                    id          TEXT PRIMARY KEY NOT NULL,
                    tenant_id   TEXT NOT NULL,
                    level       TEXT NOT NULL CHECK (level IN ('tenant', 'feature', 'user')),
                    subject     TEXT NOT NULL,
                    period      TEXT NOT NULL CHECK (period IN ('daily', 'monthly')),
                    limit_nanos INTEGER NOT NULL CHECK (limit_nanos > 0),
                    warn_ratio  REAL NOT NULL CHECK (warn_ratio > 0 AND warn_ratio <= 1),
                    enforce     INTEGER NOT NULL CHECK (enforce IN (0, 1)),
                    created_at  INTEGER NOT NULL,
                    updated_at  INTEGER NOT NULL,
                    created_by  TEXT NOT NULL,
                    CHECK ((level = 'tenant') = (subject = '')),
                    UNIQUE (tenant_id, level, subject, period)
                );
                """)
        }
        m.registerMigration("audit log") { db in
            // Append-only: who (key id, or 'cli') changed what, when, with the entity before and after as JSON.
            try db.execute(sql: """
                CREATE TABLE audit_log (
                    id          INTEGER PRIMARY KEY AUTOINCREMENT,
                    at          INTEGER NOT NULL,
                    actor       TEXT NOT NULL,
                    tenant_id   TEXT,
                    action      TEXT NOT NULL,
                    entity_type TEXT NOT NULL,
                    entity_id   TEXT NOT NULL,
                    before_json TEXT,
                    after_json  TEXT
                );
                CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id);
                CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id, id);
                """)
        }
        m.registerMigration("anomalies, incidents and webhooks") { db in
            // subject: the feature tag or user id of the entity, '' for the tenant (as in budgets).
            // budget_id: the budget of a BUDGET_* anomaly, '' otherwise; period_start its period.
            try db.execute(sql: """
                CREATE TABLE incidents (
                    id              TEXT PRIMARY KEY NOT NULL,
                    tenant_id       TEXT NOT NULL,
                    status          TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
                    severity        TEXT NOT NULL,
                    title           TEXT NOT NULL,
                    opened_at       INTEGER NOT NULL,
                    acknowledged_at INTEGER,
                    acknowledged_by TEXT,
                    resolved_at     INTEGER,
                    resolved_by     TEXT,
                    updated_at      INTEGER NOT NULL
                );
                CREATE INDEX incidents_tenant ON incidents (tenant_id, opened_at);
                CREATE TABLE anomalies (
                    id             TEXT PRIMARY KEY NOT NULL,
                    tenant_id      TEXT NOT NULL,
                    type           TEXT NOT NULL
                        CHECK (type IN ('ABSOLUTE_SPIKE', 'SUSTAINED_DRIFT', 'BUDGET_WARNING', 'BUDGET_EXCEEDED')),
                    severity       TEXT NOT NULL CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH')),
                    level          TEXT NOT NULL CHECK (level IN ('tenant', 'feature', 'user')),
                    subject        TEXT NOT NULL,
                    budget_id      TEXT NOT NULL,
                    first_day      INTEGER NOT NULL,
                    last_day       INTEGER NOT NULL,
                    expected_nanos INTEGER NOT NULL,
                    actual_nanos   INTEGER NOT NULL,
                    status         TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
                    resolved_at    INTEGER,
                    resolved_by    TEXT,
                    incident_id    TEXT REFERENCES incidents (id),
                    detected_at    INTEGER NOT NULL,
                    updated_at     INTEGER NOT NULL,
                    CHECK ((level = 'tenant') = (subject = '')),
                    CHECK (first_day <= last_day)
                );
                CREATE INDEX anomalies_entity ON anomalies (tenant_id, type, level, subject, budget_id, last_day);
                CREATE INDEX anomalies_tenant_days ON anomalies (tenant_id, first_day);
                CREATE INDEX anomalies_incident ON anomalies (incident_id);
                CREATE TABLE anomaly_drivers (
                    anomaly_id     TEXT NOT NULL REFERENCES anomalies (id) ON DELETE CASCADE,
                    rank           INTEGER NOT NULL,
                    dimension      TEXT NOT NULL,
                    value          TEXT NOT NULL,
                    expected_nanos INTEGER NOT NULL,
                    actual_nanos   INTEGER NOT NULL,
                    share_ppm      INTEGER,
                    PRIMARY KEY (anomaly_id, rank)
                );
                CREATE TABLE anomaly_settings (
                    tenant_id           TEXT PRIMARY KEY NOT NULL,
                    spike_factor_ppm    INTEGER NOT NULL,
                    spike_days          INTEGER NOT NULL,
                    baseline_days       INTEGER NOT NULL,
                    drift_factor_ppm    INTEGER NOT NULL,
                    drift_days          INTEGER NOT NULL,
                    drift_window_days   INTEGER NOT NULL,
                    minimum_daily_nanos INTEGER NOT NULL,
                    low_percent         INTEGER NOT NULL,
                    medium_percent      INTEGER NOT NULL,
                    high_percent        INTEGER NOT NULL,
                    updated_at          INTEGER NOT NULL,
                    updated_by          TEXT NOT NULL
                );
                CREATE TABLE webhooks (
                    tenant_id  TEXT PRIMARY KEY NOT NULL,
                    url        TEXT NOT NULL,
                    secret     TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    updated_by TEXT NOT NULL
                );
                CREATE TABLE webhook_deliveries (
                    id              TEXT PRIMARY KEY NOT NULL,
                    tenant_id       TEXT NOT NULL,
                    incident_id     TEXT NOT NULL,
                    event           TEXT NOT NULL,
                    body            TEXT NOT NULL,
                    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
                    attempts        INTEGER NOT NULL,
                    next_attempt_at INTEGER NOT NULL,
                    last_error      TEXT,
                    created_at      INTEGER NOT NULL,
                    delivered_at    INTEGER
                );
                CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
                """)
        }
        m.registerMigration("exports") { db in
            // request_json: the export's parameters as the API echoes them; file: name under <data>/exports.
            try db.execute(sql: """
                CREATE TABLE exports (
                    id           TEXT PRIMARY KEY NOT NULL,
                    tenant_id    TEXT NOT NULL,
                    kind         TEXT NOT NULL CHECK (kind IN ('records', 'usage', 'cost')),
                    format       TEXT NOT NULL CHECK (format IN ('csv', 'ndjson', 'json')),
                    request_json TEXT NOT NULL,
                    status       TEXT NOT NULL CHECK (status IN ('pending', 'running', 'ready', 'failed', 'expired')),
                    file         TEXT NOT NULL,
                    rows         INTEGER NOT NULL DEFAULT 0,
                    bytes        INTEGER NOT NULL DEFAULT 0,
                    error        TEXT,
                    created_by   TEXT NOT NULL,
                    created_at   INTEGER NOT NULL,
                    completed_at INTEGER,
                    expires_at   INTEGER NOT NULL
                );
                CREATE INDEX exports_tenant ON exports (tenant_id, created_at);
                CREATE INDEX exports_expiry ON exports (status, expires_at);
                """)
        }
        m.registerMigration("policy reservations") { db in
            // state: active, settled or cancelled; an active one past expires_at is expired and holds nothing.
            // budget_ids: the enforced budgets it was checked against when made, comma-separated.
            try db.execute(sql: """
                CREATE TABLE reservations (
                    id              TEXT PRIMARY KEY NOT NULL,
                    tenant_id       TEXT NOT NULL,
                    user_id         TEXT,
                    feature_tag     TEXT,
                    estimated_nanos INTEGER NOT NULL CHECK (estimated_nanos >= 0),
                    state           TEXT NOT NULL CHECK (state IN ('active', 'settled', 'cancelled')),
                    created_at      INTEGER NOT NULL,
                    expires_at      INTEGER NOT NULL,
                    released_at     INTEGER,
                    actual_nanos    INTEGER,
                    budget_ids      TEXT NOT NULL,
                    created_by      TEXT NOT NULL
                );
                CREATE INDEX reservations_open ON reservations (tenant_id, state, expires_at);
                """)
        }
        m.registerMigration("feature tags") { db in
            try db.execute(sql: """
                CREATE TABLE feature_tags (
                    id          TEXT PRIMARY KEY NOT NULL,
                    tenant_id   TEXT NOT NULL,
                    tag         TEXT NOT NULL,
                    description TEXT NOT NULL,
                    owner       TEXT NOT NULL,
                    created_at  INTEGER NOT NULL,
                    updated_at  INTEGER NOT NULL,
                    created_by  TEXT NOT NULL,
                    UNIQUE (tenant_id, tag)
                );
                """)
        }
        m.registerMigration("alert channels") { db in
            // kind slack: url is the incoming-webhook URL; kind email: the smtp_* columns, mail_from, and mail_to
            // (addresses separated by newlines). series: an anomaly's rule, level, subject and budget (`AlertRules`).
            try db.execute(sql: """
                CREATE TABLE alert_channels (
                    id            TEXT PRIMARY KEY NOT NULL,
                    tenant_id     TEXT NOT NULL,
                    name          TEXT NOT NULL,
                    kind          TEXT NOT NULL CHECK (kind IN ('slack', 'email')),
                    url           TEXT NOT NULL,
                    smtp_host     TEXT,
                    smtp_port     INTEGER,
                    smtp_username TEXT,
                    smtp_password TEXT,
                    mail_from     TEXT,
                    mail_to       TEXT,
                    min_severity  TEXT NOT NULL CHECK (min_severity IN ('LOW', 'MEDIUM', 'HIGH')),
                    quiet_millis  INTEGER NOT NULL,
                    enabled       INTEGER NOT NULL,
                    created_at    INTEGER NOT NULL,
                    updated_at    INTEGER NOT NULL,
                    updated_by    TEXT NOT NULL
                );
                CREATE INDEX alert_channels_tenant ON alert_channels (tenant_id, created_at);
                CREATE TABLE alert_deliveries (
                    id              TEXT PRIMARY KEY NOT NULL,
                    channel_id      TEXT NOT NULL,
                    tenant_id       TEXT NOT NULL,
                    anomaly_id      TEXT NOT NULL,
                    series          TEXT NOT NULL,
                    severity        TEXT NOT NULL CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH')),
                    subject         TEXT NOT NULL,
                    body            TEXT NOT NULL,
                    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
                    attempts        INTEGER NOT NULL,
                    next_attempt_at INTEGER NOT NULL,
                    last_error      TEXT,
                    created_at      INTEGER NOT NULL,
                    delivered_at    INTEGER
                );
                CREATE INDEX alert_deliveries_due ON alert_deliveries (state, next_attempt_at);
                CREATE INDEX alert_deliveries_series ON alert_deliveries (channel_id, series, created_at);
                """)
        }
        m.registerMigration("anomaly entity drivers and provisional anomalies") { db in
            // provisional: raised on a day not yet complete (intraday), until confirmed or withdrawn.
            // anomaly_entity_drivers: the feature and user findings grouped under a tenant anomaly.
            try db.execute(sql: """
                ALTER TABLE anomalies ADD COLUMN provisional INTEGER NOT NULL DEFAULT 0;
                CREATE TABLE anomaly_entity_drivers (
                    anomaly_id     TEXT NOT NULL REFERENCES anomalies (id) ON DELETE CASCADE,
                    rank           INTEGER NOT NULL,
                    level          TEXT NOT NULL CHECK (level IN ('feature', 'user')),
                    subject        TEXT NOT NULL,
                    type           TEXT NOT NULL,
                    severity       TEXT NOT NULL,
                    first_day      INTEGER NOT NULL,
                    last_day       INTEGER NOT NULL,
                    expected_nanos INTEGER NOT NULL,
                    actual_nanos   INTEGER NOT NULL,
                    share_ppm      INTEGER,
                    PRIMARY KEY (anomaly_id, rank)
                );
                """)
        }
        return m
    }
}
