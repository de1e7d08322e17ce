import Testing
@testable import TallyStore

/// The parallel parser's outcomes, taken together, equal one streaming parser's: same records in the same
/// order, same source lines, same errors, whatever the piece size, the read sizes and the number of workers.
@Suite struct ParallelRecordParserTests {
    typealias F = IngestFixture
    typealias R = IngestStreamingTests.Result

    /// Reads `bytes` in pieces of random size (at most `readBound`), failing after `failAfter` bytes if set.
    final class Source: @unchecked Sendable {
        let bytes: [UInt8]
        var at = 0
        var rng: TestRNG
        let readBound: Int
        let failAfter: Int?

        init(_ bytes: [UInt8], seed: UInt64, readBound: Int, failAfter: Int? = nil) {
            self.bytes = bytes
            rng = TestRNG(seed: seed)
            self.readBound = readBound
            self.failAfter = failAfter
        }

        struct Broken: Error, CustomStringConvertible { var description: String { "the disk went away" } }

        func read(_ into: UnsafeMutableRawBufferPointer) throws -> Int {
            if let failAfter, at >= failAfter { throw Broken() }
            let n = min(into.count, bytes.count - at, 1 + rng.next(readBound))
            guard n > 0 else { return 0 }
            bytes.withUnsafeBytes { into.baseAddress!.copyMemory(from: $0.baseAddress! + at, byteCount: n) }
            at += n
            return n
        }
    }

    static func parallel(
        _ bytes: [UInt8], _ format: InputFormat, workers: Int, chunkBytes: Int, seed: UInt64, readBound: Int,
        table: StringTable? = nil, failAfter: Int? = nil
    ) -> (result: R, outcomes: [ParseOutcome], failure: String?) {
        let source = Source(bytes, seed: seed, readBound: readBound, failAfter: failAfter)
        let parser = ParallelRecordParser(
            format: format, pricing: IngestStreamingTests.pricing, limits: IngestStreamingTests.limits,
            workers: workers, chunkBytes: chunkBytes, translatingInto: table, read: source.read)
        var r = R()
        var all: [ParseOutcome] = []
        while let o = parser.next() {
            r.add(o)
            all.append(o)
        }
        return (r, all, parser.failure)
    }

    /// Many rows of every kind: good, bad, oversized, quoted line breaks, doubled quotes, a stray quote
    /// (which swallows the next row by quote parity), blank lines and CRLF.
    static func longCSV(rows: Int, seed: UInt64) -> String {
        var rng = TestRNG(seed: seed)
        var text = String(F.csv([F.row()]).split(separator: "\n")[0]) + "\n"
        for i in 0..<rows {
            func body(_ r: [String: IngestFixture.Value?], _ id: String) -> String {
                String(F.csv([F.row(r, request: id)]).split(separator: "\n", maxSplits: 1)[1])
            }
            let row: String
            switch rng.next(12) {
            case 0: row = body(["feature_tag": .s("multi\nline \"quoted\", text")], "q\(i)")
            case 1: row = body(["input_tokens": .s("x")], "b\(i)")
            case 2: row = body(["feature_tag": .s(String(repeating: "f", count: 280))], "big\(i)")
            case 3: row = ""
            case 4: row = "acme,,,,,s\(i),,,gpt-4o,1,1,1,2025-06-01T00:00:00Z\"T"
            default: row = body(["user_id": .s("user-\(rng.next(40))")], "g\(i)")
            }
            text += row.trimmingSuffix("\n") + (rng.next(5) == 0 ? "\r\n" : "\n")
        }
        return text
    }

    @Test(arguments: InputFormat.allCases)
    func piecesEqualOneStream(format: InputFormat) {
        var inputs = IngestStreamingTests.inputs(format)
        if format == .csv { inputs += [Self.longCSV(rows: 400, seed: 1), Self.longCSV(rows: 400, seed: 2) + "acme,\"open"] }
        if format == .ndjson { inputs.append(String(repeating: IngestStreamingTests.inputs(.ndjson)[0] + "\n", count: 20)) }
        for (k, text) in inputs.enumerated() {
            let bytes = Array(text.utf8)
            let expected = IngestStreamingTests.whole(bytes, format)
            let whole = RecordParser(format: format, pricing: IngestStreamingTests.pricing, limits: IngestStreamingTests.limits).parse(bytes)
            for (j, chunk) in [1, 7, 64, 301, 1_000, 4_096, 1 << 20].enumerated() {
                for workers in 1...3 {
                    let seed = UInt64(k * 100 + j * 10 + workers)
                    let got = Self.parallel(bytes, format, workers: workers, chunkBytes: chunk, seed: seed, readBound: [5, 900, 70_000][workers - 1])
                    #expect(got.result == expected, "input \(k), chunk \(chunk), \(workers) workers")
                    #expect(got.failure == nil)
                    #expect(got.outcomes.reduce(0) { $0 + $1.rejectedRecords } == whole.rejectedRecords, "input \(k): rejected records")
                    #expect(got.outcomes.reduce(0) { $0 + $1.errorCount } == whole.errorCount, "input \(k): errors counted")
                }
            }
        }
    }

    @Test func translatedCodesNameTheSameStrings() {
        let bytes = Array(Self.longCSV(rows: 3_000, seed: 9).utf8)
        let table = StringTable()
        let got = Self.parallel(bytes, .csv, workers: 3, chunkBytes: 2_000, seed: 4, readBound: 3_000, table: table)
        #expect(got.result == IngestStreamingTests.whole(bytes, .csv))
        #expect(got.outcomes.count > 20, "the input is cut in many pieces")
        let values = table.values
        for o in got.outcomes where o.batch.count > 0 {
            guard let (t, codes) = o.batch.tableCodes else {
                Issue.record("a batch was not translated")
                continue
            }
            #expect(t === table)
            #expect(codes.count == o.batch.strings.count)
            for (c, s) in o.batch.strings.values.enumerated() {
                #expect(values[Int(codes[c])] == s)
            }
        }
    }

    @Test func aReadFailureEndsTheOutcomesAndIsReported() {
        let bytes = Array(Self.longCSV(rows: 2_000, seed: 3).utf8)
        let expected = IngestStreamingTests.whole(bytes, .csv)
        let got = Self.parallel(bytes, .csv, workers: 2, chunkBytes: 1_000, seed: 5, readBound: 500, failAfter: bytes.count / 2)
        #expect(got.failure == "the disk went away")
        #expect(got.result.records.count < expected.records.count)
        #expect(Array(expected.records.prefix(got.result.records.count)) == got.result.records, "what came out is a prefix")
        #expect(Array(expected.lines.prefix(got.result.lines.count)) == got.result.lines)
    }

    @Test func cancelStopsEveryThread() {
        let bytes = Array(Self.longCSV(rows: 5_000, seed: 6).utf8)
        let source = Source(bytes, seed: 1, readBound: 300)
        let parser = ParallelRecordParser(
            format: .csv, pricing: IngestStreamingTests.pricing, limits: IngestStreamingTests.limits,
            workers: 2, chunkBytes: 500, read: source.read)
        #expect(parser.next() != nil)
        parser.cancel()
        #expect(parser.next() == nil)
    }
}

private extension String {
    func trimmingSuffix(_ s: String) -> String { hasSuffix(s) ? String(dropLast(s.count)) : self }
}
