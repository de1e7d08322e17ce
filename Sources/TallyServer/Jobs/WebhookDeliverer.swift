import AsyncHTTPClient
import Logging
import NIOCore
import NIOHTTP1
import TallyAnalytics

/// Sends the incident webhook deliveries of the catalog's outbox: each a signed JSON POST, retried with exponential
/// backoff until a 2xx answer, then never sent again.
///
/// A delivery row is written in the transaction that changes the incident, so a change is never lost; the row turns
/// `delivered` after the first 2xx, so a change is delivered once. (A crash between the 2xx and that update would send
/// it again; `X-Tally-Delivery` lets receivers drop the repeat.) Redirects are not followed. Only public addresses are
/// connected to, checked after resolution on every attempt, unless the operator allows private ones (`WebhookAddress`).
public struct WebhookDeliverer: Sendable {
    /// Settings of deliveries.
    public struct Options: Sendable {
        /// Time one attempt may take, connection included.
        public var timeoutSeconds: Int64 = 10
        /// Delay before the first retry; doubled on each further one (at most an hour).
        public var backoffMillis: Int64 = 30_000
        /// Attempts before a delivery is given up (`failed`).
        public var maxAttempts = 10
        /// Deliveries sent per pass.
        public var batch = 50

        /// The defaults.
        public init() {}
    }

    let analytics: Analytics
    let client: HTTPClient
    let options: Options
    let logger: Logger

    /// A deliverer over `analytics`' catalog using `client` (which the caller shuts down).
    public init(analytics: Analytics, client: HTTPClient, options: Options = Options(), logger: Logger) {
        self.analytics = analytics
        self.client = client
        self.options = options
        self.logger = logger
    }

    /// A deliverer with its own HTTP client; call `shutdown()` when done.
    public init(analytics: Analytics, options: Options = Options(), logger: Logger) {
        self.init(analytics: analytics, client: Self.makeClient(), options: options, logger: logger)
    }

    /// Shuts the HTTP client down.
    public func shutdown() async throws {
        try await client.shutdown()
    }

    /// An HTTP client fit for webhooks: no redirects.
    static func makeClient() -> HTTPClient {
        HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                   configuration: .init(redirectConfiguration: .disallow))
    }

    /// Attempts every delivery due now once; returns how many were delivered and how many failed this pass.
    @discardableResult
    public func deliverDue() async throws -> (delivered: Int, failed: Int) {
        let now = analytics.now
        let catalog = analytics.catalog
        let due = try await analytics.blocking { [options] in try catalog.dueDeliveries(now: now, limit: options.batch) }
        var delivered = 0, failed = 0
        for (delivery, webhook) in due {
            let error = await attempt(delivery, webhook)
            let attempts = delivery.attempts + 1
            let retryAt: Int64? = error == nil || attempts >= options.maxAttempts
                ? nil : analytics.now + WebhookSignature.backoffMillis(attempt: attempts, baseMillis: options.backoffMillis)
            let at = analytics.now
            try await analytics.blocking {
                try catalog.recordDeliveryAttempt(id: delivery.id, delivered: error == nil, error: error, retryAt: retryAt, now: at)
            }
            if let error {
                failed += 1
                logger.warning("webhook delivery failed", metadata: [
                    "delivery": "\(delivery.id)", "tenant": "\(delivery.tenant)", "attempt": "\(attempts)", "error": "\(error)",
                ])
            } else {
                delivered += 1
            }
        }
        return (delivered, failed)
    }

    /// One POST; nil on a 2xx answer, else why it failed.
    ///
    /// Unless private webhooks are allowed, the host is resolved here, every address checked
    /// (`WebhookAddress`), and the connection made to the first public one, by a client whose DNS override
    /// pins the name to it (TLS still verifies the name): the address connected to is the one checked.
    func attempt(_ delivery: WebhookDelivery, _ webhook: Webhook) async -> String? {
        await postChecked(url: webhook.url, headers: [
            ("Content-Type", "application/json"),
            ("User-Agent", "tally-webhook/1"),
            (WebhookSignature.header, WebhookSignature.sign(delivery.body, secret: webhook.secret)),
            (WebhookSignature.deliveryHeader, delivery.id),
            ("X-Tally-Event", delivery.event),
        ], body: delivery.body)
    }

    /// POSTs `body` to `url` with the address checks of webhooks (also used for Slack alert channels); nil on a 2xx
    /// answer, else why it failed.
    func postChecked(url text: String, headers: [(String, String)], body: [UInt8]) async -> String? {
        var client = self.client
        var pinned: HTTPClient?
        if !analytics.options.allowPrivateWebhooks {
            guard let url = WebhookURL(text) else { return "refused: the URL is not a valid http:// or https:// URL" }
            switch await destination(url.host) {
            case let .refused(why): return "refused: " + why
            case .literal: break
            case let .pinned(ip):
                var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
                configuration.dnsOverride = [url.host: ip.description]
                let c = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
                client = c
                pinned = c
            }
        }
        let outcome = await post(url: text, headers: headers, body: body, with: client)
        try? await pinned?.shutdown()
        return outcome
    }

    /// Where a delivery to `host` may connect.
    enum Destination {
        /// The host is a public literal address: connect to it as it is.
        case literal
        /// Connect to this public address, which `host` resolved to.
        case pinned(WebhookAddress.IP)
        /// No address of `host` may be reached; why.
        case refused(String)
    }

    func destination(_ host: String) async -> Destination {
        if let ip = WebhookAddress.literal(host) {
            if let why = WebhookAddress.refusal(ip) { return .refused(WebhookAddress.refusedText(host: host, address: ip, reason: why)) }
            return .literal
        }
        // A name is judged by what it resolves to now (the `localhost` name rule is for saving only).
        let addresses = (try? await analytics.blocking { WebhookAddress.resolve(host) }) ?? []
        guard let first = addresses.first else { return .refused("\(host) does not resolve to any address") }
        if let ok = addresses.first(where: { WebhookAddress.refusal($0) == nil }) { return .pinned(ok) }
        return .refused(WebhookAddress.refusedText(host: host, address: first, reason: WebhookAddress.refusal(first)!))
    }

    private func post(url: String, headers: [(String, String)], body: [UInt8], with client: HTTPClient) async -> String? {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: .seconds(options.timeoutSeconds))
            _ = try? await response.body.collect(upTo: 64 << 10)
            guard (200..<300).contains(response.status.code) else { return "HTTP \(response.status.code)" }
            return nil
        } catch {
            return "\(error)"
        }
    }
}
