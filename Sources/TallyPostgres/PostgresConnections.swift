import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// Where a `PostgresCatalog` connects: parsed from `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`.
public struct PostgresLocation: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String

    /// Parses a `postgres://` (or `postgresql://`) URL; TLS is not supported yet (`sslmode` other than `disable`
    /// is refused rather than silently ignored).
    public init(url: String) throws {
        guard let components = URLComponents(string: url), let scheme = components.scheme,
              scheme == "postgres" || scheme == "postgresql" else {
            throw PostgresCatalogError.badURL(url, reason: "expected postgres://USER@HOST:PORT/DATABASE")
        }
        guard let host = components.host, !host.isEmpty else { throw PostgresCatalogError.badURL(url, reason: "no host") }
        guard let user = components.user, !user.isEmpty else { throw PostgresCatalogError.badURL(url, reason: "no user") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw PostgresCatalogError.badURL(url, reason: "no database") }
        for item in components.queryItems ?? [] {
            guard item.name == "sslmode", item.value == "disable" else {
                throw PostgresCatalogError.badURL(url, reason: "unsupported parameter \(item.name) (only sslmode=disable)")
            }
        }
        self.host = host
        port = components.port ?? 5432
        self.user = user.removingPercentEncoding ?? user
        password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database.removingPercentEncoding ?? database
    }
}

/// Errors of the PostgreSQL catalog itself (what the server said, or a URL it cannot use).
public enum PostgresCatalogError: Error, CustomStringConvertible, Sendable {
    /// The server refused a statement: SQLSTATE `sqlState` with its message.
    case server(sqlState: String, message: String)
    /// The connection failed or closed.
    case connection(String)
    case badURL(String, reason: String)
    /// The schema was migrated by a newer Tally than this one.
    case schemaTooNew(found: Int, known: Int)

    public var description: String {
        switch self {
        case let .server(state, message): "PostgreSQL error \(state): \(message)"
        case let .connection(message): "PostgreSQL connection failed: \(message)"
        case let .badURL(url, reason): "bad PostgreSQL URL \(url.debugDescription): \(reason)"
        case let .schemaTooNew(found, known):
            "the catalog schema is at version \(found), newer than this tally knows (\(known)); upgrade tally"
        }
    }

    /// SQLSTATE of a server error.
    var sqlState: String? {
        if case let .server(state, _) = self { state } else { nil }
    }

    /// A deadlock or serialization failure: the transaction was rolled back and may simply run again.
    var isRetryable: Bool { sqlState == "40P01" || sqlState == "40001" }
    var isUniqueViolation: Bool { sqlState == "23505" }

    /// The error postgres-nio reported, as one of ours (PSQLError hides the server's message from `description`).
    static func from(_ error: any Error) -> any Error {
        guard let e = error as? PSQLError else { return error }
        if e.code == .server, let info = e.serverInfo {
            return PostgresCatalogError.server(sqlState: info[.sqlState] ?? "?????", message: info[.message] ?? "")
        }
        return PostgresCatalogError.connection("\(e.code)" + (e.underlying.map { ": \($0)" } ?? ""))
    }
}

/// One connection lent to a caller: runs statements and waits for their answers (callers are blocking threads).
struct PostgresSession {
    let connection: PostgresConnection
    let logger: Logger

    /// The rows `query` returns.
    func rows(_ query: PostgresQuery) throws -> [PostgresRow] {
        do {
            return try connection.query(query, logger: logger).wait().rows
        } catch {
            throw PostgresCatalogError.from(error)
        }
    }

    /// Runs `query`; returns the rows it changed.
    @discardableResult
    func run(_ query: PostgresQuery) throws -> Int {
        do {
            return try connection.query(query, logger: logger).wait().metadata.rows ?? 0
        } catch {
            throw PostgresCatalogError.from(error)
        }
    }

    /// Runs `body` between BEGIN and COMMIT; ROLLBACK when it throws.
    func transaction<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        try run("BEGIN")
        let value: T
        do {
            value = try body(self)
        } catch {
            do {
                try run("ROLLBACK")
            } catch {
                // The connection is in no known state: close it, so the pool drops it.
                try? connection.close().wait()
            }
            throw error
        }
        try run("COMMIT")
        return value
    }
}

/// A fixed number of connections shared by the threads of one catalog: a caller takes one (opening it on first
/// use, waiting while all are busy) and gives it back; a connection that failed is closed and replaced later.
final class PostgresConnections: @unchecked Sendable {
    let configuration: PostgresConnection.Configuration
    private let schema: String
    private let capacity: Int
    let logger: Logger
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var idle: [PostgresConnection] = []
    private var open = 0
    private var nextID = 0

    init(location: PostgresLocation, schema: String, capacity: Int) {
        configuration = PostgresConnection.Configuration(
            host: location.host, port: location.port, username: location.user, password: location.password,
            database: location.database, tls: .disable)
        self.schema = schema
        self.capacity = max(1, capacity)
        var logger = Logger(label: "tally.postgres")
        logger.logLevel = .warning
        self.logger = logger
    }

    deinit {
        for c in idle { c.close().whenComplete { _ in _ = c } }
    }

    /// Runs `body` on a connection of the pool.
    func with<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        let connection = try take()
        let session = PostgresSession(connection: connection, logger: logger)
        do {
            let value = try body(session)
            give(connection)
            return value
        } catch {
            give(connection)
            throw error
        }
    }

    private func take() throws -> PostgresConnection {
        condition.lock()
        while idle.isEmpty && open >= capacity { condition.wait() }
        if let c = idle.popLast() {
            condition.unlock()
            return c
        }
        open += 1
        nextID += 1
        let id = nextID
        condition.unlock()
        do {
            return try connect(id: id)
        } catch {
            condition.lock()
            open -= 1
            condition.signal()
            condition.unlock()
            throw error
        }
    }

    private func give(_ connection: PostgresConnection) {
        condition.lock()
        if connection.isClosed {
            open -= 1
        } else {
            idle.append(connection)
        }
        condition.signal()
        condition.unlock()
    }

    private func connect(id: Int) throws -> PostgresConnection {
        let connection: PostgresConnection
        do {
            connection = try PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration, id: id, logger: logger).wait()
        } catch {
            throw PostgresCatalogError.from(error)
        }
        do {
            // Every statement names its tables unqualified: the catalog's schema comes first on the search path.
            try PostgresSession(connection: connection, logger: logger)
                .run(PostgresQuery(unsafeSQL: "SET search_path TO \(Self.quoted(schema))"))
        } catch {
            connection.close().whenComplete { _ in _ = connection }
            throw error
        }
        return connection
    }

    /// `name` as a quoted SQL identifier.
    static func quoted(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
