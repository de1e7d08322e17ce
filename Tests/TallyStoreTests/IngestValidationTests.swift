import Testing
@testable import TallyStore

@Suite struct IngestValidationTests {
    typealias F = IngestFixture

    struct Case: CustomTestStringConvertible, Sendable {
        var overrides: [String: String?]
        var field: String?
        var reason: String
        /// Written as JSON numbers rather than strings (for the numeric fields).
        var raw = false
        var testDescription: String { "\(field ?? "-"): \(reason)" }
    }

    static let timestampMalformed = "must be an RFC 3339 timestamp such as 2025-01-31T12:00:00.000Z"

    static let cases: [Case] = [
        Case(overrides: ["tenant_id": nil], field: "tenant_id", reason: "is required"),
        Case(overrides: ["tenant_id": ""], field: "tenant_id", reason: "is required"),
        Case(overrides: ["tenant_id": "acme corp"], field: "tenant_id", reason: "must be 1-64 characters of [A-Za-z0-9._:-]"),
        Case(overrides: ["tenant_id": "acmé"], field: "tenant_id", reason: "must be 1-64 characters of [A-Za-z0-9._:-]"),
        Case(overrides: ["tenant_id": String(repeating: "t", count: 65)], field: "tenant_id",
             reason: "must be 1-64 characters of [A-Za-z0-9._:-]"),
        Case(overrides: ["request_id": nil], field: "request_id", reason: "is required"),
        Case(overrides: ["request_id": ""], field: "request_id", reason: "is required"),
        Case(overrides: ["request_id": String(repeating: "r", count: 129)], field: "request_id", reason: "is longer than 128 bytes"),
        Case(overrides: ["request_id": "r\u{1}"], field: "request_id", reason: "contains a control character"),
        Case(overrides: ["request_id": "ré\u{85}"], field: "request_id", reason: "contains a control character"),
        Case(overrides: ["user_id": "u\tv"], field: "user_id", reason: "contains a control character"),
        Case(overrides: ["project_id": "p\u{7F}"], field: "project_id", reason: "contains a control character"),
        Case(overrides: ["workflow_id": "w\rx"], field: "workflow_id", reason: "contains a control character"),
        Case(overrides: ["skill_id": "\u{0}"], field: "skill_id", reason: "contains a control character"),
        Case(overrides: ["user_id": String(repeating: "u", count: 257)], field: "user_id", reason: "is longer than 256 bytes"),
        Case(overrides: ["feature_tag": String(repeating: "é", count: 129)], field: "feature_tag", reason: "is longer than 256 bytes"),
        Case(overrides: ["model": nil], field: "model", reason: "is required"),
        Case(overrides: ["model": ""], field: "model", reason: "is required"),
        Case(overrides: ["input_tokens": "-1"], field: "input_tokens", reason: "must be an integer >= 0", raw: true),
        Case(overrides: ["input_tokens": "1.5"], field: "input_tokens", reason: "must be an integer >= 0", raw: true),
        Case(overrides: ["input_tokens": "1e3"], field: "input_tokens", reason: "must be an integer >= 0", raw: true),
        Case(overrides: ["output_tokens": "12a"], field: "output_tokens", reason: "must be an integer >= 0"),
        Case(overrides: ["output_tokens": "+5"], field: "output_tokens", reason: "must be an integer >= 0"),
        Case(overrides: ["output_tokens": "4294967296"], field: "output_tokens", reason: "must be at most 4294967295", raw: true),
        Case(overrides: ["output_tokens": "99999999999999999999999"], field: "output_tokens",
             reason: "must be at most 4294967295", raw: true),
        Case(overrides: ["cost_cents": "-1"], field: "cost_cents", reason: "must be >= 0", raw: true),
        Case(overrides: ["cost_cents": "0.00000001"], field: "cost_cents", reason: "has more than 7 decimal places", raw: true),
        Case(overrides: ["cost_cents": "1e3"], field: "cost_cents",
             reason: "must be a decimal number of cents, e.g. 12.5 (no exponent)", raw: true),
        Case(overrides: ["cost_cents": "12,5"], field: "cost_cents", reason: "must be a decimal number of cents, e.g. 12.5 (no exponent)"),
        Case(overrides: ["cost_cents": "1000000000.0000001"], field: "cost_cents", reason: "is larger than 1000000000 cents", raw: true),
        Case(overrides: ["cost_cents": nil], field: "cost_cents",
             reason: "absent and no price is known for model 'gpt-4o' at 2025-06-01T00:00:00.000Z"),
        Case(overrides: ["created_at": nil], field: "created_at", reason: "is required"),
        Case(overrides: ["created_at": "yesterday"], field: "created_at", reason: timestampMalformed),
        Case(overrides: ["created_at": "2025-06-01T00:00:00"], field: "created_at", reason: timestampMalformed),
        // A bare date is not a timestamp (it was stored as midnight UTC).
        Case(overrides: ["created_at": "2026-11-30"], field: "created_at",
             reason: "must be a full RFC 3339 timestamp with a time and an offset, such as 2025-01-31T12:00:00Z (not a bare date)"),
        Case(overrides: ["created_at": "2026-11-30T10:00"], field: "created_at", reason: timestampMalformed),
        Case(overrides: ["created_at": "2025-02-29T00:00:00Z"], field: "created_at",
             reason: "is out of range (a real date and time in the years 1970-2200)"),
        Case(overrides: ["created_at": "1969-12-31T23:59:59Z"], field: "created_at",
             reason: "is out of range (a real date and time in the years 1970-2200)"),
        Case(overrides: ["created_at": "2025-06-01T00:00:00.0001Z"], field: "created_at",
             reason: "has sub-millisecond precision (at most 3 non-zero fraction digits)"),
    ]

    /// The bad record sits between two good ones; exactly it is rejected, with its line and field.
    @Test(arguments: cases, InputFormat.allCases)
    func rejectsBadField(c: Case, format: InputFormat) throws {
        var overrides: [String: F.Value?] = [:]
        for (k, v) in c.overrides { overrides.updateValue(v.map { c.raw && format != .csv ? .raw($0) : .s($0) }, forKey: k) }
        let rows = [F.row(request: "a"), F.row(overrides, request: "b"), F.row(request: "c")]
        let out = F.parse(F.body(rows, format), format)
        #expect(out.errors == [RecordError(line: F.line(ofRow: 1, format), field: c.field, reason: c.reason)])
        #expect(out.batch.lines == [F.line(ofRow: 0, format), F.line(ofRow: 2, format)])
    }

    @Test(arguments: InputFormat.allCases)
    func reportsEveryBadFieldOfARecord(format: InputFormat) {
        let rows = [F.row(["tenant_id": .s("a b"), "input_tokens": .s("x"), "created_at": .s("never")])]
        let out = F.parse(F.body(rows, format), format)
        #expect(out.errors.map(\.field) == ["tenant_id", "input_tokens", "created_at"])
        #expect(out.batch.count == 0)
    }

    @Test(arguments: [InputFormat.ndjson, .json])
    func jsonTypeMismatches(format: InputFormat) {
        let cases: [(String, F.Value, String)] = [
            ("user_id", .raw("42"), "must be a string"),
            ("tenant_id", .raw("true"), "must be a string"),
            ("request_id", .raw("7"), "must be a string"),
            ("input_tokens", .raw("false"), "must be an integer >= 0"),
            ("cost_cents", .raw("true"), "must be a decimal number of cents"),
            ("created_at", .raw("1748736000000"), "must be an RFC 3339 timestamp string"),
        ]
        for (key, value, reason) in cases {
            let out = F.parse(F.body([F.row([key: value])], format), format)
            #expect(out.errors == [RecordError(line: F.line(ofRow: 0, format), field: key, reason: reason)], "\(key)")
        }
    }

    @Test(arguments: InputFormat.allCases)
    func rejectsInvalidUTF8(format: InputFormat) {
        for key in ["user_id", "model", "request_id"] {
            let text = F.body([F.row([key: .s("X")])], format)
            var bytes = Array(text.utf8)
            let i = bytes.firstIndex(of: UInt8(ascii: "X"))!
            bytes.replaceSubrange(i...i, with: [0x61, 0xC3, 0x28])  // a truncated 2-byte sequence
            let out = RecordParser(format: format).parse(bytes)
            #expect(out.errors == [RecordError(line: F.line(ofRow: 0, format), field: key, reason: "is not valid UTF-8")])
        }
    }

    @Test(arguments: InputFormat.allCases)
    func rejectsRecordsLongerThanTheLimit(format: InputFormat) {
        let limits = IngestLimits(maxRecordBytes: 280)
        let rows = [F.row(request: "a"), F.row(["user_id": .s(String(repeating: "u", count: 255))], request: "b"), F.row(request: "c")]
        let out = F.parse(F.body(rows, format), format, limits: limits)
        #expect(out.errors == [RecordError(line: F.line(ofRow: 1, format), field: nil, reason: "the record is longer than 280 bytes")])
        #expect(out.batch.lines == [F.line(ofRow: 0, format), F.line(ofRow: 2, format)])
    }

    @Test func customLimits() {
        let limits = IngestLimits(maxFieldBytes: 4, maxRequestIDBytes: 3, maxTokens: 100)
        let rows = [F.row(["user_id": .s("abcde"), "input_tokens": .raw("101"), "model": .s("m")], request: "abcd"),
                    F.row(["user_id": .s("abcd"), "input_tokens": .raw("100"), "model": .s("m")], request: "abc")]
        let out = F.parse(F.body(rows, .ndjson), .ndjson, limits: limits)
        #expect(out.errors == [
            RecordError(line: 1, field: "user_id", reason: "is longer than 4 bytes"),
            RecordError(line: 1, field: "request_id", reason: "is longer than 3 bytes"),
            RecordError(line: 1, field: "input_tokens", reason: "must be at most 100"),
        ])
        #expect(out.batch.records.map(\.inputTokens) == [100])
    }

    /// A string first interned for a free-text field is still checked against the id rules elsewhere.
    @Test func validationDoesNotLeakBetweenFields() {
        let rows = [
            F.row(["feature_tag": .s("a\nb"), "model": .s("acme corp")], request: "a"),
            F.row(["user_id": .s("a\nb")], request: "b"),
            F.row(["tenant_id": .s("acme corp")], request: "c"),
        ]
        let out = F.parse(F.body(rows, .ndjson), .ndjson)
        #expect(out.batch.lines == [1])
        #expect(out.errors == [
            RecordError(line: 2, field: "user_id", reason: "contains a control character"),
            RecordError(line: 3, field: "tenant_id", reason: "must be 1-64 characters of [A-Za-z0-9._:-]"),
        ])
    }

    @Test func recordErrorDescription() {
        #expect(RecordError(line: 3, field: "input_tokens", reason: "must be an integer >= 0").description
            == "line 3: input_tokens must be an integer >= 0")
        #expect(RecordError(line: 1, field: nil, reason: "the record is longer than 10 bytes").description
            == "line 1: the record is longer than 10 bytes")
    }

    // MARK: - Bounded errors

    /// A body of `{}` lines has four errors per line (22 million in 16 MiB): only the first
    /// `maxKeptErrors` are kept, the rest counted; the same whole or fed in chunks.
    @Test(arguments: InputFormat.allCases)
    func keepsOnlyTheFirstErrorsAndCountsTheRest(format: InputFormat) {
        let n = 200_000
        let body: [UInt8]
        switch format {
        case .ndjson: body = Array(String(repeating: "{}\n", count: n).utf8)
        case .json: body = Array(("[" + Array(repeating: "{}", count: n).joined(separator: ",\n") + "]").utf8)
        case .csv: body = Array(("tenant_id,request_id,model,created_at\n" + String(repeating: ",,,\n", count: n)).utf8)
        }
        let limits = IngestLimits(maxKeptErrors: 100)
        let whole = RecordParser(format: format, limits: limits).parse(body)
        #expect(whole.errors.count == 100)
        #expect(whole.errorCount == 4 * n)
        #expect(whole.rejectedRecords == n)
        #expect(whole.batch.count == 0)
        let firstLine = format == .csv ? 2 : 1
        #expect(whole.errors.first?.line == firstLine)
        #expect(whole.errors.map(\.line) == whole.errors.map(\.line).sorted())
        #expect(whole.errors.last!.line == firstLine + 24)

        var streaming = StreamingRecordParser(format: format, limits: limits)
        var count = 0, lines = 0, kept = 0
        var start = 0
        while start < body.count {
            let end = min(body.count, start + 65_536 + 7)
            let out = streaming.feed(Array(body[start..<end]))
            count += out.errorCount
            lines += out.rejectedRecords
            kept += out.errors.count
            #expect(out.errors.count <= 100)
            start = end
        }
        let last = streaming.finish()
        count += last.errorCount
        lines += last.rejectedRecords
        #expect(count == 4 * n)
        #expect(lines == n)
    }

    /// Unknown keys and oversized values build no error text beyond the cap, and are still counted.
    @Test func unknownKeysAndLongValuesAreCountedBeyondTheCap() {
        let line = #"{"zz_\#(String(repeating: "k", count: 100))":1}"# + "\n"
        let long = #"{"tenant_id":"acme","request_id":"\#(String(repeating: "r", count: 1000))","model":"m","created_at":"2025-01-01T00:00:00Z","cost_cents":1}"# + "\n"
        let body = Array((String(repeating: line, count: 5_000) + String(repeating: long, count: 5_000)).utf8)
        let out = RecordParser(format: .ndjson, limits: IngestLimits(maxKeptErrors: 10)).parse(body)
        #expect(out.errors.count == 10)
        #expect(out.errors.first?.field == "zz_" + String(repeating: "k", count: 61) + "...")
        #expect(out.errorCount == 10_000)
        #expect(out.rejectedRecords == 10_000)
    }

    /// Records sharing a line (a JSON array on one line) are counted one by one, and a record's several
    /// bad fields count it once.
    @Test func rejectedRecordsAreCountedPerRecordNotPerLine() {
        let one = RecordParser(format: .json).parse(Array(("[" + Array(repeating: "{}", count: 7).joined(separator: ",") + "]").utf8))
        #expect(one.rejectedRecords == 7 && one.errorCount == 28)
        let csv = RecordParser(format: .csv).parse(Array("tenant_id,request_id,model,created_at\n,,,\n\"a\nb\",,,\n".utf8))
        #expect(csv.rejectedRecords == 2 && csv.errorCount == 8)
    }
}
