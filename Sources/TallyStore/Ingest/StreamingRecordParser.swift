/// Parses input larger than memory (`tally import` of a 2 GB CSV) chunk by chunk.
///
/// Feed chunks of any size; each call returns the records completed so far (a fresh batch) and their
/// errors. A record split over chunks is held back until it ends; one longer than
/// `IngestLimits.maxRecordBytes` is reported and skipped without being buffered. Line numbers count over
/// the whole stream, and the records and errors of all calls together equal those of
/// `RecordParser.parse` on the concatenated input.
public struct StreamingRecordParser: Sendable {
    private var engine: IngestEngine

    /// Creates a parser at the start of a stream.
    ///
    /// `keepingStrings`: every batch continues the strings of the one before (codes stay the same from
    /// batch to batch and a value seen before is not interned or checked again), so a batch's `strings`
    /// hold every value of the stream so far. For a bulk load, which translates only the new ones
    /// (`StringTable`); not for batches appended one by one (the write-ahead log would store them all).
    public init(format: InputFormat, pricing: PriceTable? = nil, limits: IngestLimits = IngestLimits(), keepingStrings: Bool = false) {
        engine = IngestEngine(format: format, pricing: pricing, limits: limits, keepingStrings: keepingStrings)
    }

    /// Parses the records that `chunk` completes.
    public mutating func feed(_ chunk: UnsafeRawBufferPointer) -> ParseOutcome {
        engine.feed(chunk)
    }

    /// Parses the records that `chunk` completes.
    public mutating func feed(_ chunk: [UInt8]) -> ParseOutcome {
        chunk.withUnsafeBytes { engine.feed($0) }
    }

    /// Ends the stream: parses the tail (an unterminated last line is fine; an unterminated JSON array,
    /// string or quoted CSV field is an error). Call once, after the last `feed`.
    public mutating func finish() -> ParseOutcome {
        engine.finish()
    }

    /// Line number (1-based) of the next byte to be parsed.
    public var line: Int { engine.line }

    /// Whether the CSV header has been read (always true for the other formats, which have none).
    var knowsColumns: Bool { engine.format != .csv || engine.columns != nil || engine.rejectAll }

    /// A parser for a later piece of the same stream that starts at a unit boundary (see `IngestEngine.fork`).
    func fork() -> StreamingRecordParser {
        var p = self
        p.engine = engine.fork()
        return p
    }

    /// Parses `piece`, which ends at a unit boundary (or is the end of the stream when `last`), as if it
    /// started on line 1. Returns its outcomes and how many line feeds it held.
    mutating func parsePiece(_ piece: UnsafeRawBufferPointer, last: Bool) -> (outcomes: [ParseOutcome], lines: Int) {
        engine.line = 1
        var outcomes = [engine.feed(piece)]
        if last { outcomes.append(engine.finish()) }
        // A cut inside a unit would parse it in two halves: stop rather than answer wrong.
        precondition(last || !engine.isInsideUnit, "a piece must end at a unit boundary")
        return (outcomes, engine.line - 1)
    }
}
