/// Upper bounds the parsers enforce on untrusted input.
public struct IngestLimits: Sendable, Equatable {
    /// Longest accepted value of a string field other than `request_id`, in UTF-8 bytes.
    public var maxFieldBytes: Int
    /// Longest accepted `request_id`, in UTF-8 bytes.
    public var maxRequestIDBytes: Int
    /// Longest accepted record (a CSV row or NDJSON line without its line feed, or a JSON array element).
    public var maxRecordBytes: Int
    /// Largest accepted `input_tokens` or `output_tokens`.
    public var maxTokens: Int64
    /// Most `RecordError`s a parse keeps (the first ones by line); the rest are only counted, so the memory
    /// a body of bad records costs does not grow with the number of its errors.
    public var maxKeptErrors: Int

    /// Creates limits; the defaults suit public ingestion. Sizes and `maxKeptErrors` below 1 are raised to 1, `maxTokens` below 0 to 0.
    public init(
        maxFieldBytes: Int = 256,
        maxRequestIDBytes: Int = 128,
        maxRecordBytes: Int = 65_536,
        maxTokens: Int64 = Int64(UInt32.max),
        maxKeptErrors: Int = 1_000
    ) {
        self.maxFieldBytes = max(1, maxFieldBytes)
        self.maxRequestIDBytes = max(1, maxRequestIDBytes)
        self.maxRecordBytes = max(1, maxRecordBytes)
        self.maxTokens = max(0, maxTokens)
        self.maxKeptErrors = max(1, maxKeptErrors)
    }
}
