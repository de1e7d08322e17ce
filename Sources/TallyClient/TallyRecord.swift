import Foundation

/// One cost record, as `POST /api/v1/analytics/records` takes it (README, "The cost record"): the fields the server
/// defaults (`project_id`, `environment`, `feature_tag`) are left out when nil, so the server's defaults apply.
public struct TallyRecord: Sendable, Hashable {
    /// The tenant; nil takes the client's `Configuration.tenantID`. A tenant key's records must name its tenant.
    public var tenantID: String?
    /// The idempotency key within the tenant: a record sent again with the same id is stored once. A fresh UUID by
    /// default.
    public var requestID: String
    public var model: String
    public var inputTokens: Int
    public var outputTokens: Int
    /// Exact cents (at most 7 decimals); nil: the server prices the record from its price table.
    public var costCents: Decimal?
    public var createdAt: Date
    public var projectID: String?
    public var environment: String?
    public var featureTag: String?
    public var userID: String?
    public var workflowID: String?
    public var skillID: String?

    public init(
        model: String, inputTokens: Int, outputTokens: Int, costCents: Decimal? = nil,
        featureTag: String? = nil, userID: String? = nil, projectID: String? = nil, environment: String? = nil,
        workflowID: String? = nil, skillID: String? = nil, tenantID: String? = nil,
        requestID: String = UUID().uuidString.lowercased(), createdAt: Date = Date()
    ) {
        self.tenantID = tenantID
        self.requestID = requestID
        self.model = model
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costCents = costCents
        self.createdAt = createdAt
        self.projectID = projectID
        self.environment = environment
        self.featureTag = featureTag
        self.userID = userID
        self.workflowID = workflowID
        self.skillID = skillID
    }
}

/// NDJSON lines of records: one JSON object a line, the members in the README's order.
enum NDJSON {
    static func encode(_ records: [TallyRecord], defaultTenant: String?) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(records.count * 200)
        for r in records {
            var line = "{"
            var first = true
            func field(_ name: String, _ value: String?) {
                guard let value else { return }
                if !first { line += "," }
                first = false
                line += "\"\(name)\":" + quoted(value)
            }
            func number(_ name: String, _ value: String) {
                if !first { line += "," }
                first = false
                line += "\"\(name)\":" + value
            }
            field("tenant_id", r.tenantID ?? defaultTenant)
            field("project_id", r.projectID)
            field("environment", r.environment)
            field("feature_tag", r.featureTag)
            field("user_id", r.userID)
            field("workflow_id", r.workflowID)
            field("skill_id", r.skillID)
            field("request_id", r.requestID)
            field("model", r.model)
            number("input_tokens", String(r.inputTokens))
            number("output_tokens", String(r.outputTokens))
            if let cost = r.costCents { field("cost_cents", plain(cost)) }
            field("created_at", timestamp(r.createdAt))
            line += "}\n"
            out.append(contentsOf: line.utf8)
        }
        return out
    }

    /// A JSON string literal.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }

    /// A decimal as plain digits (no exponent), as the server's `cost_cents` wants it.
    static func plain(_ d: Decimal) -> String {
        var value = d
        return NSDecimalString(&value, Locale(identifier: "en_US_POSIX"))
    }

    /// RFC 3339 UTC with milliseconds (the store's precision): `2025-05-01T12:00:00.123Z`.
    static func timestamp(_ date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var days = millis >= 0 ? millis / 86_400_000 : (millis - 86_399_999) / 86_400_000
        let ms = millis - days * 86_400_000
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let doe = days - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ v: Int64, _ n: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, n - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(ms / 3_600_000, 2)):\(pad(ms / 60_000 % 60, 2)):"
            + "\(pad(ms / 1000 % 60, 2)).\(pad(ms % 1000, 3))Z"
    }
}
