import Foundation
import TallyStore
import TallyText
import Testing
@testable import TallyOTLP

@Suite("Span to record mapping")
struct SpanRecordMapperTests {
    /// gpt-4o priced (the request model); the dated response model not.
    static let pricing = PriceTable(entries: [
        "gpt-4o": [PriceEntry(effectiveFromMillis: 0, inputPerMillionNanos: 250 * Money.nanosPerCent, outputPerMillionNanos: 1000 * Money.nanosPerCent)]
    ])
    let mapper = SpanRecordMapper(mapping: .standard, pricing: SpanRecordMapperTests.pricing)

    @Test("a GenAI chat span becomes a record: span id, end time, model, tokens, and the default attribute mapping")
    func standardMapping() throws {
        let span = SpanBuilder.chat("00f067aa0ba902b7", extra: [
            ("gen_ai.response.model", .s("gpt-4o-2024-08-06")), ("user.id", .s("u-42")), ("tally.workflow_id", .s("wf-1")),
            ("tally.skill_id", .s("summarize")),
        ])
        let request = SpanBuilder.request(resource: [
            ("service.name", .s("chatbot")), ("deployment.environment.name", .s("staging")), ("tally.project_id", .s("web")),
        ], [span])
        let mapped = mapper.map(request, keyTenant: "acme")
        #expect(mapped.spans == 1 && mapped.ignored == 0 && mapped.rejected == [])
        #expect(mapped.spanIDs == ["00f067aa0ba902b7"])
        let r = try #require(try records(mapped).first)
        #expect(r["tenant_id"] as? String == "acme")
        #expect(r["request_id"] as? String == "00f067aa0ba902b7")
        // The dated response model is not priced; the request model is, so it names the record.
        #expect(r["model"] as? String == "gpt-4o")
        #expect(r["input_tokens"] as? Int == 1000)
        #expect(r["output_tokens"] as? Int == 200)
        #expect(r["created_at"] as? String == "2025-05-01T12:00:00.000Z")
        #expect(r["feature_tag"] as? String == "chatbot")
        #expect(r["environment"] as? String == "staging")
        #expect(r["project_id"] as? String == "web")
        #expect(r["user_id"] as? String == "u-42")
        #expect(r["workflow_id"] as? String == "wf-1")
        #expect(r["skill_id"] as? String == "summarize")
        #expect(r["cost_cents"] == nil, "no cost on the span: the records path prices it")
    }

    @Test("the response model names the record when it is priced, or when no model is")
    func responseModelFirst() throws {
        let priced = SpanBuilder.chat("0000000000000001", model: "gpt-4o-mini", extra: [("gen_ai.response.model", .s("gpt-4o"))])
        let unpriced = SpanBuilder.chat("0000000000000002", model: "m-request", extra: [("gen_ai.response.model", .s("m-response"))])
        let r = try records(mapper.map(SpanBuilder.request([priced, unpriced]), keyTenant: "acme"))
        #expect(r.map { $0["model"] as? String } == ["gpt-4o", "m-response"])
    }

    @Test("the older prompt_tokens and completion_tokens names, gen_ai.system as the marker, deployment.environment")
    func olderNames() throws {
        let span = SpanBuilder.span("0000000000000003", [
            ("gen_ai.system", .s("openai")), ("gen_ai.request.model", .s("gpt-4o")),
            ("gen_ai.usage.prompt_tokens", .i(11)), ("gen_ai.usage.completion_tokens", .i(7)),
        ])
        let r = try #require(try records(mapper.map(SpanBuilder.request(resource: [("deployment.environment", .s("dev"))], [span]),
                                                    keyTenant: "acme")).first)
        #expect(r["input_tokens"] as? Int == 11 && r["output_tokens"] as? Int == 7)
        #expect(r["environment"] as? String == "dev")
        #expect(r["feature_tag"] == nil, "no service.name, no tally.feature_tag: the contract's default applies")
    }

    @Test("tally.feature_tag on the resource beats service.name; a span attribute beats the resource's")
    func precedence() throws {
        let a = SpanBuilder.chat("0000000000000004")
        let b = SpanBuilder.chat("0000000000000005", extra: [("tally.feature_tag", .s("search")), ("user.id", .s("span-user"))])
        let request = SpanBuilder.request(resource: [("service.name", .s("svc")), ("tally.feature_tag", .s("chat")), ("user.id", .s("res-user"))], [a, b])
        let r = try records(mapper.map(request, keyTenant: "acme"))
        #expect(r.map { $0["feature_tag"] as? String } == ["chat", "search"])
        #expect(r.map { $0["user_id"] as? String } == ["res-user", "span-user"])
    }

    @Test("spans without GenAI attributes and agent or tool spans are ignored and counted, not rejected")
    func ignored() throws {
        let http = SpanBuilder.span("0000000000000006", name: "GET /", [("http.request.method", .s("GET"))])
        let agent = SpanBuilder.span("0000000000000007", [("gen_ai.operation.name", .s("invoke_agent")), ("gen_ai.usage.input_tokens", .i(5000))])
        let tool = SpanBuilder.span("0000000000000008", [("gen_ai.operation.name", .s("execute_tool"))])
        let chat = SpanBuilder.chat("0000000000000009")
        let mapped = mapper.map(SpanBuilder.request([http, agent, tool, chat]), keyTenant: "acme")
        #expect(mapped.spans == 4)
        #expect(mapped.ignored == 3)
        #expect(mapped.rejected == [])
        #expect(mapped.spanIDs == ["0000000000000009"])
    }

    @Test("GenAI spans that cannot be records are rejected with the reason", arguments: [
        ("no model", [("gen_ai.operation.name", SpanBuilder.V.s("chat")), ("gen_ai.usage.input_tokens", .i(3))], "without a model"),
        ("negative tokens", [("gen_ai.request.model", .s("gpt-4o")), ("gen_ai.usage.input_tokens", .i(-3))], "gen_ai.usage.input_tokens must be a whole number"),
        ("fractional tokens", [("gen_ai.request.model", .s("gpt-4o")), ("gen_ai.usage.output_tokens", .d(2.5))], "gen_ai.usage.output_tokens must be a whole number"),
        ("bad cost", [("gen_ai.request.model", .s("gpt-4o")), ("gen_ai.usage.cost", .d(-1))], "gen_ai.usage.cost must be"),
    ])
    func rejected(_ label: String, _ attributes: [(String, SpanBuilder.V)], _ reason: String) throws {
        let mapped = mapper.map(SpanBuilder.request([SpanBuilder.span("000000000000000a", attributes)]), keyTenant: "acme")
        #expect(mapped.spanIDs == [])
        #expect(mapped.rejected.count == 1)
        #expect(mapped.rejected.first?.spanID == "000000000000000a")
        #expect(mapped.rejected.first?.reason.contains(reason) == true, "\(label): \(mapped.rejected)")
    }

    @Test("an admin key's spans must name their tenant; a tenant key's carry the attribute's tenant to the records path")
    func tenants() throws {
        let named = SpanBuilder.chat("000000000000000b", extra: [("tally.tenant_id", .s("globex"))])
        let unnamed = SpanBuilder.chat("000000000000000c")
        let admin = mapper.map(SpanBuilder.request([named, unnamed]), keyTenant: nil)
        #expect(try records(admin).map { $0["tenant_id"] as? String } == ["globex"])
        #expect(admin.rejected.map(\.spanID) == ["000000000000000c"])
        #expect(admin.rejected.first?.reason.contains("tally.tenant_id") == true)
        // The records path rejects a tenant key's record of another tenant (TraceExportTests).
        let tenant = mapper.map(SpanBuilder.request([named, unnamed]), keyTenant: "acme")
        #expect(try records(tenant).map { $0["tenant_id"] as? String } == ["globex", "acme"])
    }

    @Test("created_at is the end time, else the start time; a span with neither is rejected; a wrong-size span id too")
    func times() throws {
        var noEnd = SpanBuilder.chat("000000000000000d")
        noEnd.endTimeUnixNano = 0
        var never = SpanBuilder.chat("000000000000000e")
        never.endTimeUnixNano = 0
        never.startTimeUnixNano = 0
        var shortID = SpanBuilder.chat("000000000000000f")
        shortID.spanID = Data([1, 2, 3])
        let mapped = mapper.map(SpanBuilder.request([noEnd, never, shortID]), keyTenant: "acme")
        #expect(try records(mapped).map { $0["created_at"] as? String } == ["2025-05-01T11:59:58.500Z"])
        #expect(mapped.rejected.map(\.reason) == ["the span has neither an end time nor a start time",
                                                 "the span id must be 8 bytes (it is 3)"])
    }

    @Test("a cost on the span: tally.cost_cents exactly, gen_ai.usage.cost in dollars converted to cents")
    func costs() throws {
        let cents = SpanBuilder.chat("0000000000000010", extra: [("tally.cost_cents", .s("12.3456789"))])
        let centsNumber = SpanBuilder.chat("0000000000000011", extra: [("tally.cost_cents", .i(42))])
        let dollars = SpanBuilder.chat("0000000000000012", extra: [("gen_ai.usage.cost", .d(0.0123))])
        let tiny = SpanBuilder.chat("0000000000000013", extra: [("gen_ai.usage.cost", .d(1.5e-7))])
        let text = String(decoding: mapper.map(SpanBuilder.request([cents, centsNumber, dollars, tiny]), keyTenant: "acme").ndjson, as: UTF8.self)
        let lines = text.split(separator: "\n")
        #expect(lines[0].contains(#""cost_cents":"12.3456789""#))
        #expect(lines[1].contains(#""cost_cents":42"#))
        #expect(lines[2].contains(#""cost_cents":1.23"#))
        #expect(lines[3].contains(#""cost_cents":0.000015"#))
    }

    @Test("a mapping file changes fields and skipped operations; unknown members and bad values are refused")
    func mappingFile() throws {
        let mapping = try SpanMapping(json: Array(#"{"feature_tag": ["app.feature"], "user_id": ["enduser.id"], "skip_operations": []}"#.utf8))
        #expect(mapping.keys(for: .featureTag) == ["app.feature"])
        #expect(mapping.keys(for: .environment) == SpanMapping.standard.keys(for: .environment))
        let agent = SpanBuilder.span("0000000000000014", [("gen_ai.operation.name", .s("invoke_agent")), ("gen_ai.request.model", .s("gpt-4o"))])
        let chat = SpanBuilder.chat("0000000000000015", extra: [("app.feature", .s("faq")), ("enduser.id", .s("e1")), ("user.id", .s("u1"))])
        let r = try records(SpanRecordMapper(mapping: mapping, pricing: nil).map(SpanBuilder.request([agent, chat]), keyTenant: "acme"))
        #expect(r.count == 2, "invoke_agent is no longer skipped")
        #expect(r[1]["feature_tag"] as? String == "faq")
        #expect(r[1]["user_id"] as? String == "e1")
        for bad in [#"{"featuretag": ["x"]}"#, #"{"user_id": "user.id"}"#, #"{"user_id": [""]}"#, "[]", "{"] {
            #expect(throws: SpanMapping.FileError.self, "\(bad)") { try SpanMapping(json: Array(bad.utf8)) }
        }
    }

    @Test("decimal text: shortest doubles, exponents, a shift by two places, rounding half up at 7 fraction digits",
          arguments: [
            ("0.0123", 2, "1.23"), ("1.5e-07", 2, "0.000015"), ("12", 0, "12"), ("12.0", 2, "1200"), ("0.00000004999", 0, "0"),
            ("0.00000005", 0, "0.0000001"), ("9.99999999", 0, "10"), ("1e3", 0, "1000"), ("abc", 0, nil), ("-1", 0, nil), ("", 0, nil),
          ] as [(String, Int, String?)])
    func decimals(_ text: String, _ shift: Int, _ expected: String?) {
        #expect(DecimalText.plain(text, shift: shift) == expected)
    }
}
