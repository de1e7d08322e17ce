import TallyStore
import TallyText

/// The alerting rules, run inside one catalog transaction per tenant: which open anomalies alert on which channel,
/// and the message each alert carries.
///
/// An anomaly alerts on a channel when it is open, the channel is enabled, its severity is at least the channel's
/// minimum, and the channel's last alert of the same series (same rule on the same entity, `series`):
/// - does not exist; or
/// - had a lower severity (an escalation alerts again, even inside the quiet period); or
/// - was for another episode (another anomaly id) queued at least the channel's quiet period ago.
///
/// So one episode alerts once however many detection runs see it (only an escalation alerts again), and a series
/// that flaps (resolves and comes back) alerts at most once per quiet period. A feature or user anomaly that an open
/// tenant anomaly of the same rule covers (overlapping days, at least as severe) is not alerted on its own: the
/// tenant's message lists the drivers.
enum AlertRules {
    /// The series of an anomaly: its rule, entity and budget.
    static func series(_ a: Anomaly) -> String {
        "\(a.type.rawValue)|\(a.entity.level.rawValue)|\(a.entity.value)|\(a.budgetID)"
    }

    /// Whether `a` alerts on `channel` at `now`, given the channel's last alert of its series.
    static func shouldAlert(_ a: Anomaly, channel: AlertChannel, last: AlertDelivery?, now: Int64) -> Bool {
        guard channel.enabled, a.status == .open, a.severity >= channel.minSeverity else { return false }
        guard let last else { return true }
        if a.severity > last.severity { return true }
        if last.anomalyID == a.id { return false }
        return now - last.createdAt >= channel.quietMillis
    }

    /// Whether an open tenant anomaly of the same rule, at least as severe, over overlapping days explains `a` (a
    /// feature or user anomaly).
    static func coveredByTenant(_ a: Anomaly, open: [Anomaly]) -> Bool {
        guard a.entity.level != .tenant, !a.type.isBudget else { return false }
        return open.contains {
            $0.entity.level == .tenant && $0.type == a.type && $0.severity >= a.severity && $0.firstDay <= a.lastDay && $0.lastDay >= a.firstDay
        }
    }

    /// Queues the alerts the open anomalies of `tenant` call for on `channels`; returns them.
    static func queue(tenant: String, channels: [AlertChannel], publicURL: String, now: Int64,
                      in tx: any CatalogTransaction) throws -> [AlertDelivery] {
        let open = try tx.openAnomalies(tenant: tenant)
        guard !open.isEmpty else { return [] }
        var queued: [AlertDelivery] = []
        for channel in channels where channel.enabled && channel.tenant == tenant {
            for a in open where !coveredByTenant(a, open: open) {
                let series = series(a)
                guard shouldAlert(a, channel: channel, last: try tx.lastAlert(channel: channel.id, series: series), now: now) else {
                    continue
                }
                let id = "alr_" + hex(randomBytes(8))
                let message = AlertMessage(anomaly: a, channel: channel, alertID: id, publicURL: publicURL)
                let delivery = AlertDelivery(
                    id: id, channelID: channel.id, tenant: tenant, anomalyID: a.id, series: series, severity: a.severity,
                    subject: message.subject, body: channel.kind == .slack ? message.slackJSON : message.emailText, state: "pending",
                    attempts: 0, nextAttemptAt: now, lastError: nil, createdAt: now, deliveredAt: nil)
                try tx.insertAlertDelivery(delivery)
                queued.append(delivery)
            }
        }
        return queued
    }
}

/// The words of one alert: what happened, where, when, how much against what was expected, and where to look.
struct AlertMessage {
    let anomaly: Anomaly
    let channel: AlertChannel
    let alertID: String
    let publicURL: String
    /// A test message (`[TEST]` in its subject, its figures made up).
    var isTest = false

    var a: Anomaly { anomaly }

    /// `tenant acme`, `feature chat of tenant acme`, `budget bud_1 of tenant acme`.
    var entity: String {
        var text = a.entity.level == .tenant ? "tenant \(a.tenant)" : "\(a.entity.level.rawValue) \(a.entity.value) of tenant \(a.tenant)"
        if !a.budgetID.isEmpty { text += " (budget \(a.budgetID))" }
        return text
    }

    /// `2025-05-01 to 2025-05-02 UTC (2 days)`.
    var window: String {
        let first = String(Timestamp.format(a.firstDay).prefix(10)), last = String(Timestamp.format(a.lastDay).prefix(10))
        return (first == last ? first : "\(first) to \(last)") + " UTC (\(a.days) day\(a.days == 1 ? "" : "s"))"
            + (a.provisional ? ", provisional: confirmed or withdrawn when the next day completes" : "")
    }

    /// `$123.45 against $50.00 expected (+$73.45, +146.9%)`.
    var cost: String {
        var text = "\(Self.dollars(a.actualNanos)) against \(Self.dollars(a.expectedNanos)) expected (\(Self.dollars(a.impactNanos, signed: true)))"
        if let pct = a.impactPercent {
            text.removeLast()
            text += ", \(pct >= 0 ? "+" : "")\(Self.oneDecimal(pct))%)"
        }
        return text
    }

    /// The console, opened on the anomaly's last day.
    var consoleLink: String {
        Self.trimmedBase(publicURL) + "/console#end=" + String(Timestamp.format(a.lastDay).prefix(10))
    }

    /// The anomaly in the API.
    var apiLink: String { Self.trimmedBase(publicURL) + "/api/v1/analytics/anomalies/" + a.id }

    /// One line: `[Tally HIGH] ABSOLUTE_SPIKE on tenant acme: $123.45 against $50.00 expected (+$73.45, +146.9%)`.
    var subject: String {
        Self.oneLine((isTest ? "[TEST] " : "") + "[Tally \(a.severity.rawValue)\(a.provisional ? ", provisional" : "")] "
            + "\(a.type.rawValue) on \(entity): \(cost)")
    }

    /// The largest drivers, `model gpt-4o: +$12.00`, at most three.
    var drivers: [String] {
        a.drivers.sorted { abs($0.changeNanos) > abs($1.changeNanos) }.prefix(3).map {
            "\($0.dimension.fieldName) \($0.value): \(Self.dollars($0.changeNanos, signed: true))"
        }
    }

    /// Slack's incoming-webhook JSON: `text` (the notification line) and `blocks` (header, the facts as fields, the
    /// drivers, a button to the console, the ids). User-supplied names are escaped for mrkdwn.
    var slackJSON: String {
        var w = JSONWriter(capacity: 2048)
        w.object { w in
            // Slack reads `text` as mrkdwn too (it is the notification): escaped like the fields.
            w.field("text", Self.mrkdwn(subject))
            w.key("blocks")
            w.array { b in
                b.object { h in
                    h.field("type", "header")
                    h.field("text") { t in
                        t.field("type", "plain_text")
                        t.field("text", String("\(a.severity.rawValue): \(a.type.rawValue) on \(entity)".prefix(150)))
                    }
                }
                b.object { s in
                    s.field("type", "section")
                    s.key("fields")
                    s.array { f in
                        for (label, value) in [("Severity", a.severity.rawValue), ("Entity", entity), ("Window", window),
                                               ("Cost vs expected", cost)] {
                            f.object { m in
                                m.field("type", "mrkdwn")
                                m.field("text", "*\(label)*\n" + Self.mrkdwn(value))
                            }
                        }
                    }
                }
                if !drivers.isEmpty {
                    b.object { s in
                        s.field("type", "section")
                        s.field("text") { t in
                            t.field("type", "mrkdwn")
                            t.field("text", "*Drivers*\n" + drivers.map { "• " + Self.mrkdwn($0) }.joined(separator: "\n"))
                        }
                    }
                }
                b.object { s in
                    s.field("type", "actions")
                    s.key("elements")
                    s.array { e in
                        e.object { button in
                            button.field("type", "button")
                            button.field("text") { t in
                                t.field("type", "plain_text")
                                t.field("text", "Open in the Tally console")
                            }
                            button.field("url", consoleLink)
                        }
                    }
                }
                b.object { c in
                    c.field("type", "context")
                    c.key("elements")
                    c.array { e in
                        e.object { m in
                            m.field("type", "mrkdwn")
                            m.field("text", "anomaly `\(a.id)` · alert `\(alertID)` · detected \(Timestamp.format(a.detectedAt)) · "
                                + "<\(apiLink)|API>")
                        }
                    }
                }
            }
        }
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// The email's plain-text body (LF line ends; the SMTP sender makes them CRLF and encodes the text).
    var emailText: String {
        var lines = isTest ? ["This is a test message of alert channel \"\(channel.name)\"; its figures are made up.", ""] : []
        lines += [
            "\(a.severity.rawValue) \(a.type.rawValue) on \(entity)",
            "",
            "Severity:  \(a.severity.rawValue)",
            "Entity:    \(entity)",
            "Window:    \(window)",
            "Cost:      \(cost)",
        ]
        if !drivers.isEmpty { lines.append("Drivers:   " + drivers.joined(separator: "; ")) }
        lines += [
            "Anomaly:   \(a.id), detected \(Timestamp.format(a.detectedAt))",
            "Console:   \(consoleLink)",
            "API:       \(apiLink)",
            "",
            "Channel \"\(channel.name)\" alerts on \(channel.minSeverity.rawValue) and above, once per anomaly episode",
            "(again only if its severity rises). Alert \(alertID).",
        ]
        return lines.map(Self.oneLine).joined(separator: "\n") + "\n"
    }

    /// `$12.34` (or `-$12.34`, `+$12.34` when `signed`), rounded half away from zero to the cent.
    static func dollars(_ nanos: Int64, signed: Bool = false) -> String {
        let magnitude = nanos.magnitude
        let cents = (magnitude + UInt64(Money.nanosPerCent / 2)) / UInt64(Money.nanosPerCent)
        let frac = cents % 100
        let sign = nanos < 0 && cents > 0 ? "-" : (signed ? "+" : "")
        return "\(sign)$\(cents / 100).\(frac < 10 ? "0" : "")\(frac)"
    }

    static func oneDecimal(_ v: Double) -> String {
        let tenths = (v * 10).rounded()
        let whole = Int64(tenths) / 10, frac = abs(Int64(tenths) % 10)
        return (tenths < 0 && whole == 0 ? "-" : "") + "\(whole).\(frac)"
    }

    /// Control characters (CR, LF, tabs: a header line or a Slack field must stay one line) as spaces.
    static func oneLine(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : $0 }))
    }

    /// Slack mrkdwn escapes: `&`, `<` and `>` (so a feature named `<!channel>` pings nobody).
    static func mrkdwn(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            default: out.append(ch)
            }
        }
        return out
    }

    static func trimmedBase(_ url: String) -> String {
        var base = Substring(url)
        while base.hasSuffix("/") { base = base.dropLast() }
        return String(base)
    }

    /// A test message's anomaly: plainly marked as a test, on the channel's tenant.
    static func testAnomaly(tenant: String, now: Int64) -> Anomaly {
        let day = now - now % TimeUnit.dayMillis
        return Anomaly(id: "anm_test", tenant: tenant, type: .absoluteSpike, severity: .high, entity: .tenant, budgetID: "",
                       firstDay: day, lastDay: day, expectedNanos: 100 * Money.nanosPerCent * 100,
                       actualNanos: 250 * Money.nanosPerCent * 100, drivers: [], status: .open, resolvedAt: nil, resolvedBy: nil,
                       incidentID: nil, detectedAt: now, updatedAt: now)
    }
}
