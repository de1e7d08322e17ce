import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import TallyAnalytics
import TallyServer
import TallyStore
import Testing

/// Issue 11 item 7: a writer key must not make the server POST into the operator's own network.
@Suite("Webhook destinations: public addresses only, unless the operator allows private ones")
struct WebhookAddressTests {
    static let refusedHosts = [
        "127.0.0.1", "127.1", "2130706433", "0x7f.0.0.1", "127.255.255.254", "[::1]", "[0:0:0:0:0:0:0:1]",
        "localhost", "LocalHost.", "api.localhost",
        "169.254.169.254", "[fe80::1]", "10.0.0.1", "172.16.5.4", "172.31.255.255", "192.168.1.1", "100.64.0.1",
        "[fc00::1]", "[fd12:3456::1]", "0.0.0.0", "0", "[::]", "224.0.0.1", "255.255.255.255", "[ff02::1]",
        "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::ffff:169.254.169.254]", "[::ffff:10.1.2.3]", "[::127.0.0.1]",
        "[64:ff9b::7f00:1]", "[2002:a00:1::1]",
    ]

    @Test("each non-public address form is refused when the webhook is saved", arguments: refusedHosts)
    func refusedAtSave(host: String) async throws {
        let f = try ServerFixture()
        try await f.withRouter { client in
            let body = #"{"url":"http://\#(host):8080/hook","secret":"0123456789abcdef-secret"}"#
            let r = try await send(client, .put, webhookPath, f.writerA, body)
            try expectProblem(r, .badRequest, "invalid-parameter", parameter: "url")
            let detail = try json(r).string("detail") ?? ""
            #expect(detail.contains("--allow-private-webhooks"))
            try expectProblem(try await send(client, .get, webhookPath, f.writerA), .notFound, "not-found")
        }
    }

    @Test("public addresses and names are saved; with the operator's flag private ones are too", arguments: [
        ("http://8.8.8.8/hook", false), ("https://[2001:4860:4860::8888]/h", false), ("https://hooks.example.com/h", false),
        ("http://172.32.0.1/h", false), ("http://127.0.0.1:9/hook", true), ("http://localhost:9/hook", true),
        ("http://[::1]:9/hook", true),
    ])
    func allowed(url: String, flag: Bool) async throws {
        let f = try ServerFixture(allowPrivateWebhooks: flag)
        try await f.withRouter { client in
            let r = try await send(client, .put, webhookPath, f.writerA, #"{"url":"\#(url)","secret":"0123456789abcdef-secret"}"#)
            #expect(r.status == .ok, "\(String(buffer: r.body))")
        }
    }

    /// A webhook whose name resolves to loopback (saved before this check, or re-pointed in DNS since):
    /// the delivery checks the resolved address, records the failure with its reason, and sends nothing.
    @Test("delivery to a name resolving to 127.0.0.1 is refused without the flag, made with it",
          arguments: ["localhost", "127.0.0.1", "[::ffff:127.0.0.1]"])
    func checkedAtDelivery(host: String) async throws {
        // (An IPv4-mapped literal is only checked refused: the test listener is IPv4 only.)
        for allowed in host.hasPrefix("[") ? [false] : [false, true] {
            let listener = try TestHTTPListener(statuses: [200])
            defer { listener.stop() }
            let f = try ServerFixture.spikeFixture(allowPrivateWebhooks: allowed)
            try f.analytics.catalog.setWebhook(Webhook(
                tenant: ServerFixture.tenantA, url: "http://\(host):\(listener.port)/hook", secret: "0123456789abcdef-secret",
                createdAt: ServerFixture.now, updatedAt: ServerFixture.now, updatedBy: "test"))
            try await f.withRouter { http in _ = try await AnomalyRoutesTests.detect(http, f.writerA) }
            let due = try f.analytics.catalog.dueDeliveries(now: Int64.max, limit: 10)
            let id = try #require(due.first?.0.id)
            var options = WebhookDeliverer.Options()
            options.maxAttempts = 1
            let deliverer = WebhookDeliverer(analytics: f.analytics, options: options, logger: quietLogger)
            let pass: (delivered: Int, failed: Int)
            do {
                pass = try await deliverer.deliverDue()
            } catch {
                try? await deliverer.shutdown()
                throw error
            }
            try await deliverer.shutdown()
            let state = try #require(try f.analytics.catalog.deliveryState(id: id))
            if allowed {
                #expect(pass.delivered == 1)
                #expect(state.state == "delivered")
                #expect(listener.received.count == 1)
            } else {
                #expect(pass.failed == 1)
                #expect(state.state == "failed")
                let error = state.lastError ?? ""
                #expect(error.hasPrefix("refused: "), "\(error)")
                #expect(error.contains("a loopback address") || error.contains("IPv4-mapped form of a loopback address"), "\(error)")
                #expect(error.contains("--allow-private-webhooks"))
                // Nothing reached the loopback listener.
                try await Task.sleep(for: .milliseconds(100))
                #expect(listener.received.isEmpty)
            }
        }
    }
}
