import Foundation
import TallyAnalytics
import TallyStore
import TallyTestSupport
import Testing

@Suite("Catalog: API keys and idempotent answers")
struct CatalogTests {
    @Test("a created key verifies to its principal; the secret is shown once and stored only as a hash")
    func createAndVerify() async throws {
        try await withTemporaryDirectory(prefix: "tally-catalog") { dir in
            let catalog = try SQLiteCatalog(directory: dir)
            let (key, secret) = try catalog.createKey(tenant: "acme", role: .reader, now: 1_000)
            #expect(secret.hasPrefix("tly_"))
            #expect(secret.utf8.count == 4 + 43)  // 32 random bytes in unpadded base64url
            #expect(secret.utf8.allSatisfy { $0 == 0x2D || $0 == 0x5F || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) })
            #expect(key.id.hasPrefix("key_"))
            #expect(try catalog.verify(secret: secret) == Principal(keyID: key.id, tenant: "acme", role: .reader))
            #expect(try catalog.verify(secret: secret + "x") == nil)
            #expect(try catalog.verify(secret: "") == nil)
            #expect(try catalog.verify(secret: "Bearer " + secret) == nil)
            let (_, other) = try catalog.createKey(tenant: "acme", role: .reader)
            #expect(other != secret)

            // Neither the secret nor its hex appears in the database files.
            let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("catalog.sqlite") }
            for file in files {
                let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/" + file))
                #expect(bytes.range(of: Data(secret.utf8)) == nil)
                #expect(bytes.range(of: Data(secret.dropFirst(4).utf8)) == nil)
            }
        }
    }

    @Test("roles and tenants must agree", arguments: [
        (String?.none, Role.reader), (String?.none, Role.writer), (String?("acme"), Role.admin), (String?("bad tenant"), Role.reader),
        (String?(""), Role.writer), (String?(String(repeating: "a", count: 65)), Role.reader),
    ])
    func invalidKeys(tenant: String?, role: Role) async throws {
        try await withTemporaryDirectory(prefix: "tally-catalog") { dir in
            let catalog = try SQLiteCatalog(directory: dir)
            #expect(throws: AnalyticsError.self) { try catalog.createKey(tenant: tenant, role: role) }
            #expect(try catalog.listKeys().isEmpty)
        }
    }

    @Test("list and revoke; a revoked key no longer verifies, and the catalog survives reopening")
    func listAndRevoke() async throws {
        try await withTemporaryDirectory(prefix: "tally-catalog") { dir in
            let catalog = try SQLiteCatalog(directory: dir)
            let admin = try catalog.createKey(tenant: nil, role: .admin, now: 1)
            let writer = try catalog.createKey(tenant: "acme", role: .writer, now: 2)
            #expect(try catalog.listKeys().map(\.id) == [admin.key.id, writer.key.id])
            let revoked = try #require(try catalog.revokeKey(id: writer.key.id, now: 10))
            #expect(revoked.revokedAt == 10)
            #expect(try catalog.revokeKey(id: writer.key.id, now: 20)?.revokedAt == 10)
            #expect(try catalog.revokeKey(id: "key_missing") == nil)
            #expect(try catalog.verify(secret: writer.secret) == nil)
            #expect(try catalog.verify(secret: admin.secret)?.isAdmin == true)

            let reopened = try SQLiteCatalog(directory: dir)
            #expect(try reopened.listKeys(includeRevoked: false).map(\.id) == [admin.key.id])
            #expect(try reopened.listKeys().count == 2)
            #expect(try reopened.verify(secret: admin.secret)?.tenant == nil)
        }
    }

    @Test("idempotent answers: the first one is kept for a day, per scope")
    func idempotentAnswers() async throws {
        try await withTemporaryDirectory(prefix: "tally-catalog") { dir in
            let catalog = try SQLiteCatalog(directory: dir)
            let day = SQLiteCatalog.idempotencyRetentionMillis
            let first = IdempotentAnswer(fingerprint: [1, 2], status: 200, contentType: "application/json", body: Array("{}".utf8), createdAt: 1_000)
            try catalog.saveIdempotentAnswer(scope: "acme", key: "k", answer: first)
            var second = first
            second.status = 422
            try catalog.saveIdempotentAnswer(scope: "acme", key: "k", answer: second)
            #expect(try catalog.idempotentAnswer(scope: "acme", key: "k", now: 2_000) == first)
            #expect(try catalog.idempotentAnswer(scope: "globex", key: "k", now: 2_000) == nil)
            #expect(try catalog.idempotentAnswer(scope: "acme", key: "k", now: 1_000 + day) == nil)
            // Once expired, the key can be used again.
            var later = first
            later.createdAt = 1_000 + day
            later.status = 201
            try catalog.saveIdempotentAnswer(scope: "acme", key: "k", answer: later)
            #expect(try catalog.idempotentAnswer(scope: "acme", key: "k", now: 2_000 + day)?.status == 201)
        }
    }
}
