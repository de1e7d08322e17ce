import Foundation
import TallyTestSupport
import Testing

/// `tally keys` on the PostgreSQL catalog: an operator creates keys for a cluster with
/// `tally keys create --catalog postgres --postgres-url ... --admin`.
@Suite("tally keys --catalog postgres")
struct PostgresKeysCommandTests {
    static let url: String? = ProcessInfo.processInfo.environment["TALLY_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }

    @Test("create, list and revoke keys in a PostgreSQL catalog; a second process sees the first one's keys",
          .enabled(if: url != nil, "needs TALLY_POSTGRES_URL"))
    func keysOnPostgres() throws {
        let url = try #require(Self.url)
        let schema = "cli_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let flags = ["--catalog", "postgres", "--postgres-url", url, "--postgres-schema", schema]

        let admin = try runTally(["keys", "create"] + flags + ["--admin"])
        #expect(admin.status == 0, "\(admin.err)")
        #expect(admin.out.hasPrefix("tly_"))
        let reader = try runTally(["keys", "create"] + flags + ["--role", "reader", "--tenant", "acme"])
        #expect(reader.status == 0, "\(reader.err)")
        let readerID = try #require(reader.err.split(separator: " ").dropFirst().first.map(String.init))
        #expect(readerID.hasPrefix("key_"))

        let list = try runTally(["keys", "list"] + flags)
        #expect(list.status == 0, "\(list.err)")
        #expect(list.out.split(separator: "\n").count == 3)  // header, admin, reader
        #expect(list.out.contains(readerID) && list.out.contains("acme"))

        let revoke = try runTally(["keys", "revoke"] + flags + [readerID])
        #expect(revoke.status == 0, "\(revoke.err)")
        let active = try runTally(["keys", "list"] + flags + ["--active"])
        #expect(!active.out.contains(readerID))
        #expect(active.out.split(separator: "\n").count == 2)
        // Revoking again answers the key as it is (revoked once, at the first time).
        let again = try runTally(["keys", "revoke"] + flags + [readerID])
        #expect(again.status == 0 && again.out.contains("revoked \(readerID)"))
    }

    @Test("a bad --postgres-url or a missing one is refused before anything runs")
    func refusals() throws {
        let bad = try runTally(["keys", "create", "--catalog", "postgres", "--postgres-url", "mysql://u@h/db", "--admin"])
        #expect(bad.status != 0)
        #expect(bad.err.contains("--postgres-url"))
        let sqliteWithURL = try runTally(["keys", "list", "--catalog", "sqlite", "--data", "/nonexistent", "--postgres-url", "postgres://u@h/db"])
        #expect(sqliteWithURL.status != 0)
        #expect(sqliteWithURL.err.contains("needs --catalog postgres"))
        let neither = try runTally(["keys", "list", "--catalog", "sqlite"])
        #expect(neither.status != 0)
        #expect(neither.err.contains("--data"))
    }
}
