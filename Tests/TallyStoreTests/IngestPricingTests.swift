import Testing
@testable import TallyStore

@Suite struct IngestPricingTests {
    typealias F = IngestFixture

    /// `Sources/TallyServer/Pricing/pricing.json` of this package.
    static var pricingPath: String {
        let file = "\(#filePath)"
        let root = file.split(separator: "/", omittingEmptySubsequences: false).dropLast(3).joined(separator: "/")
        return root + "/Sources/TallyServer/Pricing/pricing.json"
    }

    /// gen.py's PRICES (USD per million input / output tokens).
    static let genPrices: [String: (Double, Double)] = [
        "claude-3-opus": (15.00, 75.00), "claude-3-5-sonnet": (3.00, 15.00), "claude-3-5-haiku": (0.80, 4.00),
        "claude-3-haiku": (0.25, 1.25), "gpt-4o": (2.50, 10.00), "gpt-4o-mini": (0.15, 0.60),
        "gpt-4-turbo": (10.00, 30.00), "o1-mini": (3.00, 12.00), "llama-3-70b": (0.88, 0.88),
        "llama-3-8b": (0.18, 0.18), "mistral-large": (2.00, 6.00), "gemini-1.5-pro": (1.25, 5.00),
        "gemini-1.5-flash": (0.075, 0.30),
    ]

    static let june2025: Int64 = 1_748_736_000_000

    @Test func pricingFileHasGenModelsAndReproducesGenCosts() throws {
        let table = try PriceTable.load(path: Self.pricingPath)
        #expect(Set(Self.genPrices.keys).isSubset(of: Set(table.models)), "the shipped table prices every model tally generate writes")
        for (model, (pin, pout)) in Self.genPrices {
            // gen.py: cost nanos = tokens * round(price * 1000) per token.
            let perIn = Int64((pin * 1000).rounded()), perOut = Int64((pout * 1000).rounded())
            for (i, o) in [(Int64(0), Int64(0)), (1, 1), (1800, 350), (200_000, 16_384), (123_457, 9_999)] {
                #expect(table.costNanos(model: model, inputTokens: i, outputTokens: o, at: Self.june2025) == i * perIn + o * perOut, "\(model)")
            }
        }
    }

    @Test func priceHistoryPicksThePriceInForce() throws {
        let table = try PriceTable.load(path: Self.pricingPath)
        #expect(table.entries(for: "gpt-4o").count == 2)
        let jan2023: Int64 = 1_672_531_200_000, jan2024: Int64 = 1_704_067_200_000
        #expect(table.costNanos(model: "gpt-4o", inputTokens: 1_000_000, outputTokens: 0, at: jan2023) == 5_000_000_000)
        #expect(table.costNanos(model: "gpt-4o", inputTokens: 1_000_000, outputTokens: 0, at: jan2024 - 1) == 5_000_000_000)
        #expect(table.costNanos(model: "gpt-4o", inputTokens: 1_000_000, outputTokens: 0, at: jan2024) == 2_500_000_000)
        #expect(table.costNanos(model: "gpt-4o", inputTokens: 1, outputTokens: 1, at: jan2023 - 1) == nil)
        #expect(table.costNanos(model: "no-such-model", inputTokens: 1, outputTokens: 1, at: jan2024) == nil)
        #expect(table.costNanos(model: "claude-3-opus", inputTokens: 1, outputTokens: 1, at: jan2024 - 1) == nil)
    }

    @Test func recordsWithoutCostArePricedAtTheirTime() throws {
        let table = try PriceTable.load(path: Self.pricingPath)
        let rows = [
            F.row(["cost_cents": nil, "input_tokens": .raw("1000"), "output_tokens": .raw("100")], request: "new"),
            F.row(["cost_cents": nil, "input_tokens": .raw("1000"), "output_tokens": .raw("100"),
                   "created_at": .s("2023-06-01T00:00:00Z")], request: "old"),
            F.row(["cost_cents": nil, "created_at": .s("2022-06-01T00:00:00.250Z")], request: "too-old"),
            F.row(["cost_cents": nil, "model": .s("no-such-model")], request: "unknown"),
            F.row(["cost_cents": .raw("0")], request: "free"),
        ]
        for format in InputFormat.allCases {
            let out = F.parse(F.body(rows, format), format, pricing: table)
            let expected: [Int64] = [1000 * 2_500 + 100 * 10_000, 1000 * 5_000 + 100 * 15_000, 0]
            #expect(out.batch.records.map(\.costNanos) == expected)
            let tooOld = RecordError(line: F.line(ofRow: 2, format), field: "cost_cents",
                                     reason: "absent and no price is known for model 'gpt-4o' at 2022-06-01T00:00:00.250Z")
            let unknown = RecordError(line: F.line(ofRow: 3, format), field: "cost_cents",
                                      reason: "absent and no price is known for model 'no-such-model' at 2025-06-01T00:00:00.000Z")
            #expect(out.errors == [tooOld, unknown])
        }
    }

    @Test func roundingIsHalfUpOnTheSum() {
        let e = PriceEntry(effectiveFromMillis: 0, inputPerMillionNanos: 1, outputPerMillionNanos: 1)
        #expect(e.costNanos(inputTokens: 499_999, outputTokens: 0) == 0)
        #expect(e.costNanos(inputTokens: 500_000, outputTokens: 0) == 1)
        #expect(e.costNanos(inputTokens: 1_499_999, outputTokens: 0) == 1)
        #expect(e.costNanos(inputTokens: 1_500_000, outputTokens: 0) == 2)
        #expect(e.costNanos(inputTokens: 300_000, outputTokens: 300_000) == 1)
        let huge = PriceEntry(effectiveFromMillis: 0, inputPerMillionNanos: .max, outputPerMillionNanos: .max)
        #expect(huge.costNanos(inputTokens: .max, outputTokens: .max) == .max)
    }

    @Test func pricedCostAboveTheMoneyCapIsRejected() {
        let table = PriceTable(entries: ["m": [PriceEntry(effectiveFromMillis: 0, inputPerMillionNanos: 1_000_000_000_000_000,
                                                          outputPerMillionNanos: 0)]])
        let out = F.parse(F.body([F.row(["cost_cents": nil, "model": .s("m"), "input_tokens": .raw("4294967295")])], .ndjson),
                          .ndjson, pricing: table)
        #expect(out.errors.map(\.field) == ["cost_cents"])
    }

    @Test func parsesPricesExactlyFromStringsAndNumbers() throws {
        let json = #"{"models": {"m": [{"effective_from": "2024-06-01T12:00:00Z", "input_per_million_usd": 0.000000001,"# +
            #" "output_per_million_usd": "123456.789012345"}, {"effective_from": "2020-01-01", "input_per_million_usd": "1","# +
            #" "output_per_million_usd": 2}]}, "currency": "USD", "note": "test"}"#
        let table = try PriceTable.parse(json: Array(json.utf8))
        #expect(table.entries(for: "m") == [
            PriceEntry(effectiveFromMillis: 1_577_836_800_000, inputPerMillionNanos: 1_000_000_000, outputPerMillionNanos: 2_000_000_000),
            PriceEntry(effectiveFromMillis: 1_717_243_200_000, inputPerMillionNanos: 1, outputPerMillionNanos: 123_456_789_012_345),
        ])
    }

    @Test(arguments: [
        (#"{"models": {"m": [{"effective_from": "2024-01-01", "input_per_million_usd": "1.0000000001", "output_per_million_usd": "1"}]}}"#,
         "input_per_million_usd must be a decimal >= 0 with at most 9 fraction digits"),
        (#"{"models": {"m": [{"effective_from": "2024-01-01", "input_per_million_usd": "-1", "output_per_million_usd": "1"}]}}"#,
         "input_per_million_usd must be a decimal >= 0"),
        (#"{"models": {"m": [{"effective_from": "2024-01-01", "input_per_million_usd": 1e3, "output_per_million_usd": "1"}]}}"#,
         "input_per_million_usd must be a decimal >= 0"),
        (#"{"models": {"m": [{"effective_from": "2024-01-01", "input_per_million_usd": "1"}]}}"#,
         "models.m[0].output_per_million_usd is missing"),
        (#"{"models": {"m": [{"effective_from": "Jan 1", "input_per_million_usd": "1", "output_per_million_usd": "1"}]}}"#,
         "effective_from must be a date"),
        (#"{"models": {"m": [{"effective_from": "2024-01-01", "input_per_million_usd": "1", "output_per_million_usd": "1", "x": 1}]}}"#,
         "models.m[0] has an unknown key 'x'"),
        (#"{"models": {"m": [{"effective_from": "2024-01-01", "input_per_million_usd": "1", "output_per_million_usd": "1"},"# +
         #" {"effective_from": "2024-01-01T00:00:00Z", "input_per_million_usd": "2", "output_per_million_usd": "1"}]}}"#,
         "two prices with the same effective_from"),
        (#"{"models": {"m": []}}"#, "must be a non-empty array"),
        (#"{"models": {"m": [{"effective_from": "2024-01-01", "input_per_million_usd": "1", "output_per_million_usd": "1"}],"# +
         #" "m": [{"effective_from": "2024-01-01", "input_per_million_usd": "1", "output_per_million_usd": "1"}]}}"#,
         "model 'm' appears more than once"),
        (#"{"prices": {}}"#, "unknown top-level key 'prices'"),
        (#"{"currency": "EUR", "models": {}}"#, "'currency' must be \"USD\""),
        (#"{"models": {"m": [}}"#, "malformed at line 1"),
        ("{\n\"models\": {\"m\": [\"\\u12\"]}}", "malformed at line 2"),
        (#"[]"#, "must be a JSON object"),
    ])
    func rejectsBadPricingFiles(json: String, message: String) {
        #expect {
            try PriceTable.parse(json: Array(json.utf8))
        } throws: { error in
            guard case let StoreError.invalidArgument(text) = error else { return false }
            return text.contains(message)
        }
    }

    @Test func loadReportsMissingFileAndNamesThePath() {
        #expect(throws: StoreError.self) { try PriceTable.load(path: "/nonexistent/pricing.json") }
    }

    @Test func tableFromEntriesSortsAndDedupes() {
        let a = PriceEntry(effectiveFromMillis: 10, inputPerMillionNanos: 1, outputPerMillionNanos: 1)
        let b = PriceEntry(effectiveFromMillis: 5, inputPerMillionNanos: 2, outputPerMillionNanos: 2)
        let c = PriceEntry(effectiveFromMillis: 10, inputPerMillionNanos: 3, outputPerMillionNanos: 3)
        let t = PriceTable(entries: ["z": [a, b, c], "a": [b]])
        #expect(t.models == ["a", "z"])
        #expect(t.entries(for: "z") == [b, c])
        #expect(t.price(model: "z", at: 9) == b && t.price(model: "z", at: 10) == c && t.price(model: "z", at: 4) == nil)
    }
}
