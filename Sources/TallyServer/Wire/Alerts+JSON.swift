import TallyAnalytics
import TallyText

extension AlertChannelView: JSONWritable {
    /// The channel's settings, secrets masked: a Slack URL as scheme and host, an SMTP password as `password_set`.
    public func write(to json: inout JSONWriter) {
        json.object { w in
            let c = channel
            w.field("id", c.id)
            w.field("tenant_id", c.tenant)
            w.field("name", c.name)
            w.field("kind", c.kind.rawValue)
            w.field("min_severity", c.minSeverity.rawValue)
            w.field("quiet_minutes", c.quietMillis / 60_000)
            w.field("enabled", c.enabled)
            w.field("url", c.kind == .slack ? c.maskedURL : nil)
            if let smtp = c.smtp {
                w.field("smtp") { s in
                    s.field("host", smtp.host)
                    s.field("port", smtp.port)
                    s.field("username", smtp.username)
                    s.field("password_set", smtp.password != nil)
                    s.field("from", smtp.from)
                    s.field("to", strings: smtp.to)
                    s.field("tls", "none")
                }
            } else {
                w.field("smtp", nil as String?)
            }
            w.field("created_at", time: c.createdAt)
            w.field("updated_at", time: c.updatedAt)
            w.field("updated_by", c.updatedBy)
            w.field("deliveries") { d in
                d.field("pending", pending)
                d.field("delivered", delivered)
                d.field("failed", failed)
            }
            w.field("recent_deliveries", array: recent)
        }
    }
}

extension AlertDelivery: JSONWritable {
    /// A delivery's state, not its body.
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("id", id)
            w.field("anomaly_id", anomalyID)
            w.field("severity", severity.rawValue)
            w.field("subject", subject)
            w.field("state", state)
            w.field("attempts", attempts)
            w.field("next_attempt_at", time: state == "pending" ? nextAttemptAt : nil)
            w.field("last_error", lastError)
            w.field("created_at", time: createdAt)
            w.field("delivered_at", time: deliveredAt)
        }
    }
}

extension AlertChannelList: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("scope") { s in s.field("tenant_id", tenant) }
            w.field("alert_channels", array: channels)
        }
    }
}

extension AlertChannelAnswer: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { w in w.field("alert_channel", view) }
    }
}

extension AlertTestResult: JSONWritable {
    public func write(to json: inout JSONWriter) {
        json.object { w in
            w.field("channel_id", channelID)
            w.field("delivered", delivered)
            w.field("error", error)
            w.field("sent_at", time: sentAt)
        }
    }
}
