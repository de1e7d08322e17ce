import Foundation
@testable import TallyAnalytics
import TallyStore
import TallyTestSupport
import TallyText
import Testing

@Suite("Catalog contract: anomalies, incidents and deliveries in transactions")
struct CatalogContractTransactionTests {
    typealias C = CatalogContract

    @Test("a transaction whose body throws leaves nothing: no anomaly, incident, audit entry or delivery",
          arguments: CatalogContract.factories)
    func atomicity(_ factory: CatalogFactory) async throws {
        try await C.with(factory) { catalog in
            try catalog.setWebhook(Webhook(tenant: "acme", url: "https://example.com/hook", secret: String(repeating: "s", count: 16),
                                           createdAt: 1_000, updatedAt: 1_000, updatedBy: "key_w"))
            let auditBefore = try C.auditTrail(catalog)
            #expect(throws: Abort.self) {
                try catalog.write { (tx) throws in
                    try tx.saveIncident(C.incident("inc_1"))
                    try tx.saveAnomaly(C.anomaly("anm_1", incident: "inc_1"))
                    try tx.appendAudit(at: 1_000, actor: "detector", tenant: "acme", action: "open", entityType: "incident",
                                       entityID: "inc_1", before: nil, after: "{}")
                    try tx.insertDelivery(WebhookDelivery(id: "dlv_1", tenant: "acme", incidentID: "inc_1", event: "incident.opened",
                                                          body: Array("{}".utf8), attempts: 0, nextAttemptAt: 1_000), now: 1_000)
                    // Inside the transaction its own writes are visible.
                    #expect(try tx.incident(id: "inc_1") != nil)
                    #expect(try tx.anomalies(incident: "inc_1").map(\.id) == ["anm_1"])
                    throw Abort()
                }
            }
            #expect(try catalog.incident(id: "inc_1") == nil)
            #expect(try catalog.anomaly(id: "anm_1") == nil)
            #expect(try catalog.anomalies(tenant: nil, filter: AnomalyFilter()).isEmpty)
            #expect(try catalog.deliveryState(id: "dlv_1") == nil)
            #expect(try catalog.deliveryCounts(tenant: "acme").isEmpty)
            #expect(try C.auditTrail(catalog) == auditBefore)

            // The same body without the throw commits all of it.
            try catalog.write { (tx) throws in
                try tx.saveIncident(C.incident("inc_1"))
                try tx.saveAnomaly(C.anomaly("anm_1", incident: "inc_1"))
                try tx.insertDelivery(WebhookDelivery(id: "dlv_1", tenant: "acme", incidentID: "inc_1", event: "incident.opened",
                                                      body: Array("{}".utf8), attempts: 0, nextAttemptAt: 1_000), now: 1_000)
            }
            #expect(try catalog.incident(id: "inc_1")?.anomalies.map(\.id) == ["anm_1"])
            #expect(try catalog.deliveryCounts(tenant: "acme") == ["pending": 1])
        }
    }

    @Test("the episode rules over a transaction: a HIGH finding opens an anomaly and an incident (audited, announced); the next day continues it; a run that throws changes nothing",
          arguments: CatalogContract.factories)
    func episodes(_ factory: CatalogFactory) async throws {
        try await C.with(factory) { catalog in
            try catalog.setWebhook(Webhook(tenant: "acme", url: "https://example.com/hook", secret: String(repeating: "s", count: 16),
                                           createdAt: 1_000, updatedAt: 1_000, updatedBy: "key_w"))
            func finding(day: Int64, ongoing: Bool = true) -> AnomalyFinding {
                AnomalyFinding(type: .absoluteSpike, severity: .high, entity: AnomalyEntity(level: .feature, value: "chat"), budgetID: "",
                               firstDay: day * C.day, lastDay: day * C.day, expectedNanos: C.cent, actualNanos: 9 * C.cent,
                               ongoing: ongoing, drivers: [])
            }
            func run(_ findings: [AnomalyFinding], through day: Int64) throws -> DetectionChanges {
                try catalog.write { try AnomalyEpisodes.record(tenant: "acme", findings: findings, judgedFrom: day * C.day,
                                                               judgedThrough: day * C.day, now: day * C.day + 1, in: $0) }
            }
            let first = try run([finding(day: 10)], through: 10)
            #expect(first.created.count == 1 && first.incidentsOpened.count == 1)
            let anomaly = try #require(try catalog.anomaly(id: first.created[0]))
            #expect(anomaly.incidentID == first.incidentsOpened[0] && anomaly.status == .open)
            #expect(try catalog.deliveryCounts(tenant: "acme") == ["pending": 1])
            #expect(try C.auditTrail(catalog).last == "incident open \(first.incidentsOpened[0])")

            let second = try run([finding(day: 11)], through: 11)
            #expect(second.updated == [anomaly.id] && second.created.isEmpty && second.incidentsOpened.isEmpty)
            #expect(try catalog.anomaly(id: anomaly.id).map { ($0.firstDay, $0.lastDay) } ?? (0, 0) == (10 * C.day, 11 * C.day))

            // A run whose transaction fails after the rules ran leaves the episode, incidents and outbox as they were.
            let before = try catalog.anomalies(tenant: "acme", filter: AnomalyFilter())
            #expect(throws: Abort.self) {
                try catalog.write { tx in
                    _ = try AnomalyEpisodes.record(tenant: "acme", findings: [finding(day: 20)], judgedFrom: 12 * C.day,
                                                   judgedThrough: 20 * C.day, now: 20 * C.day + 1, in: tx)
                    throw Abort()
                }
            }
            #expect(try catalog.anomalies(tenant: "acme", filter: AnomalyFilter()) == before)
            #expect(try catalog.incidents(tenant: "acme", status: nil, limit: 10).count == 1)
            #expect(try catalog.deliveryCounts(tenant: "acme") == ["pending": 1])

            // A run over the day after the episode that does not find it again ends it.
            let third = try run([], through: 12)
            #expect(third.resolved == [anomaly.id])
            #expect(try catalog.anomaly(id: anomaly.id)?.resolvedBy == Anomaly.detectorActor)
        }
    }

    @Test("resolving an incident resolves its open anomalies in the same transaction (each audited, the webhook body lists them resolved); detection does not reopen them while the condition holds",
          arguments: CatalogContract.factories)
    func resolvingAnIncidentResolvesItsAnomalies(_ factory: CatalogFactory) async throws {
        try await C.with(factory) { catalog in
            try catalog.setWebhook(Webhook(tenant: "acme", url: "https://example.com/hook", secret: String(repeating: "s", count: 16),
                                           createdAt: 1_000, updatedAt: 1_000, updatedBy: "key_w"))
            let feature = AnomalyFinding(type: .absoluteSpike, severity: .high, entity: AnomalyEntity(level: .feature, value: "chat"),
                                         budgetID: "", firstDay: 10 * C.day, lastDay: 10 * C.day, expectedNanos: C.cent,
                                         actualNanos: 9 * C.cent, ongoing: true, drivers: [])
            var tenant = feature
            tenant.entity = .tenant
            let opened = try catalog.write { try AnomalyEpisodes.record(tenant: "acme", findings: [feature, tenant], judgedFrom: 10 * C.day,
                                                                        judgedThrough: 10 * C.day, now: 10 * C.day + 1, in: $0) }
            #expect(opened.created.count == 2 && opened.incidentsOpened.count == 1)
            let incident = try #require(opened.incidentsOpened.first)
            #expect(try catalog.incident(id: incident)?.statusNote == nil)

            let view = try #require(try catalog.write { tx in
                try IncidentRules.transition(id: incident, to: .resolved, actor: "key_w", now: 11 * C.day, reaches: { _ in true }, in: tx)
            })
            #expect(view.anomalies.count == 2 && view.openAnomalyCount == 0 && view.statusNote == nil)
            for id in opened.created {
                let a = try #require(try catalog.anomaly(id: id))
                #expect(a.status == .resolved && a.resolvedBy == "key_w" && a.resolvedAt == 11 * C.day, "\(id)")
            }
            let trail = try C.auditTrail(catalog)
            #expect(Set(trail.suffix(3)) == Set(opened.created.map { "anomaly resolve \($0)" } + ["incident resolve \(incident)"]))
            let bodies = try catalog.dueDeliveries(now: 12 * C.day, limit: 10).map { String(decoding: $0.0.body, as: UTF8.self) }
            let resolvedBody = try #require(bodies.first { $0.contains("\"incident.resolved\"") })
            #expect(!resolvedBody.contains("\"status\":\"open\""))
            #expect(resolvedBody.contains("\"open_anomaly_count\":0"))

            // The spike still holds the next day: the episode continues but stays resolved with its incident.
            let next = try catalog.write { try AnomalyEpisodes.record(tenant: "acme", findings: [feature, tenant].map { f in
                var f = f
                f.lastDay = 11 * C.day
                return f
            }, judgedFrom: 11 * C.day, judgedThrough: 11 * C.day, now: 11 * C.day + 2, in: $0) }
            #expect(next.created.isEmpty && next.incidentsOpened.isEmpty)
            #expect(try catalog.anomalies(tenant: "acme", filter: AnomalyFilter(resolved: false)).isEmpty)
        }
    }

    @Test("an incident left open over anomalies that all ended says why", arguments: CatalogContract.factories)
    func openIncidentOverEndedAnomaliesSaysWhy(_ factory: CatalogFactory) async throws {
        try await C.with(factory) { catalog in
            try catalog.write { tx in
                try tx.saveIncident(C.incident("inc_1"))
                try tx.saveAnomaly(C.anomaly("anm_1", status: .resolved, incident: "inc_1"))
            }
            let view = try #require(try catalog.incident(id: "inc_1"))
            #expect(view.incident.status == .open && view.openAnomalyCount == 0)
            #expect(view.statusNote?.contains("all 1 of its anomalies have ended") == true)
            var w = JSONWriter(capacity: 256)
            w.value(view)
            #expect(String(decoding: w.bytes, as: UTF8.self).contains("\"status_note\":\"all 1 of its anomalies have ended"))
        }
    }

    @Test("anomalies: round trip with drivers in rank order; series, open and incident lists in their order; not found",
          arguments: CatalogContract.factories)
    func anomalies(_ factory: CatalogFactory) async throws {
        try await C.with(factory) { catalog in
            let drivers = [
                AnomalyDriver(dimension: .model, value: "gpt", expectedNanos: 1, actualNanos: 9, sharePPM: 800_000),
                AnomalyDriver(dimension: .user, value: "ann", expectedNanos: 2, actualNanos: 3, sharePPM: nil),
            ]
            let chat = AnomalyEntity(level: .feature, value: "chat")
            let tenant = AnomalyEntity(level: .tenant, value: "")
            let spikeOld = C.anomaly("anm_b", days: 1...2, status: .resolved, drivers: drivers)
            var spikeNew = C.anomaly("anm_a", days: 8...9, incident: "inc_1")
            spikeNew.provisional = true
            let entityDrivers = [
                AnomalyEntityDriver(entity: chat, type: .absoluteSpike, severity: .high, firstDay: 8 * C.day, lastDay: 9 * C.day,
                                    expectedNanos: 4, actualNanos: 40, sharePPM: 750_000),
                AnomalyEntityDriver(entity: AnomalyEntity(level: .user, value: "ann"), type: .sustainedDrift, severity: .medium,
                                    firstDay: 7 * C.day, lastDay: 9 * C.day, expectedNanos: 10, actualNanos: 13, sharePPM: nil),
            ]
            spikeNew.entityDrivers = entityDrivers
            let drift = C.anomaly("anm_c", type: .sustainedDrift, days: 3...9)
            let budget = C.anomaly("anm_d", type: .budgetExceeded, entity: tenant, budgetID: "bud_t", days: 0...9, incident: "inc_1")
            let other = C.anomaly("anm_e", tenant: "globex", days: 8...9)
            try catalog.write { (tx) throws in
                try tx.saveIncident(C.incident("inc_1"))
                for a in [spikeOld, spikeNew, drift, budget, other] { try tx.saveAnomaly(a) }
            }
            #expect(try catalog.anomaly(id: "anm_b") == spikeOld)
            #expect(try catalog.anomaly(id: "anm_none") == nil)
            // Entity drivers in rank order and the provisional flag come back as saved, in lists too.
            #expect(try catalog.anomaly(id: "anm_a") == spikeNew)
            #expect(try catalog.anomalies(tenant: "acme", filter: AnomalyFilter()).first { $0.id == "anm_a" } == spikeNew)
            #expect(try catalog.incident(id: "inc_1")?.anomalies.first { $0.id == "anm_a" }?.entityDrivers == entityDrivers)

            try catalog.write { (tx) throws in
                #expect(try tx.anomaly(id: "anm_b") == spikeOld)
                #expect(try tx.anomaly(id: "anm_none") == nil)
                #expect(try tx.anomalies(tenant: "acme", type: .absoluteSpike, entity: chat, budgetID: "").map(\.id) == ["anm_a", "anm_b"])
                #expect(try tx.anomalies(tenant: "acme", type: .budgetExceeded, entity: tenant, budgetID: "bud_t").map(\.id) == ["anm_d"])
                #expect(try tx.anomalies(tenant: "acme", type: .budgetExceeded, entity: tenant, budgetID: "bud_x").isEmpty)
                #expect(try tx.openAnomalies(tenant: "acme").map(\.id) == ["anm_d", "anm_c", "anm_a"])
                #expect(try tx.anomalies(incident: "inc_1").map(\.id) == ["anm_d", "anm_a"])
                // Saving again replaces the anomaly and its drivers.
                var changed = spikeOld
                changed.drivers = [drivers[1]]
                changed.lastDay = 3 * C.day
                try tx.saveAnomaly(changed)
                #expect(try tx.anomaly(id: "anm_b") == changed)
                var confirmed = spikeNew
                confirmed.provisional = false
                confirmed.entityDrivers = [entityDrivers[1]]
                try tx.saveAnomaly(confirmed)
                #expect(try tx.anomaly(id: "anm_a") == confirmed)
            }
            #expect(try catalog.anomaly(id: "anm_b")?.drivers == [drivers[1]])
            #expect(try catalog.anomaly(id: "anm_a")?.provisional == false)
            #expect(try catalog.anomaly(id: "anm_a")?.entityDrivers == [entityDrivers[1]])

            // Listed newest last day first, then first day, then id; filtered; at most `limit`.
            #expect(try catalog.anomalies(tenant: "acme", filter: AnomalyFilter()).map(\.id) == ["anm_a", "anm_c", "anm_d", "anm_b"])
            #expect(try catalog.anomalies(tenant: nil, filter: AnomalyFilter()).count == 5)
            #expect(try catalog.anomalies(tenant: "acme", filter: AnomalyFilter(limit: 2)).map(\.id) == ["anm_a", "anm_c"])
            #expect(try catalog.anomalies(tenant: "acme", filter: AnomalyFilter(type: .sustainedDrift)).map(\.id) == ["anm_c"])
            #expect(try catalog.anomalies(tenant: "acme", filter: AnomalyFilter(resolved: true)).map(\.id) == ["anm_b"])
            #expect(try catalog.anomalies(tenant: "acme", filter: AnomalyFilter(from: 5 * C.day, to: 6 * C.day)).map(\.id)
                == ["anm_c", "anm_d"])
        }
    }

    @Test("incidents: listed newest first, by status, at most limit; unresolved ones oldest first; not found",
          arguments: CatalogContract.factories)
    func incidents(_ factory: CatalogFactory) async throws {
        try await C.with(factory) { catalog in
            try catalog.write { (tx) throws in
                try tx.saveIncident(C.incident("inc_a", openedAt: 3_000))
                try tx.saveIncident(C.incident("inc_b", status: .resolved, openedAt: 1_000))
                try tx.saveIncident(C.incident("inc_c", status: .acknowledged, openedAt: 2_000))
                try tx.saveIncident(C.incident("inc_d", tenant: "globex", openedAt: 4_000))
            }
            #expect(try catalog.incident(id: "inc_none") == nil)
            #expect(try catalog.incident(id: "inc_c")?.incident == C.incident("inc_c", status: .acknowledged, openedAt: 2_000))
            #expect(try catalog.incidents(tenant: "acme", status: nil, limit: 10).map(\.incident.id) == ["inc_a", "inc_c", "inc_b"])
            #expect(try catalog.incidents(tenant: nil, status: nil, limit: 2).map(\.incident.id) == ["inc_d", "inc_a"])
            #expect(try catalog.incidents(tenant: "acme", status: .resolved, limit: 10).map(\.incident.id) == ["inc_b"])
            try catalog.write { (tx) throws in
                #expect(try tx.unresolvedIncidents(tenant: "acme").map(\.id) == ["inc_c", "inc_a"])
                #expect(try tx.incident(id: "inc_none") == nil)
            }
        }
    }

    @Test("webhooks and deliveries: set keeps the creation time, due deliveries in order, attempts recorded, delete fails the pending",
          arguments: CatalogContract.factories)
    func webhooks(_ factory: CatalogFactory) async throws {
        try await C.with(factory) { catalog in
            let secret = String(repeating: "k", count: 20)
            #expect(try catalog.webhook(tenant: "acme") == nil)
            try catalog.setWebhook(Webhook(tenant: "acme", url: "https://a.example/1", secret: secret, createdAt: 1_000, updatedAt: 1_000,
                                           updatedBy: "key_w"))
            try catalog.setWebhook(Webhook(tenant: "acme", url: "https://a.example/2", secret: secret, createdAt: 2_000, updatedAt: 2_000,
                                           updatedBy: "key_w"))
            let hook = try #require(try catalog.webhook(tenant: "acme"))
            #expect(hook.url == "https://a.example/2" && hook.createdAt == 1_000 && hook.updatedAt == 2_000)

            func delivery(_ id: String, tenant: String = "acme", at: Int64) -> WebhookDelivery {
                WebhookDelivery(id: id, tenant: tenant, incidentID: "inc_1", event: "incident.opened", body: Array(#"{"n":1}"#.utf8),
                                attempts: 0, nextAttemptAt: at)
            }
            try catalog.write { (tx) throws in
                #expect(try tx.webhook(tenant: "acme") == hook)
                #expect(try tx.webhook(tenant: "globex") == nil)
                try tx.insertDelivery(delivery("dlv_c", at: 3_000), now: 1_000)
                try tx.insertDelivery(delivery("dlv_a", at: 1_000), now: 1_000)
                try tx.insertDelivery(delivery("dlv_b", at: 2_000), now: 1_000)
                try tx.insertDelivery(delivery("dlv_x", tenant: "globex", at: 1_000), now: 1_000)  // no webhook: never due
            }
            let due = try catalog.dueDeliveries(now: 2_000, limit: 10)
            #expect(due.map(\.0.id) == ["dlv_a", "dlv_b"])
            #expect(due.first?.0 == delivery("dlv_a", at: 1_000))
            #expect(due.allSatisfy { $0.1 == hook })
            #expect(try catalog.dueDeliveries(now: 5_000, limit: 1).map(\.0.id) == ["dlv_a"])

            try catalog.recordDeliveryAttempt(id: "dlv_a", delivered: true, error: nil, retryAt: nil, now: 2_000)
            try catalog.recordDeliveryAttempt(id: "dlv_b", delivered: false, error: "HTTP 500", retryAt: 9_000, now: 2_000)
            try catalog.recordDeliveryAttempt(id: "dlv_c", delivered: false, error: "HTTP 410", retryAt: nil, now: 3_000)
            #expect(try catalog.deliveryState(id: "dlv_a").map { [$0.state, String($0.attempts)] } == ["delivered", "1"])
            #expect(try catalog.deliveryState(id: "dlv_b").map { [$0.state, String($0.attempts), $0.lastError ?? ""] } == ["pending", "1", "HTTP 500"])
            #expect(try catalog.deliveryState(id: "dlv_c").map { [$0.state, $0.lastError ?? ""] } == ["failed", "HTTP 410"])
            #expect(try catalog.deliveryState(id: "dlv_none") == nil)
            #expect(try catalog.dueDeliveries(now: 8_999, limit: 10).isEmpty)
            #expect(try catalog.dueDeliveries(now: 9_000, limit: 10).map(\.0.id) == ["dlv_b"])
            #expect(try catalog.deliveryCounts(tenant: "acme") == ["delivered": 1, "pending": 1, "failed": 1])

            #expect(try catalog.deleteWebhook(tenant: "acme", actor: "key_w", now: 10_000))
            #expect(try !catalog.deleteWebhook(tenant: "acme", actor: "key_w", now: 10_000))
            #expect(try catalog.webhook(tenant: "acme") == nil)
            #expect(try catalog.deliveryCounts(tenant: "acme") == ["delivered": 1, "failed": 2])
            #expect(try C.auditTrail(catalog) == ["webhook create acme", "webhook update acme", "webhook delete acme"])
            #expect(try catalog.auditEntries(AuditFilter(limit: 10)).allSatisfy {
                !($0.before ?? "").contains(secret) && !($0.after ?? "").contains(secret)
            })
        }
    }

    @Test("anomaly settings: defaults until set, then the tenant's own; audited", arguments: CatalogContract.factories)
    func settings(_ factory: CatalogFactory) async throws {
        try await C.with(factory) { catalog in
            var defaults = AnomalyThresholds()
            defaults.spikeDays = 9
            let initial = try catalog.anomalyThresholds(tenant: "acme", defaults: defaults)
            #expect(initial.thresholds == defaults && !initial.custom)
            var custom = AnomalyThresholds()
            custom.spikeFactorPPM = 4_000_000
            custom.minimumDailyNanos = 77
            try catalog.setAnomalyThresholds(custom, tenant: "acme", actor: "key_admin", now: 1_000)
            let stored = try catalog.anomalyThresholds(tenant: "acme", defaults: defaults)
            #expect(stored.thresholds == custom && stored.custom)
            #expect(try !catalog.anomalyThresholds(tenant: "globex", defaults: defaults).custom)
            try catalog.setAnomalyThresholds(defaults, tenant: "acme", actor: "key_admin", now: 2_000)
            #expect(try catalog.anomalyThresholds(tenant: "acme", defaults: AnomalyThresholds()).thresholds == defaults)
            #expect(try catalog.tenantsWithConfiguration() == ["acme"])
            #expect(try C.auditTrail(catalog) == ["anomaly_settings create acme", "anomaly_settings update acme"])
        }
    }

    @Test("feature tags: round trip, one per tag, ordered by tag, patched, deleted; each change audited",
          arguments: CatalogContract.factories)
    func featureTags(_ factory: CatalogFactory) async throws {
        try await C.with(factory) { catalog in
            func tag(_ id: String, _ name: String, tenant: String = "acme") -> FeatureTag {
                FeatureTag(id: id, tenant: tenant, tag: name, description: "d", owner: "o", createdAt: 1_000, updatedAt: 1_000,
                           createdBy: "key_admin")
            }
            try catalog.insertFeatureTag(tag("ftg_2", "search"), actor: "key_admin")
            try catalog.insertFeatureTag(tag("ftg_1", "chat"), actor: "key_admin")
            try catalog.insertFeatureTag(tag("ftg_3", "chat", tenant: "globex"), actor: "key_admin")
            #expect(throws: AnalyticsError.self) { try catalog.insertFeatureTag(tag("ftg_4", "chat"), actor: "key_admin") }
            #expect(try catalog.featureTag(id: "ftg_1") == tag("ftg_1", "chat"))
            #expect(try catalog.featureTag(id: "ftg_none") == nil)
            #expect(try catalog.featureTags(tenant: "acme").map(\.id) == ["ftg_1", "ftg_2"])

            let patched = try #require(try catalog.updateFeatureTag(id: "ftg_1", FeatureTagPatch(owner: "team"), at: 2_000, actor: "key_admin"))
            #expect(patched.owner == "team" && patched.description == "d" && patched.updatedAt == 2_000)
            #expect(try catalog.featureTag(id: "ftg_1") == patched)
            #expect(try catalog.updateFeatureTag(id: "ftg_none", FeatureTagPatch(owner: "x"), at: 2_000, actor: "key_admin") == nil)
            #expect(try catalog.deleteFeatureTag(id: "ftg_2", at: 3_000, actor: "key_admin"))
            #expect(try !catalog.deleteFeatureTag(id: "ftg_2", at: 3_000, actor: "key_admin"))
            #expect(try catalog.featureTags(tenant: "acme").map(\.id) == ["ftg_1"])
            #expect(try C.auditTrail(catalog) == [
                "feature_tag create ftg_2", "feature_tag create ftg_1", "feature_tag create ftg_3", "feature_tag update ftg_1",
                "feature_tag delete ftg_2",
            ])
        }
    }

    @Test("exports: round trip, newest first with a limit, status updates keep what they do not name, due and in progress",
          arguments: CatalogContract.factories)
    func exports(_ factory: CatalogFactory) async throws {
        try await C.with(factory) { catalog in
            try catalog.insertExport(C.export("exp_1", at: 1_000, expiresAt: 5_000))
            try catalog.insertExport(C.export("exp_2", at: 2_000))
            try catalog.insertExport(C.export("exp_3", tenant: "globex", at: 3_000, expiresAt: 4_000))
            #expect(try catalog.export(id: "exp_1") == C.export("exp_1", at: 1_000, expiresAt: 5_000))
            #expect(try catalog.export(id: "exp_none") == nil)
            #expect(try catalog.exports(tenant: "acme", limit: 10).map(\.id) == ["exp_2", "exp_1"])
            #expect(try catalog.exports(tenant: nil, limit: 2).map(\.id) == ["exp_3", "exp_2"])

            try catalog.updateExport(id: "exp_1", status: .running, rows: nil, bytes: nil, completedAt: nil, error: nil)
            try catalog.updateExport(id: "exp_1", status: .ready, rows: 10, bytes: 200, completedAt: 1_500, error: nil)
            try catalog.updateExport(id: "exp_2", status: .failed, rows: nil, bytes: nil, completedAt: 2_500, error: "disk full")
            let ready = try #require(try catalog.export(id: "exp_1"))
            #expect(ready.status == .ready && ready.rows == 10 && ready.bytes == 200 && ready.completedAt == 1_500 && ready.error == nil)
            try catalog.updateExport(id: "exp_1", status: .expired, rows: nil, bytes: nil, completedAt: nil, error: nil)
            #expect(try catalog.export(id: "exp_1").map { [$0.status.rawValue, String($0.rows)] } == ["expired", "10"])
            #expect(try catalog.export(id: "exp_2")?.error == "disk full")

            #expect(try catalog.exportsInProgress().map(\.id) == ["exp_3"])
            #expect(try catalog.exportsDue(now: 4_000).map(\.id) == ["exp_3"])
            #expect(try catalog.exportsDue(now: 100_000_000).map(\.id) == ["exp_3", "exp_2"])
        }
    }

    @Test("audit: newest first, filtered by tenant, entity, action and time, paged by id, at most limit",
          arguments: CatalogContract.factories)
    func audit(_ factory: CatalogFactory) async throws {
        try await C.with(factory) { catalog in
            try catalog.write { (tx) throws in
                for i in 0..<6 {
                    try tx.appendAudit(at: Int64(i) * 1_000, actor: "key_\(i)", tenant: i % 2 == 0 ? "acme" : "globex",
                                       action: i < 3 ? "create" : "delete", entityType: i == 5 ? "webhook" : "budget",
                                       entityID: "e\(i)", before: i < 3 ? nil : #"{"n":\#(i)}"#, after: i < 3 ? #"{"n":\#(i)}"# : nil)
                }
            }
            let all = try catalog.auditEntries(AuditFilter(limit: 100))
            #expect(all.map(\.entityID) == ["e5", "e4", "e3", "e2", "e1", "e0"])
            #expect(zip(all, all.dropFirst()).allSatisfy { $0.id > $1.id })
            #expect(all.last == AuditEntry(id: all.last!.id, at: 0, actor: "key_0", tenant: "acme", action: "create", entityType: "budget",
                                           entityID: "e0", before: nil, after: #"{"n":0}"#))
            #expect(try catalog.auditEntries(AuditFilter(tenant: "acme", limit: 100)).map(\.entityID) == ["e4", "e2", "e0"])
            #expect(try catalog.auditEntries(AuditFilter(entityType: "webhook", limit: 100)).map(\.entityID) == ["e5"])
            #expect(try catalog.auditEntries(AuditFilter(entityID: "e3", limit: 100)).map(\.action) == ["delete"])
            #expect(try catalog.auditEntries(AuditFilter(action: "create", limit: 100)).map(\.entityID) == ["e2", "e1", "e0"])
            #expect(try catalog.auditEntries(AuditFilter(from: 1_000, to: 3_000, limit: 100)).map(\.entityID) == ["e2", "e1"])
            let page = try catalog.auditEntries(AuditFilter(limit: 2))
            #expect(page.map(\.entityID) == ["e5", "e4"])
            #expect(try catalog.auditEntries(AuditFilter(beforeID: page.last!.id, limit: 2)).map(\.entityID) == ["e3", "e2"])
            #expect(try catalog.auditEntries(AuditFilter(limit: 0)).isEmpty)
        }
    }
}
