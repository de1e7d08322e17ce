import TallyText
import Testing
@testable import TallyStore

/// Builders of CSV / NDJSON / JSON bodies for the ingest tests.
enum IngestFixture {
    /// A field value: `.s` is a string (quoted in JSON), `.raw` is written as is (a JSON number or literal).
    enum Value {
        case s(String)
        case raw(String)

        var text: String {
            switch self {
            case let .s(t), let .raw(t): t
            }
        }
    }

    typealias Row = [(key: String, value: Value)]

    static let allColumns = [
        "tenant_id", "project_id", "environment", "user_id", "feature_tag", "request_id", "workflow_id",
        "skill_id", "model", "input_tokens", "output_tokens", "cost_cents", "created_at",
    ]

    /// A valid row; `overrides` replace or add keys, a nil value removes the key.
    static func row(_ overrides: [String: Value?] = [:], request: String = "r-1") -> Row {
        var base: Row = [
            ("tenant_id", .s("acme")), ("request_id", .s(request)), ("model", .s("gpt-4o")),
            ("input_tokens", .raw("10")), ("output_tokens", .raw("5")), ("cost_cents", .raw("1.5")),
            ("created_at", .s("2025-06-01T00:00:00Z")),
        ]
        for (k, v) in overrides.sorted(by: { $0.key < $1.key }) {
            if let i = base.firstIndex(where: { $0.key == k }) {
                if let v { base[i].value = v } else { base.remove(at: i) }
            } else if let v {
                base.append((k, v))
            }
        }
        return base
    }

    static func csvField(_ s: String) -> String {
        if s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
            return "\"" + s.ingestReplacingAll("\"", with: "\"\"") + "\""
        }
        return s
    }

    /// CSV with the given columns (a missing key is an empty field).
    static func csv(_ rows: [Row], columns: [String] = allColumns, lineEnd: String = "\n") -> String {
        var out = columns.joined(separator: ",") + lineEnd
        for r in rows {
            out += columns.map { c in r.first(where: { $0.key == c }).map { csvField($0.value.text) } ?? "" }
                .joined(separator: ",") + lineEnd
        }
        return out
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    static func jsonObject(_ r: Row) -> String {
        "{" + r.map { kv in
            let v: String
            switch kv.value {
            case let .s(t): v = jsonString(t)
            case let .raw(t): v = t
            }
            return jsonString(kv.key) + ":" + v
        }.joined(separator: ",") + "}"
    }

    static func ndjson(_ rows: [Row]) -> String {
        rows.map(jsonObject).joined(separator: "\n") + "\n"
    }

    /// `[` on line 1, one element per line from line 2, `]` on the last line.
    static func jsonArray(_ rows: [Row]) -> String {
        "[\n" + rows.map(jsonObject).joined(separator: ",\n") + "\n]\n"
    }

    static func body(_ rows: [Row], _ format: InputFormat) -> String {
        switch format {
        case .csv: csv(rows)
        case .ndjson: ndjson(rows)
        case .json: jsonArray(rows)
        }
    }

    /// Line of the `index`-th row in `body(rows, format)` when no value holds a line break.
    static func line(ofRow index: Int, _ format: InputFormat) -> Int {
        format == .ndjson ? index + 1 : index + 2
    }

    static func parse(_ text: String, _ format: InputFormat, pricing: PriceTable? = nil,
                      limits: IngestLimits = IngestLimits()) -> ParseOutcome {
        RecordParser(format: format, pricing: pricing, limits: limits).parse(Array(text.utf8))
    }
}

extension String {
    func ingestReplacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

@Suite struct IngestFormatTests {
    typealias F = IngestFixture

    /// Records with edge values in every field, and the records they must parse into.
    static func edgeRows() -> (rows: [F.Row], expected: [CostRecord]) {
        let tenant64 = String(repeating: "a", count: 60) + ".:_-"
        let user256 = String(repeating: "u", count: 254) + "é"  // 256 bytes
        let request128 = String(repeating: "r", count: 128)
        let rows: [F.Row] = [
            // Only the required fields: defaults everywhere else; cost given as the smallest unit.
            [("tenant_id", .s("t1")), ("request_id", .s("req-1")), ("model", .s("gpt-4o")),
             ("cost_cents", .raw("0.0000001")), ("created_at", .s("2024-02-29T23:59:59.999Z"))],
            // Empty optional strings are defaults or empty; max-length values; max tokens.
            [("tenant_id", .s(tenant64)), ("project_id", .s("")), ("environment", .s("")), ("user_id", .s(user256)),
             ("feature_tag", .s("")), ("request_id", .s(request128)), ("workflow_id", .s("")), ("skill_id", .s("")),
             ("model", .s("claude-3-opus")), ("input_tokens", .raw("4294967295")), ("output_tokens", .raw("0")),
             ("cost_cents", .raw("1000000000")), ("created_at", .s("2024-03-01T01:30:00+02:00"))],
            // Unicode, quotes, commas and a line break (free-text fields may hold them).
            [("tenant_id", .s("org:eu-1")), ("project_id", .s("projé ✓")), ("environment", .s("staging")),
             ("user_id", .s("ユーザー😀")), ("feature_tag", .s("say \"hi\", then\nbye")),
             ("request_id", .s("\"quoted\",id")), ("workflow_id", .s("wf,1")), ("skill_id", .s("sk \"x\"")),
             ("model", .s("llama 3, \"70b\"")), ("input_tokens", .raw("7")), ("output_tokens", .raw("8")),
             ("cost_cents", .raw("12.3456789")), ("created_at", .s("2025-06-01 12:00:00.5-05:30"))],
        ]
        let expected = [
            CostRecord(tenantID: "t1", requestID: "req-1", model: "gpt-4o", inputTokens: 0, outputTokens: 0,
                       costNanos: 1, createdAtMillis: 1_709_251_199_999),
            CostRecord(tenantID: tenant64, userID: user256, requestID: request128, model: "claude-3-opus",
                       inputTokens: 4_294_967_295, outputTokens: 0, costNanos: Money.maxNanos,
                       createdAtMillis: 1_709_249_400_000),
            CostRecord(tenantID: "org:eu-1", projectID: "projé ✓", environment: "staging", userID: "ユーザー😀",
                       featureTag: "say \"hi\", then\nbye", requestID: "\"quoted\",id", workflowID: "wf,1",
                       skillID: "sk \"x\"", model: "llama 3, \"70b\"", inputTokens: 7, outputTokens: 8,
                       costNanos: 123_456_789, createdAtMillis: 1_748_799_000_500),
        ]
        return (rows, expected)
    }

    @Test(arguments: InputFormat.allCases)
    func roundTripsEveryField(format: InputFormat) throws {
        let (rows, expected) = Self.edgeRows()
        let out = F.parse(F.body(rows, format), format)
        #expect(out.errors == [])
        #expect(out.batch.records == expected)
        // The third row's feature tag holds a line break; in CSV it stays one record spanning two lines.
        let lines = format == .ndjson ? [1, 2, 3] : [2, 3, 4]
        #expect(out.batch.lines == lines)
    }

    @Test func roundTripsCRLFAndQuotedHeaderInCSV() {
        let (rows, expected) = Self.edgeRows()
        var text = F.csv(rows, lineEnd: "\r\n")
        text = "\"tenant_id\"" + text.dropFirst("tenant_id".count)
        let out = F.parse(text, .csv)
        #expect(out.errors == [])
        #expect(out.batch.records == expected)
        #expect(out.batch.lines == [2, 3, 4])
    }

    @Test func csvColumnsInAnyOrderWithOptionalColumnsMissing() {
        let text = "created_at,model,request_id,tenant_id,cost_cents\n2025-06-01T00:00:00Z,gpt-4o,r1,acme,2\n"
        let out = F.parse(text, .csv)
        #expect(out.errors == [])
        #expect(out.batch.records == [CostRecord(
            tenantID: "acme", requestID: "r1", model: "gpt-4o", inputTokens: 0, outputTokens: 0,
            costNanos: 20_000_000, createdAtMillis: 1_748_736_000_000)])
    }

    @Test func csvSkipsBlankLinesAndByteOrderMark() {
        let text = "\u{FEFF}" + "tenant_id,request_id,model,cost_cents,created_at\n\nacme,r1,m,1,2025-06-01T00:00:00Z\r\n\r\nacme,r2,m,1,2025-06-01T00:00:00Z"
        let out = F.parse(text, .csv)
        #expect(out.errors == [])
        #expect(out.batch.count == 2)
        #expect(out.batch.lines == [3, 5])
    }

    @Test func csvHeaderWithUnknownColumnRejectsEverything() {
        let text = "tenant_id,request_id,model,cost_cents,created_at,colour\nacme,r1,m,1,2025-06-01T00:00:00Z,red\n"
        let out = F.parse(text, .csv)
        #expect(out.batch.count == 0)
        #expect(out.errors == [RecordError(line: 1, field: "colour", reason: "is not a field of the cost record")])
    }

    @Test func csvHeaderWithDuplicateColumnRejectsEverything() {
        let text = "tenant_id,request_id,model,model,cost_cents,created_at\nacme,r1,m,m,1,2025-06-01T00:00:00Z\n"
        let out = F.parse(text, .csv)
        #expect(out.batch.count == 0)
        #expect(out.errors == [RecordError(line: 1, field: "model", reason: "appears more than once in the header")])
    }

    @Test func csvHeaderMissingRequiredColumnsRejectsEverything() {
        let out = F.parse("tenant_id,model,cost_cents\nacme,m,1\n", .csv)
        #expect(out.batch.count == 0)
        #expect(out.errors.map(\.field) == ["request_id", "created_at"])
        #expect(out.errors.allSatisfy { $0.line == 1 && $0.reason == "is a required column and missing from the header" })
    }

    @Test func csvHeaderWithEmptyColumnName() {
        let out = F.parse("tenant_id,request_id,model,cost_cents,created_at,\nacme,r1,m,1,2025-06-01T00:00:00Z,\n", .csv)
        #expect(out.batch.count == 0)
        #expect(out.errors == [RecordError(line: 1, field: nil, reason: "column 6 of the header has no name")])
    }

    @Test func csvRowWithWrongFieldCount() {
        let text = "tenant_id,request_id,model,cost_cents,created_at\nacme,r1,m,1\nacme,r2,m,1,2025-06-01T00:00:00Z\nacme,r3,m,1,2025-06-01T00:00:00Z,x\n"
        let out = F.parse(text, .csv)
        #expect(out.batch.lines == [3])
        #expect(out.errors == [
            RecordError(line: 2, field: nil, reason: "the row has 4 fields but the header has 5"),
            RecordError(line: 4, field: nil, reason: "the row has 6 fields but the header has 5"),
        ])
    }

    @Test func csvMalformedQuotes() {
        let header = "tenant_id,request_id,model,cost_cents,created_at\n"
        let text = header
            + "acme,r\"1,m,1,2025-06-01T00:00:00Z\n"     // line 2: a stray quote opens a span...
            + "acme,r\"2,m,1,2025-06-01T00:00:00Z\n"     // line 3: ...that this quote closes: lines 2-3 are one bad row
            + "acme,\"r3\"x,m,1,2025-06-01T00:00:00Z\n"  // line 4: text after a closing quote
            + "acme,r5,m,1,2025-06-01T00:00:00Z\n"       // line 5: fine
            + "acme,\"r6,m,1,2025-06-01T00:00:00Z\nx\n"  // line 6: a quote never closed
        let out = F.parse(text, .csv)
        #expect(out.batch.lines == [5])
        let stray = "the row is not valid CSV: a quote inside an unquoted field or text after a closing quote"
        #expect(out.errors == [
            RecordError(line: 2, field: nil, reason: stray),
            RecordError(line: 4, field: nil, reason: stray),
            RecordError(line: 6, field: nil, reason: "the row is not valid CSV: a quoted field is never closed"),
        ])
    }

    @Test func ndjsonSkipsBlankLinesAndCountsThem() {
        let text = "\n" + F.jsonObject(F.row()) + "\n  \r\n\t\n" + F.jsonObject(F.row(request: "r-2")) + "\n\n"
        let out = F.parse(text, .ndjson)
        #expect(out.errors == [])
        #expect(out.batch.lines == [2, 5])
    }

    @Test func jsonValueForms() throws {
        // Tokens as numbers or digit strings, cost as a number or a string, null for absent.
        let line = #"{"tenant_id":"acme","request_id":"r","model":"m","input_tokens":"12","output_tokens":3,"#
            + #""cost_cents":0.25,"created_at":"2025-06-01T00:00:00Z","user_id":null,"project_id":null}"#
        let line2 = #"{"tenant_id":"acme","request_id":"r2","model":"m","cost_cents":"1.0000001","created_at":"2025-06-01T00:00:00Z"}"#
        let out = F.parse(line + "\n" + line2, .ndjson)
        #expect(out.errors == [])
        let r = try #require(out.batch.records.first)
        #expect(r.inputTokens == 12 && r.outputTokens == 3 && r.costNanos == 2_500_000 && r.userID == "" && r.projectID == "default")
        #expect(out.batch.records.last?.costNanos == 10_000_001)
    }

    @Test func jsonEscapesAreDecoded() throws {
        let text = #"{"tenant\u005fid":"acme","request_id":"a\"b\\c\/d\be\ff\ng\rh\ti","model":"caf\u00e9 \ud83d\ude00 \u4E2D","# +
            #""feature_tag":"x\u0009y","cost_cents":"1","created_at":"2025-06-01T00:00:00Z"}"#
        let out = F.parse(text, .ndjson)
        // The request id holds control characters (\b, \f, \n, \r, \t): ids reject them.
        #expect(out.errors == [RecordError(line: 1, field: "request_id", reason: "contains a control character")])
        let fixed = text.ingestReplacingAll(#"a\"b\\c\/d\be\ff\ng\rh\ti"#, with: #"a\"b\\c\/d"#)
        let ok = F.parse(fixed, .ndjson)
        #expect(ok.errors == [])
        let r = try #require(ok.batch.records.first)
        #expect(r.tenantID == "acme")
        #expect(r.requestID == "a\"b\\c/d")
        #expect(r.model == "café 😀 中")
        #expect(r.featureTag == "x\ty")
    }

    @Test(arguments: [
        (#""model":"\ud83d""#, "model", "is not a valid JSON string: it has a \\u escape with an unpaired surrogate"),
        (#""model":"\ude00x""#, "model", "is not a valid JSON string: it has a \\u escape with an unpaired surrogate"),
        (#""model":"\x""#, "model", "is not a valid JSON string: it has an invalid escape sequence in a string"),
        (#""model":"\u12G4""#, "model", "is not a valid JSON string: it has an invalid escape sequence in a string"),
        ("\"model\":\"a\tb\"", "model", "is not a valid JSON string: it has a raw control character inside a string"),
    ])
    func jsonBadStrings(member: String, field: String, reason: String) {
        let text = #"{"tenant_id":"acme","request_id":"r","cost_cents":1,"created_at":"2025-06-01T00:00:00Z","# + member + "}"
        let out = F.parse(text, .ndjson)
        #expect(out.batch.count == 0)
        #expect(out.errors == [RecordError(line: 1, field: field, reason: reason)])
    }

    @Test(arguments: [
        (#"{"tenant_id":"acme","colour":"red"}"#, "colour", "is not a field of the cost record"),
        (#"{"tenant_id":"acme","tenant_id":"acme"}"#, "tenant_id", "appears more than once"),
        (#"{"tenant_id":"acme","model":null,"model":"m"}"#, "model", "appears more than once"),
        (#"{"tenant_id":{"id":"acme"}}"#, "tenant_id", "must not be a nested object or array"),
        (#"{"user_id":["a"]}"#, "user_id", "must not be a nested object or array"),
        (#"{"tenant_id" "acme"}"#, nil, "the record is not valid JSON: it has no ':' after a key"),
        (#"{"tenant_id":"acme",}"#, nil, "the record is not valid JSON: it has a key that is not a string"),
        (#"{"tenant_id":"acme""#, nil, "the record is not valid JSON: it ends too early"),
        (#"{"tenant_id":"acme"} {"#, nil, "the record has data after the end of its JSON object"),
        (#"{"input_tokens":01}"#, nil, "the record is not valid JSON: it has no ',' or '}' after a value"),
        (#"{"input_tokens":-}"#, nil, "the record is not valid JSON: it has a malformed number"),
        (#"{"input_tokens":nul}"#, nil, "the record is not valid JSON: it has an unexpected character where a value belongs"),
        (#"["tenant_id"]"#, nil, "the record is not a JSON object"),
    ] as [(String, String?, String)])
    func jsonStructureErrors(text: String, field: String?, reason: String) {
        let out = F.parse("\n" + text + "\n", .ndjson)
        #expect(out.batch.count == 0)
        #expect(out.errors == [RecordError(line: 2, field: field, reason: reason)])
    }

    @Test func jsonArrayLayoutAndLines() {
        let a = F.jsonObject(F.row(request: "a")), b = F.jsonObject(F.row(request: "b"))
        let text = "  [\n\n" + a + " ,\n  1,\n" + b + "\n\n  ]  \n"
        let out = F.parse(text, .json)
        #expect(out.batch.lines == [3, 5])
        #expect(out.errors == [RecordError(line: 4, field: nil, reason: "the array element is not a JSON object")])
        // A multi-line object's line is the line of its `{`; its inner line breaks count.
        let multi = "[{\n\"tenant_id\": \"acme\",\n\"request_id\": \"x\"\n},\n" + a + "]"
        let m = F.parse(multi, .json)
        #expect(m.errors.map(\.line) == [1, 1])  // model and created_at are required
        #expect(m.batch.lines == [5])
    }

    @Test(arguments: [
        ("", 1, "the input is empty: expected a JSON array of records"),
        ("{\"tenant_id\":\"acmf\"}", 1, "the input must be a JSON array of records (it does not start with '[')"),
        ("[\n" + IngestFixture.jsonObject(IngestFixture.row()) + "\n", 3, "the JSON array is not closed with ']'"),
        ("[\n" + IngestFixture.jsonObject(IngestFixture.row()) + ",\n]", 3, "the JSON array is not valid: ']' follows a ','"),
        ("[\n" + IngestFixture.jsonObject(IngestFixture.row()) + "\n" + IngestFixture.jsonObject(IngestFixture.row()) + "]", 3,
         "the JSON array is not valid: expected ',' or ']' after an element"),
        ("[\n" + IngestFixture.jsonObject(IngestFixture.row()) + "]\n[]", 3, "the input has data after the end of the JSON array"),
    ])
    func jsonArrayStructureErrors(text: String, line: Int, reason: String) {
        let out = F.parse(text, .json)
        #expect(out.errors.last == RecordError(line: line, field: nil, reason: reason))
        #expect(out.errors.count == 1)
        #expect(out.batch.count == (text.contains("acme") ? 1 : 0))
    }

    @Test func jsonArrayUnterminatedElement() {
        let out = F.parse("[\n{\"tenant_id\":\"ac", .json)
        #expect(out.errors == [
            RecordError(line: 2, field: nil, reason: "the record is not valid JSON: the input ends inside it"),
            RecordError(line: 2, field: nil, reason: "the JSON array is not closed with ']'"),
        ])
    }

    @Test func emptyInputs() {
        #expect(F.parse("", .csv).errors == [])
        #expect(F.parse("", .ndjson).errors == [])
        #expect(F.parse("[]", .json).errors == [])
        #expect(F.parse("tenant_id,request_id,model,cost_cents,created_at\n", .csv).batch.count == 0)
    }

    @Test func fieldMatchingCoversEveryName() {
        for f in RecordField.allCases {
            #expect(RecordField.match(f.name) == f)
            #expect(RecordField.match(String(f.name.dropLast()) + "X") == nil)
            #expect(RecordField.match("X" + f.name.dropFirst()) == nil)
        }
        #expect(RecordField.match("") == nil && RecordField.match("tenant_idx") == nil)
    }

    @Test func mediaTypesAndFileNames() {
        #expect(InputFormat(mediaType: "application/x-ndjson; charset=utf-8") == .ndjson)
        #expect(InputFormat(mediaType: "text/CSV") == .csv)
        #expect(InputFormat(mediaType: "application/json") == .json)
        #expect(InputFormat(mediaType: "text/plain") == nil)
        #expect(InputFormat(fileName: "/tmp/costs.jsonl") == .ndjson)
        #expect(InputFormat(fileName: "costs") == nil)
    }
}
