/// The machinery behind `RecordParser` and `StreamingRecordParser`: splits input into units (CSV
/// records, NDJSON lines, JSON array elements), carries an unfinished unit over to the next chunk,
/// skips units larger than `IngestLimits.maxRecordBytes` without buffering them, and counts lines over
/// the whole stream.
///
/// Parsing a body whole and feeding it in chunks of any size give the same records and errors: a unit is
/// only ever parsed once it is complete, by the same code, with the same line number.
struct IngestEngine: Sendable {
    let format: InputFormat
    let pricing: PriceTable?
    let limits: IngestLimits

    /// Line of the next unconsumed byte (of the unit waiting in `pending`, if any).
    var line = 1
    /// CSV: dictionary of column -> `RecordField.rawValue`, once the header has been read.
    var columns: [Int8]?
    /// CSV: the header was bad, so every record of the input is rejected.
    var rejectAll = false
    /// JSON array: where in the array's grammar the next byte is.
    var arrayState = ArrayState.expectOpen

    /// Nothing but a prefix of a byte-order mark has been seen yet.
    private var atStreamStart = true
    /// The beginning of a unit that did not end in the chunks fed so far.
    private var pending: [UInt8] = []
    /// Scans `pending` (or the unit being skipped) for its end.
    private var scanner: UnitScanner
    /// The current unit is too large and was reported; its bytes are dropped until it ends.
    private var skipping = false
    /// When set, each chunk's batch continues the strings of the previous one (see `RecordSink.Carry`).
    private var carry: RecordSink.Carry?

    enum ArrayState: Sendable {
        case expectOpen, expectFirst, expectElement, afterElement, closed, failed
    }

    init(format: InputFormat, pricing: PriceTable?, limits: IngestLimits, keepingStrings: Bool = false) {
        self.format = format
        self.pricing = pricing
        self.limits = limits
        scanner = UnitScanner(for: format)
        if keepingStrings { carry = RecordSink.Carry(lineage: StringInterner.newLineage()) }
    }

    /// A parser for another part of the same stream, cut at unit boundaries (`ParallelRecordParser`): it
    /// knows this one's CSV header (or that the header was bad), starts at line 1 past any byte-order mark,
    /// and keeps strings in a lineage of its own when this one keeps them.
    func fork() -> IngestEngine {
        var e = IngestEngine(format: format, pricing: pricing, limits: limits, keepingStrings: carry != nil)
        e.columns = columns
        e.rejectAll = rejectAll
        e.atStreamStart = false
        return e
    }

    /// Whether a unit started in a chunk fed so far has not ended yet (or is being skipped).
    var isInsideUnit: Bool { skipping || !pending.isEmpty }

    /// A sink for the next chunk (continuing the carried strings, if kept).
    private func makeSink() -> RecordSink {
        if let carry { return RecordSink(limits: limits, pricing: pricing, carrying: carry) }
        return RecordSink(limits: limits, pricing: pricing)
    }

    /// The chunk's outcome; keeps the sink's strings for the next chunk when they are kept.
    private mutating func done(_ sink: RecordSink) -> ParseOutcome {
        if carry != nil { carry = sink.carry }
        return sink.outcome()
    }

    // MARK: - Entry points

    /// Parses a complete body.
    mutating func parseWhole(_ bytes: UnsafeRawBufferPointer) -> ParseOutcome {
        var sink = RecordSink(limits: limits, pricing: pricing)
        atStreamStart = false
        let body = Self.droppingBOM(bytes)
        _ = run(body, endIsBoundary: true, &sink)
        endOfStream(&sink)
        return sink.outcome()
    }

    /// Parses what `chunk` completes; keeps the unfinished tail for the next call.
    mutating func feed(_ chunk: UnsafeRawBufferPointer) -> ParseOutcome {
        var sink = makeSink()
        guard chunk.count > 0 else { return done(sink) }
        // A record takes well over 64 bytes of input (its id alone is up to 36): room for all of them.
        if chunk.count >= 1 << 20 { sink.batch.reserveCapacity(rows: chunk.count / 64, requestBytes: chunk.count / 4) }
        if atStreamStart {
            // A byte-order mark may be split over chunks: hold back up to two bytes of one.
            var head = pending
            head.append(contentsOf: chunk.prefix(3 - min(3, head.count)))
            if head.count < 3 && Self.isBOMPrefix(head) {
                pending.append(contentsOf: chunk)
                return done(sink)
            }
            atStreamStart = false
            if !pending.isEmpty {
                let joined = pending + Array(chunk)
                pending = []
                joined.withUnsafeBytes { consume(Self.droppingBOM($0), &sink) }
                return done(sink)
            }
            consume(Self.droppingBOM(chunk), &sink)
            return done(sink)
        }
        consume(chunk, &sink)
        return done(sink)
    }

    /// Parses the unfinished tail, if any, and runs the end-of-input checks.
    mutating func finish() -> ParseOutcome {
        var sink = makeSink()
        if skipping {
            line += scanner.newlines
            skipping = false
        } else if !pending.isEmpty {
            let unit = pending
            pending = []
            unit.withUnsafeBytes { b in
                _ = run(atStreamStart ? Self.droppingBOM(b) : b, endIsBoundary: true, &sink)
            }
        }
        atStreamStart = false
        endOfStream(&sink)
        return done(sink)
    }

    // MARK: - Streaming

    private mutating func consume(_ p: UnsafeRawBufferPointer, _ sink: inout RecordSink) {
        var start = 0
        if skipping {
            guard let e = scanner.scan(p, from: 0) else { return }
            line += scanner.newlines
            skipping = false
            start = e
        } else if !pending.isEmpty {
            guard let e = scanner.scan(p, from: 0) else {
                if pending.count + p.count > limits.maxRecordBytes {
                    oversized(at: line, &sink)
                    pending.removeAll(keepingCapacity: false)
                    skipping = true
                } else {
                    pending.append(contentsOf: p)
                }
                return
            }
            let size = pending.count + e - (scanner.endsWithLineFeed ? 1 : 0)
            if size > limits.maxRecordBytes {
                oversized(at: line, &sink)
                line += scanner.newlines
                pending.removeAll(keepingCapacity: false)
            } else {
                pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[..<e]))
                var unit = pending
                pending = []
                let used = unit.withUnsafeBytes { run($0, endIsBoundary: true, &sink) }
                assert(used == unit.count, "a completed unit must parse whole")
                unit.removeAll(keepingCapacity: true)
                pending = unit
            }
            start = e
        }
        let rest = UnsafeRawBufferPointer(rebasing: p[start...])
        let used = run(rest, endIsBoundary: false, &sink)
        guard used < rest.count else { return }
        let tail = UnsafeRawBufferPointer(rebasing: rest[used...])
        scanner = UnitScanner(for: format)
        let end = scanner.scan(tail, from: 0)
        assert(end == nil, "an unfinished unit must not end inside the chunk")
        if tail.count > limits.maxRecordBytes {
            oversized(at: line, &sink)
            skipping = true
        } else {
            pending.append(contentsOf: tail)
        }
    }

    /// Reports a unit larger than `maxRecordBytes`. A CSV header that large rejects the input.
    mutating func oversized(at line: Int, _ sink: inout RecordSink) {
        sink.unit &+= 1
        switch format {
        case .csv where columns == nil && !rejectAll:
            sink.fail(line, nil, "the header row is longer than \(limits.maxRecordBytes) bytes")
            rejectAll = true
        case .json:
            sink.fail(line, nil, "the record is longer than \(limits.maxRecordBytes) bytes")
            if arrayState != .failed { arrayState = .afterElement }
        default:
            sink.fail(line, nil, "the record is longer than \(limits.maxRecordBytes) bytes")
        }
    }

    private mutating func endOfStream(_ sink: inout RecordSink) {
        guard format == .json else { return }
        sink.unit &+= 1
        switch arrayState {
        case .expectOpen: sink.fail(line, nil, "the input is empty: expected a JSON array of records")
        case .closed, .failed: break
        default: sink.fail(line, nil, "the JSON array is not closed with ']'")
        }
    }

    // MARK: - Parsing complete units

    /// Parses the units of `p`. Returns how many bytes were consumed: all of them, or up to the start of
    /// a unit that does not end in `p` (only when `endIsBoundary` is false; otherwise the end of `p`
    /// ends the last unit).
    mutating func run(_ p: UnsafeRawBufferPointer, endIsBoundary: Bool, _ sink: inout RecordSink) -> Int {
        guard p.count > 0 else { return 0 }
        let slots = UnsafeMutablePointer<FieldValue>.allocate(capacity: RecordField.count)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: limits.maxRecordBytes + 8, alignment: 8)
        defer {
            slots.deallocate()
            scratch.deallocate()
        }
        let work = Workspace(slots: slots, scratch: scratch)
        switch format {
        case .csv: return runCSV(p, endIsBoundary: endIsBoundary, work, &sink)
        case .ndjson: return runNDJSON(p, endIsBoundary: endIsBoundary, work, &sink)
        case .json: return runJSONArray(p, endIsBoundary: endIsBoundary, work, &sink)
        }
    }

    /// Memory lent to the tokenizers for one `run`: the field values of the current record and room
    /// for unescaped values.
    struct Workspace {
        let slots: UnsafeMutablePointer<FieldValue>
        let scratch: UnsafeMutableRawBufferPointer

        @inline(__always)
        func clearSlots() { slots.update(repeating: .absent, count: RecordField.count) }
    }

    private static func isBOMPrefix(_ b: [UInt8]) -> Bool {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        return b.count <= 3 && b.elementsEqual(bom.prefix(b.count))
    }

    private static func droppingBOM(_ p: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if p.count >= 3, p[0] == 0xEF, p[1] == 0xBB, p[2] == 0xBF {
            return UnsafeRawBufferPointer(rebasing: p[3...])
        }
        return p
    }
}
