import Foundation
import Testing
import TallyTestSupport
@testable import TallyStore

/// `tally import`, `stats` and `verify` as a user runs them.
@Suite struct ImportCommandTests {
    func tally(_ args: [String], stdin: String? = nil) throws -> TallyRun { try runTally(args, stdin: stdin) }

    let header = "tenant_id,request_id,model,input_tokens,output_tokens,cost_cents,created_at\n"

    @Test func aBadRecordStoresNothingAndIsReportedByLineAndField() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let csv = header
            + "acme,r1,gpt-4o,10,5,0.5,2025-05-01T10:00:00Z\n"
            + "acme,r2,gpt-4o,-3,5,0.5,2025-05-01T10:00:00Z\n"
            + "acme,r3,gpt-4o,10,5,0.12345678,2025-05-01T10:00:00Z\n"
        let run = try tally(["import", "--data", dir.path, "--format", "csv", "-"], stdin: csv)
        #expect(run.status == 1)
        #expect(run.err.contains("line 3, field input_tokens"))
        #expect(run.err.contains("line 4, field cost_cents"))
        #expect(run.err.contains("nothing stored"))
        let store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        #expect(store.snapshot().rowCount == 0)
    }

    @Test func skipBadStoresTheGoodRecordsAndAReimportStoresNothingTwice() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let csv = header
            + "acme,r1,gpt-4o,10,5,0.5,2025-05-01T10:00:00Z\n"
            + "acme,,gpt-4o,10,5,0.5,2025-05-01T10:00:00Z\n"
            + "globex,r1,claude-3-opus,1000,50,,2025-05-02T10:00:00.250Z\n"
        var run = try tally(["import", "--data", dir.path, "--format", "csv", "--skip-bad", "--pricing", pricingPath(), "-"], stdin: csv)
        #expect(run.status == 0)
        #expect(run.out.contains("inserted 2, duplicates 0, rejected 1"))
        #expect(run.err.contains("line 3, field request_id"))
        run = try tally(["import", "--data", dir.path, "--format", "csv", "--skip-bad", "--pricing", pricingPath(), "-"], stdin: csv)
        #expect(run.out.contains("inserted 0, duplicates 2, rejected 1"))
        run = try tally(["verify", "--data", dir.path])
        #expect(run.status == 0 && run.out.contains("2 rows"))
        run = try tally(["stats", "--data", dir.path])
        #expect(run.status == 0 && run.out.contains("tenants") && run.out.contains("request_id"))
        let store = try Store(path: dir.path, options: testOptions())
        defer { try? store.close() }
        let opus = try #require(try store.snapshot().records(tenant: "globex").first)
        // Priced from Sources/TallyServer/Pricing/pricing.json: 1000 x $15/M + 50 x $75/M = $0.01875 = 1.875 cents.
        #expect(opus.costNanos == 18_750_000)
    }

    @Test func verifyNamesADamagedPartAndFails() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let csv = header + (0..<500).map { "acme,r\($0),gpt-4o,\($0),5,0.5,2025-05-01T10:00:00Z\n" }.joined()
        #expect(try tally(["import", "--data", dir.path, "--format", "csv", "-"], stdin: csv).status == 0)
        let part = try #require(FileIO.list(dir.path + "/parts").first)
        var bytes = try FileIO.readAll(dir.path + "/parts/" + part)
        bytes[bytes.count / 3] ^= 0x55
        try FileIO.writeAtomically(bytes, to: dir.path + "/parts/" + part, directory: dir.path + "/parts")
        let run = try tally(["verify", "--data", dir.path])
        #expect(run.status == 1)
        #expect(run.err.contains(part))
    }

    func pricingPath() -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/TallyServer/Pricing/pricing.json").path
    }
}
