import TallyStore
import TallyText

/// The incident rules, run inside one catalog transaction: which incident an anomaly joins, which moves the
/// lifecycle allows, and what each change leaves behind (an audit entry, and a webhook delivery when the tenant has a
/// webhook).
enum IncidentRules {
    /// The incident `anomaly` joins: the tenant's oldest unresolved incident with an anomaly whose days overlap or
    /// touch its days, else a new one (`opened` true), stored.
    static func incidentToJoin(for a: Anomaly, now: Int64, in tx: any CatalogTransaction) throws -> (id: String, opened: Bool) {
        for incident in try tx.unresolvedIncidents(tenant: a.tenant) {
            let touches = try tx.anomalies(incident: incident.id).contains {
                $0.firstDay <= a.lastDay + TimeUnit.dayMillis && $0.lastDay >= a.firstDay - TimeUnit.dayMillis
            }
            if touches { return (incident.id, false) }
        }
        let entity = a.entity.level == .tenant ? "tenant \(a.tenant)" : "\(a.entity.level.rawValue) \(a.entity.value)"
        let incident = Incident(
            id: "inc_" + hex(randomBytes(6)), tenant: a.tenant, status: .open, severity: a.type == .budgetExceeded ? .high : a.severity,
            title: "\(a.type.rawValue) on \(entity)", openedAt: now, acknowledgedAt: nil, acknowledgedBy: nil, resolvedAt: nil,
            resolvedBy: nil, updatedAt: now)
        try tx.saveIncident(incident)
        return (incident.id, true)
    }

    /// Moves incident `id` to `next` if its lifecycle allows it (open -> acknowledged -> resolved), with an audit
    /// entry and a webhook delivery. nil when there is no such incident `reaches` accepts; `invalidTransition`
    /// naming the current status otherwise.
    static func transition(id: String, to next: Incident.Status, actor: String, now: Int64, reaches: (String) -> Bool,
                           in tx: any CatalogTransaction) throws -> IncidentView? {
        guard var incident = try tx.incident(id: id), reaches(incident.tenant) else { return nil }
        guard incident.status.allows(next) else {
            throw AnalyticsError.invalidTransition(
                reason: "incident \(id) is \(incident.status.rawValue); it cannot become \(next.rawValue) "
                    + "(open -> acknowledged -> resolved)")
        }
        let before = incident
        incident.status = next
        incident.updatedAt = now
        if next == .acknowledged {
            incident.acknowledgedAt = now
            incident.acknowledgedBy = actor
        } else {
            incident.resolvedAt = now
            incident.resolvedBy = actor
        }
        try tx.saveIncident(incident)
        if next == .resolved {
            // The incident's anomalies end with it: each open one is resolved by the same key, audited, before the
            // webhook body (which lists them) is made.
            for a in try tx.anomalies(incident: id) where a.status == .open {
                _ = try AnomalyEpisodes.resolve(id: a.id, actor: actor, now: now, reaches: { _ in true }, in: tx)
            }
        }
        try changed(before: before, after: incident, actor: actor, now: now, in: tx)
        return IncidentView(incident: incident, anomalies: try tx.anomalies(incident: id))
    }

    /// Records an incident state change: the audit entry and, when the tenant has a webhook, the delivery to make.
    static func changed(before: Incident?, after: Incident, actor: String, now: Int64, in tx: any CatalogTransaction) throws {
        let action = before == nil ? "open" : after.status == .acknowledged ? "acknowledge" : "resolve"
        try tx.appendAudit(at: now, actor: actor, tenant: after.tenant, action: action, entityType: "incident",
                           entityID: after.id, before: before.map(AuditSnapshot.incident), after: AuditSnapshot.incident(after))
        guard try tx.webhook(tenant: after.tenant) != nil else { return }
        let event = "incident." + (before == nil ? "opened" : after.status.rawValue)
        let deliveryID = "dlv_" + hex(randomBytes(8))
        let view = IncidentView(incident: after, anomalies: try tx.anomalies(incident: after.id))
        var w = JSONWriter(capacity: 1024)
        w.object { w in
            w.field("event", event)
            w.field("delivery_id", deliveryID)
            w.field("occurred_at", time: now)
            w.field("previous_status", before?.status.rawValue)
            w.field("incident", view)
        }
        try tx.insertDelivery(WebhookDelivery(id: deliveryID, tenant: after.tenant, incidentID: after.id, event: event, body: w.bytes,
                                              attempts: 0, nextAttemptAt: now), now: now)
    }
}
