import TallyStore
import TallyText

/// An incident: opened by detection for HIGH anomalies and exceeded budgets, acknowledged and resolved by people.
///
/// An anomaly that needs an incident joins the tenant's unresolved incident whose anomalies overlap its days
/// (a tenant spike and the feature spike under it are one incident), or opens a new one. An anomaly keeps its
/// incident for the whole episode, so re-running detection never opens a second one.
public struct Incident: Sendable, Equatable, JSONWritable {
    /// The lifecycle: open -> acknowledged -> resolved (open -> resolved too).
    public enum Status: String, Sendable, CaseIterable {
        case open
        case acknowledged
        case resolved

        /// Whether the API may move an incident from this status to `next`.
        public func allows(_ next: Status) -> Bool {
            switch (self, next) {
            case (.open, .acknowledged), (.open, .resolved), (.acknowledged, .resolved): true
            default: false
            }
        }
    }

    /// Public id, e.g. `inc_3f9a0c1d2e4b`.
    public var id: String
    public var tenant: String
    public var status: Status
    /// The highest severity of its anomalies when it opened.
    public var severity: AnomalySeverity
    /// What opened it, e.g. `ABSOLUTE_SPIKE on feature chat`.
    public var title: String
    public var openedAt: Int64
    public var acknowledgedAt: Int64?
    public var acknowledgedBy: String?
    public var resolvedAt: Int64?
    public var resolvedBy: String?
    public var updatedAt: Int64

    /// An incident (catalogs read them back with this).
    package init(id: String, tenant: String, status: Status, severity: AnomalySeverity, title: String, openedAt: Int64,
                 acknowledgedAt: Int64?, acknowledgedBy: String?, resolvedAt: Int64?, resolvedBy: String?, updatedAt: Int64) {
        self.id = id
        self.tenant = tenant
        self.status = status
        self.severity = severity
        self.title = title
        self.openedAt = openedAt
        self.acknowledgedAt = acknowledgedAt
        self.acknowledgedBy = acknowledgedBy
        self.resolvedAt = resolvedAt
        self.resolvedBy = resolvedBy
        self.updatedAt = updatedAt
    }

    /// The API and webhook form of its state.
    func writeState(to w: inout JSONWriter) {
        w.field("id", id)
        w.field("tenant_id", tenant)
        w.field("status", status.rawValue)
        w.field("severity", severity.rawValue)
        w.field("title", title)
        w.field("opened_at", time: openedAt)
        w.field("acknowledged_at", time: acknowledgedAt)
        w.field("acknowledged_by", acknowledgedBy)
        w.field("resolved_at", time: resolvedAt)
        w.field("resolved_by", resolvedBy)
        w.field("updated_at", time: updatedAt)
    }

    public func write(to json: inout JSONWriter) {
        json.object { w in writeState(to: &w) }
    }
}

/// An incident with its anomalies and the money they cost.
public struct IncidentView: Sendable, JSONWritable {
    public var incident: Incident
    public var anomalies: [Anomaly]

    /// An incident with its anomalies.
    package init(incident: Incident, anomalies: [Anomaly]) {
        self.incident = incident
        self.anomalies = anomalies
    }

    /// The largest impact among its anomalies at the broadest entity level present (tenant, else feature, else user).
    /// Anomalies share an incident because their days overlap: a tenant spike, the feature spike under it and the
    /// drift the spike lifts describe the same money, so their impacts are not added up.
    public var impactNanos: Int64 {
        for level in [Budget.Level.tenant, .feature, .user] {
            let at = anomalies.filter { $0.entity.level == level }
            if let most = at.map(\.impactNanos).max() { return most }
        }
        return 0
    }

    /// Its anomalies still open.
    public var openAnomalyCount: Int { anomalies.count(where: { $0.status == .open }) }

    /// Why its status and its anomalies' disagree, when they do: an incident not resolved whose anomalies have all
    /// ended (it waits for a person), or a resolved incident with an open anomaly (left open by an earlier version,
    /// which did not resolve them with the incident). nil when they agree.
    public var statusNote: String? {
        if incident.status != .resolved, !anomalies.isEmpty, openAnomalyCount == 0 {
            return "all \(anomalies.count) of its anomalies have ended (resolved by detection or by hand); the incident stays "
                + "\(incident.status.rawValue) until someone resolves it"
        }
        if incident.status == .resolved, openAnomalyCount > 0 {
            return "resolved while \(openAnomalyCount) of its anomalies were open; they stay open until detection sees them end "
                + "or someone resolves them"
        }
        return nil
    }

    /// The `incident` of a webhook payload (a domain product, stored with the delivery), and of the API's
    /// incident answers: its encoding, with its anomalies', stays here rather than in the server's `Wire/`.
    public func write(to json: inout JSONWriter) {
        json.object { w in writeMembers(to: &w) }
    }

    /// Its members, into an open object (the API's answer adds its provenance): the incident's state, the anomaly
    /// counts, why status and anomalies disagree, the impact and the anomalies.
    public func writeMembers(to w: inout JSONWriter) {
        incident.writeState(to: &w)
        w.field("anomaly_count", anomalies.count)
        w.field("open_anomaly_count", openAnomalyCount)
        w.field("status_note", statusNote)
        w.field("impact_cents", cents: impactNanos)
        w.field("anomalies", array: anomalies)
    }
}

/// `{ ...incident, provenance }`: one incident as `GET incidents/{id}` and its changes answer it.
public struct IncidentAnswer: Sendable {
    public var view: IncidentView
    public var provenance: Provenance

    /// The answer of one incident read (or changed) in one catalog call at `now`; its window runs from its opening to
    /// its resolution (or `now`).
    init(view: IncidentView, now: Int64) {
        self.view = view
        provenance = .catalog(
            reads: 1, window: Window(from: view.incident.openedAt, to: max(view.incident.openedAt, view.incident.resolvedAt ?? now)),
            aggregation: "one incident and its anomalies from the catalog; impact = the largest anomaly impact at the broadest "
                + "entity level present", now: now)
    }
}

/// `{ incidents, count, generated_at, provenance }`.
public struct IncidentList: Sendable {
    public var incidents: [IncidentView]
    public var generatedAt: Int64
    public var provenance: Provenance

    /// The incidents read in one catalog call at `now`; the window runs from the oldest opening to `now`.
    init(incidents: [IncidentView], now: Int64) {
        self.incidents = incidents
        generatedAt = now
        provenance = .catalog(
            reads: 1, window: Window(from: min(now, incidents.map(\.incident.openedAt).min() ?? now), to: now),
            aggregation: "incidents and their anomalies from the catalog, newest first", now: now)
    }
}

/// A tenant's webhook: where incident state changes are POSTed and the secret that signs them.
public struct Webhook: Sendable, Equatable {
    public var tenant: String
    /// An `http://` or `https://` URL.
    public var url: String
    /// The HMAC-SHA256 key (never shown again after it is set).
    public var secret: String
    public var createdAt: Int64
    public var updatedAt: Int64
    public var updatedBy: String

    /// A webhook as stored (tests store one without the checks of `Analytics.setWebhook`).
    package init(tenant: String, url: String, secret: String, createdAt: Int64, updatedAt: Int64, updatedBy: String) {
        self.tenant = tenant
        self.url = url
        self.secret = secret
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.updatedBy = updatedBy
    }
}

/// A webhook as the API shows it: the URL, never the secret.
public struct WebhookView: Sendable {
    public var webhook: Webhook
    /// Deliveries waiting, delivered and given up.
    public var pending: Int
    public var delivered: Int
    public var failed: Int
}

/// One webhook call to make: an incident state change, its body fixed when the change was made.
public struct WebhookDelivery: Sendable, Equatable {
    /// Sent as `X-Tally-Delivery`; receivers deduplicate on it.
    public var id: String
    public var tenant: String
    public var incidentID: String
    /// `incident.opened`, `incident.acknowledged`, `incident.resolved`.
    public var event: String
    /// The JSON body, signed as it is.
    public var body: [UInt8]
    public var attempts: Int
    public var nextAttemptAt: Int64

    /// A delivery (catalogs read them back with this).
    package init(id: String, tenant: String, incidentID: String, event: String, body: [UInt8], attempts: Int, nextAttemptAt: Int64) {
        self.id = id
        self.tenant = tenant
        self.incidentID = incidentID
        self.event = event
        self.body = body
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
    }
}
