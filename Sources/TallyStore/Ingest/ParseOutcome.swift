/// What parsing produced: the valid records, the first errors (one per bad record or per bad field) and
/// how many there were in all.
public struct ParseOutcome: Sendable {
    /// The records that passed validation, with their source lines.
    public var batch: RecordBatch
    /// The first problems found by line, sorted by line: at most `IngestLimits.maxKeptErrors`.
    public var errors: [RecordError]
    /// How many problems were found in all (`errors` holds the first of them).
    public var errorCount: Int
    /// How many records (rows, lines, array elements) had a problem.
    public var rejectedRecords: Int

    /// Creates an outcome; the counts default to those of `errors`.
    public init(batch: RecordBatch = RecordBatch(), errors: [RecordError] = [], errorCount: Int? = nil, rejectedRecords: Int? = nil) {
        self.batch = batch
        self.errors = errors
        self.errorCount = errorCount ?? errors.count
        self.rejectedRecords = rejectedRecords ?? Set(errors.map(\.line)).count
    }
}
