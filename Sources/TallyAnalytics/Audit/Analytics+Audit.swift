import TallyQuery
import TallyStore
import TallyText

/// An audit question: the entries of a window, narrowed by entity and action, one page at a time.
public struct AuditRequest: Sendable {
    /// The tenant named by `tenant_id`, if any (an admin key without one reads every entry).
    public var tenantID: String?
    /// Inclusive start, ms UTC.
    public var from: Int64?
    /// Exclusive end, ms UTC.
    public var to: Int64?
    /// `budget`, `feature_tag`, `api_key`, ...
    public var entityType: String?
    public var entityID: String?
    /// `create`, `update`, `delete`, `revoke`, ...
    public var action: String?
    /// Most entries in the page (default 100).
    public var limit: Int?
    /// The `next_cursor` of the previous page.
    public var cursor: String?

    /// A request.
    public init(tenantID: String? = nil, from: Int64? = nil, to: Int64? = nil, entityType: String? = nil, entityID: String? = nil,
                action: String? = nil, limit: Int? = nil, cursor: String? = nil) {
        self.tenantID = tenantID
        self.from = from
        self.to = to
        self.entityType = entityType
        self.entityID = entityID
        self.action = action
        self.limit = limit
        self.cursor = cursor
    }
}

/// `{ scope, entries, next_cursor, generated_at }`: one page of the audit log, newest first.
public struct AuditPage: Sendable {
    public var tenantID: String?
    public var entries: [AuditEntry]
    /// Pass as `cursor` for the next (older) page; nil on the last page.
    public var nextCursor: String?
    public var generatedAt: Int64
}

extension AuditRequest {
    /// Entries per page when `limit` is not given.
    public static let defaultLimit = 100
}

extension Analytics {
    /// A page of the audit log. Reader keys read their tenant's entries; an admin key reads one tenant's
    /// (`tenant_id`) or every entry, including those of no tenant (admin keys). Writer keys may not read it.
    public func audit(_ request: AuditRequest, principal: Principal) async throws -> AuditPage {
        let tenants = try AccessPolicy.check(.readAudit, principal, tenants: request.tenantID)
        let limit = request.limit ?? AuditRequest.defaultLimit
        guard limit >= 1 && limit <= options.maxLimit else {
            throw AnalyticsError.invalidParameter(name: "limit", reason: "must be between 1 and \(options.maxLimit)")
        }
        if let from = request.from, let to = request.to, from >= to {
            throw AnalyticsError.invalidParameter(name: "from", reason: "must be before to (\(rfc3339(from)) >= \(rfc3339(to)))")
        }
        for (name, value) in [("entity_type", request.entityType), ("entity_id", request.entityID), ("action", request.action)] {
            if let value { try Budget.checkSubject(value, field: name) }
        }
        var beforeID: Int64?
        if let cursor = request.cursor {
            guard let id = Int64(cursor), id > 0 else {
                throw AnalyticsError.invalidParameter(name: "cursor", reason: "must be the next_cursor of a previous page")
            }
            beforeID = id
        }
        let filter = AuditFilter(tenant: tenants.scopeTenant, from: request.from, to: request.to, entityType: request.entityType,
                                 entityID: request.entityID, action: request.action, beforeID: beforeID, limit: limit + 1)
        let now = self.now
        return try await blocking { [self] in
            var entries = try catalog.auditEntries(filter)
            var next: String?
            if entries.count > limit {
                entries.removeLast(entries.count - limit)
                next = entries.last.map { String($0.id) }
            }
            return AuditPage(tenantID: tenants.scopeTenant, entries: entries, nextCursor: next, generatedAt: now)
        }
    }
}
