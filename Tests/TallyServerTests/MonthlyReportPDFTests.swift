import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import TallyStore
import TallyTestSupport
import TallyText
import Testing

/// `pdftotext` (Debian's poppler-utils, installed by `make deps`): where it is, if anywhere.
enum PDFText {
    static let tool: String? = ["/usr/bin/pdftotext", "/usr/local/bin/pdftotext", "/opt/homebrew/bin/pdftotext"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }
    /// `make test` sets TALLY_REQUIRE_TOOLS=1: then a missing tool fails the tests that need it instead of skipping them.
    static let required = ProcessInfo.processInfo.environment["TALLY_REQUIRE_TOOLS"] == "1"

    /// The text of `pdf` as `pdftotext -layout` reads it.
    static func text(_ pdf: [UInt8]) throws -> String {
        let tool = try #require(tool, "pdftotext is not installed (Debian: apt-get install poppler-utils, or make deps)")
        let dir = try TemporaryDirectory(prefix: "tally-pdf")
        defer { dir.remove() }
        let path = dir.appending("report.pdf")
        try Data(pdf).write(to: URL(fileURLWithPath: path))
        let process = try ChildProcess(tool, ["-layout", "-enc", "UTF-8", path, "-"], stdin: .null)
        let data = process.stdout!.readDataToEndOfFile()
        let errors = process.stderr!.readDataToEndOfFile()
        #expect(process.terminationStatus == 0, "pdftotext: \(String(decoding: errors, as: UTF8.self))")
        #expect(errors.isEmpty, "pdftotext complained: \(String(decoding: errors, as: UTF8.self))")
        return String(decoding: data, as: UTF8.self)
    }
}

@Suite("Monthly report as PDF")
struct MonthlyReportPDFTests {
    /// Dollars as a person reads them from a `*_cents` string: two decimals, rounded half up (away from zero), thousands
    /// separated, a sign when asked. Written here from the decimal string, not with the server's formatter.
    static func dollars(_ cents: String?, signed: Bool = false) throws -> String {
        let nanos = try MonthlyReportTests.cents(cents)
        let hundredths = (nanos.magnitude + 5_000_000) / 10_000_000
        let whole = String(hundredths / 100)
        var grouped = ""
        for (i, c) in whole.enumerated() {
            if i > 0 && (whole.count - i) % 3 == 0 { grouped += "," }
            grouped.append(c)
        }
        let frac = hundredths % 100
        let sign = nanos < 0 && hundredths > 0 ? "-" : (signed && nanos > 0 ? "+" : "")
        return sign + "$" + grouped + "." + (frac < 10 ? "0" : "") + String(frac)
    }

    static func grouped(_ v: Int?) throws -> String {
        let digits = String(try #require(v).magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return (try #require(v) < 0 ? "-" : "") + out
    }

    @Test("format=pdf is a PDF whose cross-reference offsets point at their objects, in Helvetica, with vector charts")
    func wellFormed() async throws {
        let f = try MonthlyReportTests.fixture()
        try await f.withRouter { client in
            let r = try await client.execute(uri: monthlyPath + "?month=2025-05&format=pdf", method: .get, headers: auth(f.readerA))
            #expect(r.status == .ok)
            #expect(r.headers[.contentType] == "application/pdf")
            #expect(r.headers[.contentDisposition]?.contains("tally-acme-2025-05.pdf") == true)
            let pdf = Array(r.body.readableBytesView)
            // One scalar per byte, so scalar offsets are byte offsets.
            let text = String(String.UnicodeScalarView(pdf.map { UnicodeScalar($0) }))
            #expect(text.hasPrefix("%PDF-1.4\n"))
            #expect(text.hasSuffix("%%EOF\n"))
            // startxref names the byte offset of the xref table; each entry names the offset of "N 0 obj".
            let tail = try #require(text.range(of: "startxref\n", options: .backwards))
            let xrefOffset = try #require(Int(text[tail.upperBound...].prefix { $0.isNumber }))
            let bytes = pdf
            #expect(Array(bytes[xrefOffset..<xrefOffset + 5]) == Array("xref\n".utf8))
            let table = String(decoding: bytes[xrefOffset...], as: UTF8.self).split(separator: "\n")
            let count = try #require(Int(table[1].split(separator: " ")[1]))
            #expect(count > 6)
            for n in 1..<count {
                let entry = table[2 + n]
                #expect(entry.count == 19 && entry.hasSuffix(" 00000 n "), "entry \(n): \(entry)")
                let offset = try #require(Int(entry.prefix(10)))
                let head = String(decoding: bytes[offset..<min(bytes.count, offset + 12)], as: UTF8.self)
                #expect(head.hasPrefix("\(n) 0 obj\n"), "object \(n) at \(offset): \(head)")
            }
            // Each stream's /Length is its byte count.
            var search = text.startIndex
            while let open = text.range(of: "<< /Length ", range: search..<text.endIndex) {
                let length = try #require(Int(text[open.upperBound...].prefix { $0.isNumber }))
                let start = try #require(text.range(of: "stream\n", range: open.upperBound..<text.endIndex))
                let startOffset = text.unicodeScalars.distance(from: text.startIndex, to: start.upperBound)
                #expect(Array(bytes[(startOffset + length)..<(startOffset + length + 10)]) == Array("\nendstream".utf8))
                search = start.upperBound
            }
            #expect(text.contains("/BaseFont /Helvetica ") && text.contains("/BaseFont /Helvetica-Bold "))
            #expect(text.components(separatedBy: " re f\n").count > 20, "the daily bars are filled rectangles")
            #expect(text.contains(" l S\n"), "the previous month is a stroked line")
        }
    }

    @Test("the figures pdftotext reads from the PDF are the JSON report's: totals, every day, the cost change and its parts",
          .enabled(if: PDFText.tool != nil || PDFText.required, "needs pdftotext (poppler-utils); make test requires it"))
    func figuresMatchTheJSON() async throws {
        let f = try MonthlyReportTests.fixture()
        try await f.withRouter { client in
            let report = try json(try await client.execute(uri: monthlyPath + "?month=2025-05", method: .get, headers: auth(f.readerA)))
            let r = try await client.execute(uri: monthlyPath + "?month=2025-05&format=pdf", method: .get, headers: auth(f.readerA))
            let text = try PDFText.text(Array(r.body.readableBytesView))
            let lines = text.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
            func line(_ prefix: String) throws -> String {
                try #require(lines.first { $0.hasPrefix(prefix + " ") }, "no line starting with \(prefix)")
            }
            #expect(text.contains("Monthly report - \(ServerFixture.tenantA)"))
            let totals = try #require(report.object("totals"))
            let previous = try #require(report.object("comparison")?.object("previous_totals"))
            #expect(try line("Spend") == "Spend \(try Self.dollars(totals.string("cost_cents"))) \(try Self.dollars(previous.string("cost_cents"))) "
                + (try Self.dollars(report.object("comparison")?.string("cost_cents_delta"), signed: true)))
            #expect(try line("Requests").hasPrefix("Requests \(try Self.grouped(totals.int("records"))) \(try Self.grouped(previous.int("records")))"))
            #expect(try line("Input tokens").hasPrefix("Input tokens \(try Self.grouped(totals.int("input_tokens")))"))
            #expect(try line("Output tokens").hasPrefix("Output tokens \(try Self.grouped(totals.int("output_tokens")))"))

            let daily = try #require(report.array("daily"))
            #expect(daily.count == 31)
            for day in daily {
                let date = String(try #require(day.string("start")).prefix(10))
                let tokens = (day.int("input_tokens") ?? 0) + (day.int("output_tokens") ?? 0)
                #expect(try line(date).hasPrefix("\(date) \(try Self.grouped(day.int("records"))) \(try Self.grouped(tokens)) "
                    + (try Self.dollars(day.string("cost_cents")))), "\(date)")
            }

            let d = try #require(report.object("comparison")?.object("decomposition"))
            #expect(try line("Total change") == "Total change \(try Self.dollars(d.string("change_cents"), signed: true))")
            for (label, key) in [("Volume (requests)", "volume_cents"), ("Tokens per request", "tokens_per_request_cents"),
                                 ("Input/output mix", "io_mix_cents"), ("Model mix", "model_mix_cents"), ("Price", "price_cents")] {
                #expect(try line(label) == "\(label) \(try Self.dollars(d.string(key), signed: true))", "\(key)")
            }
            let models = try #require(report.object("breakdowns")?.object("model")?.array("rows"))
            for m in models {
                let value = try #require(m.string("value"))
                #expect(try line(value).contains(try Self.dollars(m.string("cost_cents"))), "model \(value)")
            }
        }
    }
}
