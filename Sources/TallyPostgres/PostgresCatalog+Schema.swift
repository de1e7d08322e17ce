import PostgresNIO
import TallyStore

/// The catalog's tables on PostgreSQL: the same sixteen tables as `SQLiteCatalog`, with the same meaning, plus
/// `job_leases` (which the embedded catalog keeps in its process). Money is BIGINT nano-dollars, times BIGINT ms UTC,
/// enums TEXT with CHECKs. Text columns that lists are ordered by collate "C" (byte order, as SQLite's BINARY), so
/// every server orders them alike whatever its locale.
///
/// Versioned migrations: `schema_version` holds one row per applied migration. A node applies the missing ones in
/// one transaction under an advisory lock, so nodes starting together migrate once; a schema newer than this code
/// knows is refused.
extension PostgresCatalog {
    /// A migration: its version (1, 2, ...), what it does, and its statements (one per string: the extended
    /// protocol takes one statement at a time).
    struct Migration {
        let version: Int
        let description: String
        let statements: [String]
    }

    /// TEXT compared and ordered byte by byte.
    private static let text = #"TEXT COLLATE "C""#

    static let migrations: [Migration] = [
        Migration(version: 1, description: "the catalog's thirteen tables", statements: [
            """
            CREATE TABLE api_keys (
                id            \(text) PRIMARY KEY,
                tenant_id     \(text),
                role          \(text) NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
                secret_sha256 BYTEA NOT NULL UNIQUE,
                created_at    BIGINT NOT NULL,
                revoked_at    BIGINT,
                CHECK ((role = 'admin') = (tenant_id IS NULL))
            )
            """,
            """
            CREATE TABLE idempotent_answers (
                scope        \(text) NOT NULL,
                key          \(text) NOT NULL,
                fingerprint  BYTEA NOT NULL,
                status       INTEGER NOT NULL,
                content_type TEXT NOT NULL,
                body         BYTEA NOT NULL,
                created_at   BIGINT NOT NULL,
                PRIMARY KEY (scope, key)
            )
            """,
            "CREATE INDEX idempotent_answers_created_at ON idempotent_answers (created_at)",
            // subject: the feature tag or user id limited, '' for a tenant budget (so UNIQUE sees it).
            """
            CREATE TABLE budgets (
                id          \(text) PRIMARY KEY,
                tenant_id   \(text) NOT NULL,
                level       \(text) NOT NULL CHECK (level IN ('tenant', 'feature', 'user')),
                subject     \(text) NOT NULL,
                period      \(text) NOT NULL CHECK (period IN ('daily', 'monthly')),
                limit_nanos BIGINT NOT NULL CHECK (limit_nanos > 0),
                warn_ratio  DOUBLE PRECISION NOT NULL CHECK (warn_ratio > 0 AND warn_ratio <= 1),
                enforce     BOOLEAN NOT NULL,
                created_at  BIGINT NOT NULL,
                updated_at  BIGINT NOT NULL,
                created_by  TEXT NOT NULL,
                CHECK ((level = 'tenant') = (subject = '')),
                UNIQUE (tenant_id, level, subject, period)
            )
            """,
            // Append-only: who (key id, or 'cli') changed what, when, with the entity before and after as JSON.
            """
            CREATE TABLE audit_log (
                id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                at          BIGINT NOT NULL,
                actor       TEXT NOT NULL,
                tenant_id   \(text),
                action      \(text) NOT NULL,
                entity_type \(text) NOT NULL,
                entity_id   \(text) NOT NULL,
                before_json TEXT,
                after_json  TEXT
            )
            """,
            "CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id)",
            "CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id, id)",
            """
            CREATE TABLE incidents (
                id              \(text) PRIMARY KEY,
                tenant_id       \(text) NOT NULL,
                status          \(text) NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
                severity        TEXT NOT NULL,
                title           TEXT NOT NULL,
                opened_at       BIGINT NOT NULL,
                acknowledged_at BIGINT,
                acknowledged_by TEXT,
                resolved_at     BIGINT,
                resolved_by     TEXT,
                updated_at      BIGINT NOT NULL
            )
            """,
            "CREATE INDEX incidents_tenant ON incidents (tenant_id, opened_at)",
            // subject: the feature tag or user id of the entity, '' for the tenant (as in budgets).
            // budget_id: the budget of a BUDGET_* anomaly, '' otherwise. The incident reference is checked at commit,
            // so a rule may save an anomaly before the incident it joins.
            """
            CREATE TABLE anomalies (
                id             \(text) PRIMARY KEY,
                tenant_id      \(text) NOT NULL,
                type           \(text) NOT NULL
                    CHECK (type IN ('ABSOLUTE_SPIKE', 'SUSTAINED_DRIFT', 'BUDGET_WARNING', 'BUDGET_EXCEEDED')),
                severity       \(text) NOT NULL CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH')),
                level          \(text) NOT NULL CHECK (level IN ('tenant', 'feature', 'user')),
                subject        \(text) NOT NULL,
                budget_id      \(text) NOT NULL,
                first_day      BIGINT NOT NULL,
                last_day       BIGINT NOT NULL,
                expected_nanos BIGINT NOT NULL,
                actual_nanos   BIGINT NOT NULL,
                status         \(text) NOT NULL CHECK (status IN ('open', 'resolved')),
                resolved_at    BIGINT,
                resolved_by    TEXT,
                incident_id    \(text) REFERENCES incidents (id) DEFERRABLE INITIALLY DEFERRED,
                detected_at    BIGINT NOT NULL,
                updated_at     BIGINT NOT NULL,
                CHECK ((level = 'tenant') = (subject = '')),
                CHECK (first_day <= last_day)
            )
            """,
            "CREATE INDEX anomalies_entity ON anomalies (tenant_id, type, level, subject, budget_id, last_day)",
            "CREATE INDEX anomalies_tenant_days ON anomalies (tenant_id, first_day)",
            "CREATE INDEX anomalies_incident ON anomalies (incident_id)",
            """
            CREATE TABLE anomaly_drivers (
                anomaly_id     \(text) NOT NULL REFERENCES anomalies (id) ON DELETE CASCADE,
                rank           INTEGER NOT NULL,
                dimension      TEXT NOT NULL,
                value          TEXT NOT NULL,
                expected_nanos BIGINT NOT NULL,
                actual_nanos   BIGINT NOT NULL,
                share_ppm      BIGINT,
                PRIMARY KEY (anomaly_id, rank)
            )
            """,
            """
            CREATE TABLE anomaly_settings (
                tenant_id           \(text) PRIMARY KEY,
                spike_factor_ppm    BIGINT NOT NULL,
                spike_days          BIGINT NOT NULL,
                baseline_days       BIGINT NOT NULL,
                drift_factor_ppm    BIGINT NOT NULL,
                drift_days          BIGINT NOT NULL,
                drift_window_days   BIGINT NOT NULL,
                minimum_daily_nanos BIGINT NOT NULL,
                low_percent         BIGINT NOT NULL,
                medium_percent      BIGINT NOT NULL,
                high_percent        BIGINT NOT NULL,
                updated_at          BIGINT NOT NULL,
                updated_by          TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE webhooks (
                tenant_id  \(text) PRIMARY KEY,
                url        TEXT NOT NULL,
                secret     TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                updated_by TEXT NOT NULL
            )
            """,
            """
            CREATE TABLE webhook_deliveries (
                id              \(text) PRIMARY KEY,
                tenant_id       \(text) NOT NULL,
                incident_id     \(text) NOT NULL,
                event           TEXT NOT NULL,
                body            TEXT NOT NULL,
                state           \(text) NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
                attempts        INTEGER NOT NULL,
                next_attempt_at BIGINT NOT NULL,
                last_error      TEXT,
                created_at      BIGINT NOT NULL,
                delivered_at    BIGINT
            )
            """,
            "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at)",
            // request_json: the export's parameters as the API echoes them; file: the file's name.
            """
            CREATE TABLE exports (
                id           \(text) PRIMARY KEY,
                tenant_id    \(text) NOT NULL,
                kind         \(text) NOT NULL CHECK (kind IN ('records', 'usage', 'cost')),
                format       \(text) NOT NULL CHECK (format IN ('csv', 'ndjson', 'json')),
                request_json TEXT NOT NULL,
                status       \(text) NOT NULL CHECK (status IN ('pending', 'running', 'ready', 'failed', 'expired')),
                file         TEXT NOT NULL,
                rows         BIGINT NOT NULL DEFAULT 0,
                bytes        BIGINT NOT NULL DEFAULT 0,
                error        TEXT,
                created_by   TEXT NOT NULL,
                created_at   BIGINT NOT NULL,
                completed_at BIGINT,
                expires_at   BIGINT NOT NULL
            )
            """,
            "CREATE INDEX exports_tenant ON exports (tenant_id, created_at)",
            "CREATE INDEX exports_expiry ON exports (status, expires_at)",
            // state: active, settled or cancelled; an active one past expires_at is expired and holds nothing.
            // budget_ids: the enforced budgets it was checked against when made, comma-separated.
            """
            CREATE TABLE reservations (
                id              \(text) PRIMARY KEY,
                tenant_id       \(text) NOT NULL,
                user_id         \(text),
                feature_tag     \(text),
                estimated_nanos BIGINT NOT NULL CHECK (estimated_nanos >= 0),
                state           \(text) NOT NULL CHECK (state IN ('active', 'settled', 'cancelled')),
                created_at      BIGINT NOT NULL,
                expires_at      BIGINT NOT NULL,
                released_at     BIGINT,
                actual_nanos    BIGINT,
                budget_ids      TEXT NOT NULL,
                created_by      TEXT NOT NULL
            )
            """,
            "CREATE INDEX reservations_open ON reservations (tenant_id, state, expires_at)",
            """
            CREATE TABLE feature_tags (
                id          \(text) PRIMARY KEY,
                tenant_id   \(text) NOT NULL,
                tag         \(text) NOT NULL,
                description TEXT NOT NULL,
                owner       TEXT NOT NULL,
                created_at  BIGINT NOT NULL,
                updated_at  BIGINT NOT NULL,
                created_by  TEXT NOT NULL,
                UNIQUE (tenant_id, tag)
            )
            """,
        ]),
        // kind slack: url is the incoming-webhook URL; kind email: the smtp_* columns, mail_from, and mail_to
        // (addresses separated by newlines). series: an anomaly's rule, level, subject and budget (`AlertRules`).
        Migration(version: 2, description: "alert channels and their deliveries", statements: [
            """
            CREATE TABLE alert_channels (
                id            \(text) PRIMARY KEY,
                tenant_id     \(text) NOT NULL,
                name          TEXT NOT NULL,
                kind          \(text) NOT NULL CHECK (kind IN ('slack', 'email')),
                url           TEXT NOT NULL,
                smtp_host     TEXT,
                smtp_port     INTEGER,
                smtp_username TEXT,
                smtp_password TEXT,
                mail_from     TEXT,
                mail_to       TEXT,
                min_severity  \(text) NOT NULL CHECK (min_severity IN ('LOW', 'MEDIUM', 'HIGH')),
                quiet_millis  BIGINT NOT NULL,
                enabled       BOOLEAN NOT NULL,
                created_at    BIGINT NOT NULL,
                updated_at    BIGINT NOT NULL,
                updated_by    TEXT NOT NULL
            )
            """,
            "CREATE INDEX alert_channels_tenant ON alert_channels (tenant_id, created_at)",
            """
            CREATE TABLE alert_deliveries (
                id              \(text) PRIMARY KEY,
                channel_id      \(text) NOT NULL,
                tenant_id       \(text) NOT NULL,
                anomaly_id      \(text) NOT NULL,
                series          \(text) NOT NULL,
                severity        \(text) NOT NULL CHECK (severity IN ('LOW', 'MEDIUM', 'HIGH')),
                subject         TEXT NOT NULL,
                body            TEXT NOT NULL,
                state           \(text) NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
                attempts        INTEGER NOT NULL,
                next_attempt_at BIGINT NOT NULL,
                last_error      TEXT,
                created_at      BIGINT NOT NULL,
                delivered_at    BIGINT
            )
            """,
            "CREATE INDEX alert_deliveries_due ON alert_deliveries (state, next_attempt_at)",
            "CREATE INDEX alert_deliveries_series ON alert_deliveries (channel_id, series, created_at)",
        ]),
        Migration(version: 3, description: "anomaly entity drivers and provisional anomalies", statements: [
            // provisional: raised on a day not yet complete (intraday), until confirmed or withdrawn.
            "ALTER TABLE anomalies ADD COLUMN provisional BOOLEAN NOT NULL DEFAULT FALSE",
            // The feature and user findings grouped under a tenant anomaly.
            """
            CREATE TABLE anomaly_entity_drivers (
                anomaly_id     \(text) NOT NULL REFERENCES anomalies (id) ON DELETE CASCADE,
                rank           INTEGER NOT NULL,
                level          \(text) NOT NULL CHECK (level IN ('feature', 'user')),
                subject        \(text) NOT NULL,
                type           \(text) NOT NULL,
                severity       \(text) NOT NULL,
                first_day      BIGINT NOT NULL,
                last_day       BIGINT NOT NULL,
                expected_nanos BIGINT NOT NULL,
                actual_nanos   BIGINT NOT NULL,
                share_ppm      BIGINT,
                PRIMARY KEY (anomaly_id, rank)
            )
            """,
        ]),
        Migration(version: 4, description: "job leases", statements: [
            // Which node runs a background job (detection, deliveries, export sweeps) until when; see +Leases.
            """
            CREATE TABLE job_leases (
                name       \(text) PRIMARY KEY,
                owner      TEXT NOT NULL,
                expires_at BIGINT NOT NULL
            )
            """,
        ]),
    ]

    /// The newest schema version this code knows.
    static var schemaVersion: Int { migrations.last?.version ?? 0 }

    /// Creates the schema if needed and applies the migrations it lacks, in one transaction; returns the version.
    @discardableResult
    static func migrate(_ session: PostgresSession, schema: String, now: Int64) throws -> Int {
        try session.transaction { s in
            // Nodes starting at once: the first migrates, the others wait here and then find nothing to do.
            try s.run("SELECT pg_advisory_xact_lock(hashtextextended('tally.catalog.migrate.' || \(schema), 0))")
            try s.run(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(PostgresConnections.quoted(schema))"))
            try s.run("""
                CREATE TABLE IF NOT EXISTS schema_version (
                    version     INTEGER PRIMARY KEY,
                    description TEXT NOT NULL,
                    applied_at  BIGINT NOT NULL
                )
                """)
            let current = try s.rows("SELECT COALESCE(MAX(version), 0) FROM schema_version").first?.decode(Int.self) ?? 0
            guard current <= schemaVersion else { throw PostgresCatalogError.schemaTooNew(found: current, known: schemaVersion) }
            for m in migrations where m.version > current {
                for statement in m.statements { try s.run(PostgresQuery(unsafeSQL: statement)) }
                try s.run("INSERT INTO schema_version (version, description, applied_at) VALUES (\(m.version), \(m.description), \(now))")
            }
            return schemaVersion
        }
    }
}
