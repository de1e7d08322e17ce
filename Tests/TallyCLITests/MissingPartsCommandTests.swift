import Foundation
import TallyText
import Testing
import TallyTestSupport
@testable import TallyStore

/// The CLI never answers from a store with damaged parts silently: it refuses to answer without them unless told
/// `--allow-partial`, names them, and `tally verify` fails. (The store's side: TallyStoreTests/MissingPartsTests.)
@Suite struct MissingPartsCommandTests {
    static func tally(_ args: [String], in directory: String? = nil) throws -> TallyRun { try runTally(args, in: directory) }

    @Test("tally query and tally export refuse to answer without a quarantined part, name it, and answer with --allow-partial")
    func cliRefusesPartialAnswers() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (records, part) = try DamageFixture.twoTenantStore(dir.path)
        let mine = records.filter { $0.tenantID == "tenant-1" }.count
        let theirs = records.filter { $0.tenantID == "tenant-0" }.count
        let out = dir.appending("out.csv")
        let exportArgs = ["export", "--data", dir.path, "--tenant", "tenant-1", "--from", "2025-01-01", "--to", "2026-01-01", "--out", out]
        // Nothing damaged: the full count.
        let full = try Self.tally(exportArgs)
        #expect(full.status == 0, "\(full.err)")
        #expect(full.err.contains("exported \(mine) records of tenant-1"), "\(full.err)")

        // A byte flipped in the block the open reads (request ids): a read-write open quarantines it.
        try DamageFixture.flip(part.path, at: PartFormat.headerSize + 100)
        try Store(path: dir.path, options: DamageFixture.options()).close()
        #expect(FileIO.exists(dir.path + "/quarantine/" + PartFormat.fileName(part.meta.id)))

        let name = PartFormat.fileName(part.meta.id)
        let hours = Timestamp.formatSeconds(TimeUnit.hourStart(part.meta.minTime))
        let q = try Self.tally(["query", "usage", "--data", dir.path, "--tenant", "tenant-1", "--format", "json"])
        #expect(q.status != 0)
        #expect(q.err.contains(name) && q.err.contains("tenant-1") && q.err.contains(hours), "\(q.err)")
        #expect(q.err.contains("--allow-partial"))
        #expect(q.out.isEmpty, "no answer is printed")

        let partial = try Self.tally(["query", "usage", "--data", dir.path, "--tenant", "tenant-1", "--format", "json", "--allow-partial"])
        #expect(partial.status == 0, "\(partial.err)")
        #expect(partial.err.contains(name) && partial.err.contains("incomplete"), "\(partial.err)")
        #expect(partial.out.contains("\"complete\": false") && partial.out.contains(name), "\(partial.out)")

        // The other tenant's answer needs nothing missing: complete, exit 0, nothing on stderr about damage.
        let other = try Self.tally(["query", "usage", "--data", dir.path, "--tenant", "tenant-0", "--format", "json"])
        #expect(other.status == 0, "\(other.err)")
        #expect(other.out.contains("\"complete\": true") && other.out.contains("\"count\": \(theirs)"), "\(other.out)")
        #expect(!other.err.contains(name))
        // Every tenant: tenant-1's part is among them.
        #expect(try Self.tally(["query", "cost", "--data", dir.path, "--tenant", "*"]).status != 0)

        let export = try Self.tally(exportArgs)
        #expect(export.status != 0)
        #expect(export.err.contains(name) && export.err.contains("tenant-1"), "\(export.err)")
        #expect(!FileManager.default.fileExists(atPath: out + ".partial"))
        let partialExport = try Self.tally(exportArgs + ["--allow-partial"])
        #expect(partialExport.status == 0, "\(partialExport.err)")
        #expect(partialExport.err.contains(name) && partialExport.err.contains("incomplete"), "\(partialExport.err)")
        #expect(partialExport.err.contains("exported 0 records of tenant-1"), "\(partialExport.err)")
        let otherExport = try Self.tally(["export", "--data", dir.path, "--tenant", "tenant-0", "--from", "2025-01-01", "--to", "2026-01-01",
                                          "--out", out])
        #expect(otherExport.status == 0 && otherExport.err.contains("exported \(theirs) records of tenant-0"), "\(otherExport.err)")
        // verify says the store lacks the part.
        let verify = try Self.tally(["verify", "--data", dir.path])
        #expect(verify.status == 1 && verify.err.contains(name), "\(verify.err)")
    }

    @Test("a part a read-only open cannot read (damaged footer) fails the CLI's answers too")
    func readOnlySkippedPartIsMissing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (_, part) = try DamageFixture.twoTenantStore(dir.path)
        try DamageFixture.flip(part.path, at: -(PartFormat.trailerSize + 8))
        let q = try Self.tally(["query", "cost", "--data", dir.path, "--tenant", "tenant-1"])
        #expect(q.status != 0)
        #expect(q.err.contains(PartFormat.fileName(part.meta.id)) && q.err.contains("tenant-1"), "\(q.err)")
        #expect(!FileIO.exists(dir.path + "/quarantine/" + PartFormat.fileName(part.meta.id)), "a read-only command changes nothing")
        let partial = try Self.tally(["query", "cost", "--data", dir.path, "--tenant", "tenant-1", "--allow-partial"])
        #expect(partial.status == 0 && partial.err.contains("incomplete"), "\(partial.err)")
    }

    @Test("a part that fails its checksum in the middle of tally query: an error, or with --allow-partial an answer without it that says so")
    func cliMidQueryDamage() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (records, part) = try DamageFixture.twoTenantStore(dir.path)
        let ref = part.meta.granules[0].blocks[PartColumn.cost.rawValue]
        try DamageFixture.flip(part.path, at: ref.offset + BlockHeader.size + 2)
        let args = ["query", "usage", "--data", dir.path, "--tenant", "*", "--no-rollups", "--format", "json"]
        let failed = try Self.tally(args)
        #expect(failed.status != 0 && failed.err.contains("query failed") && failed.err.contains(part.path), "\(failed.err)")
        let partial = try Self.tally(args + ["--allow-partial"])
        #expect(partial.status == 0, "\(partial.err)")
        #expect(partial.err.contains(PartFormat.fileName(part.meta.id)) && partial.err.contains("incomplete"), "\(partial.err)")
        let theirs = records.filter { $0.tenantID == "tenant-0" }.count
        #expect(partial.out.contains("\"complete\": false") && partial.out.contains("\"count\": \(theirs)"), "\(partial.out)")
    }

    @Test("a damaged catalog.sqlite fails tally verify")
    func damagedCatalogFailsVerify() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        _ = try DamageFixture.twoTenantStore(dir.path)
        let keys = try Self.tally(["keys", "create", "--data", dir.path, "--tenant", "tenant-0", "--role", "reader"])
        #expect(keys.status == 0, "\(keys.err)")
        #expect(try Self.tally(["verify", "--data", dir.path]).status == 0)
        let catalog = dir.path + "/catalog.sqlite"
        // The CLI closes the catalog on exit, which checkpoints the log into the main file: the damage is in what SQLite reads.
        #expect((FileIO.fileSize(catalog + "-wal") ?? 0) == 0)
        var bytes = try FileIO.readAll(catalog)
        #expect(bytes.count > 8192)
        // The b-tree page headers of pages 1 and 2.
        for i in 100..<164 { bytes[i] = 0xA5 }
        for i in 4096..<4096 + 64 { bytes[i] = 0xA5 }
        try FileIO.writeAtomically(bytes, to: catalog, directory: dir.path)
        let verify = try Self.tally(["verify", "--data", dir.path])
        #expect(verify.status == 1)
        #expect(verify.err.contains("catalog.sqlite"), "\(verify.err)")
    }
}
