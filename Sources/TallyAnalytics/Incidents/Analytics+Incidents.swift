import Crypto
import TallyStore

/// How webhook calls are signed: `X-Tally-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw body keyed with the
/// tenant's secret (its UTF-8 bytes). Receivers recompute it over the bytes they received and compare in constant time.
public enum WebhookSignature {
    /// The signature header's name.
    public static let header = "X-Tally-Signature"
    /// The delivery id header's name (the same id on every retry of one delivery).
    public static let deliveryHeader = "X-Tally-Delivery"

    /// `sha256=<lower-case hex>` of `body` keyed with `secret`.
    public static func sign(_ body: [UInt8], secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
        return "sha256=" + hex(Array(mac))
    }

    /// Delay before retry number `attempt` (1-based): `base` doubled per attempt, at most an hour.
    public static func backoffMillis(attempt: Int, baseMillis: Int64) -> Int64 {
        min(3_600_000, baseMillis << Int64(min(max(0, attempt - 1), 20)))
    }
}

extension Analytics {
    /// Most incidents or anomalies listed at once.
    public static let maxListed = 1_000

    /// The incidents `principal` reaches (reader or admin keys), optionally with one status, newest first.
    public func incidents(tenantID: String?, status: Incident.Status?, limit: Int = 100, principal: Principal) async throws -> IncidentList {
        let tenants = try AccessPolicy.check(.readIncidents, principal, tenants: tenantID)
        let now = self.now
        return try await blocking { [self] in
            IncidentList(incidents: try catalog.incidents(tenant: tenants.scopeTenant, status: status, limit: limit), now: now)
        }
    }

    /// The incident `id` with its anomalies and impact; another tenant's is "not found".
    public func incident(id: String, principal: Principal) async throws -> IncidentAnswer {
        try AccessPolicy.check(.readIncidents, principal)
        let now = self.now
        return try await blocking { [self] in
            guard let view = try catalog.incident(id: id), AccessPolicy.reaches(principal, tenant: view.incident.tenant) else {
                throw AnalyticsError.notFound(reason: "no incident \(id)")
            }
            return IncidentAnswer(view: view, now: now)
        }
    }

    /// Moves incident `id` to acknowledged or resolved (writer or admin keys); a move the lifecycle does not allow is
    /// `invalidTransition` (409). Audited, and announced to the tenant's webhook. Resolving it resolves its open
    /// anomalies too (by the same key, each audited), so a resolved incident never lists an open anomaly.
    public func changeIncident(id: String, to status: Incident.Status, principal: Principal) async throws -> IncidentAnswer {
        try AccessPolicy.check(.changeIncidents, principal)
        let now = self.now
        return try await blocking { [self] in
            guard let view = try catalog.write({ tx in
                try IncidentRules.transition(id: id, to: status, actor: principal.keyID, now: now,
                                             reaches: { AccessPolicy.reaches(principal, tenant: $0) }, in: tx)
            }) else {
                throw AnalyticsError.notFound(reason: "no incident \(id)")
            }
            return IncidentAnswer(view: view, now: now)
        }
    }

    // MARK: Webhook

    /// Sets the tenant's webhook (writer or admin keys): an `http://` or `https://` URL and a secret of 16 to 256 bytes.
    /// A URL naming a loopback, private, link-local or otherwise non-public address is refused unless
    /// `options.allowPrivateWebhooks` (see `WebhookAddress`).
    public func setWebhook(tenantID: String?, url: String?, secret: String?, principal: Principal) async throws -> WebhookView {
        let tenant = try AccessPolicy.check(.manageWebhooks, principal, tenant: tenantID)
        guard let url else { throw AnalyticsError.invalidParameter(name: "url", reason: "is required") }
        guard let parsed = WebhookURL(url) else {
            throw AnalyticsError.invalidParameter(name: "url", reason: "must be an http:// or https:// URL with a host, at most 2048 bytes")
        }
        if !options.allowPrivateWebhooks, let why = WebhookAddress.refusal(host: parsed.host) {
            throw AnalyticsError.invalidParameter(
                name: "url", reason: "points at a non-public address: " + WebhookAddress.refusedText(host: parsed.host, address: nil, reason: why))
        }
        guard let secret else { throw AnalyticsError.invalidParameter(name: "secret", reason: "is required") }
        guard (16...256).contains(secret.utf8.count), !secret.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw AnalyticsError.invalidParameter(name: "secret", reason: "must be 16 to 256 bytes without control characters")
        }
        let now = self.now
        return try await blocking { [self] in
            try catalog.setWebhook(Webhook(tenant: tenant, url: url, secret: secret, createdAt: now, updatedAt: now,
                                           updatedBy: principal.keyID))
            return try webhookView(tenant: tenant)
        }
    }

    /// The tenant's webhook, without its secret (writer or admin keys).
    public func webhook(tenantID: String?, principal: Principal) async throws -> WebhookView {
        let tenant = try AccessPolicy.check(.manageWebhooks, principal, tenant: tenantID)
        return try await blocking { [self] in try webhookView(tenant: tenant) }
    }

    /// Deletes the tenant's webhook (writer or admin keys); its pending deliveries are dropped.
    public func deleteWebhook(tenantID: String?, principal: Principal) async throws {
        let tenant = try AccessPolicy.check(.manageWebhooks, principal, tenant: tenantID)
        let now = self.now
        try await blocking { [self] in
            guard try catalog.deleteWebhook(tenant: tenant, actor: principal.keyID, now: now) else {
                throw AnalyticsError.notFound(reason: "tenant \(tenant) has no webhook")
            }
        }
    }

    func webhookView(tenant: String) throws -> WebhookView {
        guard let webhook = try catalog.webhook(tenant: tenant) else {
            throw AnalyticsError.notFound(reason: "tenant \(tenant) has no webhook")
        }
        let counts = try catalog.deliveryCounts(tenant: tenant)
        return WebhookView(webhook: webhook, pending: counts["pending"] ?? 0, delivered: counts["delivered"] ?? 0,
                           failed: counts["failed"] ?? 0)
    }
}

/// A webhook URL taken apart: scheme, host, port and path with query.
public struct WebhookURL: Sendable, Equatable {
    public var secure: Bool
    public var host: String
    public var port: Int
    /// The request target, `/` at least.
    public var target: String

    /// Parses `http://host[:port][/path]` or `https://...`; nil for anything else.
    public init?(_ text: String) {
        guard text.utf8.count <= 2048, !text.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else { return nil }
        let rest: Substring
        if text.hasPrefix("http://") {
            secure = false
            rest = text.dropFirst(7)
        } else if text.hasPrefix("https://") {
            secure = true
            rest = text.dropFirst(8)
        } else {
            return nil
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        let path = rest.dropFirst(authority.count)
        target = path.isEmpty ? "/" : (path.hasPrefix("?") ? "/" + path : String(path))
        guard !authority.isEmpty, !authority.contains("@") else { return nil }
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.isEmpty {
                port = secure ? 443 : 80
            } else {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (1...65_535).contains(p) else { return nil }
                port = p
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65_535).contains(p) else { return nil }
            port = p
        } else {
            host = String(authority)
            port = secure ? 443 : 80
        }
        guard !host.isEmpty else { return nil }
    }
}
