import TallyText

/// A registered feature tag of a tenant: the `feature_tag` value its records carry, what it is and who owns it.
///
/// Registration is documentation, not a gate: records with unregistered tags are stored like any other and the
/// registry lists them as unregistered.
public struct FeatureTag: Sendable, Equatable {
    /// Public id, e.g. `ftg_3f9a0c1d2e4b`.
    public var id: String
    public var tenant: String
    /// The `feature_tag` value (unique per tenant).
    public var tag: String
    public var description: String
    /// Who owns it: a team, a person, an address.
    public var owner: String
    /// Creation time, ms UTC.
    public var createdAt: Int64
    /// Last change, ms UTC.
    public var updatedAt: Int64
    /// The key that registered it.
    public var createdBy: String

    /// A tag.
    public init(id: String, tenant: String, tag: String, description: String, owner: String, createdAt: Int64, updatedAt: Int64,
                createdBy: String) {
        self.id = id
        self.tenant = tenant
        self.tag = tag
        self.description = description
        self.owner = owner
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.createdBy = createdBy
    }
}

/// A new tag as a client sends it: raw values, checked by `Analytics.registerFeatureTag`.
public struct FeatureTagDraft: Sendable {
    /// The tenant (admin keys must name it).
    public var tenantID: String?
    public var tag: String?
    public var description: String?
    public var owner: String?

    /// A draft.
    public init(tenantID: String? = nil, tag: String? = nil, description: String? = nil, owner: String? = nil) {
        self.tenantID = tenantID
        self.tag = tag
        self.description = description
        self.owner = owner
    }
}

/// A change to a tag: its description and owner may change; the tag itself may not.
public struct FeatureTagPatch: Sendable {
    public var description: String?
    public var owner: String?

    /// A patch.
    public init(description: String? = nil, owner: String? = nil) {
        self.description = description
        self.owner = owner
    }
}

extension FeatureTag {
    /// Longest description, bytes.
    public static let maxDescriptionBytes = 1_024
    /// Longest owner, bytes.
    public static let maxOwnerBytes = 256

    /// Throws unless `text` is 1 to `maxBytes` bytes without control characters (tabs and newlines allowed when
    /// `multiline`); the error names `field`.
    static func checkText(_ text: String, field: String, maxBytes: Int, multiline: Bool = false) throws(AnalyticsError) {
        let bytes = text.utf8
        let badControl = bytes.contains { c in
            (c < 0x20 || c == 0x7F) && !(multiline && (c == 0x09 || c == 0x0A))
        }
        guard !bytes.isEmpty, bytes.count <= maxBytes, !badControl,
              bytes.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A }) else {
            throw .invalidParameter(name: field, reason: "must be 1 to \(maxBytes) bytes of text, not blank"
                                    + (multiline ? ", without control characters other than tabs and newlines" : ", without control characters"))
        }
    }
}
