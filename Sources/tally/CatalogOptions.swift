import ArgumentParser
import Foundation
import TallyAnalytics
import TallyPostgres

/// Where the catalog (keys, budgets, reservations, anomalies, incidents, webhooks, exports, audit log) lives.
enum CatalogKind: String, ExpressibleByArgument, CaseIterable {
    /// DIR/catalog.sqlite beside the store: one node.
    case sqlite
    /// A PostgreSQL database shared by every node of a deployment.
    case postgres
}

/// `--catalog sqlite|postgres` and `--postgres-url`, for every command that reads or writes the catalog. Without the
/// flags, the environment (`TALLY_CATALOG`, `TALLY_POSTGRES_URL`), the usual way to configure a server in a
/// container; without either, the SQLite catalog of the data directory.
struct CatalogOptions: ParsableArguments {
    @Option(name: .customLong("catalog"),
            help: "Where keys, budgets and other state live: sqlite (DIR/catalog.sqlite, the default) or postgres (shared by several nodes). Default: $TALLY_CATALOG.")
    var kindOption: CatalogKind?

    @Option(name: .customLong("postgres-url"),
            help: "With --catalog postgres: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE. Default: $TALLY_POSTGRES_URL.")
    var postgresURLOption: String?

    @Option(name: .customLong("postgres-schema"), help: "With --catalog postgres: the schema holding the catalog's tables.")
    var postgresSchema = "public"

    private static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// The catalog chosen by flag, else by environment, else SQLite.
    func kind() throws -> CatalogKind {
        if let kindOption { return kindOption }
        guard let value = Self.environment["TALLY_CATALOG"], !value.isEmpty else { return .sqlite }
        guard let kind = CatalogKind(rawValue: value) else {
            throw ValidationError("TALLY_CATALOG must be sqlite or postgres, not \(value.debugDescription)")
        }
        return kind
    }

    /// The PostgreSQL URL, by flag, else by environment.
    var postgresURL: String? {
        postgresURLOption ?? Self.environment["TALLY_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Checks that the chosen catalog has what it needs: a data directory (`data`) for SQLite, a URL for PostgreSQL.
    func check(data: String?) throws {
        switch try kind() {
        case .sqlite:
            if data == nil { throw ValidationError("pass --data DIR (or --catalog postgres --postgres-url URL)") }
            if postgresURLOption != nil { throw ValidationError("--postgres-url needs --catalog postgres") }
        case .postgres:
            guard let url = postgresURL else { throw ValidationError("--catalog postgres needs --postgres-url (or TALLY_POSTGRES_URL)") }
            do {
                _ = try PostgresLocation(url: url)
            } catch {
                throw ValidationError("--postgres-url: \(error)")
            }
        }
    }

    /// Opens the chosen catalog (a PostgreSQL one is created and migrated on first use). `data` is the data directory:
    /// the SQLite catalog's, and where export files go by default.
    func open(data: String?) throws -> any Catalog {
        try check(data: data)
        switch try kind() {
        case .sqlite:
            return try SQLiteCatalog(directory: data ?? ".")
        case .postgres:
            return try PostgresCatalog(url: postgresURL ?? "", schema: postgresSchema, directory: data)
        }
    }
}
