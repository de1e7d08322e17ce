import Foundation
@testable import TallyAnalytics
import TallyStore
import TallyText
import TallyTestSupport
import Testing

/// Which open anomalies alert on which channel (once per episode, again on escalation, quiet periods, minimum
/// severity), and what the messages say.
@Suite("Alert rules")
struct AlertRulesTests {
    static let day = TimeUnit.dayMillis
    static let minute: Int64 = 60_000

    static func anomaly(_ id: String, severity: AnomalySeverity, entity: AnomalyEntity = .tenant, status: Anomaly.Status = .open,
                        tenant: String = "acme", type: AnomalyType = .absoluteSpike) -> Anomaly {
        Anomaly(id: id, tenant: tenant, type: type, severity: severity, entity: entity, budgetID: "", firstDay: 20_000 * day,
                lastDay: 20_001 * day, expectedNanos: 10_000 * Money.nanosPerCent, actualNanos: 25_050 * Money.nanosPerCent,
                drivers: [AnomalyDriver(dimension: .model, value: "gpt-4o", expectedNanos: 0, actualNanos: 15_050 * Money.nanosPerCent,
                                        sharePPM: 1_000_000)],
                status: status, resolvedAt: nil, resolvedBy: nil, incidentID: nil, detectedAt: 20_002 * day, updatedAt: 20_002 * day)
    }

    /// Queues at `now` over every channel of acme; returns `channel anomaly` pairs queued.
    static func queue(_ catalog: SQLiteCatalog, at now: Int64) throws -> [String] {
        try catalog.write { tx in
            try AlertRules.queue(tenant: "acme", channels: try tx.alertChannels(tenant: "acme"), publicURL: "https://tally.example/", now: now,
                                 in: tx)
        }.map { "\($0.channelID) \($0.anomalyID)" }
    }

    @Test("one alert per episode and channel however often it runs; an escalation alerts again; the quiet period holds back a new episode of the same series; minimum severity and disabled channels respected")
    func episodes() async throws {
        try await withTemporaryDirectory(prefix: "tally-alerts") { dir in
            let catalog = try SQLiteCatalog(directory: dir)
            var slack = CatalogContract.slackChannel("ach_s")
            slack.minSeverity = .medium
            slack.quietMillis = 60 * Self.minute
            var email = CatalogContract.emailChannel("ach_e", at: 2_000)
            email.minSeverity = .high
            email.quietMillis = 0
            var off = CatalogContract.slackChannel("ach_off", at: 3_000)
            off.enabled = false
            off.minSeverity = .low
            for c in [slack, email, off, CatalogContract.slackChannel("ach_g", tenant: "globex")] { try catalog.insertAlertChannel(c) }
            let t0: Int64 = 20_002 * Self.day

            try catalog.write { tx in
                try tx.saveAnomaly(Self.anomaly("anm_1", severity: .high))
                try tx.saveAnomaly(Self.anomaly("anm_low", severity: .low, entity: AnomalyEntity(level: .user, value: "u1")))
                try tx.saveAnomaly(Self.anomaly("anm_g", severity: .high, tenant: "globex"))
            }
            #expect(try Self.queue(catalog, at: t0) == ["ach_s anm_1", "ach_e anm_1"])
            for run in 1...5 { #expect(try Self.queue(catalog, at: t0 + Int64(run) * 10 * Self.minute).isEmpty) }

            // A MEDIUM drift on a feature (no tenant drift covers it): Slack only; then it rises to HIGH: Slack again
            // (escalation) and email (its first).
            let chat = AnomalyEntity(level: .feature, value: "chat")
            try catalog.write { try $0.saveAnomaly(Self.anomaly("anm_2", severity: .medium, entity: chat, type: .sustainedDrift)) }
            #expect(try Self.queue(catalog, at: t0 + 70 * Self.minute) == ["ach_s anm_2"])
            #expect(try Self.queue(catalog, at: t0 + 80 * Self.minute).isEmpty)
            try catalog.write { try $0.saveAnomaly(Self.anomaly("anm_2", severity: .high, entity: chat, type: .sustainedDrift)) }
            #expect(try Self.queue(catalog, at: t0 + 90 * Self.minute) == ["ach_s anm_2", "ach_e anm_2"])
            // Back down and up again within the episode: no new alert.
            try catalog.write { try $0.saveAnomaly(Self.anomaly("anm_2", severity: .medium, entity: chat, type: .sustainedDrift)) }
            #expect(try Self.queue(catalog, at: t0 + 95 * Self.minute).isEmpty)
            try catalog.write { try $0.saveAnomaly(Self.anomaly("anm_2", severity: .high, entity: chat, type: .sustainedDrift)) }
            #expect(try Self.queue(catalog, at: t0 + 100 * Self.minute).isEmpty)

            // The tenant episode ends and a new one of the same series starts 30 minutes after its alert: Slack (quiet
            // an hour) holds it back, email (no quiet period) alerts; once the hour has passed Slack alerts it.
            try catalog.write { tx in
                var ended = Self.anomaly("anm_1", severity: .high)
                ended.status = .resolved
                try tx.saveAnomaly(ended)
                try tx.saveAnomaly(Self.anomaly("anm_3", severity: .high))
            }
            #expect(try Self.queue(catalog, at: t0 + 30 * Self.minute) == ["ach_e anm_3"])
            #expect(try Self.queue(catalog, at: t0 + 59 * Self.minute).isEmpty)
            #expect(try Self.queue(catalog, at: t0 + 60 * Self.minute) == ["ach_s anm_3"])
            #expect(try Self.queue(catalog, at: t0 + 200 * Self.minute).isEmpty)
            // A user anomaly under the open tenant one (same rule, same days, not more severe) is not alerted alone.
            try catalog.write { try $0.saveAnomaly(Self.anomaly("anm_u", severity: .high, entity: AnomalyEntity(level: .user, value: "u9"))) }
            #expect(try Self.queue(catalog, at: t0 + 300 * Self.minute).isEmpty)
            #expect(try catalog.alertDeliveries(channel: "ach_off", limit: 10).isEmpty)
            #expect(try catalog.alertDeliveries(channel: "ach_g", limit: 10).isEmpty)
        }
    }

    @Test("the Slack message: text and blocks with severity, entity, window, cost against expected, drivers and a console link; names escaped")
    func slackMessage() throws {
        var a = Self.anomaly("anm_1", severity: .high, entity: AnomalyEntity(level: .feature, value: "<!channel> & co"))
        a.drivers[0].value = "gpt-4o"
        let m = AlertMessage(anomaly: a, channel: CatalogContract.slackChannel("ach_s"), alertID: "alr_1", publicURL: "https://tally.example/")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(m.slackJSON.utf8)) as? [String: Any])
        #expect(o["text"] as? String
            == "[Tally HIGH] ABSOLUTE_SPIKE on feature &lt;!channel&gt; &amp; co of tenant acme: $250.50 against $100.00 expected (+$150.50, +150.5%)")
        #expect(m.subject.contains("feature <!channel> & co of tenant acme"))
        let blocks = try #require(o["blocks"] as? [[String: Any]])
        #expect(blocks.map { $0["type"] as? String } == ["header", "section", "section", "actions", "context"])
        let fields = try #require(blocks[1]["fields"] as? [[String: Any]]).compactMap { $0["text"] as? String }
        #expect(fields == [
            "*Severity*\nHIGH",
            "*Entity*\nfeature &lt;!channel&gt; &amp; co of tenant acme",
            "*Window*\n2024-10-04 to 2024-10-05 UTC (2 days)",
            "*Cost vs expected*\n$250.50 against $100.00 expected (+$150.50, +150.5%)",
        ])
        #expect(((blocks[2]["text"] as? [String: Any])?["text"] as? String)?.contains("model gpt-4o: +$150.50") == true)
        let button = try #require((blocks[3]["elements"] as? [[String: Any]])?.first)
        #expect(button["url"] as? String == "https://tally.example/console#end=2024-10-05")
        let context = try #require((blocks[4]["elements"] as? [[String: Any]])?.first?["text"] as? String)
        #expect(context.contains("anm_1") && context.contains("alr_1") && context.contains("https://tally.example/api/v1/analytics/anomalies/anm_1"))
    }

    @Test("the email text: one fact per line, the console and API links; dollars rounded to the cent")
    func emailText() {
        let m = AlertMessage(anomaly: Self.anomaly("anm_1", severity: .medium), channel: CatalogContract.emailChannel("ach_e"),
                             alertID: "alr_1", publicURL: "http://127.0.0.1:8080")
        let lines = m.emailText.split(separator: "\n").map(String.init)
        #expect(lines.contains("Severity:  MEDIUM"))
        #expect(lines.contains("Entity:    tenant acme"))
        #expect(lines.contains("Window:    2024-10-04 to 2024-10-05 UTC (2 days)"))
        #expect(lines.contains("Cost:      $250.50 against $100.00 expected (+$150.50, +150.5%)"))
        #expect(lines.contains("Console:   http://127.0.0.1:8080/console#end=2024-10-05"))
        #expect(m.subject == "[Tally MEDIUM] ABSOLUTE_SPIKE on tenant acme: $250.50 against $100.00 expected (+$150.50, +150.5%)")
        #expect(AlertMessage.dollars(-5 * Money.nanosPerCent / 10) == "-$0.01")
        #expect(AlertMessage.dollars(4 * Money.nanosPerCent / 10) == "$0.00")
        #expect(AlertMessage.dollars(123_456 * Money.nanosPerCent, signed: true) == "+$1234.56")
    }
}
