import GRDB
import TallyStore

#if canImport(Glibc)
import Glibc
#endif

/// The small mutable catalog beside the store: API keys, idempotent answers and budgets, in SQLite (`catalog.sqlite`).
///
/// WAL mode with a busy timeout, so `tally keys` can change keys while `tally serve` reads them: the
/// server looks every key up on each request, so a revoked key stops working at once.
public final class Catalog: Sendable {
    /// The SQLite file.
    public let path: String
    let pool: DatabasePool

    /// The catalog file of a data directory.
    public static func path(in directory: String) -> String { directory + "/catalog.sqlite" }

    /// Opens (creating and migrating if needed) the catalog of the data directory `directory`.
    public init(directory: String) throws {
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw StoreError.io(path: directory, operation: "mkdir", errno: errno)
        }
        path = Self.path(in: directory)
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.label = "tally-catalog"
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
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
        return m
    }
}
