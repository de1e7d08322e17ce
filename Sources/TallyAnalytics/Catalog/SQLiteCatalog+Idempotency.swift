import Foundation
import GRDB
import TallyStore

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
