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

extension SQLiteCatalog {
    public func idempotentAnswer(scope: String, key: String, now: Int64 = TimeSource.systemWallMillis()) throws -> IdempotentAnswer? {
        try pool.read { db in
            try IdempotentAnswerRecord.fetchOne(
                db, sql: "SELECT * FROM idempotent_answers WHERE scope = ? AND key = ? AND created_at > ?",
                arguments: [scope, key, now - Self.idempotencyRetentionMillis])?.answer
        }
    }

    public func saveIdempotentAnswer(scope: String, key: String, answer: IdempotentAnswer) throws {
        try pool.write { db in
            try db.execute(
                sql: "DELETE FROM idempotent_answers WHERE created_at <= ?",
                arguments: [answer.createdAt - Self.idempotencyRetentionMillis])
            try IdempotentAnswerRecord(scope: scope, key: key, answer: answer).insert(db, onConflict: .ignore)
        }
    }
}
