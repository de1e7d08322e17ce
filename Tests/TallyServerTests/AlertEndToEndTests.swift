import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import TallyAnalytics
@testable import TallyServer
import TallyStore
import TallyText
import Testing

/// A spike injected into a running server (the background detection and alert services on their schedules, records
/// posted over a real socket) while the injected clock moves an hour at a time: the spike is alerted on a
/// Slack-format webhook and over SMTP (aiosmtpd), once per anomaly episode however many detection runs see it, and
/// the time from the spike's start to the alert is measured on the injected clock.
@Suite("Alerts end to end")
struct AlertEndToEndTests {
    static let hour: Int64 = 3_600_000
    /// The spike starts here (midnight UTC).
    static let spikeStart = ms("2025-05-02T00:00:00Z")
    /// This spike triples the number of requests (60 an hour instead of 20, each 2.5 cents): intraday detection raises
    /// it provisionally from the first hour (150 cents against the 50 usually spent by then, and 60 requests where 20
    /// are usual: count evidence 5.6e9, 1 / alpha is 3333), so it is alerted one clock step after it began. (A spike in
    /// the cost of each request alone waits for its first complete day: docs/ANALYTICS.md, "Intraday".)
    static let timeToAlertBound: Int64 = 2 * hour
    /// Requests an hour before the spike, and during it.
    static let usualPerHour = 20
    static let spikePerHour = 60

    @Test("a 3x spike is alerted once on Slack and once by email, within the bound on the injected clock, despite many detection runs")
    func spikeAlertedOncePerEpisode() async throws {
        let slack = try TestHTTPListener(statuses: [200])
        defer { slack.stop() }
        let smtp = try await SMTPTestServer.start()
        defer { smtp.stop() }
        let f = try ServerFixture(seed: false, allowPrivateWebhooks: true)
        f.clock.set(Self.spikeStart)
        // Three weeks of history: 20 requests of 2.5 cents an hour, 50 cents an hour ($12 a day).
        var history: [CostRecord] = []
        for h in 1...(21 * 24) {
            let at = Self.spikeStart - Int64(h) * Self.hour + 30 * 60_000
            for i in 0..<Self.usualPerHour {
                history.append(CostRecord(tenantID: "acme", projectID: "p", environment: "prod", userID: "u1", featureTag: "chat",
                                          requestID: "h\(h)-\(i)", model: "gpt-4o", inputTokens: 10, outputTokens: 5,
                                          costNanos: 25 * Money.nanosPerCent / 10, createdAtMillis: at))
            }
        }
        _ = try f.store.append(RecordBatch(history))

        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.detectIntervalSeconds = 0.05
        configuration.deliveryPollSeconds = 0.05
        let server = APIServer(analytics: f.analytics, configuration: configuration)
        let log = CapturedLog()
        let app = server.application(logger: log.logger, services: server.backgroundServices(logger: log.logger))
        try await app.test(.live) { live in
            let http = ContractCheckingClient(client: live)
            for body in [
                #"{"tenant_id":"acme","name":"cost-alerts","kind":"slack","url":"http://127.0.0.1:\#(slack.port)/services/T/B/x","min_severity":"HIGH","quiet_minutes":60}"#,
                #"{"tenant_id":"acme","name":"finance","kind":"email","smtp_host":"127.0.0.1","smtp_port":\#(smtp.port),"from":"tally@example.com","to":["ops@example.com","finance@example.com"],"min_severity":"HIGH","quiet_minutes":60}"#,
            ] {
                #expect(try await send(http, .post, alertChannelsPath, f.adminKey, body).status == .created)
            }

            var alertedAt: Int64?
            var detectionRuns = 0
            for step in 1...54 {
                let now = Self.spikeStart + Int64(step) * Self.hour
                // The hour just passed: 60 requests, 150 cents (3x), posted to the running server while its clock stands
                // just after their time, then the clock moves to the hour's end. (Moving the clock first let a detection
                // run judge a completed day without its last hour, under load.)
                f.clock.set(now - 29 * 60_000)
                let records = (0..<Self.spikePerHour).map { i in
                    #"{"tenant_id":"acme","project_id":"p","environment":"prod","user_id":"u1","feature_tag":"chat","#
                        + #""request_id":"s\#(step)-\#(i)","model":"gpt-4o","input_tokens":10,"output_tokens":5,"#
                        + #""created_at":"\#(Timestamp.format(now - 30 * 60_000))","cost_cents":2.5}"#
                }
                let posted = try await http.execute(uri: "/api/v1/analytics/records", method: .post, headers: auth(f.writerA, ndjsonType),
                                                    body: ndjson(records))
                #expect(posted.status == .ok)
                // A whole detection run with the clock at the records' time (so the first alert is raised half an hour
                // into the spike, always at the same point), then the clock moves to the hour's end.
                let before = log.messages("anomaly detection ran").count
                try await BackgroundServiceTests.eventually("two detection runs") { log.messages("anomaly detection ran").count >= before + 2 }
                let passesBefore = log.messages("alert pass").count
                try await BackgroundServiceTests.eventually("two alert passes") { log.messages("alert pass").count >= passesBefore + 2 }
                if alertedAt == nil, !slack.received.isEmpty { alertedAt = now - 29 * 60_000 }
                f.clock.set(now)
                // A whole detection run after the clock moved, then a whole alert pass after it.
                let detections = log.messages("anomaly detection ran").count
                try await BackgroundServiceTests.eventually("two detection runs") { log.messages("anomaly detection ran").count >= detections + 2 }
                let passes = log.messages("alert pass").count
                try await BackgroundServiceTests.eventually("two alert passes") { log.messages("alert pass").count >= passes + 2 }
                if alertedAt == nil, !slack.received.isEmpty { alertedAt = now }
            }
            detectionRuns = log.messages("anomaly detection ran").count

            // What detection holds: the open HIGH anomalies of acme not covered by the tenant one (the feature and user
            // twins of the spike are its drivers), each to be alerted exactly once per channel.
            let all = try f.analytics.catalog.anomalies(tenant: "acme", filter: AnomalyFilter(resolved: false))
            let open = all.filter { $0.severity == .high && !AlertRules.coveredByTenant($0, open: all) }
            let spike = try #require(open.first { $0.type == .absoluteSpike && $0.entity.level == .tenant })
            #expect(spike.firstDay == Self.spikeStart)

            let slackMessages = try slack.received.map { try #require(try JSONSerialization.jsonObject(with: Data($0.body)) as? [String: Any]) }
            let slackAnomalies = slackMessages.compactMap { Self.anomalyID(in: $0) }
            #expect(slackAnomalies.count == slackMessages.count)
            #expect(Set(slackAnomalies).count == slackAnomalies.count, "one Slack alert per episode: \(slackAnomalies)")
            #expect(Set(slackAnomalies) == Set(open.map(\.id)))
            let mails = try smtp.messages()
            let mailAnomalies = mails.compactMap { m in open.first { m.body.contains($0.id) }?.id }
            #expect(mails.count == open.count && Set(mailAnomalies).count == open.count, "one email per episode")
            #expect(detectionRuns >= 2 * 54)

            // The tenant spike's messages.
            let spikeSlack = try #require(slackMessages.first { Self.anomalyID(in: $0) == spike.id })
            // Alerted once, when detection first raised it: at 00:31, the first hour's records in (against $0.26 usual by
            // then), provisional (the two-day rule confirms it when its second day completes, with no second alert).
            #expect((spikeSlack["text"] as? String)?.hasPrefix("[Tally HIGH, provisional] ABSOLUTE_SPIKE on tenant acme: $1.50 against $0.26 expected") == true,
                    "\(spikeSlack["text"] ?? "")")
            let mail = try #require(mails.first { $0.body.contains(spike.id) })
            #expect(mail.headers["Subject"] == spikeSlack["text"] as? String)
            #expect(mail.rcptTos == ["ops@example.com", "finance@example.com"])
            #expect(mail.body.contains("Window:    2025-05-02 UTC (1 day), provisional: confirmed or withdrawn when the next day completes"))
            #expect(!spike.provisional, "confirmed by the second complete day")

            // Time to alert on the injected clock.
            let at = try #require(alertedAt)
            print("alerts end to end: alerted \((at - Self.spikeStart) / 60_000) minutes after the spike began (injected clock), "
                  + "\(detectionRuns) detection runs, \(slackMessages.count) Slack message(s), \(mails.count) email(s)")
            #expect(at - Self.spikeStart <= Self.timeToAlertBound, "alerted \((at - Self.spikeStart) / Self.hour) hours after the spike began")
            let deliveries = try f.analytics.catalog.alertChannels(tenant: "acme").flatMap {
                try f.analytics.catalog.alertDeliveries(channel: $0.id, limit: 100)
            }
            #expect(deliveries.allSatisfy { $0.state == "delivered" && $0.attempts == 1 })
            #expect(deliveries.filter { $0.anomalyID == spike.id }.allSatisfy { $0.createdAt == at })
        }
    }

    /// The anomaly id a Slack message names (in its context block).
    static func anomalyID(in message: [String: Any]) -> String? {
        guard let blocks = message["blocks"] as? [[String: Any]],
              let context = blocks.last?["elements"] as? [[String: Any]], let text = context.first?["text"] as? String,
              let start = text.range(of: "anomaly `")?.upperBound, let end = text[start...].firstIndex(of: "`") else { return nil }
        return String(text[start..<end])
    }
}
