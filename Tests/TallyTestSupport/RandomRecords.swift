import TallyStore
import TallySynthetic
import TallyText

/// Seeded random cost records for property tests, with knobs for the awkward cases: late rows,
/// resent request ids and edge values.
///
/// `records(_:)` is a pure function of the seed, the options and the count.
public struct RandomRecords: Sendable {
    /// The knobs.
    public struct Options: Sendable {
        /// Number of tenants (at least 1).
        public var tenants: Int
        /// Distinct users per tenant (an empty user is an edge case, not counted here).
        public var usersPerTenant: Int
        /// How many of the catalog's models records are priced with (the first ones; at least 1; by default all).
        public var models: Int
        /// `created_at` range; records advance through it in order, except late ones.
        public var window: Range<Int64>
        /// Share of records moved back in time by up to `lateBy` (clamped to the window start).
        public var lateFraction: Double
        /// How far back a late record may lie, in milliseconds.
        public var lateBy: Int64
        /// Share of records that re-use the `(tenant_id, request_id)` of an earlier record.
        public var duplicateFraction: Double
        /// Whether a duplicate is an exact copy (a resend) or only shares the key (a conflicting record).
        public var exactDuplicates: Bool
        /// Share of records given one `EdgeCase`; when > 0 the last tenant id has the maximum 64 characters.
        public var edgeFraction: Double
        /// Which edge cases to draw from.
        public var edgeCases: [EdgeCase]
        /// Token count of the `.maxTokens` edge case.
        public var maxTokens: Int64
        /// Length of the strings of the `.longStrings` edge case.
        public var longStringLength: Int

        /// 2025-06-01T00:00:00Z.
        public static let defaultEnd: Int64 = 1_748_736_000_000

        /// Options; by default three tenants over two days, in order, no duplicates or edge values.
        public init(
            tenants: Int = 3,
            usersPerTenant: Int = 20,
            models: Int = .max,
            window: Range<Int64> = (defaultEnd - 2 * 86_400_000)..<defaultEnd,
            lateFraction: Double = 0,
            lateBy: Int64 = 2 * 3_600_000,
            duplicateFraction: Double = 0,
            exactDuplicates: Bool = true,
            edgeFraction: Double = 0,
            edgeCases: [EdgeCase] = EdgeCase.allCases,
            maxTokens: Int64 = Int64(UInt32.max),
            longStringLength: Int = 256
        ) {
            self.tenants = tenants
            self.usersPerTenant = usersPerTenant
            self.models = models
            self.window = window
            self.lateFraction = lateFraction
            self.lateBy = lateBy
            self.duplicateFraction = duplicateFraction
            self.exactDuplicates = exactDuplicates
            self.edgeFraction = edgeFraction
            self.edgeCases = edgeCases
            self.maxTokens = maxTokens
            self.longStringLength = longStringLength
        }
    }

    /// A value at the edge of the data contract, applied to one record.
    public enum EdgeCase: String, Sendable, CaseIterable {
        /// `user_id` empty.
        case emptyUser
        /// `workflow_id` and `skill_id` empty.
        case emptyWorkflowAndSkill
        /// Project, feature, user, workflow and skill of `longStringLength` characters.
        case longStrings
        /// Non-ASCII text: CJK, accents (precomposed and combining), emoji.
        case unicode
        /// Commas, quotes, CR and LF, which CSV must quote.
        case csvSpecials
        /// Backslashes, tabs and control characters, which JSON must escape.
        case jsonSpecials
        /// `maxTokens` input and output tokens.
        case maxTokens
        /// Zero tokens and zero cost.
        case zeroCost
        /// A cost of one nano-dollar (`0.0000001` cents).
        case oneNanoCost
        /// The largest accepted cost, `Money.maxNanos`.
        case maxCost
        /// A `request_id` that is not a UUID.
        case nonUUIDRequestID
    }

    /// The seed.
    public let seed: UInt64
    /// The knobs.
    public let options: Options
    /// The tenant ids records are drawn from.
    public let tenantIDs: [String]

    /// The models (with list prices) records are priced with.
    static let models = SyntheticCatalog.models
    static let features = ["customer_support.chat", "search.answer", "code_gen.autocomplete", "docs.summarize", "agent.tool_call", "untagged"]
    static let environments = ["prod", "prod", "prod", "staging", "dev"]

    /// A generator of records for `seed`.
    public init(seed: UInt64, options: Options = Options()) {
        self.seed = seed
        self.options = options
        let n = max(1, options.tenants)
        var ids = (0..<n).map { "tenant-\($0)" }
        if options.edgeFraction > 0, n >= 2 {
            let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-")
            ids[n - 1] = String((0..<64).map { alphabet[$0 % alphabet.count] })
        }
        tenantIDs = ids
    }

    /// `count` records, in `created_at` order but for late ones.
    public func records(_ count: Int) -> [CostRecord] {
        var rng = Xoshiro256(seed: seed, stream: 7)
        let o = options
        let span = max(1, o.window.upperBound - o.window.lowerBound)
        var out: [CostRecord] = []
        out.reserveCapacity(count)
        for i in 0..<count {
            if i > 0, rng.uniform() < o.duplicateFraction {
                let earlier = out[rng.below(out.count)]
                if o.exactDuplicates {
                    out.append(earlier)
                    continue
                }
                var r = fresh(index: i, count: count, span: span, &rng)
                r.tenantID = earlier.tenantID
                r.requestID = earlier.requestID
                out.append(r)
                continue
            }
            out.append(fresh(index: i, count: count, span: span, &rng))
        }
        return out
    }

    /// `count` records as a batch.
    public func batch(_ count: Int) -> RecordBatch {
        RecordBatch(records(count))
    }

    /// A new record with a unique request id.
    private func fresh(index i: Int, count: Int, span: Int64, _ rng: inout Xoshiro256) -> CostRecord {
        let o = options
        let tenant = rng.below(tenantIDs.count)
        let model = Self.models[rng.below(min(max(1, o.models), Self.models.count))]
        let input = Int64(rng.below(20_000))
        let output = Int64(rng.below(2_000))
        var created = o.window.lowerBound + Int64((Double(i) + rng.uniform()) / Double(max(1, count)) * Double(span))
        created = min(created, o.window.upperBound - 1)
        if rng.uniform() < o.lateFraction {
            created = max(o.window.lowerBound, created - 1 - Int64(rng.below(Int(max(1, o.lateBy)))))
        }
        var uuid = [UInt8](repeating: 0, count: 36)
        let a = rng.next(), b = rng.next()
        uuid.withUnsafeMutableBytes { SyntheticGenerator.formatUUID(a, b, into: $0) }
        var r = CostRecord(
            tenantID: tenantIDs[tenant],
            projectID: rng.below(4) == 0 ? "default" : "project-\(rng.below(3))",
            environment: Self.environments[rng.below(Self.environments.count)],
            userID: "user-\(tenant)-\(rng.below(max(1, o.usersPerTenant)))",
            featureTag: Self.features[rng.below(Self.features.count)],
            requestID: String(decoding: uuid, as: UTF8.self),
            workflowID: rng.below(3) == 0 ? "" : "wf-\(rng.below(10))",
            skillID: rng.below(3) == 0 ? "" : "skill-\(rng.below(10))",
            model: model.name,
            inputTokens: input,
            outputTokens: output,
            costNanos: input * model.inputNanosPerToken + output * model.outputNanosPerToken,
            createdAtMillis: created
        )
        if !o.edgeCases.isEmpty, rng.uniform() < o.edgeFraction {
            apply(o.edgeCases[rng.below(o.edgeCases.count)], to: &r, index: i, &rng)
        }
        return r
    }

    private func apply(_ edge: EdgeCase, to r: inout CostRecord, index: Int, _ rng: inout Xoshiro256) {
        switch edge {
        case .emptyUser:
            r.userID = ""
        case .emptyWorkflowAndSkill:
            r.workflowID = ""
            r.skillID = ""
        case .longStrings:
            let n = max(1, options.longStringLength)
            func long(_ c: Character) -> String { String(repeating: c, count: n - 1) + String(rng.below(10)) }
            r.projectID = long("p")
            r.featureTag = long("f")
            r.userID = long("u")
            r.workflowID = long("w")
            r.skillID = long("s")
        case .unicode:
            let users = ["ユーザー", "Zoë", "Zoe\u{0308}", "🧑‍💻 dev", "Ωμέγα", "用户-\(rng.below(3))"]
            r.userID = users[rng.below(users.count)]
            r.featureTag = "café.résumé"
            r.projectID = "プロジェクト"
        case .csvSpecials:
            r.projectID = "acme, inc."
            r.featureTag = "say \"hi\""
            r.userID = "line1\nline2"
            r.workflowID = "crlf\r\nend"
            r.skillID = "\"quoted\""
        case .jsonSpecials:
            r.projectID = "back\\slash"
            r.featureTag = "tab\there"
            r.userID = "bell\u{07}nul\u{01}"
            r.workflowID = "</script>"
            r.skillID = "\u{1F}unit-separator"
        case .maxTokens:
            r.inputTokens = options.maxTokens
            r.outputTokens = options.maxTokens
            r.costNanos = min(Money.maxNanos, r.costNanos)
        case .zeroCost:
            r.inputTokens = 0
            r.outputTokens = 0
            r.costNanos = 0
        case .oneNanoCost:
            r.costNanos = 1
        case .maxCost:
            r.costNanos = Money.maxNanos
        case .nonUUIDRequestID:
            r.requestID = rng.below(2) == 0 ? "req-\(index)" : "batch/\(index)/" + String(repeating: "x", count: 100)
        }
    }
}
