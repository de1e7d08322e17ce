import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import TallyServer
@testable import TallyStore
import TallyTestSupport
import Testing

/// A quarantined part shows in the answers of its own tenant only (`complete: false` and the missing hours),
/// in `health` (degraded, without tenant names), and fails exports that would lack its rows.
@Suite("quarantined parts in server answers")
struct MissingPartsServerTests {
    /// Seals the fixture's records and damages and quarantines acme's May part; returns it.
    static func quarantineAcmeMay(_ f: ServerFixture) throws -> PartReader {
        let store = f.store
        try store.flush()
        let part = try #require(store.snapshot().parts.first { $0.meta.tenant == ServerFixture.tenantA && $0.meta.maxTime >= ms("2025-05-01T00:00:00Z") })
        var bytes = try FileIO.readAll(part.path)
        bytes[PartFormat.headerSize + 40] ^= 0x08
        try FileIO.writeAtomically(bytes, to: part.path, directory: store.path + "/parts")
        try store.quarantine(partPath: part.path, because: .corrupt(path: part.path, offset: PartFormat.headerSize + 40, reason: "test"))
        #expect(store.missingParts.map(\.id) == [part.meta.id])
        return part
    }

    @Test("usage and cost answers of the damaged tenant say complete: false with the missing hours; the other tenant's do not")
    func provenanceNamesMissingHours() async throws {
        let f = try ServerFixture()
        let part = try Self.quarantineAcmeMay(f)
        try await f.withRouter { client in
            let usage = try await client.execute(uri: usagePath + "?from=2025-05-01&to=2025-05-04&resolution=day", method: .get,
                                                 headers: auth(f.readerA))
            #expect(usage.status == .ok)
            let provenance = try #require(try json(usage).object("provenance"))
            #expect(provenance["complete"] as? Bool == false)
            let missing = try #require(provenance.array("missing"))
            #expect(missing.count == 1)
            #expect(missing.first?.string("tenant_id") == "acme")
            #expect(missing.first?.string("part") == PartFormat.fileName(part.meta.id))
            #expect(missing.first?.string("from") == "2025-05-01T10:00:00Z")
            #expect(missing.first?.string("to") == "2025-05-04T00:00:00Z")
            #expect(missing.first?.int("rows") == 4)

            let cost = try await client.execute(uri: costPath + "?from=2025-05-01&to=2025-05-04&group_by=feature_tag", method: .get,
                                                headers: auth(f.readerA))
            #expect(cost.status == .ok)
            #expect(try json(cost).object("provenance")?["complete"] as? Bool == false)

            // acme's April is complete: the damaged part holds May only.
            let april = try await client.execute(uri: usagePath + "?from=2025-04-29&to=2025-05-01&resolution=day", method: .get,
                                                 headers: auth(f.readerA))
            #expect(try json(april).object("provenance")?["complete"] as? Bool == true)

            // globex never learns of acme's damage.
            for path in [usagePath + "?from=2025-05-01&to=2025-05-04&resolution=day", costPath + "?from=2025-05-01&to=2025-05-04"] {
                let other = try await client.execute(uri: path, method: .get, headers: auth(f.readerB))
                #expect(other.status == .ok)
                let text = String(buffer: other.body)
                #expect(try json(other).object("provenance")?["complete"] as? Bool == true)
                #expect(!text.contains("acme") && !text.contains(PartFormat.fileName(part.meta.id)))
            }

            let health = try await client.execute(uri: "/api/v1/analytics/health", method: .get)
            #expect(health.status == .ok)
            let body = try json(health)
            #expect(body.string("status") == "degraded")
            let check = try #require(body.array("checks")?.first { $0.string("name") == "parts_readable" })
            #expect(check.string("detail")?.contains(PartFormat.fileName(part.meta.id)) == true)
            #expect(!String(buffer: health.body).contains("acme"), "health needs no key: no tenant names")
        }
    }

    @Test("detection does not judge a tenant whose days it reads are in an unreadable part, and says so; the other tenant is judged")
    func detectionSkipsIncompleteTenants() async throws {
        let f = try ServerFixture()
        let part = try Self.quarantineAcmeMay(f)
        try await f.withRouter { client in
            let r = try await send(client, .post, "/api/v1/analytics/anomalies/detect?from=2025-05-01&to=2025-05-05", f.adminKey)
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            let tenants = try #require(try json(r).array("tenants"))
            let acme = try #require(tenants.first { $0.string("tenant_id") == ServerFixture.tenantA })
            #expect(acme.string("skipped") != nil)
            #expect(acme.array("missing")?.first?.string("part") == PartFormat.fileName(part.meta.id))
            #expect(acme.array("created")?.isEmpty == true && acme.array("resolved")?.isEmpty == true)
            for other in tenants where other.string("tenant_id") != ServerFixture.tenantA {
                #expect(other.string("skipped") == nil && other.array("missing") == nil)
            }
        }
    }

    @Test("the monthly report says it is incomplete in every form: JSON provenance, a CSV row and an HTML warning")
    func monthlyReportSaysIncomplete() async throws {
        let f = try ServerFixture()
        let part = try Self.quarantineAcmeMay(f)
        try await f.withRouter { client in
            let report = try await client.execute(uri: "/api/v1/analytics/reports/monthly?month=2025-05", method: .get, headers: auth(f.readerA))
            #expect(report.status == .ok)
            #expect(try json(report).object("provenance")?["complete"] as? Bool == false)
            let csv = try await client.execute(uri: "/api/v1/analytics/reports/monthly?month=2025-05&format=csv", method: .get, headers: auth(f.readerA))
            let line = String(buffer: csv.body).split(separator: "\n").first { $0.hasPrefix("missing,") }
            #expect(line?.contains(PartFormat.fileName(part.meta.id)) == true)
            #expect(line?.contains("2025-05-01T10:00:00Z") == true)
            let html = try await client.execute(uri: "/api/v1/analytics/reports/monthly?month=2025-05&format=html", method: .get, headers: auth(f.readerA))
            #expect(String(buffer: html.body).contains("<strong>Incomplete:</strong>"))
            // globex's report is complete and says nothing of acme's part.
            let other = try await client.execute(uri: "/api/v1/analytics/reports/monthly?month=2025-05&format=csv", method: .get, headers: auth(f.readerB))
            #expect(!String(buffer: other.body).contains("missing,"))
        }
    }

    @Test("an export that would lack a quarantined part's rows fails, naming the part; one that needs nothing missing is ready")
    func exportsFailInsteadOfMissingRows() async throws {
        let f = try ServerFixture()
        let part = try Self.quarantineAcmeMay(f)
        try await f.withRouter { client in
            for format in ["csv", "json"] {
                let failed = try await ExportTests.export(f, client, key: f.readerA, [
                    "kind": "records", "format": format, "from": "2025-05-01", "to": "2025-05-04",
                ])
                #expect(failed.string("status") == "failed")
                #expect(failed.string("error")?.contains(PartFormat.fileName(part.meta.id)) == true, "\(failed)")
                #expect(failed.string("error")?.contains("quarantined") == true)
                #expect(failed.string("error")?.contains(f.store.path) == false, "no server paths")
            }
            let usage = try await ExportTests.export(f, client, key: f.readerA, [
                "kind": "usage", "format": "csv", "from": "2025-05-01", "to": "2025-05-04",
            ])
            #expect(usage.string("status") == "failed")
            // acme's April and globex's May need nothing missing.
            let april = try await ExportTests.export(f, client, key: f.readerA, [
                "kind": "records", "format": "csv", "from": "2025-04-01", "to": "2025-05-01",
            ])
            #expect(april.string("status") == "ready" && april.int("rows") == 1, "\(april)")
            let other = try await ExportTests.export(f, client, key: f.readerB, [
                "kind": "records", "format": "csv", "from": "2025-05-01", "to": "2025-05-04",
            ])
            #expect(other.string("status") == "ready" && other.int("rows") == 2, "\(other)")
        }
    }
}
