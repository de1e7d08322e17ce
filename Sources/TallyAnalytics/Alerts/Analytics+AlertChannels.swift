import TallyStore
import TallyText

extension Analytics {
    /// Most channels a tenant may have.
    public static let maxAlertChannels = 20
    /// Most recipients of an email channel.
    public static let maxAlertRecipients = 20
    /// The longest quiet period, minutes (a week).
    public static let maxQuietMinutes = 7 * 24 * 60
    /// The quiet period of a channel that sets none, minutes (a day: detection judges days).
    public static let defaultQuietMinutes = 24 * 60

    /// Creates an alert channel of a tenant (admin keys: an application must not silence its own alerts).
    /// Every invalid field is named.
    public func createAlertChannel(_ draft: AlertChannelDraft, principal: Principal) async throws -> AlertChannelView {
        let tenant = try AccessPolicy.check(.manageAlertChannels, principal, tenant: draft.tenantID)
        guard let kindText = draft.kind else { throw AnalyticsError.invalidParameter(name: "kind", reason: "is required: slack or email") }
        guard let kind = AlertChannel.Kind(rawValue: kindText) else {
            throw AnalyticsError.invalidParameter(name: "kind", reason: "must be slack or email")
        }
        let now = self.now
        var channel = AlertChannel(
            id: "ach_" + hex(randomBytes(6)), tenant: tenant, name: "", kind: kind, url: "", smtp: nil, minSeverity: .medium,
            quietMillis: Int64(Self.defaultQuietMinutes) * 60_000, enabled: true, createdAt: now, updatedAt: now, updatedBy: principal.keyID)
        guard draft.name != nil else { throw AnalyticsError.invalidParameter(name: "name", reason: "is required") }
        try apply(draft, to: &channel, creating: true)
        let created = channel
        return try await blocking { [self] in
            guard try catalog.alertChannels(tenant: tenant).count < Self.maxAlertChannels else {
                throw AnalyticsError.invalidParameter(name: "tenant_id", reason: "has \(Self.maxAlertChannels) alert channels already")
            }
            try catalog.insertAlertChannel(created)
            return try alertChannelView(created)
        }
    }

    /// The alert channels of a tenant, with their recent deliveries (admin keys).
    public func alertChannels(tenantID: String?, principal: Principal) async throws -> AlertChannelList {
        let tenant = try AccessPolicy.check(.manageAlertChannels, principal, tenant: tenantID)
        return try await blocking { [self] in
            AlertChannelList(tenant: tenant, channels: try catalog.alertChannels(tenant: tenant).map(alertChannelView))
        }
    }

    /// The alert channel `id`; another tenant's is "not found".
    public func alertChannel(id: String, principal: Principal) async throws -> AlertChannelView {
        try AccessPolicy.check(.manageAlertChannels, principal)
        return try await blocking { [self] in try alertChannelView(try reachableChannel(id, principal)) }
    }

    /// Changes the fields `draft` names of channel `id` (its kind and tenant stay).
    public func updateAlertChannel(id: String, _ draft: AlertChannelDraft, principal: Principal) async throws -> AlertChannelView {
        try AccessPolicy.check(.manageAlertChannels, principal)
        if draft.kind != nil { throw AnalyticsError.invalidParameter(name: "kind", reason: "cannot be changed; create another channel") }
        if draft.tenantID != nil { throw AnalyticsError.invalidParameter(name: "tenant_id", reason: "cannot be changed") }
        let now = self.now
        return try await blocking { [self] in
            var channel = try reachableChannel(id, principal)
            try apply(draft, to: &channel, creating: false)
            channel.updatedAt = now
            channel.updatedBy = principal.keyID
            guard try catalog.updateAlertChannel(channel) else { throw AnalyticsError.notFound(reason: "no alert channel \(id)") }
            return try alertChannelView(channel)
        }
    }

    /// Deletes channel `id`; its pending deliveries are given up.
    public func deleteAlertChannel(id: String, principal: Principal) async throws {
        try AccessPolicy.check(.manageAlertChannels, principal)
        let now = self.now
        try await blocking { [self] in
            _ = try reachableChannel(id, principal)
            guard try catalog.deleteAlertChannel(id: id, actor: principal.keyID, at: now) else {
                throw AnalyticsError.notFound(reason: "no alert channel \(id)")
            }
        }
    }

    /// Channel `id` (with its secrets, for the sender) and a test alert to send to it at once, outside the outbox.
    public func alertChannelTest(id: String, principal: Principal) async throws -> (AlertChannel, AlertDelivery) {
        try AccessPolicy.check(.manageAlertChannels, principal)
        let now = self.now
        let channel = try await blocking { [self] in try reachableChannel(id, principal) }
        let alertID = "alr_test_" + hex(randomBytes(4))
        let message = AlertMessage(anomaly: AlertMessage.testAnomaly(tenant: channel.tenant, now: now), channel: channel, alertID: alertID,
                                   publicURL: options.publicURL, isTest: true)
        return (channel, AlertDelivery(
            id: alertID, channelID: channel.id, tenant: channel.tenant, anomalyID: "anm_test", series: "test", severity: .high,
            subject: message.subject, body: channel.kind == .slack ? message.slackJSON : message.emailText, state: "pending", attempts: 0,
            nextAttemptAt: now, lastError: nil, createdAt: now, deliveredAt: nil))
    }

    /// Queues the alerts the open anomalies call for on every enabled channel (`AlertRules`), one transaction per
    /// tenant; returns what it queued. Run before each delivery pass, so an anomaly a detection run found alerts at the
    /// next pass; an episode already alerted is not queued again.
    @discardableResult
    public func queueAlerts() async throws -> [AlertDelivery] {
        let now = self.now
        let publicURL = options.publicURL
        return try await blocking { [self] in
            let tenants = Set(try catalog.alertChannels(tenant: nil).filter(\.enabled).map(\.tenant)).sorted()
            var queued: [AlertDelivery] = []
            for tenant in tenants {
                queued += try catalog.write { tx in
                    try AlertRules.queue(tenant: tenant, channels: try tx.alertChannels(tenant: tenant), publicURL: publicURL, now: now, in: tx)
                }
            }
            return queued
        }
    }

    func reachableChannel(_ id: String, _ principal: Principal) throws -> AlertChannel {
        guard let channel = try catalog.alertChannel(id: id), AccessPolicy.reaches(principal, tenant: channel.tenant) else {
            throw AnalyticsError.notFound(reason: "no alert channel \(id)")
        }
        return channel
    }

    func alertChannelView(_ channel: AlertChannel) throws -> AlertChannelView {
        let recent = try catalog.alertDeliveries(channel: channel.id, limit: AlertChannelView.recentShown)
        let counts = try catalog.alertDeliveryCounts(channel: channel.id)
        return AlertChannelView(channel: channel, pending: counts["pending"] ?? 0, delivered: counts["delivered"] ?? 0,
                                failed: counts["failed"] ?? 0, recent: recent)
    }

    /// Checks the fields `draft` gives and sets them on `channel`; creating, the kind's required fields must be there.
    func apply(_ d: AlertChannelDraft, to c: inout AlertChannel, creating: Bool) throws {
        if let name = d.name {
            try FeatureTag.checkText(name, field: "name", maxBytes: 100)
            c.name = name
        }
        if let s = d.minSeverity {
            guard let severity = AnomalySeverity(rawValue: s) else {
                throw AnalyticsError.invalidParameter(name: "min_severity", reason: "must be LOW, MEDIUM or HIGH")
            }
            c.minSeverity = severity
        }
        if let q = d.quietMinutes {
            guard (0...Self.maxQuietMinutes).contains(q) else {
                throw AnalyticsError.invalidParameter(name: "quiet_minutes", reason: "must be 0 to \(Self.maxQuietMinutes) minutes")
            }
            c.quietMillis = Int64(q) * 60_000
        }
        if let e = d.enabled { c.enabled = e }
        switch c.kind {
        case .slack:
            for name in ["smtp_host", "smtp_port", "smtp_username", "smtp_password", "from", "to"] where d.has(name) {
                throw AnalyticsError.invalidParameter(name: name, reason: "is for email channels; a slack channel takes url")
            }
            if let url = d.url {
                guard let parsed = WebhookURL(url) else {
                    throw AnalyticsError.invalidParameter(name: "url", reason: "must be an http:// or https:// URL with a host, at most 2048 bytes")
                }
                if !options.allowPrivateWebhooks, let why = WebhookAddress.refusal(host: parsed.host) {
                    throw AnalyticsError.invalidParameter(
                        name: "url", reason: "points at a non-public address: " + WebhookAddress.refusedText(host: parsed.host, address: nil, reason: why))
                }
                c.url = url
            } else if creating {
                throw AnalyticsError.invalidParameter(name: "url", reason: "is required: the Slack incoming-webhook URL")
            }
        case .email:
            if d.url != nil { throw AnalyticsError.invalidParameter(name: "url", reason: "is for slack channels; an email channel takes smtp_host, from and to") }
            var smtp = c.smtp ?? AlertChannel.SMTPSettings(host: "", port: 25, username: nil, password: nil, from: "", to: [])
            if let host = d.smtpHost {
                guard Self.isHostName(host) else {
                    throw AnalyticsError.invalidParameter(name: "smtp_host", reason: "must be a host name or IP address, at most 253 bytes")
                }
                smtp.host = host
            } else if creating {
                throw AnalyticsError.invalidParameter(name: "smtp_host", reason: "is required")
            }
            if let port = d.smtpPort {
                guard (1...65_535).contains(port) else { throw AnalyticsError.invalidParameter(name: "smtp_port", reason: "must be 1 to 65535") }
                smtp.port = port
            }
            if d.has("smtp_username") {
                if let user = d.smtpUsername { try FeatureTag.checkText(user, field: "smtp_username", maxBytes: 256) }
                smtp.username = d.smtpUsername
            }
            if d.has("smtp_password") {
                if let password = d.smtpPassword { try FeatureTag.checkText(password, field: "smtp_password", maxBytes: 256) }
                smtp.password = d.smtpPassword
            }
            if (smtp.username == nil) != (smtp.password == nil) {
                throw AnalyticsError.invalidParameter(name: smtp.username == nil ? "smtp_username" : "smtp_password",
                                                      reason: "smtp_username and smtp_password go together (AUTH), or neither is set")
            }
            if let from = d.from {
                guard Self.isMailAddress(from) else { throw AnalyticsError.invalidParameter(name: "from", reason: "must be an address like alerts@example.com") }
                smtp.from = from
            } else if creating {
                throw AnalyticsError.invalidParameter(name: "from", reason: "is required")
            }
            if let to = d.to {
                guard (1...Self.maxAlertRecipients).contains(to.count) else {
                    throw AnalyticsError.invalidParameter(name: "to", reason: "must list 1 to \(Self.maxAlertRecipients) addresses")
                }
                if let bad = to.first(where: { !Self.isMailAddress($0) }) {
                    throw AnalyticsError.invalidParameter(name: "to", reason: "\(bad.debugDescription) is not an address like ops@example.com")
                }
                smtp.to = to
            } else if creating {
                throw AnalyticsError.invalidParameter(name: "to", reason: "is required: a list of addresses")
            }
            c.smtp = smtp
        }
    }

    /// `local@domain` in printable ASCII without spaces, angle brackets, quotes or separators, at most 254 bytes.
    static func isMailAddress(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        guard (3...254).contains(bytes.count), let at = bytes.firstIndex(of: UInt8(ascii: "@")), at > 0, at < bytes.count - 1,
              bytes.lastIndex(of: UInt8(ascii: "@")) == at else { return false }
        let forbidden = Set("<>()[]\\,;:\" ".utf8)
        return bytes.allSatisfy { $0 > 0x20 && $0 < 0x7F && !forbidden.contains($0) }
    }

    /// A DNS name or an IP literal: letters, digits, `.`, `-`, `:` (IPv6), at most 253 bytes.
    static func isHostName(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        return (1...253).contains(bytes.count) && bytes.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2E || $0 == 0x2D || $0 == 0x3A
        }
    }
}

extension AlertChannelDraft {
    /// Members given in the request, even as null (a null `smtp_password` removes it).
    func has(_ name: String) -> Bool {
        if present.contains(name) { return true }
        return switch name {
        case "smtp_host": smtpHost != nil
        case "smtp_port": smtpPort != nil
        case "smtp_username": smtpUsername != nil
        case "smtp_password": smtpPassword != nil
        case "from": from != nil
        case "to": to != nil
        default: false
        }
    }
}
