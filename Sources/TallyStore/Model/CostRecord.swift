/// One LLM call and what it cost: the data contract of DESIGN.md section 2, in memory.
///
/// Money is exact: `costNanos` counts nano-dollars (1e-7 cent), so `cost_cents = costNanos / 10_000_000`.
public struct CostRecord: Sendable, Hashable {
    public var tenantID: String
    public var projectID: String
    public var environment: String
    public var userID: String
    public var featureTag: String
    public var requestID: String
    public var workflowID: String
    public var skillID: String
    public var model: String
    public var inputTokens: Int64
    public var outputTokens: Int64
    /// Cost in nano-dollars (1e-7 cent); never a float.
    public var costNanos: Int64
    /// Milliseconds since the Unix epoch, UTC.
    public var createdAtMillis: Int64

    /// Creates a record; defaults follow the data contract.
    public init(
        tenantID: String,
        projectID: String = "default",
        environment: String = "prod",
        userID: String = "",
        featureTag: String = "untagged",
        requestID: String,
        workflowID: String = "",
        skillID: String = "",
        model: String,
        inputTokens: Int64,
        outputTokens: Int64,
        costNanos: Int64,
        createdAtMillis: Int64
    ) {
        self.tenantID = tenantID
        self.projectID = projectID
        self.environment = environment
        self.userID = userID
        self.featureTag = featureTag
        self.requestID = requestID
        self.workflowID = workflowID
        self.skillID = skillID
        self.model = model
        self.inputTokens = inputTokens
        self.outputTokens = outputTokens
        self.costNanos = costNanos
        self.createdAtMillis = createdAtMillis
    }

    /// The value of a string dimension.
    public subscript(dimension: Dimension) -> String {
        get {
            switch dimension {
            case .project: projectID
            case .environment: environment
            case .user: userID
            case .feature: featureTag
            case .workflow: workflowID
            case .skill: skillID
            case .model: model
            }
        }
        set {
            switch dimension {
            case .project: projectID = newValue
            case .environment: environment = newValue
            case .user: userID = newValue
            case .feature: featureTag = newValue
            case .workflow: workflowID = newValue
            case .skill: skillID = newValue
            case .model: model = newValue
            }
        }
    }
}

/// The dictionary-encoded string dimensions of a record, in on-disk column order.
///
/// `tenant_id` is not among them: it is the partition key, held once per part.
public enum Dimension: Int, CaseIterable, Sendable, Hashable, Comparable {
    case project = 0
    case environment
    case user
    case feature
    case workflow
    case skill
    case model

    /// The field name of the data contract (CSV header, JSON key).
    public var fieldName: String {
        switch self {
        case .project: "project_id"
        case .environment: "environment"
        case .user: "user_id"
        case .feature: "feature_tag"
        case .workflow: "workflow_id"
        case .skill: "skill_id"
        case .model: "model"
        }
    }

    /// The value used when a record leaves the field out.
    public var defaultValue: String {
        switch self {
        case .project: "default"
        case .environment: "prod"
        case .feature: "untagged"
        case .user, .workflow, .skill, .model: ""
        }
    }

    public static func < (lhs: Dimension, rhs: Dimension) -> Bool { lhs.rawValue < rhs.rawValue }
}
