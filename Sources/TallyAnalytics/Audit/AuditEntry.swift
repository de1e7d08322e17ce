/// One change in the audit log: who changed which entity, when, and the entity before and after (JSON).
public struct AuditEntry: Sendable, Equatable {
    /// Position in the log: increases with every entry (the paging cursor).
    public var id: Int64
    /// When the change was made, ms UTC.
    public var at: Int64
    /// The key id that made it, or `cli` for `tally keys`.
    public var actor: String
    /// The tenant of the entity; nil for entities of no tenant (admin keys).
    public var tenant: String?
    /// `create`, `update`, `delete`, `revoke`, ...
    public var action: String
    /// `budget`, `feature_tag`, `api_key`, ...
    public var entityType: String
    public var entityID: String
    /// The entity before the change, as a JSON object; nil on creation.
    public var before: String?
    /// The entity after the change, as a JSON object; nil on deletion.
    public var after: String?

    /// An entry (catalogs read them back with this).
    package init(id: Int64, at: Int64, actor: String, tenant: String?, action: String, entityType: String, entityID: String,
                 before: String?, after: String?) {
        self.id = id
        self.at = at
        self.actor = actor
        self.tenant = tenant
        self.action = action
        self.entityType = entityType
        self.entityID = entityID
        self.before = before
        self.after = after
    }
}

/// Which audit entries to list: newest first, optionally narrowed; `beforeID` continues a page.
public struct AuditFilter: Sendable, Equatable {
    /// Only this tenant's entries; nil for every entry (admin keys only).
    public var tenant: String?
    /// Inclusive start, ms UTC.
    public var from: Int64?
    /// Exclusive end, ms UTC.
    public var to: Int64?
    public var entityType: String?
    public var entityID: String?
    public var action: String?
    /// Only entries older than this id (the previous page's `next_cursor`).
    public var beforeID: Int64?
    /// Most entries returned.
    public var limit: Int

    /// A filter.
    public init(tenant: String? = nil, from: Int64? = nil, to: Int64? = nil, entityType: String? = nil, entityID: String? = nil,
                action: String? = nil, beforeID: Int64? = nil, limit: Int = 100) {
        self.tenant = tenant
        self.from = from
        self.to = to
        self.entityType = entityType
        self.entityID = entityID
        self.action = action
        self.beforeID = beforeID
        self.limit = limit
    }
}
