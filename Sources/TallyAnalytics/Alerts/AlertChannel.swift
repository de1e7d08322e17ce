import TallyStore
import TallyText

/// A tenant's alert channel: where anomaly alerts go (a Slack-compatible incoming webhook, or email over SMTP), from
/// which severity, and how long one series of findings stays quiet after an alert.
///
/// Beside the tenant's signed incident webhook (`Webhook`), which announces incident state changes, a tenant may
/// have several channels; each alerts once per anomaly episode (see `AlertRules`).
public struct AlertChannel: Sendable, Equatable {
    /// What kind of message a channel sends.
    public enum Kind: String, Sendable, CaseIterable {
        /// A Slack-compatible incoming webhook: a JSON POST of `text` and `blocks`.
        case slack
        /// An email over SMTP.
        case email
    }

    /// How an email channel reaches its SMTP server.
    public struct SMTPSettings: Sendable, Equatable {
        public var host: String
        public var port: Int
        /// AUTH user name; nil for an unauthenticated relay.
        public var username: String?
        /// AUTH password (never shown again after it is set).
        public var password: String?
        /// The envelope and `From:` address.
        public var from: String
        /// The envelope recipients and `To:` addresses (at least one).
        public var to: [String]

        /// Settings (tests and catalogs build them with this).
        public init(host: String, port: Int, username: String?, password: String?, from: String, to: [String]) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.from = from
            self.to = to
        }
    }

    /// Public id, e.g. `ach_3f9a0c1d2e4b`.
    public var id: String
    public var tenant: String
    /// A label people choose, e.g. `#cost-alerts`.
    public var name: String
    public var kind: Kind
    /// The incoming-webhook URL of a Slack channel (it is its own secret); empty for email.
    public var url: String
    /// The SMTP settings of an email channel; nil for Slack.
    public var smtp: SMTPSettings?
    /// The lowest severity alerted.
    public var minSeverity: AnomalySeverity
    /// After an alert, another episode of the same series (same rule on the same entity) is not alerted for this
    /// long unless its severity is higher, ms.
    public var quietMillis: Int64
    /// A disabled channel queues nothing.
    public var enabled: Bool
    public var createdAt: Int64
    public var updatedAt: Int64
    public var updatedBy: String

    /// A channel as stored (tests store one without the checks of `Analytics.createAlertChannel`).
    package init(id: String, tenant: String, name: String, kind: Kind, url: String, smtp: SMTPSettings?, minSeverity: AnomalySeverity,
                 quietMillis: Int64, enabled: Bool, createdAt: Int64, updatedAt: Int64, updatedBy: String) {
        self.id = id
        self.tenant = tenant
        self.name = name
        self.kind = kind
        self.url = url
        self.smtp = smtp
        self.minSeverity = minSeverity
        self.quietMillis = quietMillis
        self.enabled = enabled
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.updatedBy = updatedBy
    }

    /// The Slack URL as the API shows it: scheme and host, the secret path hidden (`https://hooks.slack.com/…`).
    public var maskedURL: String {
        guard let parsed = WebhookURL(url) else { return url.isEmpty ? "" : "…" }
        let host = parsed.host.contains(":") ? "[\(parsed.host)]" : parsed.host
        return (parsed.secure ? "https://" : "http://") + host + "/…"
    }
}

/// A channel as the API shows it, with its delivery counts and last error; never the Slack URL's path or the SMTP
/// password.
public struct AlertChannelView: Sendable {
    public var channel: AlertChannel
    /// Alert deliveries waiting, delivered and given up.
    public var pending: Int
    public var delivered: Int
    public var failed: Int
    /// The most recent deliveries, newest first (state, attempts, next attempt and last error of each).
    public var recent: [AlertDelivery]

    /// How many recent deliveries a view lists.
    public static let recentShown = 10
}

/// The channels of a tenant.
public struct AlertChannelList: Sendable {
    public var tenant: String
    public var channels: [AlertChannelView]
}

/// The outcome of a test message sent at once (not through the outbox).
public struct AlertTestResult: Sendable {
    public var channelID: String
    public var delivered: Bool
    /// Why it was not delivered.
    public var error: String?
    public var sentAt: Int64

    /// An outcome.
    public init(channelID: String, delivered: Bool, error: String?, sentAt: Int64) {
        self.channelID = channelID
        self.delivered = delivered
        self.error = error
        self.sentAt = sentAt
    }
}

/// The fields of a create or update request, as given (nil: absent). Checked by `Analytics.createAlertChannel` and
/// `updateAlertChannel`.
public struct AlertChannelDraft: Sendable {
    public var tenantID: String?
    public var name: String?
    public var kind: String?
    public var url: String?
    public var smtpHost: String?
    public var smtpPort: Int?
    public var smtpUsername: String?
    public var smtpPassword: String?
    public var from: String?
    public var to: [String]?
    public var minSeverity: String?
    public var quietMinutes: Int?
    public var enabled: Bool?
    /// The members the request named, null ones included (a null `smtp_username` removes it).
    public var present: Set<String> = []

    /// An empty draft.
    public init() {}
}

/// One alert to send: an anomaly episode on one channel, its message fixed when it was queued.
public struct AlertDelivery: Sendable, Equatable {
    /// Public id, e.g. `alr_3f9a0c1d2e4b5a69`; the email's Message-ID and the Slack message's footer carry it.
    public var id: String
    public var channelID: String
    public var tenant: String
    public var anomalyID: String
    /// The anomaly's series: `type|level|value|budget_id` (the quiet period is per series).
    public var series: String
    /// The anomaly's severity when queued (a later higher one alerts again).
    public var severity: AnomalySeverity
    /// One line: Slack's `text`, the email's Subject.
    public var subject: String
    /// Slack: the JSON body as posted. Email: the plain-text body (UTF-8, LF line ends; the sender encodes it).
    public var body: String
    /// `pending`, `delivered` or `failed`.
    public var state: String
    public var attempts: Int
    public var nextAttemptAt: Int64
    public var lastError: String?
    public var createdAt: Int64
    public var deliveredAt: Int64?

    /// A delivery (catalogs read them back with this).
    package init(id: String, channelID: String, tenant: String, anomalyID: String, series: String, severity: AnomalySeverity,
                 subject: String, body: String, state: String, attempts: Int, nextAttemptAt: Int64, lastError: String?, createdAt: Int64,
                 deliveredAt: Int64?) {
        self.id = id
        self.channelID = channelID
        self.tenant = tenant
        self.anomalyID = anomalyID
        self.series = series
        self.severity = severity
        self.subject = subject
        self.body = body
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastError = lastError
        self.createdAt = createdAt
        self.deliveredAt = deliveredAt
    }
}
