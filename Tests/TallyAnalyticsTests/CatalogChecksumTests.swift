import Foundation
import GRDB
@testable import TallyAnalytics
import TallyTestSupport
import Testing

@Suite("Catalog page checksums: a damaged page is an error, never a wrong budget or key")
struct CatalogChecksumTests {
    static let actor = "checksum-probe-actor-7f3a"

    static func budget() -> Budget {
        Budget(id: "bud_checksum_probe", tenant: "acme", level: .tenant, subject: "", period: .daily, limitNanos: 123_456_789_000,
               warnRatio: 0.8, enforce: true, createdAt: 1_000, updatedAt: 1_000, createdBy: actor)
    }

    /// Offsets of every occurrence of `needle` in `bytes`.
    static func occurrences(of needle: String, in bytes: [UInt8]) -> [Int] {
        let n = Array(needle.utf8)
        guard bytes.count >= n.count else { return [] }
        return (0...(bytes.count - n.count)).filter { bytes[$0..<($0 + n.count)].elementsEqual(n) }
    }

    @Test("a new catalog carries page checksums; a flipped byte in a budget row fails the read instead of answering")
    func flippedByteInABudgetIsDetected() async throws {
        try await withTemporaryDirectory(prefix: "tally-catalog-cksum") { dir in
            do {
                let catalog = try SQLiteCatalog(directory: dir)
                try catalog.insertBudget(Self.budget(), actor: Self.actor)
                #expect(try catalog.budgets(tenant: "acme").map(\.createdBy) == [Self.actor])
            }  // the last connection closes: SQLite checkpoints the WAL into the database file
            let path = SQLiteCatalog.path(in: dir)
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(bytes[20] == 8, "the header reserves 8 bytes per page for the checksum")
            let hits = Self.occurrences(of: Self.actor, in: bytes)
            try #require(!hits.isEmpty)
            for offset in hits { bytes[offset + 3] ^= 0x01 }
            try Data(bytes).write(to: URL(fileURLWithPath: path))

            let before = SQLiteCatalog.pageChecksumFailures
            let reopened = try SQLiteCatalog(directory: dir)
            #expect(throws: DatabaseError.self) { _ = try reopened.budgets(tenant: "acme") }
            #expect(SQLiteCatalog.pageChecksumFailures > before)
        }
    }

    @Test("a catalog written before page checksums is rewritten with them when it is opened, and keeps its rows")
    func oldCatalogGainsChecksums() async throws {
        try await withTemporaryDirectory(prefix: "tally-catalog-cksum") { dir in
            let path = SQLiteCatalog.path(in: dir)
            do {
                // The layout of an older Tally: no reserved bytes.
                let queue = try DatabaseQueue(path: path)
                try SQLiteCatalog.migrator.migrate(queue)
                try queue.write { db in
                    try db.execute(sql: """
                        INSERT INTO budgets (id, tenant_id, level, subject, period, limit_nanos, warn_ratio, enforce,
                                             created_at, updated_at, created_by)
                        VALUES ('bud_old', 'acme', 'tenant', '', 'monthly', 5000000000, 0.8, 1, 1, 1, 'cli')
                        """)
                }
            }
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))[20] == 0)
            do {
                let catalog = try SQLiteCatalog(directory: dir)
                #expect(try catalog.budgets(tenant: "acme").map(\.limitNanos) == [5_000_000_000])
            }
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))[20] == 8)
            let reopened = try SQLiteCatalog(directory: dir)
            #expect(try reopened.budgets(tenant: "acme").map(\.id) == ["bud_old"])
        }
    }

    /// Every row of every table, as text, read through the catalog's own connections.
    static func dump(_ catalog: SQLiteCatalog) throws -> String {
        try catalog.pool.read { db in
            var out = ""
            let tables = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            for table in tables {
                out += table + ":\n"
                for row in try Row.fetchAll(db, sql: "SELECT * FROM \"\(table)\" ORDER BY rowid") { out += "\(row)\n" }
            }
            return out
        }
    }

    @Test("corruption matrix: a changed byte anywhere in catalog.sqlite is detected or harmless, never a wrong row")
    func matrix() async throws {
        try await withTemporaryDirectory(prefix: "tally-catalog-matrix") { root in
            let template = root + "/template"
            let truth: String
            do {
                let catalog = try SQLiteCatalog(directory: template)
                for i in 0..<20 {
                    _ = try catalog.createKey(tenant: "tenant-\(i % 4)", role: i % 2 == 0 ? .reader : .writer)
                    var b = Self.budget()
                    b.id = "bud_\(i)"
                    b.tenant = "tenant-\(i)"
                    b.limitNanos = Int64(i + 1) * 1_000_000_000
                    try catalog.insertBudget(b, actor: "cli")
                }
                truth = try Self.dump(catalog)
            }
            let clean = try [UInt8](Data(contentsOf: URL(fileURLWithPath: SQLiteCatalog.path(in: template))))
            let changes: [(String, (UInt8) -> UInt8)] = [("bit 0", { $0 ^ 1 }), ("bit 7", { $0 ^ 0x80 }), ("+1", { $0 &+ 1 }), ("-1", { $0 &- 1 })]
            var counts = ["harmless": 0, "detected": 0, "silently wrong": 0]
            var silent: [String] = []
            let offsets = (0..<64).map { $0 * clean.count / 64 + 7 * $0 % 97 }
            for (n, offset) in offsets.enumerated() {
                for (name, change) in changes {
                    let dir = root + "/case-\(n)-\(name)"
                    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                    var bytes = clean
                    bytes[offset] = change(bytes[offset])
                    try Data(bytes).write(to: URL(fileURLWithPath: SQLiteCatalog.path(in: dir)))
                    let outcome: String
                    do {
                        let catalog = try SQLiteCatalog(directory: dir)
                        outcome = try Self.dump(catalog) == truth ? "harmless" : "silently wrong"
                    } catch {
                        outcome = "detected"
                    }
                    counts[outcome, default: 0] += 1
                    if outcome == "silently wrong" { silent.append("offset \(offset) \(name)") }
                    try? FileManager.default.removeItem(atPath: dir)
                }
            }
            let line = "| catalog.sqlite | \(offsets.count * changes.count) | \(counts["harmless"]!) | 0 | \(counts["detected"]!) | \(counts["silently wrong"]!) | - |\n"
            if let out = ProcessInfo.processInfo.environment["TALLY_CATALOG_CORRUPTION_TABLE"] {
                try? line.write(toFile: out, atomically: true, encoding: .utf8)
            }
            #expect(silent.isEmpty, Comment(rawValue: "silently wrong: " + silent.joined(separator: ", ") + "\n" + line))
        }
    }
}
