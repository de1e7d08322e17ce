import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import TallyStore
import TallyTestSupport
import TallyText
import Testing

/// The seed's contract, completed (issue 13): provenance on every analytics answer, the seed's anomaly field names,
/// incidents and their anomalies resolved together, and the seed's export request.
@Suite("The seed's contract: provenance, anomaly fields, incident resolution, the seed's export request")
struct SeedContractTests {
    /// The provenance of `answer`: its members, the names of its sources, a window, an aggregation and a time.
    @discardableResult
    static func provenance(_ answer: [String: Any], sources expected: Set<String>,
                           sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        let p = try #require(answer.object("provenance"), sourceLocation: sourceLocation)
        let sources = try #require(p.array("sources"), sourceLocation: sourceLocation)
        #expect(Set(sources.compactMap { $0.string("name") }) == expected, sourceLocation: sourceLocation)
        #expect(p.object("window")?.string("from") != nil && p.object("window")?.string("to") != nil, sourceLocation: sourceLocation)
        #expect(p.string("aggregation")?.isEmpty == false, sourceLocation: sourceLocation)
        #expect(p.string("generated_at") == Timestamp.format(ServerFixture.now, fraction: .whenNonZero), sourceLocation: sourceLocation)
        #expect(p["complete"] as? Bool == true, sourceLocation: sourceLocation)
        for catalog in sources where catalog.string("name") == "tally-catalog" {
            #expect((catalog.int("queries") ?? 0) >= 1 && catalog.int("rows_scanned") == 0 && catalog.int("snapshot_generation") == 0,
                    sourceLocation: sourceLocation)
        }
        return p
    }

    @Test("provenance on detection, the anomaly list, one anomaly, incidents, one incident, the policy check and reservations")
    func provenanceEverywhere() async throws {
        let f = try ServerFixture.spikeFixture()
        try await f.withRouter { client in
            let detected = try json(try await send(client, .post, detectPath, f.writerA))
            let p = try Self.provenance(detected, sources: ["tally-store", "tally-catalog"])
            let store = try #require(p.array("sources")?.first { $0.string("name") == "tally-store" })
            #expect((store.int("queries") ?? 0) > 0)
            #expect(p.object("window")?.string("from") == detected.array("tenants")?.first?.string("judged_from"))

            let list = try json(try await send(client, .get, anomaliesPath, f.readerA))
            try Self.provenance(list, sources: ["tally-catalog"])
            let filtered = try json(try await send(client, .get, anomaliesPath + "?from=2025-05-01&to=2025-05-04", f.readerA))
            let window = try #require(try Self.provenance(filtered, sources: ["tally-catalog"]).object("window"))
            #expect(window.string("from") == "2025-05-01T00:00:00Z" && window.string("to") == "2025-05-04T00:00:00Z")

            let anomaly = try #require(list.array("anomalies")?.first)
            let one = try json(try await send(client, .get, "/api/v1/analytics/anomalies/" + (anomaly.string("id") ?? ""), f.readerA))
            let oneWindow = try #require(try Self.provenance(one, sources: ["tally-catalog"]).object("window"))
            #expect(oneWindow.string("from") == anomaly.string("first_day"))

            let incidents = try json(try await send(client, .get, incidentsPath, f.readerA))
            try Self.provenance(incidents, sources: ["tally-catalog"])
            let incidentID = try #require(incidents.array("incidents")?.first?.string("id"))
            try Self.provenance(try json(try await send(client, .get, incidentsPath + "/" + incidentID, f.readerA)), sources: ["tally-catalog"])
            try Self.provenance(try json(try await send(client, .post, incidentsPath + "/\(incidentID)/acknowledge", f.writerA)),
                                sources: ["tally-catalog"])

            _ = try await createBudget(client, f, #"{"tenant_id":"acme","level":"tenant","period":"monthly","limit_cents":"900000","enforce":true}"#)
            let decision = try json(try await send(client, .post, policyPath, f.writerA, #"{"estimated_cost_cents":"12"}"#))
            let pp = try Self.provenance(decision, sources: ["tally-store", "tally-catalog"])
            #expect(pp.object("window")?.string("from") == "2025-05-01T00:00:00Z", "the monthly budget's period")

            let reserved = try await send(client, .post, reservationsPath, f.writerA, #"{"estimated_cost_cents":"12"}"#)
            #expect(reserved.status == .created)
            let reservation = try json(reserved)
            try Self.provenance(reservation, sources: ["tally-store", "tally-catalog"])
            let id = try #require(reservation.object("reservation")?.string("id"))
            try Self.provenance(try json(try await send(client, .get, reservationsPath + "/" + id, f.writerA)), sources: ["tally-catalog"])
            try Self.provenance(try json(try await send(client, .post, reservationsPath + "/\(id)/cancel", f.writerA)), sources: ["tally-catalog"])
        }
    }

    @Test("anomalies carry the seed's entity_type, entity_id, anomaly_type, detected_at, resolved, resolved_at and incident_id")
    func seedAnomalyFields() async throws {
        let f = try ServerFixture.spikeFixture()
        try await f.withRouter { client in
            _ = try await send(client, .post, detectPath, f.writerA)
            let anomalies = try #require(try json(try await send(client, .get, anomaliesPath, f.readerA)).array("anomalies"))
            #expect(!anomalies.isEmpty)
            for a in anomalies {
                let entity = try #require(a.object("entity"))
                #expect(a.string("entity_type") == entity.string("level"))
                #expect(a.string("entity_id") == entity.string("value"))
                #expect(a.string("anomaly_type") == a.string("type"))
                #expect(a["resolved"] as? Bool == (a.string("status") == "resolved"))
                #expect(a.string("detected_at") == Timestamp.format(ServerFixture.now, fraction: .whenNonZero))
                #expect(a.keys.contains("resolved_at") && a.keys.contains("incident_id"))
            }
            let tenantSpike = try #require(anomalies.first { $0.string("entity_type") == "tenant" && $0.string("anomaly_type") == "ABSOLUTE_SPIKE" })
            #expect(tenantSpike.string("entity_id") == ServerFixture.tenantA)
            // The chat feature's spike is listed under the tenant spike it explains (issue 13), with the seed's names.
            let feature = try #require(tenantSpike.array("entity_drivers")?.first { $0.string("entity_type") == "feature" })
            #expect(feature.string("entity_id") == "chat")
        }
    }

    @Test("resolving an incident resolves its open anomalies; an open incident over ended anomalies says why")
    func incidentResolutionResolvesAnomalies() async throws {
        let f = try ServerFixture.spikeFixture()
        try await f.withRouter { client in
            let detected = try json(try await send(client, .post, detectPath, f.writerA))
            let incidentID = try #require((detected.array("tenants")?.first?["incidents_opened"] as? [String])?.first)
            let before = try json(try await send(client, .get, incidentsPath + "/" + incidentID, f.readerA))
            let members = try #require(before.array("anomalies")).compactMap { $0.string("id") }
            #expect(members.count >= 1, "the tenant spike (the feature spike is one of its entity drivers)")
            #expect(before.int("open_anomaly_count") == members.count)
            #expect(before["status_note"] is NSNull)

            let resolved = try json(try await send(client, .post, incidentsPath + "/\(incidentID)/resolve", f.writerA))
            #expect(resolved.string("status") == "resolved" && resolved.int("open_anomaly_count") == 0)
            for id in members {
                let a = try #require(try json(try await send(client, .get, "/api/v1/analytics/anomalies/" + id, f.readerA)).object("anomaly"))
                #expect(a["resolved"] as? Bool == true && a.string("status") == "resolved", "\(id)")
                #expect(a.string("resolved_at") == Timestamp.format(ServerFixture.now, fraction: .whenNonZero))
                #expect(a.string("resolved_by")?.hasPrefix("key_") == true, "resolved by the key that resolved the incident")
            }
            // Detection again on the same (ongoing) days reopens nothing and opens no second incident.
            let again = try json(try await send(client, .post, detectPath, f.writerA))
            #expect((again.array("tenants")?.first?["incidents_opened"] as? [String])?.isEmpty == true)
            #expect(try json(try await send(client, .get, anomaliesPath + "?resolved=false", f.readerA)).int("count") == 0)
            let audit = try json(try await send(client, .get, "/api/v1/analytics/audit?entity_type=anomaly", f.adminKey))
            #expect((audit.array("entries") ?? []).filter { $0.string("action") == "resolve" }.count == members.count)

            // B's incident stays open while its anomalies are resolved by hand: the incident says why.
            let b = try json(try await send(client, .post, detectPath, f.writerB))
            let bIncident = try #require((b.array("tenants")?.first?["incidents_opened"] as? [String])?.first)
            for a in try #require(try json(try await send(client, .get, incidentsPath + "/" + bIncident, f.readerB)).array("anomalies")) {
                _ = try await send(client, .post, "/api/v1/analytics/anomalies/\(a.string("id") ?? "")/resolve", f.writerB)
            }
            let listed = try #require(try json(try await send(client, .get, incidentsPath, f.readerB)).array("incidents")?.first)
            #expect(listed.string("status") == "open" && listed.int("open_anomaly_count") == 0)
            #expect(listed.string("status_note")?.contains("have ended") == true)
        }
    }

    @Test("the seed's export request { format, date_range, filters } is accepted as a records export of that window")
    func seedExportRequest() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let seed = try await ExportTests.export(f, client, key: f.readerA, [
                "format": "json", "date_range": ["start": "2025-05-01", "end": "2025-05-04"], "filters": ["model": ["gpt-4o"]],
            ])
            #expect(seed.string("status") == "ready" && seed.object("request")?.string("kind") == "records")
            #expect(seed.object("request")?.string("from") == "2025-05-01T00:00:00Z" && seed.object("request")?.string("to") == "2025-05-04T00:00:00Z")
            let rich = try await ExportTests.export(f, client, key: f.readerA, [
                "kind": "records", "format": "json", "from": "2025-05-01", "to": "2025-05-04", "filters": ["model": "gpt-4o"],
            ])
            let a = try await client.execute(uri: try #require(seed.string("download_url")), method: .get, headers: auth(f.readerA))
            let b = try await client.execute(uri: try #require(rich.string("download_url")), method: .get, headers: auth(f.readerA))
            #expect(a.headers[.contentType] == "application/json")
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(a.body.readableBytesView)) as? [[String: Any]])
            #expect(rows.count == 2, "a1 and a3: gpt-4o in the window")
            #expect(Array(a.body.readableBytesView) == Array(b.body.readableBytesView), "the same file as the rich form's")
            #expect(seed.int("rows") == 2)
        }
    }

    @Test("bad seed export requests are 400s naming the member")
    func badSeedExportRequests() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            for (members, parameter) in [
                (["format": "csv", "date_range": "2025-05"] as [String: Any], "date_range"),
                (["format": "csv", "date_range": ["start": "2025-05-01"]], "date_range.end"),
                (["format": "csv", "date_range": ["end": "2025-05-01"]], "date_range.start"),
                (["format": "csv", "date_range": ["start": "May 1", "end": "2025-05-02"]], "date_range.start"),
                (["format": "csv", "date_range": ["start": "2025-05-01", "end": 7]], "date_range.end"),
                (["format": "csv", "date_range": ["start": "2025-05-04", "end": "2025-05-01"]], "date_range"),
                (["format": "csv", "date_range": ["start": "2025-05-01", "end": "2025-05-02", "tz": "UTC"]], "date_range.tz"),
                (["format": "csv", "date_range": ["start": "2025-05-01", "end": "2025-05-02"], "from": "2025-05-01"], "date_range"),
                (["format": "pdf", "date_range": ["start": "2025-05-01", "end": "2025-05-02"]], "format"),
                (["date_range": ["start": "2025-05-01", "end": "2025-05-02"]], "format"),
                (["format": "csv", "filters": ["colour": "red"]], "filters"),
            ] {
                let r = try await client.execute(uri: exportsPath, method: .post, headers: auth(f.readerA, ExportTests.jsonType),
                                                 body: try ExportTests.body(members))
                try expectProblem(r, .badRequest, "invalid-parameter", parameter: parameter)
            }
        }
    }
}
