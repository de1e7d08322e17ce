import Foundation
import TallyText

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
                line += "\"\(name)\":" + JSONWriter.literal(value)
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

    /// A decimal as plain digits (no exponent), as the server's `cost_cents` wants it.
    static func plain(_ d: Decimal) -> String {
        var value = d
        return NSDecimalString(&value, Locale(identifier: "en_US_POSIX"))
    }

    /// RFC 3339 UTC with milliseconds (the store's precision): `2025-05-01T12:00:00.123Z`.
    static func timestamp(_ date: Date) -> String {
        Timestamp.format(Int64((date.timeIntervalSince1970 * 1000).rounded(.down)))
    }
}
