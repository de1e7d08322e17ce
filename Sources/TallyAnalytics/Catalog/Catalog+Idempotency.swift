import Foundation
import GRDB
import TallyStore

/// The first answer to a request sent with an `Idempotency-Key`, kept so a retry gets the same answer.
public struct IdempotentAnswer: Sendable, Equatable {
    /// SHA-256 of what identifies the request (method, path, query, content type, body).
    public var fingerprint: [UInt8]
    /// HTTP status of the first answer.
    public var status: Int
    /// Its media type.
    public var contentType: String
    /// Its body.
    public var body: [UInt8]
    /// When it was first answered, ms UTC.
    public var createdAt: Int64

    /// An answer.
    public init(fingerprint: [UInt8], status: Int, contentType: String, body: [UInt8], createdAt: Int64) {
        self.fingerprint = fingerprint
        self.status = status
        self.contentType = contentType
        self.body = body
        self.createdAt = createdAt
    }
}

extension Catalog {
    /// How long answers are kept: a retry later than this is a new request.
    public static let idempotencyRetentionMillis: Int64 = 24 * 3_600_000

    /// The answer stored for `key` in `scope` (a tenant, or `*` for admin keys), if it is still kept.
    public func idempotentAnswer(scope: String, key: String, now: Int64 = TimeSource.systemWallMillis()) throws -> IdempotentAnswer? {
        try pool.read { db in
            try Row.fetchOne(
                db,
                sql: "SELECT fingerprint, status, content_type, body, created_at FROM idempotent_answers "
                    + "WHERE scope = ? AND key = ? AND created_at > ?",
                arguments: [scope, key, now - Self.idempotencyRetentionMillis]
            ).map { row in
                IdempotentAnswer(
                    fingerprint: [UInt8](row["fingerprint"] as Data), status: row["status"], contentType: row["content_type"],
                    body: [UInt8](row["body"] as Data), createdAt: row["created_at"])
            }
        }
    }

    /// Keeps the first answer for `key` in `scope` (a later save for the same key is ignored) and drops expired ones.
    public func saveIdempotentAnswer(scope: String, key: String, answer: IdempotentAnswer) throws {
        try pool.write { db in
            try db.execute(
                sql: "DELETE FROM idempotent_answers WHERE created_at <= ?",
                arguments: [answer.createdAt - Self.idempotencyRetentionMillis])
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO idempotent_answers (scope, key, fingerprint, status, content_type, body, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [scope, key, Data(answer.fingerprint), answer.status, answer.contentType, Data(answer.body), answer.createdAt])
        }
    }
}
