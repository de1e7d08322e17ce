import Testing
@testable import TallyStore

@Suite struct IngestStreamingTests {
    typealias F = IngestFixture

    struct Result: Equatable {
        var records: [CostRecord] = []
        var lines: [Int] = []
        var errors: [RecordError] = []

        mutating func add(_ o: ParseOutcome) {
            records += o.batch.records
            lines += o.batch.lines
            errors += o.errors
        }
    }

    static let limits = IngestLimits(maxRecordBytes: 300)
    static let pricing = PriceTable(entries: [
        "gpt-4o": [PriceEntry(effectiveFromMillis: 0, inputPerMillionNanos: 2_500_000_000, outputPerMillionNanos: 10_000_000_000)],
    ])

    static func whole(_ bytes: [UInt8], _ format: InputFormat) -> Result {
        var r = Result()
        r.add(RecordParser(format: format, pricing: pricing, limits: limits).parse(bytes))
        return r
    }

    static func streamed(_ bytes: [UInt8], _ format: InputFormat, keepingStrings: Bool = false, chunkSize: (Int) -> Int) -> Result {
        var parser = StreamingRecordParser(format: format, pricing: pricing, limits: limits, keepingStrings: keepingStrings)
        var r = Result()
        var i = 0
        bytes.withUnsafeBytes { all in
            while i < all.count {
                let n = min(all.count - i, max(1, chunkSize(i)))
                r.add(parser.feed(UnsafeRawBufferPointer(rebasing: all[i..<(i + n)])))
                i += n
            }
        }
        r.add(parser.finish())
        return r
    }

    /// Inputs mixing good records, bad ones, oversized ones, quoted line breaks and escapes.
    static func inputs(_ format: InputFormat) -> [String] {
        let (edge, _) = IngestFormatTests.edgeRows()
        let good = (0..<6).map { F.row(["user_id": .s("user-\($0)"), "input_tokens": .raw("\($0 * 1000)")], request: "g\($0)") }
        let bad = [F.row(["input_tokens": .s("x")], request: "b1"), F.row(["cost_cents": nil, "model": .s("unpriced")], request: "b2")]
        let priced = [F.row(["cost_cents": nil], request: "p1")]
        let big = [F.row(["feature_tag": .s(String(repeating: "f", count: 256))], request: "big")]
        let rows = [good[0]] + edge + [bad[0], good[1]] + big + [good[2]] + priced + [bad[1], good[3], good[4]] + big + [good[5]]
        switch format {
        case .csv:
            let body = F.csv(rows)
            let lines = body.split(separator: "\n", omittingEmptySubsequences: false)
            // CRLF on some rows, a blank line, a stray quote, no final line feed.
            var text = "\u{FEFF}" + lines[0] + "\r\n" + lines[1] + "\r\n\n" + lines[2...].joined(separator: "\n")
            text += "acme,,,,,q1,,,gpt-4o,1,1,1,2025-06-01T00:00:00Z\"T\nacme,,,,,q2,,,gpt-4o,1,1,1,2025-06-01T00:00:00Z\"\n"
            text += F.csv([good[0]]).split(separator: "\n")[1]
            return [
                text,
                text + "\nacme,\"unterminated",
                text + "\nacme,\"" + String(repeating: "x", count: 400),
                "tenant_id,request_id,colour\nacme,r,red\n" + text,
                F.csv(rows, columns: F.allColumns + ["colour"]),
                "tenant_id,\"" + String(repeating: "x\n", count: 200) + "\"\n" + text,
            ]
        case .ndjson:
            var text = "\n" + F.ndjson(rows) + "  \r\n"
            text += #"{"tenant_id":"acme","model":"\ud83d\ude00","request_id":"e\u0031","cost_cents":1,"created_at":"2025-06-01T00:00:00Z"}"# + "\n"
            text += "{\"tenant_id\":\"acme\" oops}\n[1]\n"
            text += F.jsonObject(good[0])
            return [text, text + "\n{\"tenant_id\":\"acme\",\"request_id\":\"" + String(repeating: "x", count: 400)]
        case .json:
            let elements = rows.map(F.jsonObject) + ["1", "\"str\\\"ing\"", "[1,{\"a\":\"]\"}]", "null",
                #"{"tenant_id":"acme","model":"\ud83d\ude00","request_id":"e\u0031","cost_cents":1,"created_at":"2025-06-01T00:00:00Z"}"#]
            let text = " \r\n[\n" + elements.joined(separator: " ,\n\t") + "\n]"
            return [
                text,
                text + " \n",
                text + "\n[]",
                String(text.dropLast()),
                String(text.dropLast()) + ",",
                String(text.dropLast()) + ",\n{\"tenant_id\":\"" + String(repeating: "x", count: 400),
                String(text.dropLast()) + ",\n{\"tenant_id\":\"acme",
                String(text.dropLast()) + "\n" + F.jsonObject(good[0]) + "]",
            ]
        }
    }

    @Test(arguments: InputFormat.allCases)
    func chunkedEqualsWhole(format: InputFormat) {
        for (k, text) in Self.inputs(format).enumerated() {
            let bytes = Array(text.utf8)
            let expected = Self.whole(bytes, format)
            #expect(!expected.errors.isEmpty, "input \(k) should exercise errors")
            #expect(Self.streamed(bytes, format) { _ in bytes.count } == expected, "input \(k), one chunk")
            #expect(Self.streamed(bytes, format) { _ in 1 } == expected, "input \(k), 1-byte chunks")
            for seed in 0..<6 {
                var rng = TestRNG(seed: UInt64(seed * 1000 + k))
                let bound = [3, 17, 64, 200, 700, 5000][seed]
                let got = Self.streamed(bytes, format) { _ in 1 + rng.next(bound) }
                #expect(got == expected, "input \(k), seed \(seed)")
                // Strings kept across chunks (as `tally import` parses) change nothing either.
                var rng2 = TestRNG(seed: UInt64(seed * 1000 + k))
                let kept = Self.streamed(bytes, format, keepingStrings: true) { _ in 1 + rng2.next(bound) }
                #expect(kept == expected, "input \(k), seed \(seed), strings kept")
            }
            #expect(Self.streamed(bytes, format, keepingStrings: true) { _ in 1 } == expected, "input \(k), 1-byte chunks, strings kept")
        }
    }

    @Test func wholeParseOfTheMixedInputsIsAsDesigned() throws {
        let csv = Self.whole(Array(Self.inputs(.csv)[0].utf8), .csv)
        // 6 good, 2 of the 3 edge rows (the one with the longest values is over 300 bytes), p1 priced,
        // the final row without a line feed; q1's stray quote swallows q2 (quote parity).
        #expect(csv.records.count == 10)
        #expect(csv.errors.map(\.field) == [nil, "input_tokens", nil, "cost_cents", nil, nil])
        #expect(csv.errors[0].reason == "the record is longer than 300 bytes")
        #expect(csv.errors[3].reason.hasPrefix("absent and no price is known for model 'unpriced' at"))
        #expect(csv.errors[5].reason.hasPrefix("the row is not valid CSV"))
        let priced = try #require(csv.records.first { $0.requestID == "p1" })
        #expect(priced.costNanos == 10 * 2_500 + 5 * 10_000)

        let header = Self.whole(Array(Self.inputs(.csv)[5].utf8), .csv)
        #expect(header.errors == [RecordError(line: 1, field: nil, reason: "the header row is longer than 300 bytes")])
        #expect(header.records.isEmpty)

        let rejected = Self.whole(Array(Self.inputs(.csv)[3].utf8), .csv)
        #expect(rejected.records.isEmpty)
        #expect(rejected.errors.map(\.field) == ["colour", "model", "created_at"])
        #expect(rejected.errors.allSatisfy { $0.line == 1 })

        let ndjson = Self.whole(Array(Self.inputs(.ndjson)[0].utf8), .ndjson)
        // In JSON the third edge row is over 300 bytes too.
        #expect(ndjson.records.count == 10)
        #expect(ndjson.records.contains { $0.model == "😀" && $0.requestID == "e1" })
        let json = Self.whole(Array(Self.inputs(.json)[0].utf8), .json)
        #expect(json.records.count == 9)
        #expect(json.errors.filter { $0.reason == "the array element is not a JSON object" }.count == 4)
    }

    @Test func byteOrderMarkSplitAcrossChunks() {
        let text = "\u{FEFF}" + F.csv([F.row()])
        let bytes = Array(text.utf8)
        #expect(Self.streamed(bytes, .csv) { _ in 1 }.records.count == 1)
        #expect(Self.streamed(bytes, .csv) { _ in 2 }.errors == [])
        // A lone partial byte-order mark is data, and not a valid header.
        let partial = Self.streamed([0xEF, 0xBB], .csv) { _ in 1 }
        #expect(partial == Self.whole([0xEF, 0xBB], .csv))
        #expect(partial.errors.first?.reason == "is not a field of the cost record")
    }

    @Test func streamingLineCounterAdvances() {
        var p = StreamingRecordParser(format: .ndjson)
        _ = p.feed(Array((F.ndjson([F.row(), F.row()]) + "{\"tenant").utf8))
        #expect(p.line == 3)
        let out = p.finish()
        #expect(out.errors.first?.line == 3)
    }
}
