@testable import TallyAnalytics
import TallyStore
import Testing

extension CatalogContract {
    static func slackChannel(_ id: String, tenant: String = "acme", at: Int64 = 1_000) -> AlertChannel {
        AlertChannel(id: id, tenant: tenant, name: "#cost", kind: .slack, url: "https://hooks.slack.com/services/T0/B0/secret",
                     smtp: nil, minSeverity: .medium, quietMillis: 3_600_000, enabled: true, createdAt: at, updatedAt: at,
                     updatedBy: "key_admin")
    }

    static func emailChannel(_ id: String, tenant: String = "acme", at: Int64 = 1_000) -> AlertChannel {
        AlertChannel(id: id, tenant: tenant, name: "finance mail", kind: .email, url: "",
                     smtp: AlertChannel.SMTPSettings(host: "smtp.example.com", port: 587, username: "tally", password: "pw-secret",
                                                     from: "alerts@example.com", to: ["a@example.com", "b@example.com"]),
                     minSeverity: .high, quietMillis: 0, enabled: true, createdAt: at, updatedAt: at, updatedBy: "key_admin")
    }

    static func alert(_ id: String, channel: String, series: String = "s", anomaly: String = "anm_1", severity: AnomalySeverity = .high,
                      at: Int64) -> AlertDelivery {
        AlertDelivery(id: id, channelID: channel, tenant: "acme", anomalyID: anomaly, series: series, severity: severity, subject: "subj",
                      body: "{\"text\":\"é\"}", state: "pending", attempts: 0, nextAttemptAt: at, lastError: nil, createdAt: at, deliveredAt: nil)
    }
}

@Suite("Catalog contract: alert channels and alert deliveries")
struct CatalogContractAlertTests {
    @Test("channels: round trip with secrets, listed by tenant and creation, updated (kind, tenant and creation kept) and deleted; audited without secrets",
          arguments: CatalogContract.factories)
    func channels(_ factory: CatalogFactory) async throws {
        try await CatalogContract.with(factory) { catalog in
            let slack = CatalogContract.slackChannel("ach_1", at: 2_000)
            let email = CatalogContract.emailChannel("ach_2", at: 1_000)
            let other = CatalogContract.slackChannel("ach_3", tenant: "globex", at: 500)
            for c in [slack, email, other] { try catalog.insertAlertChannel(c) }
            #expect(try catalog.alertChannel(id: "ach_1") == slack)
            #expect(try catalog.alertChannel(id: "ach_2") == email)
            #expect(try catalog.alertChannel(id: "ach_none") == nil)
            #expect(try catalog.alertChannels(tenant: "acme").map(\.id) == ["ach_2", "ach_1"])
            #expect(try catalog.alertChannels(tenant: nil).map(\.id) == ["ach_2", "ach_1", "ach_3"])

            var changed = email
            changed.name = "renamed"
            changed.smtp?.password = nil
            changed.smtp?.username = nil
            changed.smtp?.to = ["c@example.com"]
            changed.enabled = false
            changed.minSeverity = .low
            changed.updatedAt = 5_000
            changed.createdAt = 9_999
            changed.kind = .slack
            changed.tenant = "globex"
            #expect(try catalog.updateAlertChannel(changed))
            let stored = try #require(try catalog.alertChannel(id: "ach_2"))
            #expect(stored.name == "renamed" && stored.enabled == false && stored.minSeverity == .low && stored.updatedAt == 5_000)
            #expect(stored.smtp?.password == nil && stored.smtp?.to == ["c@example.com"])
            #expect(stored.createdAt == 1_000 && stored.kind == .email && stored.tenant == "acme")
            var ghost = changed
            ghost.id = "ach_none"
            #expect(try catalog.updateAlertChannel(ghost) == false)

            #expect(try catalog.deleteAlertChannel(id: "ach_1", actor: "key_admin", at: 6_000))
            #expect(try catalog.deleteAlertChannel(id: "ach_1", actor: "key_admin", at: 6_000) == false)
            #expect(try catalog.alertChannels(tenant: "acme").map(\.id) == ["ach_2"])
            #expect(try CatalogContract.auditTrail(catalog) == [
                "alert_channel create ach_1", "alert_channel create ach_2", "alert_channel create ach_3", "alert_channel update ach_2",
                "alert_channel delete ach_1",
            ])
            for entry in try catalog.auditEntries(AuditFilter(limit: 100)) {
                #expect(!(entry.before ?? "").contains("secret") && !(entry.after ?? "").contains("secret"))
            }
        }
    }

    @Test("deliveries: the last one of a series, due ones in order with their channel, attempts recorded, deleting the channel gives up the pending",
          arguments: CatalogContract.factories)
    func deliveries(_ factory: CatalogFactory) async throws {
        try await CatalogContract.with(factory) { catalog in
            try catalog.insertAlertChannel(CatalogContract.slackChannel("ach_1"))
            try catalog.insertAlertChannel(CatalogContract.emailChannel("ach_2"))
            try catalog.write { tx in
                #expect(try tx.alertChannels(tenant: "acme").map(\.id) == ["ach_1", "ach_2"])
                #expect(try tx.alertChannels(tenant: "globex").isEmpty)
                #expect(try tx.lastAlert(channel: "ach_1", series: "s") == nil)
                try tx.insertAlertDelivery(CatalogContract.alert("alr_b", channel: "ach_1", severity: .medium, at: 2_000))
                try tx.insertAlertDelivery(CatalogContract.alert("alr_a", channel: "ach_1", anomaly: "anm_2", at: 3_000))
                try tx.insertAlertDelivery(CatalogContract.alert("alr_c", channel: "ach_2", at: 1_000))
                try tx.insertAlertDelivery(CatalogContract.alert("alr_d", channel: "ach_1", series: "t", at: 9_000))
                // Reads see the transaction's own writes.
                #expect(try tx.lastAlert(channel: "ach_1", series: "s")?.id == "alr_a")
            }
            #expect(try catalog.write { try $0.lastAlert(channel: "ach_1", series: "s") } == CatalogContract.alert(
                "alr_a", channel: "ach_1", anomaly: "anm_2", at: 3_000))
            #expect(try catalog.write { try $0.lastAlert(channel: "ach_2", series: "s")?.id } == "alr_c")

            let due = try catalog.dueAlertDeliveries(now: 5_000, limit: 10)
            #expect(due.map(\.0.id) == ["alr_c", "alr_b", "alr_a"])
            #expect(due.map(\.1.id) == ["ach_2", "ach_1", "ach_1"])
            #expect(due.first?.1.smtp?.password == "pw-secret")
            #expect(try catalog.dueAlertDeliveries(now: 5_000, limit: 1).map(\.0.id) == ["alr_c"])

            try catalog.recordAlertAttempt(id: "alr_c", delivered: true, error: nil, retryAt: nil, now: 5_100)
            try catalog.recordAlertAttempt(id: "alr_b", delivered: false, error: "HTTP 500", retryAt: 8_000, now: 5_100)
            try catalog.recordAlertAttempt(id: "alr_a", delivered: false, error: "SMTP: refused", retryAt: nil, now: 5_100)
            #expect(try catalog.dueAlertDeliveries(now: 7_999, limit: 10).isEmpty)
            #expect(try catalog.dueAlertDeliveries(now: 9_000, limit: 10).map(\.0.id) == ["alr_b", "alr_d"])

            let recent = try catalog.alertDeliveries(channel: "ach_1", limit: 10)
            #expect(recent.map(\.id) == ["alr_d", "alr_a", "alr_b"])
            #expect(recent[1].state == "failed" && recent[1].attempts == 1 && recent[1].lastError == "SMTP: refused")
            #expect(recent[2].state == "pending" && recent[2].nextAttemptAt == 8_000 && recent[2].lastError == "HTTP 500")
            let c2 = try catalog.alertDeliveries(channel: "ach_2", limit: 10)
            #expect(c2.map(\.state) == ["delivered"] && c2[0].deliveredAt == 5_100 && c2[0].body == "{\"text\":\"é\"}")
            #expect(try catalog.alertDeliveries(channel: "ach_1", limit: 1).map(\.id) == ["alr_d"])
            #expect(try catalog.alertDeliveryCounts(channel: "ach_1") == ["pending": 2, "failed": 1])
            #expect(try catalog.alertDeliveryCounts(channel: "ach_2") == ["delivered": 1])

            #expect(try catalog.deleteAlertChannel(id: "ach_1", actor: "key_admin", at: 10_000))
            #expect(try catalog.dueAlertDeliveries(now: 20_000, limit: 10).isEmpty)
            #expect(try catalog.alertDeliveryCounts(channel: "ach_1") == ["failed": 3])
        }
    }
}
