/// The fields of the cost record contract, in the order of DESIGN.md section 2 (and of gen.py's header).
enum RecordField: Int, CaseIterable, Sendable {
    case tenantID = 0
    case projectID
    case environment
    case userID
    case featureTag
    case requestID
    case workflowID
    case skillID
    case model
    case inputTokens
    case outputTokens
    case costCents
    case createdAt

    /// Number of contract fields.
    static let count = 13

    /// The name used as CSV header and JSON key.
    var name: String {
        switch self {
        case .tenantID: "tenant_id"
        case .projectID: "project_id"
        case .environment: "environment"
        case .userID: "user_id"
        case .featureTag: "feature_tag"
        case .requestID: "request_id"
        case .workflowID: "workflow_id"
        case .skillID: "skill_id"
        case .model: "model"
        case .inputTokens: "input_tokens"
        case .outputTokens: "output_tokens"
        case .costCents: "cost_cents"
        case .createdAt: "created_at"
        }
    }

    /// Fields a record must carry (`cost_cents` is required only when it cannot be priced).
    var isRequired: Bool {
        switch self {
        case .tenantID, .requestID, .model, .createdAt: true
        default: false
        }
    }

    /// The field named by `bytes`, compared as whole 4- or 8-byte words (every name is 5-13 bytes long).
    @inline(__always)
    static func match(_ bytes: UnsafeRawBufferPointer) -> RecordField? {
        let n = bytes.count
        guard n >= 5, n <= 13, let p = bytes.baseAddress else { return nil }
        if n < 8 {
            let head = UInt32(littleEndian: p.loadUnaligned(as: UInt32.self))
            let tail = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))
            switch (n, head, tail) {
            case (5, 0x6564_6F6D, 0x6C65_646F): return .model
            case (7, 0x7265_7375, 0x6469_5F72): return .userID
            default: return nil
            }
        }
        let head = UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
        let tail = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self))
        switch n {
        case 8:
            return head == 0x6469_5F6C_6C69_6B73 ? .skillID : nil
        case 9:
            return head == 0x695F_746E_616E_6574 && tail == 0x6469_5F74_6E61_6E65 ? .tenantID : nil
        case 10:
            switch (head, tail) {
            case (0x5F74_6365_6A6F_7270, 0x6469_5F74_6365_6A6F): return .projectID
            case (0x5F74_7365_7571_6572, 0x6469_5F74_7365_7571): return .requestID
            case (0x6E65_635F_7473_6F63, 0x7374_6E65_635F_7473): return .costCents
            case (0x5F64_6574_6165_7263, 0x7461_5F64_6574_6165): return .createdAt
            default: return nil
            }
        case 11:
            switch (head, tail) {
            case (0x6D6E_6F72_6976_6E65, 0x746E_656D_6E6F_7269): return .environment
            case (0x5F65_7275_7461_6566, 0x6761_745F_6572_7574): return .featureTag
            case (0x776F_6C66_6B72_6F77, 0x6469_5F77_6F6C_666B): return .workflowID
            default: return nil
            }
        case 12:
            return head == 0x6F74_5F74_7570_6E69 && tail == 0x736E_656B_6F74_5F74 ? .inputTokens : nil
        case 13:
            return head == 0x745F_7475_7074_756F && tail == 0x736E_656B_6F74_5F74 ? .outputTokens : nil
        default:
            return nil
        }
    }

    /// The field named by a Swift string.
    static func match(_ name: String) -> RecordField? {
        var s = name
        return s.withUTF8 { match(UnsafeRawBufferPointer($0)) }
    }
}

/// One field value as a tokenizer found it. The bytes are lent: valid only while the record is built.
struct FieldValue {
    /// What kind of token held the value.
    enum Kind: UInt8 {
        /// Not present, JSON `null`, or an empty CSV field.
        case absent
        /// CSV text: may stand for a string or a number.
        case text
        /// A JSON string (escapes already decoded).
        case string
        /// A JSON number, as its source text.
        case number
        /// JSON `true` or `false`.
        case bool
    }

    var base: UnsafeRawPointer?
    var count: Int
    var kind: Kind

    static var absent: FieldValue { FieldValue(base: nil, count: 0, kind: .absent) }

    @inline(__always)
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}
