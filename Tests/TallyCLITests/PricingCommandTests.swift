import Foundation
import Testing
import TallyTestSupport

/// The price table ships with tally: records without cost_cents are priced wherever tally runs from, and
/// `tally pricing import` refreshes it from LiteLLM's price map.
@Suite struct PricingCommandTests {
    let header = "tenant_id,request_id,model,input_tokens,output_tokens,cost_cents,created_at\n"

    @Test func importPricesRecordsFromAnyDirectoryWithTheShippedTable() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        // Run from a directory with no pricing file in sight (it used to be looked up as ./data/pricing.json).
        let csv = header + "acme,r1,claude-3-opus,1000,50,,2025-05-02T10:00:00Z\nacme,r2,gpt-4o-mini,1000000,0,,2025-05-02T10:00:00Z\n"
        var run = try runTally(["import", "--data", dir.path + "/store", "--format", "csv", "-"], stdin: csv, in: dir.path)
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out.contains("inserted 2"))
        run = try runTally(["query", "--data", dir.path + "/store", "cost", "--tenant", "acme", "--group-by", "model", "--exact"], in: dir.path)
        // 1000 x $15/M + 50 x $75/M = 1.875 cents; 1M x $0.15/M = 15 cents.
        #expect(run.out.contains("1.8750000"))
        #expect(run.out.contains("15.0000000"))
    }

    @Test func pricingImportMergesLiteLLMsMapAndTheResultPricesRecords() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let map = """
            {"my-model": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06},
             "gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 5e-06, "output_cost_per_token": 1e-05}}
            """
        try map.write(toFile: dir.path + "/litellm.json", atomically: true, encoding: .utf8)
        var run = try runTally(["pricing", "import", dir.path + "/litellm.json", "--effective-from", "2025-06-01", "--out", dir.path + "/p.json"])
        #expect(run.status == 0, "\(run.err)")
        #expect(run.err.contains("added 1, changed 1"))
        run = try runTally(["pricing", "show", "--pricing", dir.path + "/p.json", "--model", "my-model"])
        #expect(run.out.contains("my-model") && run.out.contains("$2.00") && run.out.contains("$8.00"))
        let csv = header
            + "acme,r1,my-model,1000000,1000000,,2025-05-02T10:00:00Z\n"
            + "acme,r2,gpt-4o,1000000,0,,2025-05-31T23:59:59Z\n"
            + "acme,r3,gpt-4o,1000000,0,,2025-06-01T00:00:00Z\n"
        run = try runTally(["import", "--data", dir.path + "/store", "--pricing", dir.path + "/p.json", "--format", "csv", "-"], stdin: csv)
        #expect(run.status == 0, "\(run.err)")
        run = try runTally(["query", "--data", dir.path + "/store", "cost", "--tenant", "acme", "--group-by", "model", "--exact",
                            "--format", "csv"])
        // my-model: $2 + $8 = 1000 cents; gpt-4o: $2.50 before June (the shipped price), $5 from June 1.
        #expect(run.out.contains("my-model,1,1000000,1000000,1000.0000000"))
        #expect(run.out.contains("gpt-4o,2,2000000,0,750.0000000"))
    }

    @Test func aMissingOrBadMapIsNamed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        var run = try runTally(["pricing", "import", dir.path + "/none.json"])
        #expect(run.status == 1 && run.err.contains("cannot read \(dir.path)/none.json"))
        try "{\"a\": [".write(toFile: dir.path + "/bad.json", atomically: true, encoding: .utf8)
        run = try runTally(["pricing", "import", dir.path + "/bad.json"])
        #expect(run.status == 1 && run.err.contains("malformed"))
    }
}
