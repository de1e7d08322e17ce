import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import TallyStore
import TallyText
import Testing
@testable import TallyServer

let anomaliesPath = "/api/v1/analytics/statistics/anomalies"
let detectPath = "/api/v1/analytics/anomalies/detect"
let incidentsPath = "/api/v1/analytics/incidents"
let webhookPath = "/api/v1/analytics/webhook"
let anomalySettingsPath = "/api/v1/analytics/anomalies/settings"

extension ServerFixture {
    /// Ten dollars a day for both tenants from April 10, and a spike of (chat, u1, m-big) on May 2 and 3 for each;
    /// "now" is May 4, so the spike is ongoing.
    static func spikeFixture(allowPrivateWebhooks: Bool = false) throws -> ServerFixture {
        let f = try ServerFixture(seed: false, allowPrivateWebhooks: allowPrivateWebhooks)
        var records: [CostRecord] = []
        var n = 0
        let start = ms("2025-04-10T12:00:00Z")
        for tenant in [tenantA, tenantB] {
            for d in 0..<24 {
                let at = start + Int64(d) * TimeUnit.dayMillis
                for (feature, user, model) in [("chat", "u1", "m1"), ("search", "u2", "m2")] {
                    n += 1
                    records.append(CostRecord(tenantID: tenant, projectID: "p", environment: "prod", userID: user, featureTag: feature,
                                              requestID: "r\(n)", model: model, inputTokens: 1, outputTokens: 1,
                                              costNanos: 500 * Money.nanosPerCent, createdAtMillis: at))
                }
                if d >= 22 {
                    n += 1
                    records.append(CostRecord(tenantID: tenant, projectID: "p", environment: "prod", userID: "u1", featureTag: "chat",
                                              requestID: "r\(n)", model: "m-big", inputTokens: 1, outputTokens: 1,
                                              costNanos: 2_000 * Money.nanosPerCent, createdAtMillis: at))
                }
            }
        }
        // Each record as 100 requests sharing its cost: the detector holds a day's relative variance at least at the
        // Poisson variance of its requests (docs/ANALYTICS.md, session 9), so two requests a day would be noise.
        let requests = records.flatMap { r in
            (0..<100).map { j -> CostRecord in
                var part = r
                part.requestID = "\(r.requestID)-\(j)"
                part.costNanos = r.costNanos / 100
                return part
            }
        }
        _ = try f.store.append(RecordBatch(requests))
        return f
    }
}

@Suite("Anomalies and incidents over HTTP: detection, filters, lifecycle, roles, isolation, webhook")
struct AnomalyRoutesTests {
    /// Runs detection with `key` and returns the tenant-level spike of its tenant.
    static func detect(_ client: any TestClientProtocol, _ key: String) async throws -> [String: Any] {
        let r = try await send(client, .post, detectPath, key)
        #expect(r.status == .ok, "\(String(buffer: r.body))")
        let tenants = try #require(try json(r).array("tenants"))
        #expect(tenants.count == 1)
        let anomalies = try #require(tenants[0].array("anomalies"))
        return try #require(anomalies.first { $0.string("type") == "ABSOLUTE_SPIKE" && $0.object("entity")?.string("level") == "tenant" })
    }

    @Test("detect (writer), list with filters, read one (reader); readers cannot detect; another tenant's ids are 404")
    func detectListAndIsolation() async throws {
        let f = try ServerFixture.spikeFixture()
        try await f.withRouter { client in
            try expectProblem(try await send(client, .post, detectPath, f.readerA), .forbidden, "forbidden")
            let spike = try await Self.detect(client, f.writerA)
            let id = try #require(spike.string("id"))
            #expect(spike.string("tenant_id") == "acme")
            #expect(spike.string("first_day") == "2025-05-02T00:00:00Z" && spike.string("last_day") == "2025-05-03T00:00:00Z")
            #expect(spike.string("expected_cents") == "2000.0000000" && spike.string("actual_cents") == "6000.0000000")
            #expect(spike.string("impact_cents") == "4000.0000000" && spike["impact_pct"] as? Double == 200)
            #expect(spike.string("severity") == "HIGH" && spike.string("status") == "open")
            #expect(spike.array("drivers")?.first?.string("value") == "m-big")
            let bSpike = try await Self.detect(client, f.writerB)
            let bID = try #require(bSpike.string("id"))

            let all = try json(try await send(client, .get, anomaliesPath, f.readerA))
            let listed = try #require(all.array("anomalies"))
            #expect(listed.allSatisfy { $0.string("tenant_id") == "acme" })
            #expect(listed.contains { $0.string("id") == id } && !listed.contains { $0.string("id") == bID })
            let filtered = try json(try await send(
                client, .get, anomaliesPath + "?type=ABSOLUTE_SPIKE&severity=HIGH&entity_level=tenant&resolved=false"
                    + "&from=2025-05-01&to=2025-05-04", f.readerA))
            #expect(filtered.array("anomalies")?.map { $0.object("entity")?.string("value") } == ["acme"])
            // The chat feature's spike is the tenant spike's entity driver, not an anomaly of its own.
            let chat = try json(try await send(client, .get, anomaliesPath + "?entity_level=feature&entity_value=chat", f.readerA))
            #expect(chat.array("anomalies")?.isEmpty == true)
            let driver = try #require(spike.array("entity_drivers")?.first)
            #expect(driver.string("entity_type") == "feature" && driver.string("entity_id") == "chat")
            #expect(driver.string("anomaly_type") == "ABSOLUTE_SPIKE" && driver.string("change_cents") == "4000.0000000")
            #expect(driver["share_pct"] as? Double == 100 && spike["provisional"] as? Bool == false)
            let none = try json(try await send(client, .get, anomaliesPath + "?from=2025-04-01&to=2025-04-20", f.readerA))
            #expect(none.array("anomalies")?.isEmpty == true)
            #expect(try json(try await send(client, .get, anomaliesPath + "?resolved=true", f.readerA)).array("anomalies")?.isEmpty == true)
            try expectProblem(try await send(client, .get, anomaliesPath + "?severity=HUGE", f.readerA), .badRequest, "invalid-parameter",
                              parameter: "severity")
            try expectProblem(try await send(client, .get, anomaliesPath + "?entity_value=chat", f.readerA), .badRequest,
                              "invalid-parameter", parameter: "entity_value")
            try expectProblem(try await send(client, .get, anomaliesPath + "?tenant_id=globex", f.readerA), .forbidden, "forbidden")

            let one = try json(try await send(client, .get, "/api/v1/analytics/anomalies/" + id, f.readerA))
            #expect(one.object("anomaly")?.string("id") == id)
            try expectProblem(try await send(client, .get, "/api/v1/analytics/anomalies/" + id, f.readerB), .notFound, "not-found")
            try expectProblem(try await send(client, .post, "/api/v1/analytics/anomalies/\(id)/resolve", f.writerB), .notFound, "not-found")
            try expectProblem(try await send(client, .post, "/api/v1/analytics/anomalies/\(id)/resolve", f.readerA), .forbidden, "forbidden")
            let resolved = try json(try await send(client, .post, "/api/v1/analytics/anomalies/\(id)/resolve", f.writerA))
            #expect(resolved.object("anomaly")?.string("status") == "resolved")
            // The admin sees both tenants.
            let admin = try json(try await send(client, .get, anomaliesPath + "?type=ABSOLUTE_SPIKE&entity_level=tenant", f.adminKey))
            #expect(Set(admin.array("anomalies")?.compactMap { $0.string("tenant_id") } ?? []) == ["acme", "globex"])
            // Usage signals carry the window's anomalies.
            let usage = try json(try await send(client, .get, usagePath + "?from=2025-04-28&to=2025-05-04", f.readerA))
            #expect(usage.object("signals")?.array("anomalies")?.contains { $0.string("id") == id } == true)
            #expect(usage.object("signals")?.array("budgets") != nil)
        }
    }

    @Test("incidents: opened by detection, linked both ways, acknowledge then resolve; invalid moves are 409; isolation")
    func incidentLifecycle() async throws {
        let f = try ServerFixture.spikeFixture()
        try await f.withRouter { client in
            let spike = try await Self.detect(client, f.writerA)
            let incidentID = try #require(spike.string("incident_id"))
            _ = try await send(client, .post, detectPath, f.writerA)  // a re-run opens nothing new
            let list = try json(try await send(client, .get, incidentsPath + "?status=open", f.readerA))
            #expect(list.array("incidents")?.map { $0.string("id") } == [incidentID])
            let incident = try json(try await send(client, .get, incidentsPath + "/" + incidentID, f.readerA))
            #expect(incident.string("status") == "open")
            let anomalies = try #require(incident.array("anomalies"))
            #expect(anomalies.contains { $0.string("id") == spike.string("id") })
            #expect(anomalies.allSatisfy { $0.string("incident_id") == incidentID })
            #expect(incident.string("impact_cents") == "4000.0000000")

            try expectProblem(try await send(client, .get, incidentsPath + "/" + incidentID, f.readerB), .notFound, "not-found")
            try expectProblem(try await send(client, .post, incidentsPath + "/\(incidentID)/acknowledge", f.writerB), .notFound, "not-found")
            try expectProblem(try await send(client, .post, incidentsPath + "/\(incidentID)/acknowledge", f.readerA), .forbidden, "forbidden")
            #expect(try json(try await send(client, .get, incidentsPath, f.readerB)).array("incidents")?.isEmpty == true)

            let acked = try await send(client, .post, incidentsPath + "/\(incidentID)/acknowledge", f.writerA)
            #expect(acked.status == .ok)
            #expect(try json(acked).string("status") == "acknowledged")
            try expectProblem(try await send(client, .post, incidentsPath + "/\(incidentID)/acknowledge", f.writerA), .conflict, "conflict")
            let resolved = try await send(client, .post, incidentsPath + "/\(incidentID)/resolve", f.adminKey)
            #expect(resolved.status == .ok)
            #expect(try json(resolved).string("status") == "resolved")
            try expectProblem(try await send(client, .post, incidentsPath + "/\(incidentID)/resolve", f.writerA), .conflict, "conflict")
            try expectProblem(try await send(client, .post, incidentsPath + "/\(incidentID)/acknowledge", f.writerA), .conflict, "conflict")
            try expectProblem(try await send(client, .get, incidentsPath + "/inc_nope", f.readerA), .notFound, "not-found")
            try expectProblem(try await send(client, .get, incidentsPath + "?status=closed", f.readerA), .badRequest, "invalid-parameter",
                              parameter: "status")
        }
    }

    @Test("anomaly settings: readers read, admins change, writers cannot; bad members are named")
    func settings() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let defaults = try json(try await send(client, .get, anomalySettingsPath, f.readerA))
            #expect(defaults["custom"] as? Bool == false && defaults["spike_factor"] as? Double == 1.4)
            // Issue 13: no flat floor by default (entities are judged against their own noise).
            #expect(defaults.string("minimum_daily_cents") == "0.0000000")
            try expectProblem(try await send(client, .put, anomalySettingsPath, f.writerA, #"{"spike_factor":2}"#), .forbidden, "forbidden")
            try expectProblem(try await send(client, .put, anomalySettingsPath, f.adminKey, #"{"tenant_id":"acme","drift_days":0}"#),
                              .badRequest, "invalid-parameter", parameter: "drift_days")
            let changed = try await send(client, .put, anomalySettingsPath, f.adminKey, #"{"tenant_id":"acme","spike_factor":1.6}"#)
            #expect(changed.status == .ok)
            #expect(try json(try await send(client, .get, anomalySettingsPath, f.readerA))["spike_factor"] as? Double == 1.6)
            #expect(try json(try await send(client, .get, anomalySettingsPath, f.readerB))["custom"] as? Bool == false)
        }
    }

    @Test("webhook: set, read without the secret, delete; writer or admin keys; each tenant its own")
    func webhookConfiguration() async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let body = #"{"url":"https://hooks.example.com:8443/hook","secret":"0123456789abcdef-secret"}"#
            try expectProblem(try await send(client, .put, webhookPath, f.readerA, body), .forbidden, "forbidden")
            try expectProblem(try await send(client, .put, webhookPath, f.writerA, #"{"url":"ftp://x","secret":"0123456789abcdef"}"#),
                              .badRequest, "invalid-parameter", parameter: "url")
            try expectProblem(try await send(client, .put, webhookPath, f.writerA, #"{"url":"http://x/","secret":"short"}"#),
                              .badRequest, "invalid-parameter", parameter: "secret")
            let set = try await send(client, .put, webhookPath, f.writerA, body)
            #expect(set.status == .ok)
            let text = String(buffer: set.body)
            #expect(!text.contains("0123456789abcdef-secret"))
            let read = try json(try await send(client, .get, webhookPath, f.writerA))
            #expect(read.string("url") == "https://hooks.example.com:8443/hook" && read["secret_set"] as? Bool == true)
            try expectProblem(try await send(client, .get, webhookPath, f.writerB), .notFound, "not-found")
            try expectProblem(try await send(client, .delete, webhookPath, f.writerB), .notFound, "not-found")
            #expect(try await send(client, .delete, webhookPath, f.writerA).status == .noContent)
            try expectProblem(try await send(client, .get, webhookPath, f.writerA), .notFound, "not-found")
        }
    }

    @Test("webhook delivery: signed, retried after a failed first attempt, delivered once per incident change")
    func webhookDelivery() async throws {
        let listener = try TestHTTPListener(statuses: [500, 200])
        defer { listener.stop() }
        // The listener is on loopback: allowed only as `tally serve --allow-private-webhooks` allows it.
        let f = try ServerFixture.spikeFixture(allowPrivateWebhooks: true)
        let secret = "0123456789abcdef-secret"
        var options = WebhookDeliverer.Options()
        options.backoffMillis = 1_000
        let deliverer = WebhookDeliverer(analytics: f.analytics, options: options, logger: quietLogger)
        do {
            try await f.withRouter { http in
                let set = try await send(http, .put, webhookPath, f.writerA,
                                         #"{"url":"http://127.0.0.1:\#(listener.port)/hook?x=1","secret":"\#(secret)"}"#)
                #expect(set.status == .ok)
                _ = try await Self.detect(http, f.writerA)
            }
            let first = try await deliverer.deliverDue()
            #expect(first.delivered == 0 && first.failed == 1)
            // Not due again until the backoff has passed ("now" is pinned).
            #expect(try await deliverer.deliverDue().delivered == 0)
            #expect(listener.received.count == 1)
            f.clock.set(ServerFixture.now + 1_000)
            let second = try await deliverer.deliverDue()
            #expect(second.delivered == 1 && second.failed == 0)
            f.clock.set(ServerFixture.now + 3_600_000)
            #expect(try await deliverer.deliverDue().delivered == 0)
            let received = listener.received
            #expect(received.count == 2)
            #expect(received.allSatisfy { $0.requestLine == "POST /hook?x=1 HTTP/1.1" })
            let deliveryIDs = Set(received.compactMap { $0.headers["x-tally-delivery"] })
            #expect(deliveryIDs.count == 1)
            for r in received {
                #expect(r.headers["x-tally-signature"] == WebhookSignature.sign(r.body, secret: secret))
                #expect(r.headers["x-tally-signature"]?.hasPrefix("sha256=") == true)
                #expect(r.headers["x-tally-signature"] != WebhookSignature.sign(r.body, secret: secret + "x"))
                #expect(r.headers["content-type"] == "application/json")
            }
            let body = try #require(try JSONSerialization.jsonObject(with: Data(received[1].body)) as? [String: Any])
            #expect(body.string("event") == "incident.opened")
            #expect(body.string("delivery_id") == deliveryIDs.first)
            #expect(body.object("incident")?.string("status") == "open")
            let deliveryID = try #require(deliveryIDs.first)
            let state = try #require(try f.analytics.catalog.deliveryState(id: deliveryID))
            #expect(state.state == "delivered" && state.attempts == 2)

            // The next change (acknowledge) is one more delivery, sent once.
            try await f.withRouter { http in
                let incidents = try json(try await send(http, .get, incidentsPath, f.readerA))
                let id = try #require(incidents.array("incidents")?.first?.string("id"))
                #expect(try await send(http, .post, incidentsPath + "/\(id)/acknowledge", f.writerA).status == .ok)
            }
            #expect(try await deliverer.deliverDue().delivered == 1)
            #expect(try await deliverer.deliverDue().delivered == 0)
            #expect(listener.received.count == 3)
            let ack = try #require(try JSONSerialization.jsonObject(with: Data(listener.received[2].body)) as? [String: Any])
            #expect(ack.string("event") == "incident.acknowledged" && ack.string("previous_status") == "open")
        } catch {
            try? await deliverer.shutdown()
            throw error
        }
        try await deliverer.shutdown()
    }
}
