/// What parsing produced: the valid records and one error per bad record (or per bad field).
public struct ParseOutcome: Sendable {
    /// The records that passed validation, with their source lines.
    public var batch: RecordBatch
    /// The problems found, sorted by line.
    public var errors: [RecordError]

    /// Creates an outcome.
    public init(batch: RecordBatch = RecordBatch(), errors: [RecordError] = []) {
        self.batch = batch
        self.errors = errors
    }
}
