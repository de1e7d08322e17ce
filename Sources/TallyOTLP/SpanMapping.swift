import Foundation

/// Which span and resource attributes fill which field of a cost record: the deployment's mapping of OpenTelemetry
/// GenAI spans to Tally's data contract (`tally serve --otlp-mapping FILE`; `SpanMapping.standard` otherwise).
///
/// Each field lists attribute keys in order of preference; the first key present wins. A key is looked up in the
/// span's attributes first, then in its resource's (so `tally.feature_tag` set on the resource still beats
/// `service.name`). A field none of whose keys is present takes the data contract's default (`project_id`
/// `default`, `environment` `prod`, `feature_tag` `untagged`, the others empty).
public struct SpanMapping: Sendable, Equatable {
    /// The record fields a mapping can fill from attributes, by their data-contract names.
    public enum Field: String, CaseIterable, Sendable {
        case tenantID = "tenant_id"
        case projectID = "project_id"
        case environment
        case userID = "user_id"
        case featureTag = "feature_tag"
        case workflowID = "workflow_id"
        case skillID = "skill_id"
        case model
        case inputTokens = "input_tokens"
        case outputTokens = "output_tokens"
        /// An exact cost in cents carried by the span (a decimal string or a number).
        case costCents = "cost_cents"
        /// A cost in US dollars carried by the span (a number), converted to cents.
        case costUSD = "cost_usd"
    }

    /// Attribute keys per field, in order of preference.
    public private(set) var keys: [Field: [String]]
    /// Values of `gen_ai.operation.name` whose spans are ignored even though they are GenAI spans: they wrap
    /// model calls (an agent run, a tool call) and would count the calls' tokens twice.
    public var skippedOperations: Set<String>
    /// Span attributes that make a span a GenAI span (any one of them, besides the model and token keys).
    public var markers: [String]

    /// The keys of `field`.
    public func keys(for field: Field) -> [String] { keys[field] ?? [] }

    /// Replaces the keys of `field`.
    public mutating func setKeys(_ list: [String], for field: Field) { keys[field] = list }

    /// The default mapping, documented in docs/API.md ("OpenTelemetry traces").
    public static let standard = SpanMapping(
        keys: [
            .tenantID: ["tally.tenant_id"],
            .projectID: ["tally.project_id"],
            .environment: ["tally.environment", "deployment.environment.name", "deployment.environment"],
            .userID: ["tally.user_id", "user.id", "enduser.id"],
            .featureTag: ["tally.feature_tag", "service.name"],
            .workflowID: ["tally.workflow_id"],
            .skillID: ["tally.skill_id"],
            .model: ["gen_ai.response.model", "gen_ai.request.model"],
            .inputTokens: ["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"],
            .outputTokens: ["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"],
            .costCents: ["tally.cost_cents"],
            .costUSD: ["gen_ai.usage.cost"],
        ],
        skippedOperations: ["invoke_agent", "create_agent", "execute_tool"],
        markers: ["gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system"])

    init(keys: [Field: [String]], skippedOperations: Set<String>, markers: [String]) {
        self.keys = keys
        self.skippedOperations = skippedOperations
        self.markers = markers
    }

    /// Why a mapping file is refused.
    public struct FileError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The standard mapping changed by a JSON file: an object whose members are field names (`tenant_id`, `project_id`,
    /// `environment`, `user_id`, `feature_tag`, `workflow_id`, `skill_id`, `model`, `input_tokens`,
    /// `output_tokens`, `cost_cents`, `cost_usd`) with arrays of attribute keys, `skip_operations` (an array of
    /// `gen_ai.operation.name` values) and `genai_markers` (an array of span attribute keys). Members left out keep
    /// the standard value; an unknown member is an error, so a misspelt field is not silently ignored.
    public init(json bytes: [UInt8]) throws {
        self = .standard
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: Data(bytes)) } catch {
            throw FileError(description: "the mapping is not valid JSON")
        }
        guard let members = object as? [String: Any] else {
            throw FileError(description: "the mapping must be a JSON object of field names to arrays of attribute keys")
        }
        for (name, value) in members.sorted(by: { $0.key < $1.key }) {
            guard let list = value as? [String], list.allSatisfy({ !$0.isEmpty }) else {
                throw FileError(description: "\(name): must be an array of non-empty strings")
            }
            switch name {
            case "skip_operations": skippedOperations = Set(list)
            case "genai_markers": markers = list
            default:
                guard let field = Field(rawValue: name) else {
                    let known = Field.allCases.map(\.rawValue) + ["skip_operations", "genai_markers"]
                    throw FileError(description: "\(name): unknown member (known: \(known.joined(separator: ", ")))")
                }
                keys[field] = list
            }
        }
    }
}
