import TallyStore

/// A rule that held in one detection run, with its drivers: what `AnomalyEpisodes.record` turns into episodes.
struct AnomalyFinding: Sendable {
    var type: AnomalyType
    var severity: AnomalySeverity
    var entity: AnomalyEntity
    /// The budget of a BUDGET_* finding; empty otherwise.
    var budgetID: String
    /// Start of the first and last UTC day the condition held, ms.
    var firstDay: Int64
    var lastDay: Int64
    var expectedNanos: Int64
    var actualNanos: Int64
    /// Whether the condition holds on the last day the run judged.
    var ongoing: Bool
    var drivers: [AnomalyDriver]
    /// A tenant finding: the feature and user findings grouped under it.
    var entityDrivers: [AnomalyEntityDriver] = []
    /// Whether it includes a day not yet complete or waits for the days the rule needs (intraday detection).
    var provisional = false
    /// A feature or user finding that a tenant finding explains: listed among its entity drivers, not an anomaly of
    /// its own (an episode already stored standalone still continues).
    var grouped = false
}

/// What one detection run of a tenant changed in the catalog.
public struct DetectionChanges: Sendable, Equatable {
    /// Anomalies created, updated (same episode) and resolved because their condition ended.
    public var created: [String] = []
    public var updated: [String] = []
    public var resolved: [String] = []
    /// Incidents opened.
    public var incidentsOpened: [String] = []

    /// Nothing changed.
    public init() {}
}

/// The episode rules: which stored anomaly a finding continues, when an episode ends, and which anomalies need an
/// incident. They run inside one catalog transaction, so a run's anomalies, incidents, audit entries and webhook
/// deliveries commit together or not at all.
enum AnomalyEpisodes {
    /// Records the findings of one detection run of `tenant`: each finding updates the episode it continues (see
    /// `continued`) or starts one; episodes whose condition ended are resolved; HIGH anomalies and exceeded budgets
    /// open or join an incident. `judgedFrom ... judgedThrough` are the first and last day the run judged: an open
    /// spike or drift whose last day lies in that range (or the day before it) and that the run did not find again
    /// has ended; so has an open budget anomaly the run did not find again.
    static func record(tenant: String, findings: [AnomalyFinding], judgedFrom: Int64, judgedThrough: Int64, now: Int64,
                       in tx: any CatalogTransaction) throws -> DetectionChanges {
        var changes = DetectionChanges()
        var seen = Set<String>()
        for f in findings {
            var anomaly: Anomaly
            let stored = try continued(by: f, tenant: tenant, in: tx)
            // A confirmed episode is not made provisional again by a later day's intraday finding: it stays as it is.
            if let stored, f.provisional, !stored.provisional {
                seen.insert(stored.id)
                continue
            }
            if var existing = stored {
                existing.firstDay = min(existing.firstDay, f.firstDay)
                existing.lastDay = max(existing.lastDay, f.lastDay)
                existing.severity = f.severity
                existing.expectedNanos = f.expectedNanos
                existing.actualNanos = f.actualNanos
                // A grouped finding's drivers are not computed (its tenant's are): the stored ones stay.
                if !f.grouped { existing.drivers = f.drivers }
                existing.entityDrivers = f.entityDrivers
                existing.provisional = f.provisional
                existing.updatedAt = now
                // An episode the detector ended comes back when its condition holds again; one a person resolved stays,
                // and so does one whose incident a person resolved (it ended with the incident).
                if f.ongoing, existing.status == .resolved, existing.resolvedBy == Anomaly.detectorActor,
                   try !incidentResolved(existing, in: tx) {
                    existing.status = .open
                    existing.resolvedAt = nil
                    existing.resolvedBy = nil
                }
                anomaly = existing
                changes.updated.append(anomaly.id)
            } else if f.grouped {
                // Explained by its tenant's finding, where it is listed: no anomaly (and no alert) of its own.
                continue
            } else {
                anomaly = Anomaly(
                    id: "anm_" + hex(randomBytes(6)), tenant: tenant, type: f.type, severity: f.severity, entity: f.entity,
                    budgetID: f.budgetID, firstDay: f.firstDay, lastDay: f.lastDay, expectedNanos: f.expectedNanos,
                    actualNanos: f.actualNanos, drivers: f.drivers, status: .open, resolvedAt: nil, resolvedBy: nil,
                    incidentID: nil, detectedAt: now, updatedAt: now, entityDrivers: f.entityDrivers, provisional: f.provisional)
                changes.created.append(anomaly.id)
            }
            if !f.ongoing && anomaly.status == .open {
                anomaly.status = .resolved
                anomaly.resolvedAt = now
                anomaly.resolvedBy = Anomaly.detectorActor
                changes.resolved.append(anomaly.id)
            }
            if anomaly.needsIncident && anomaly.incidentID == nil {
                let (incident, opened) = try IncidentRules.incidentToJoin(for: anomaly, now: now, in: tx)
                anomaly.incidentID = incident
                if opened { changes.incidentsOpened.append(incident) }
            }
            try tx.saveAnomaly(anomaly)
            seen.insert(anomaly.id)
        }
        for var a in try tx.openAnomalies(tenant: tenant) where !seen.contains(a.id) && ended(a, judgedFrom: judgedFrom, judgedThrough: judgedThrough) {
            a.status = .resolved
            a.resolvedAt = now
            a.resolvedBy = Anomaly.detectorActor
            a.updatedAt = now
            try tx.saveAnomaly(a)
            changes.resolved.append(a.id)
        }
        for id in changes.incidentsOpened {
            if let incident = try tx.incident(id: id) {
                try IncidentRules.changed(before: nil, after: incident, actor: Anomaly.detectorActor, now: now, in: tx)
            }
        }
        return changes
    }

    /// Whether `a` belongs to an incident that is resolved.
    static func incidentResolved(_ a: Anomaly, in tx: any CatalogTransaction) throws -> Bool {
        guard let id = a.incidentID else { return false }
        return try tx.incident(id: id)?.status == .resolved
    }

    /// The stored episode finding `f` continues, if any: for a budget, the anomaly of the same type, budget and
    /// period (same first day); for a series rule, the newest anomaly of the same type and entity whose days overlap
    /// or touch the finding's.
    static func continued(by f: AnomalyFinding, tenant: String, in tx: any CatalogTransaction) throws -> Anomaly? {
        let series = try tx.anomalies(tenant: tenant, type: f.type, entity: f.entity, budgetID: f.type.isBudget ? f.budgetID : "")
        if f.type.isBudget {
            return series.first { $0.firstDay == f.firstDay }
        }
        return series.first { $0.lastDay >= f.firstDay - TimeUnit.dayMillis && $0.firstDay <= f.lastDay + TimeUnit.dayMillis }
    }

    /// Whether an open anomaly that a run over `judgedFrom ... judgedThrough` did not find again has ended: a budget
    /// anomaly always (its budget is judged on every run), a spike or drift when the run judged its last day or the
    /// day after it.
    static func ended(_ a: Anomaly, judgedFrom: Int64, judgedThrough: Int64) -> Bool {
        a.type.isBudget || (a.lastDay >= judgedFrom - TimeUnit.dayMillis && a.lastDay <= judgedThrough)
    }

    /// Resolves the anomaly `id` by hand (`actor` is the key), with an audit entry; returns it as it is after, or
    /// nil when there is none `reaches` accepts. An anomaly already resolved is returned unchanged.
    static func resolve(id: String, actor: String, now: Int64, reaches: (String) -> Bool,
                        in tx: any CatalogTransaction) throws -> Anomaly? {
        guard var a = try tx.anomaly(id: id), reaches(a.tenant) else { return nil }
        guard a.status == .open else { return a }
        let before = AuditSnapshot.anomaly(a)
        a.status = .resolved
        a.resolvedAt = now
        a.resolvedBy = actor
        a.updatedAt = now
        try tx.saveAnomaly(a)
        try tx.appendAudit(at: now, actor: actor, tenant: a.tenant, action: "resolve", entityType: "anomaly",
                           entityID: a.id, before: before, after: AuditSnapshot.anomaly(a))
        return a
    }
}

/// Which feature and user findings a tenant finding explains (issue 13: one alert per tenant episode, its drivers listed
/// in it, not one anomaly per feature and user that moved with it).
enum AnomalyGrouping {
    /// Marks every feature or user spike or drift finding whose days overlap or touch the days of a tenant spike or
    /// drift finding as grouped, under the one with the largest impact when several do; returns, per index of a
    /// tenant finding, the findings grouped under it. A feature or user finding stands alone only when no tenant
    /// finding covers its days (it has passed its own noise test like every finding). Budget findings are never
    /// grouped: a budget is configured on purpose. An entity is listed once under a tenant finding.
    static func group(_ findings: inout [AnomalyFinding]) -> [Int: [AnomalyFinding]] {
        let day = TimeUnit.dayMillis
        let tenantFindings = findings.indices.filter { findings[$0].entity.level == .tenant && !findings[$0].type.isBudget }
        var groups: [Int: [AnomalyFinding]] = [:]
        for i in findings.indices where findings[i].entity.level != .tenant && !findings[i].type.isBudget {
            let f = findings[i]
            let covering = tenantFindings.filter { findings[$0].lastDay >= f.firstDay - day && findings[$0].firstDay <= f.lastDay + day }
            guard let t = covering.max(by: {
                (findings[$0].actualNanos - findings[$0].expectedNanos, $1) < (findings[$1].actualNanos - findings[$1].expectedNanos, $0)
            }) else { continue }
            findings[i].grouped = true
            // One entry per entity (a feature may show both a spike and the drift it lifts): the finding with the
            // largest impact, over the days of all of them.
            if let k = groups[t, default: []].firstIndex(where: { $0.entity == f.entity }) {
                var kept = groups[t]![k]
                let (first, last) = (min(kept.firstDay, f.firstDay), max(kept.lastDay, f.lastDay))
                if f.actualNanos - f.expectedNanos > kept.actualNanos - kept.expectedNanos { kept = f }
                kept.firstDay = first
                kept.lastDay = last
                groups[t]![k] = kept
            } else {
                groups[t, default: []].append(f)
            }
        }
        return groups
    }
}
