import TallyText
/// The stored form of an entity in the audit log (`audit_log.before_json` / `after_json`): its own format, written
/// member by member here, so that a change of the API's JSON never changes what the audit log stores.
///
/// Format 1, described in docs/FORMAT.md ("Audit snapshots"): one JSON object per entity kind with exactly the
/// members below, in this order. Rows written before this type existed are format 1 too (the code then wrote the
/// same members), so `GET audit` serves every stored row alike. A later format that changes a kind's members must
/// write `"format": 2` as the object's first member; an object without it is format 1.
package enum AuditSnapshot {
    /// The format this code writes.
    package static let format = 1

    /// `budget`: its settings.
    package static func budget(_ b: Budget) -> String {
        text { w in
            w.field("id", b.id)
            w.field("tenant_id", b.tenant)
            w.field("level", b.level.rawValue)
            w.field("feature_tag", b.level == .feature ? b.subject : nil)
            w.field("user_id", b.level == .user ? b.subject : nil)
            w.field("period", b.period.rawValue)
            w.field("limit_cents", cents: b.limitNanos)
            w.field("warn_ratio", b.warnRatio)
            w.field("enforce", b.enforce)
            w.field("created_at", time: b.createdAt)
            w.field("updated_at", time: b.updatedAt)
            w.field("created_by", b.createdBy)
        }
    }

    /// `anomaly`: its state, not its figures (those change with every detection run).
    package static func anomaly(_ a: Anomaly) -> String {
        text { w in
            w.field("id", a.id)
            w.field("type", a.type.rawValue)
            w.field("severity", a.severity.rawValue)
            w.field("status", a.status.rawValue)
            w.field("resolved_by", a.resolvedBy)
            w.field("incident_id", a.incidentID)
        }
    }

    /// `incident`: its lifecycle.
    package static func incident(_ i: Incident) -> String {
        text { w in
            w.field("id", i.id)
            w.field("tenant_id", i.tenant)
            w.field("status", i.status.rawValue)
            w.field("severity", i.severity.rawValue)
            w.field("title", i.title)
            w.field("opened_at", time: i.openedAt)
            w.field("acknowledged_at", time: i.acknowledgedAt)
            w.field("acknowledged_by", i.acknowledgedBy)
            w.field("resolved_at", time: i.resolvedAt)
            w.field("resolved_by", i.resolvedBy)
            w.field("updated_at", time: i.updatedAt)
        }
    }

    /// `feature_tag`: its registration.
    package static func featureTag(_ t: FeatureTag) -> String {
        text { w in
            w.field("id", t.id)
            w.field("tenant_id", t.tenant)
            w.field("tag", t.tag)
            w.field("description", t.description)
            w.field("owner", t.owner)
            w.field("created_at", time: t.createdAt)
            w.field("updated_at", time: t.updatedAt)
            w.field("created_by", t.createdBy)
        }
    }

    /// `api_key`: never its secret or hash.
    package static func apiKey(_ k: APIKey) -> String {
        text { w in
            w.field("id", k.id)
            w.field("tenant_id", k.tenant)
            w.field("role", k.role.rawValue)
            w.field("created_at", time: k.createdAt)
            w.field("revoked_at", time: k.revokedAt)
        }
    }

    /// `alert_channel`: its settings, never the Slack URL's path or the SMTP password.
    package static func alertChannel(_ c: AlertChannel) -> String {
        text { w in
            w.field("id", c.id)
            w.field("tenant_id", c.tenant)
            w.field("name", c.name)
            w.field("kind", c.kind.rawValue)
            w.field("url", c.kind == .slack ? c.maskedURL : nil)
            w.field("smtp_host", c.smtp?.host)
            w.field("smtp_port", c.smtp?.port)
            w.field("smtp_username", c.smtp?.username)
            w.field("from", c.smtp?.from)
            if let to = c.smtp?.to { w.field("to", strings: to) } else { w.field("to", nil as String?) }
            w.field("min_severity", c.minSeverity.rawValue)
            w.field("quiet_minutes", c.quietMillis / 60_000)
            w.field("enabled", c.enabled)
        }
    }

    /// `webhook`: where it posts, never its secret.
    package static func webhook(_ w: Webhook) -> String {
        text { o in
            o.field("tenant_id", w.tenant)
            o.field("url", w.url)
        }
    }

    /// `anomaly_settings`: the thresholds a tenant set (factors as decimals, the floor in cents).
    package static func anomalySettings(tenant: String, _ t: AnomalyThresholds) -> String {
        text { w in
            w.field("tenant_id", tenant)
            w.field("custom", true)
            w.field("spike_factor", Double(t.spikeFactorPPM) / 1_000_000)
            w.field("spike_days", t.spikeDays)
            w.field("baseline_days", t.baselineDays)
            w.field("drift_factor", Double(t.driftFactorPPM) / 1_000_000)
            w.field("drift_days", t.driftDays)
            w.field("drift_window_days", t.driftWindowDays)
            w.field("minimum_daily_cents", cents: t.minimumDailyNanos)
            w.field("severity_low_pct", t.lowPercent)
            w.field("severity_medium_pct", t.mediumPercent)
            w.field("severity_high_pct", t.highPercent)
        }
    }

    /// One JSON object, its members written by `members`.
    private static func text(_ members: (inout JSONWriter) -> Void) -> String {
        var w = JSONWriter(capacity: 256)
        w.object(members)
        return String(decoding: w.bytes, as: UTF8.self)
    }
}
