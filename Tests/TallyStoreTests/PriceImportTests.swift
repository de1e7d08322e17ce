import Testing
@testable import TallyStore

/// `PriceTable.importingLiteLLM`: LiteLLM's per-token float texts become exact nano-dollar prices, and a merge never
/// rewrites the price a record was already made at.
@Suite struct PriceImportTests {
    static let day: Int64 = 86_400_000

    @Test func perTokenTextsShiftExactly() {
        #expect(PriceTable.perMillionNanos(perToken: "2.5e-06") == 2_500_000_000)
        #expect(PriceTable.perMillionNanos(perToken: "1e-05") == 10_000_000_000)
        #expect(PriceTable.perMillionNanos(perToken: "0.000003") == 3_000_000_000)
        #expect(PriceTable.perMillionNanos(perToken: "1.5E-7") == 150_000_000)
        #expect(PriceTable.perMillionNanos(perToken: "0") == 0)
        #expect(PriceTable.perMillionNanos(perToken: "0.0") == 0)
        #expect(PriceTable.perMillionNanos(perToken: "8.8e-07") == 880_000_000)
        #expect(PriceTable.perMillionNanos(perToken: "3.75e-06") == 3_750_000_000)
        // Finer than a nano-dollar per million tokens: not exact in the table, so refused (nil), never rounded.
        #expect(PriceTable.perMillionNanos(perToken: "1.2345e-16") == nil)
        #expect(PriceTable.perMillionNanos(perToken: "-1e-06") == nil)
        #expect(PriceTable.perMillionNanos(perToken: "abc") == nil)
        #expect(PriceTable.perMillionNanos(perToken: "1e") == nil)
        #expect(PriceTable.perMillionNanos(perToken: "1e+03") == nil, "over $1e9 per million tokens")
    }

    static let map = """
        {"sample_spec": {"input_cost_per_token": 0, "mode": "chat or embedding"},
         "gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05},
         "gpt-new": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1.25e-06, "output_cost_per_token": 1e-05},
         "claude-x": {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05},
         "text-embedding-3-small": {"litellm_provider": "openai", "mode": "embedding", "input_cost_per_token": 2e-08, "output_cost_per_token": 0},
         "groq/llama": {"litellm_provider": "groq", "mode": "chat", "input_cost_per_token": 5.9e-07, "output_cost_per_token": 7.9e-07},
         "no-output": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06}}
        """

    @Test func aMergeAddsNewModelsAndGivesChangedOnesANewEntryFromTheirDate() throws {
        let base = PriceTable(entries: [
            "gpt-4o": [PriceEntry(effectiveFromMillis: 0, inputPerMillionNanos: 2_500_000_000, outputPerMillionNanos: 10_000_000_000)],
            "claude-x": [PriceEntry(effectiveFromMillis: 0, inputPerMillionNanos: 15_000_000_000, outputPerMillionNanos: 75_000_000_000)],
        ])
        let change = 1_000 * Self.day, first = 10 * Self.day
        let (table, report) = try base.importingLiteLLM(json: Array(Self.map.utf8), effectiveFrom: change, firstPriceFrom: first,
                                                        providers: ["openai", "anthropic"])
        #expect(report.added == ["gpt-new"])
        #expect(report.changed == ["claude-x"])
        #expect(report.unchanged == 1)
        #expect(report.skipped == 4, "sample_spec, the embedding, the other provider, the model without an output price")
        #expect(table.price(model: "gpt-new", at: first)?.inputPerMillionNanos == 1_250_000_000)
        #expect(table.price(model: "gpt-new", at: first - 1) == nil)
        // The old price stays for records made before the change.
        #expect(table.price(model: "claude-x", at: change - 1)?.inputPerMillionNanos == 15_000_000_000)
        #expect(table.price(model: "claude-x", at: change)?.inputPerMillionNanos == 3_000_000_000)
        #expect(table.models.contains("groq/llama") == false)

        // The written file reads back as the same table.
        let again = try PriceTable.parse(json: table.fileJSON(note: "n"))
        #expect(again.models == table.models)
        for m in table.models { #expect(again.entries(for: m) == table.entries(for: m)) }
        // Imported twice: nothing changes.
        let (twice, second) = try table.importingLiteLLM(json: Array(Self.map.utf8), effectiveFrom: change + Self.day,
                                                         firstPriceFrom: first, providers: ["openai", "anthropic"])
        #expect(second.added.isEmpty && second.changed.isEmpty && second.unchanged == 3)
        for m in table.models { #expect(twice.entries(for: m) == table.entries(for: m)) }
    }

    @Test func aMalformedMapIsAClearError() {
        #expect(throws: StoreError.self) {
            try PriceTable(entries: [:]).importingLiteLLM(json: Array("[1, 2]".utf8), effectiveFrom: 0, firstPriceFrom: 0, providers: nil)
        }
        #expect(throws: StoreError.self) {
            try PriceTable(entries: [:]).importingLiteLLM(json: Array("{\"a\": ".utf8), effectiveFrom: 0, firstPriceFrom: 0, providers: nil)
        }
    }
}
