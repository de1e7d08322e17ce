import TallyQuery
import TallyStore
import TallyText

/// A registered tag with its spend in a window.
public struct FeatureTagView: Sendable {
    public var tag: FeatureTag
    /// What the tenant's records with this tag add up to in the window.
    public var spend: Totals
}

/// A tag seen in the records of the window but not registered.
public struct UnregisteredTag: Sendable {
    public var tag: String
    public var spend: Totals
}

/// `{ feature_tag, window, provenance }`: one registered tag (`GET`, `POST`, `PATCH feature-tags`).
public struct FeatureTagAnswer: Sendable {
    public var view: FeatureTagView
    public var window: Window
    public var provenance: Provenance
}

/// `{ scope, window, tags, unregistered, provenance }`: a tenant's registered tags with their spend, and the tags its
/// records carry in the window that nobody registered.
public struct FeatureTagList: Sendable {
    public var tenant: String
    public var window: Window
    /// Registered tags, by tag.
    public var tags: [FeatureTagView]
    /// Tags seen in the window's records without a registration, by cost descending.
    public var unregistered: [UnregisteredTag]
    public var provenance: Provenance
}

extension Analytics {
    /// Registers a feature tag of a tenant (admin keys, like budgets: see `AccessPolicy`). Every invalid field is named.
    public func registerFeatureTag(_ draft: FeatureTagDraft, principal: Principal) async throws -> FeatureTagAnswer {
        let tenant = try AccessPolicy.check(.changeFeatureTags, principal, tenant: draft.tenantID)
        guard let tag = draft.tag else { throw AnalyticsError.invalidParameter(name: "tag", reason: "is required: the feature_tag value records carry") }
        try Budget.checkSubject(tag, field: "tag")
        guard let description = draft.description else { throw AnalyticsError.invalidParameter(name: "description", reason: "is required") }
        try FeatureTag.checkText(description, field: "description", maxBytes: FeatureTag.maxDescriptionBytes, multiline: true)
        guard let owner = draft.owner else { throw AnalyticsError.invalidParameter(name: "owner", reason: "is required: a team, person or address") }
        try FeatureTag.checkText(owner, field: "owner", maxBytes: FeatureTag.maxOwnerBytes)
        let now = self.now
        let registered = FeatureTag(id: "ftg_" + hex(randomBytes(6)), tenant: tenant, tag: tag, description: description, owner: owner,
                                    createdAt: now, updatedAt: now, createdBy: principal.keyID)
        try await blocking { [self] in try catalog.insertFeatureTag(registered, actor: principal.keyID) }
        return try await tagAnswer(registered, window: Window(from: now - CostRequest.defaultSpanMillis, to: now), now: now)
    }

    /// The registered tags of a tenant with their spend in the window (default: the last 30 days), and the
    /// unregistered tags its records carry there. Reader keys read their tenant's; admin keys name `tenant_id`.
    public func featureTags(tenantID: String?, from: Int64?, to: Int64?, principal: Principal) async throws -> FeatureTagList {
        let tenant = try AccessPolicy.check(.readFeatureTags, principal, tenant: tenantID)
        let now = self.now
        let window = try costWindow(CostRequest(from: from, to: to), now: now)
        let tags = try await blocking { [catalog] in try catalog.featureTags(tenant: tenant) }
        var run = try await QueryRun(records, useRollups: options.useRollups)
        var spendOf = try await spendByTag(&run, tenant: tenant, window: window, only: nil)
        let views = tags.map { t in FeatureTagView(tag: t, spend: spendOf.removeValue(forKey: t.tag) ?? Totals()) }
        let unregistered = spendOf.map { UnregisteredTag(tag: $0.key, spend: $0.value) }.sorted {
            $0.spend.costNanos != $1.spend.costNanos ? $0.spend.costNanos > $1.spend.costNanos : $0.tag < $1.tag
        }
        return FeatureTagList(
            tenant: tenant, window: window, tags: views, unregistered: unregistered,
            provenance: run.provenance(
                window: window,
                aggregation: "sums by feature_tag over the window (one grouped query); registered tags from the catalog, "
                    + "every other tag seen in the records listed as unregistered",
                now: now))
    }

    /// The registered tag `id` with its spend in the window (default: the last 30 days).
    public func featureTag(id: String, from: Int64?, to: Int64?, principal: Principal) async throws -> FeatureTagAnswer {
        try AccessPolicy.check(.readFeatureTags, principal)
        let now = self.now
        let window = try costWindow(CostRequest(from: from, to: to), now: now)
        let tag = try await blocking { [self] in try reachableTag(id: id, principal: principal) }
        return try await tagAnswer(tag, window: window, now: now)
    }

    /// Changes the description or owner of the registered tag `id` (admin keys).
    public func updateFeatureTag(id: String, _ patch: FeatureTagPatch, principal: Principal) async throws -> FeatureTagAnswer {
        try AccessPolicy.check(.changeFeatureTags, principal)
        if let d = patch.description {
            try FeatureTag.checkText(d, field: "description", maxBytes: FeatureTag.maxDescriptionBytes, multiline: true)
        }
        if let o = patch.owner { try FeatureTag.checkText(o, field: "owner", maxBytes: FeatureTag.maxOwnerBytes) }
        let now = self.now
        let changed = try await blocking { [self] in
            _ = try reachableTag(id: id, principal: principal)
            guard let changed = try catalog.updateFeatureTag(id: id, patch, at: now, actor: principal.keyID) else {
                throw AnalyticsError.notFound(reason: "no feature tag \(id)")
            }
            return changed
        }
        return try await tagAnswer(changed, window: Window(from: now - CostRequest.defaultSpanMillis, to: now), now: now)
    }

    /// Deletes the registration `id` (admin keys); the records keep their tag, which then lists as unregistered.
    public func deleteFeatureTag(id: String, principal: Principal) async throws {
        try AccessPolicy.check(.changeFeatureTags, principal)
        let now = self.now
        try await blocking { [self] in
            _ = try reachableTag(id: id, principal: principal)
            guard try catalog.deleteFeatureTag(id: id, at: now, actor: principal.keyID) else {
                throw AnalyticsError.notFound(reason: "no feature tag \(id)")
            }
        }
    }

    /// The tag `id` if `principal` reaches its tenant (another tenant's is "not found").
    func reachableTag(id: String, principal: Principal) throws -> FeatureTag {
        guard let tag = try catalog.featureTag(id: id), AccessPolicy.reaches(principal, tenant: tag.tenant) else {
            throw AnalyticsError.notFound(reason: "no feature tag \(id)")
        }
        return tag
    }

    func tagAnswer(_ tag: FeatureTag, window: Window, now: Int64) async throws -> FeatureTagAnswer {
        var run = try await QueryRun(records, useRollups: options.useRollups)
        let spend = try await spendByTag(&run, tenant: tag.tenant, window: window, only: tag.tag)[tag.tag] ?? Totals()
        return FeatureTagAnswer(
            view: FeatureTagView(tag: tag, spend: spend), window: window,
            provenance: run.provenance(window: window, aggregation: "sums of the tenant's records with this feature_tag in the window",
                                       now: now))
    }

    /// Totals per feature tag of `tenant`'s records in `window` (only `only`'s when given): one grouped query.
    func spendByTag(_ run: inout QueryRun, tenant: String, window: Window, only: String?) async throws -> [String: Totals] {
        let result = try await run.run(try Self.query(
            tenants: .one(tenant), from: window.from, to: window.to, filters: only.map { [.feature: [$0]] } ?? [:],
            groupBy: [.dimension(.feature)], order: .key, useRollups: options.useRollups))
        var totals: [String: Totals] = [:]
        for row in 0..<result.rowCount { totals[result.keyColumns[0][row]] = Totals(result, row: row) }
        return totals
    }
}
