/// Parses and validates a complete body of cost records (CSV, NDJSON or a JSON array) into a batch.
///
/// Records are checked against the data contract (DESIGN.md section 2); every bad record is reported with
/// its line and field and left out of the batch. A record without `cost_cents` is priced from `pricing`
/// by model and `created_at`. The parser is a value: it holds no state between calls.
public struct RecordParser: Sendable {
    /// The wire format.
    public let format: InputFormat
    /// Prices for records without `cost_cents`.
    public let pricing: PriceTable?
    /// Bounds on untrusted input.
    public let limits: IngestLimits

    /// Creates a parser.
    public init(format: InputFormat, pricing: PriceTable? = nil, limits: IngestLimits = IngestLimits()) {
        self.format = format
        self.pricing = pricing
        self.limits = limits
    }

    /// Parses a complete body.
    public func parse(_ bytes: UnsafeRawBufferPointer) -> ParseOutcome {
        var engine = IngestEngine(format: format, pricing: pricing, limits: limits)
        return engine.parseWhole(bytes)
    }

    /// Parses a complete body.
    public func parse(_ bytes: [UInt8]) -> ParseOutcome {
        bytes.withUnsafeBytes { parse($0) }
    }
}
