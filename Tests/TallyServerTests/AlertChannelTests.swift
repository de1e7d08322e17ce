import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TallyAnalytics
@testable import TallyServer
import TallyStore
import Testing

let alertChannelsPath = "/api/v1/analytics/alert-channels"

@Suite("Alert channels over HTTP: configuration, secrets masked, roles, isolation, test messages")
struct AlertChannelTests {
    static let slackSecret = "T000/B000/XXXXsecretXXXX"

    @Test("create, list, read, change and delete; secrets never returned; every invalid field named; admin keys only")
    func crud() async throws {
        let f = try ServerFixture(seed: false, allowPrivateWebhooks: true)
        try await f.withRouter { http in
            let slackBody = #"{"tenant_id":"acme","name":"cost","kind":"slack","url":"https://hooks.slack.com/services/\#(Self.slackSecret)","min_severity":"HIGH","quiet_minutes":30}"#
            for key in [f.writerA, f.readerA] {
                try expectProblem(try await send(http, .post, alertChannelsPath, key, slackBody), .forbidden, "forbidden")
                try expectProblem(try await send(http, .get, alertChannelsPath, key), .forbidden, "forbidden")
            }
            let created = try await send(http, .post, alertChannelsPath, f.adminKey, slackBody)
            #expect(created.status == .created)
            let createdText = String(buffer: created.body)
            #expect(!createdText.contains("XXXXsecret"))
            let slack = try #require(try json(created).object("alert_channel"))
            let slackID = try #require(slack.string("id"))
            #expect(created.headers[.location] == alertChannelsPath + "/" + slackID)
            #expect(slack.string("url") == "https://hooks.slack.com/…" && slack.string("min_severity") == "HIGH")
            #expect(slack.int("quiet_minutes") == 30 && slack["enabled"] as? Bool == true && slack["smtp"] is NSNull)

            let emailBody = #"{"tenant_id":"acme","name":"finance","kind":"email","smtp_host":"smtp.example.com","smtp_port":587,"smtp_username":"tally","smtp_password":"hunter2-password","from":"alerts@example.com","to":["a@example.com","b@example.com"]}"#
            let email = try await send(http, .post, alertChannelsPath, f.adminKey, emailBody)
            #expect(email.status == .created)
            #expect(!String(buffer: email.body).contains("hunter2"))
            let smtp = try #require(try json(email).object("alert_channel")?.object("smtp"))
            #expect(smtp["password_set"] as? Bool == true && smtp.string("username") == "tally" && smtp.int("port") == 587)
            #expect(smtp["to"] as? [String] == ["a@example.com", "b@example.com"] && smtp.string("tls") == "none")
            let emailID = try #require(try json(email).object("alert_channel")?.string("id"))
            #expect(try json(email).object("alert_channel")?.string("min_severity") == "MEDIUM")
            #expect(try json(email).object("alert_channel")?.int("quiet_minutes") == 1440)

            let list = try json(try await send(http, .get, alertChannelsPath + "?tenant_id=acme", f.adminKey))
            // By creation time, then id (both were created at the same pinned "now").
            #expect(list.array("alert_channels")?.map { $0.string("id") } == [slackID, emailID].sorted().map(Optional.some))
            #expect(try json(try await send(http, .get, alertChannelsPath + "?tenant_id=globex", f.adminKey)).array("alert_channels")?.isEmpty == true)
            try expectProblem(try await send(http, .get, alertChannelsPath, f.adminKey), .badRequest, "invalid-parameter", parameter: "tenant_id")

            // Every invalid field is named.
            for (body, field) in [
                (#"{"tenant_id":"acme","name":"x","kind":"sms"}"#, "kind"),
                (#"{"tenant_id":"acme","name":"x","kind":"slack"}"#, "url"),
                (#"{"tenant_id":"acme","name":"x","kind":"slack","url":"ftp://x"}"#, "url"),
                (#"{"tenant_id":"acme","kind":"slack","url":"https://hooks.slack.com/x"}"#, "name"),
                (#"{"tenant_id":"acme","name":"x","kind":"slack","url":"https://hooks.slack.com/x","smtp_host":"h"}"#, "smtp_host"),
                (#"{"tenant_id":"acme","name":"x","kind":"email","from":"a@b.c","to":["c@d.e"]}"#, "smtp_host"),
                (#"{"tenant_id":"acme","name":"x","kind":"email","smtp_host":"h","from":"nope","to":["c@d.e"]}"#, "from"),
                (#"{"tenant_id":"acme","name":"x","kind":"email","smtp_host":"h","from":"a@b.c","to":[]}"#, "to"),
                (#"{"tenant_id":"acme","name":"x","kind":"email","smtp_host":"h","from":"a@b.c","to":["c@d.e\r\nBcc: x@y.z"]}"#, "to"),
                (#"{"tenant_id":"acme","name":"x","kind":"email","smtp_host":"h","from":"a@b.c","to":"c@d.e"}"#, "to"),
                (#"{"tenant_id":"acme","name":"x","kind":"email","smtp_host":"h","smtp_port":70000,"from":"a@b.c","to":["c@d.e"]}"#, "smtp_port"),
                (#"{"tenant_id":"acme","name":"x","kind":"email","smtp_host":"h","smtp_username":"u","from":"a@b.c","to":["c@d.e"]}"#, "smtp_password"),
                (#"{"tenant_id":"acme","name":"x","kind":"slack","url":"https://hooks.slack.com/x","min_severity":"CRITICAL"}"#, "min_severity"),
                (#"{"tenant_id":"acme","name":"x","kind":"slack","url":"https://hooks.slack.com/x","quiet_minutes":-1}"#, "quiet_minutes"),
                (#"{"tenant_id":"acme","name":"x","kind":"slack","url":"https://hooks.slack.com/x","colour":"red"}"#, "colour"),
            ] {
                try expectProblem(try await send(http, .post, alertChannelsPath, f.adminKey, body), .badRequest, "invalid-parameter",
                                  parameter: field)
            }

            // Change: severity, quiet period, disabled; AUTH removed; kind and tenant fixed.
            let path = alertChannelsPath + "/" + emailID
            let patched = try await send(http, .patch, path, f.adminKey,
                                         #"{"min_severity":"LOW","quiet_minutes":0,"enabled":false,"smtp_username":null,"smtp_password":null}"#)
            #expect(patched.status == .ok)
            let after = try #require(try json(patched).object("alert_channel"))
            #expect(after.string("min_severity") == "LOW" && after.int("quiet_minutes") == 0 && after["enabled"] as? Bool == false)
            #expect(after.object("smtp")?["password_set"] as? Bool == false && after.object("smtp")?["username"] is NSNull)
            try expectProblem(try await send(http, .patch, path, f.adminKey, #"{"kind":"slack"}"#), .badRequest, "invalid-parameter", parameter: "kind")
            try expectProblem(try await send(http, .patch, path, f.adminKey, #"{"url":"https://x.example/"}"#), .badRequest, "invalid-parameter",
                              parameter: "url")
            try expectProblem(try await send(http, .patch, path, f.writerA, #"{"enabled":true}"#), .forbidden, "forbidden")

            // Audited, without secrets.
            let audit = String(buffer: try await send(http, .get, "/api/v1/analytics/audit?entity_type=alert_channel", f.adminKey).body)
            #expect(audit.contains(slackID) && audit.contains(emailID))
            #expect(!audit.contains("XXXXsecret") && !audit.contains("hunter2"))

            #expect(try await send(http, .delete, path, f.adminKey).status == .noContent)
            try expectProblem(try await send(http, .get, path, f.adminKey), .notFound, "not-found")
            try expectProblem(try await send(http, .delete, path, f.adminKey), .notFound, "not-found")
        }
    }

    @Test("a Slack URL on a non-public address is refused unless private webhooks are allowed")
    func privateSlackRefused() async throws {
        let f = try ServerFixture(seed: false)
        try await f.withRouter { http in
            _ = try expectProblem(try await send(http, .post, alertChannelsPath, f.adminKey,
                                             #"{"tenant_id":"acme","name":"x","kind":"slack","url":"http://127.0.0.1:9/hook"}"#),
                              .badRequest, "invalid-parameter", parameter: "url")
        }
    }

    @Test("test messages: sent at once to Slack (the JSON checked) and to a real SMTP server; a failing endpoint is reported, not thrown")
    func testSend() async throws {
        let slack = try TestHTTPListener(statuses: [200, 500])
        defer { slack.stop() }
        let smtp = try await SMTPTestServer.start()
        defer { smtp.stop() }
        let f = try ServerFixture(seed: false, allowPrivateWebhooks: true)
        try await f.withRouter { http in
            let s = try json(try await send(http, .post, alertChannelsPath, f.adminKey,
                                            #"{"tenant_id":"acme","name":"c","kind":"slack","url":"http://127.0.0.1:\#(slack.port)/services/abc"}"#))
            let slackID = try #require(s.object("alert_channel")?.string("id"))
            let first = try json(try await send(http, .post, alertChannelsPath + "/\(slackID)/test", f.adminKey))
            #expect(first["delivered"] as? Bool == true && first["error"] is NSNull)
            let second = try json(try await send(http, .post, alertChannelsPath + "/\(slackID)/test", f.adminKey))
            #expect(second["delivered"] as? Bool == false && second.string("error") == "HTTP 500")
            let received = try #require(slack.received.first)
            #expect(received.requestLine == "POST /services/abc HTTP/1.1")
            #expect(received.headers["content-type"] == "application/json")
            let message = try #require(try JSONSerialization.jsonObject(with: Data(received.body)) as? [String: Any])
            #expect(message.string("text")?.hasPrefix("[TEST] [Tally HIGH] ABSOLUTE_SPIKE on tenant acme") == true)
            #expect((message["blocks"] as? [[String: Any]])?.count == 4)

            let e = try json(try await send(http, .post, alertChannelsPath, f.adminKey,
                                            #"{"tenant_id":"acme","name":"mail","kind":"email","smtp_host":"127.0.0.1","smtp_port":\#(smtp.port),"from":"alerts@example.com","to":["ops@example.com"]}"#))
            let emailID = try #require(e.object("alert_channel")?.string("id"))
            let sent = try json(try await send(http, .post, alertChannelsPath + "/\(emailID)/test", f.adminKey))
            #expect(sent["delivered"] as? Bool == true)
            let mail = try #require(try smtp.messages().first)
            #expect(mail.headers["Subject"]?.hasPrefix("[TEST] [Tally HIGH]") == true)
            #expect(mail.body.contains("This is a test message"))
            try expectProblem(try await send(http, .post, alertChannelsPath + "/ach_none/test", f.adminKey), .notFound, "not-found")
        }
    }

    @Test("outbox: a failed Slack send is retried after the backoff and visible meanwhile; a permanent SMTP refusal is given up at once")
    func retriesAndVisibility() async throws {
        let slack = try TestHTTPListener(statuses: [500, 200])
        defer { slack.stop() }
        let smtp = try await SMTPTestServer.start(["--reject-rcpt", "nobody@example.com"])
        defer { smtp.stop() }
        let f = try ServerFixture.spikeFixture(allowPrivateWebhooks: true)
        var options = WebhookDeliverer.Options()
        options.backoffMillis = 60_000
        let deliverer = AlertDeliverer(analytics: f.analytics, options: options, logger: quietLogger)
        let (slackID, emailID) = try await f.withRouter { http in
            let s = try json(try await send(http, .post, alertChannelsPath, f.adminKey,
                                            #"{"tenant_id":"acme","name":"c","kind":"slack","url":"http://127.0.0.1:\#(slack.port)/x","min_severity":"HIGH"}"#))
            let slackID = try #require(s.object("alert_channel")?.string("id"))
            let e = try json(try await send(http, .post, alertChannelsPath, f.adminKey,
                                            #"{"tenant_id":"acme","name":"m","kind":"email","smtp_host":"127.0.0.1","smtp_port":\#(smtp.port),"from":"a@example.com","to":["nobody@example.com"],"min_severity":"HIGH"}"#))
            let emailID = try #require(e.object("alert_channel")?.string("id"))
            _ = try await AnomalyRoutesTests.detect(http, f.writerA)
            return (slackID, emailID)
        }
        let first = try await deliverer.pass()
        #expect(first.queued == 2 && first.delivered == 0 && first.failed == 2)
        // Nothing is due again before the backoff ("now" is pinned), and nothing new is queued for the same episode.
        let again = try await deliverer.pass()
        #expect(again.queued == 0 && again.delivered == 0 && again.failed == 0)
        try await f.withRouter { http in
            let view = try #require(try json(try await send(http, .get, alertChannelsPath + "/\(slackID)", f.adminKey)).object("alert_channel"))
            #expect(view.object("deliveries")?.int("pending") == 1)
            let recent = try #require(view.array("recent_deliveries")?.first)
            #expect(recent.string("state") == "pending" && recent.int("attempts") == 1 && recent.string("last_error") == "HTTP 500")
            #expect(recent.string("next_attempt_at") == "2025-05-04T00:01:00Z")
            let mail = try #require(try json(try await send(http, .get, alertChannelsPath + "/\(emailID)", f.adminKey)).object("alert_channel"))
            let failed = try #require(mail.array("recent_deliveries")?.first)
            #expect(failed.string("state") == "failed" && failed.int("attempts") == 1)
            #expect(failed.string("last_error")?.contains("RCPT TO:<nobody@example.com> answered 550") == true)
        }
        f.clock.set(ServerFixture.now + 60_000)
        let retried = try await deliverer.pass()
        #expect(retried.queued == 0 && retried.delivered == 1 && retried.failed == 0)
        #expect(slack.received.count == 2 && slack.received[0].body == slack.received[1].body)
        #expect(try smtp.messages().isEmpty)
        try await deliverer.shutdown()
    }
}
