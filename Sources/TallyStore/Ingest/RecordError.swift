/// Why one record of an input was rejected: where it is and which field is wrong.
///
/// The reason names the rule that failed and never quotes the offending value, so errors can be logged
/// and returned to a writer without leaking record payloads.
public struct RecordError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 1-based line in the input where the record (or the problem) is.
    public var line: Int
    /// The data-contract field name, e.g. `input_tokens`; nil for problems of the whole record.
    public var field: String?
    /// Human text, e.g. `must be an integer >= 0`.
    public var reason: String

    /// Creates an error.
    public init(line: Int, field: String?, reason: String) {
        self.line = line
        self.field = field
        self.reason = reason
    }

    public var description: String {
        if let field { return "line \(line): \(field) \(reason)" }
        return "line \(line): \(reason)"
    }
}
