#if canImport(Glibc)
import Glibc
#endif

/// Parses a large input (`tally import` of a multi-gigabyte CSV or NDJSON file) on several threads and
/// hands the outcomes over in input order.
///
/// A reader thread reads the input and cuts it into pieces at unit boundaries (the boundaries the
/// streaming parser itself sees: a line feed for NDJSON, a line feed outside quotes for CSV, quote
/// parity carried from the start of the stream). Each worker thread parses pieces with a parser of its
/// own, forked after the CSV header, so strings are interned once per worker and each worker's batches
/// continue one lineage. Outcomes come out in input order with the line numbers of the whole stream:
/// the records and errors of all `next()` calls together equal those of one `StreamingRecordParser`
/// fed the same bytes (`ParallelRecordParserTests`).
///
/// What cannot be cut goes through one parser on the reader thread, as a stream: a JSON array, and the
/// rest of an input from the first unit longer than `IngestLimits.maxRecordBytes` on (skipped without
/// being buffered, as the streaming parser skips it).
///
/// Memory is bounded: at most `2 * workers + 2` pieces of about `chunkBytes` are in flight.
package final class ParallelRecordParser: @unchecked Sendable {
    // @unchecked: every field below `lock` is read and written only with `lock` held, except the
    // per-thread parsers, each touched by its own thread only.
    private let lock = ConditionLock()
    /// Pieces cut and not yet taken by a worker, in order.
    private var pieces: [Piece] = []
    /// Parsed pieces by sequence number, waiting for `next()`.
    private var parsed: [Int: Parsed] = [:]
    /// The next sequence number `next()` returns, and its outcomes not handed over yet.
    private var nextSeq = 0
    private var ready: [ParseOutcome] = []
    /// The line the piece `nextSeq` starts on.
    private var baseLine = 1
    /// Sequence numbers given out by the reader; `total` is set when it has given out the last.
    private var issued = 0
    private var total: Int?
    private var stopping = false
    private var readBytes = 0
    private var failureText: String?
    /// Buffers of `chunkBytes` the workers are done with, for the reader to fill again.
    private var spare: [UnsafeMutableRawBufferPointer] = []

    private let workers: Int
    private let chunkBytes: Int
    private let limits: IngestLimits
    private let table: StringTable?
    private let read: (UnsafeMutableRawBufferPointer) throws -> Int

    /// A piece of input that starts and ends at unit boundaries (or ends the input when `last`).
    private struct Piece {
        var seq: Int
        var bytes: UnsafeMutableRawBufferPointer
        var count: Int
        var last: Bool
    }

    /// What parsing a piece (or a stretch of the reader's stream) gave: outcomes whose error lines
    /// count from `origin`, and how many lines the stretch advanced.
    private struct Parsed {
        var outcomes: [ParseOutcome]
        var origin: Int
        var lines: Int
    }

    /// Starts the reader and `workers` parsing threads.
    ///
    /// - Parameters:
    ///   - table: when given, each batch's strings are translated into it on the parsing thread
    ///     (`RecordBatch.translate(into:)`), for a bulk load.
    ///   - read: fills a buffer from the input; returns the bytes read (0 at the end) or throws. Called
    ///     on the reader thread only.
    package init(
        format: InputFormat, pricing: PriceTable?, limits: IngestLimits = IngestLimits(), workers: Int = 2,
        chunkBytes: Int = 4 << 20, translatingInto table: StringTable? = nil,
        read: @escaping (UnsafeMutableRawBufferPointer) throws -> Int
    ) {
        self.workers = max(1, workers)
        self.chunkBytes = max(1, chunkBytes)
        self.limits = limits
        self.table = table
        self.read = read
        let prototype = StreamingRecordParser(format: format, pricing: pricing, limits: limits, keepingStrings: table != nil)
        startThread(name: "tally-read") { [self] in readAndCut(prototype, format: format) }
    }

    deinit {
        for b in spare { b.deallocate() }
        for p in pieces { p.bytes.deallocate() }
    }

    /// The next outcome in input order, or nil at the end of the input (or after `cancel()`).
    package func next() -> ParseOutcome? {
        lock.withLock {
            while true {
                if !ready.isEmpty { return ready.removeFirst() }
                if stopping { return nil }
                if let t = total, nextSeq >= t { return nil }
                guard let p = parsed.removeValue(forKey: nextSeq) else {
                    lock.wait()
                    continue
                }
                let shift = baseLine - p.origin
                ready = p.outcomes.map { o in
                    var o = o
                    if shift != 0 { for k in o.errors.indices { o.errors[k].line += shift } }
                    o.batch.shiftLines(by: shift)
                    return o
                }
                baseLine += p.lines
                nextSeq += 1
                lock.broadcast()
            }
        }
    }

    /// Bytes read from the input so far.
    package var bytesRead: Int { lock.withLock { readBytes } }

    /// Why reading the input failed, if it did (the outcomes end there).
    package var failure: String? { lock.withLock { failureText } }

    /// Stops the threads after the piece each is on; `next()` returns nil from then on.
    package func cancel() {
        lock.withLock {
            stopping = true
            lock.broadcast()
        }
    }

    // MARK: - Reader

    private func readAndCut(_ prototype: StreamingRecordParser, format: InputFormat) {
        var cutter = UnitCutter(format: format)
        var prototype = prototype
        var buffer = takeBuffer()
        var count = 0
        var atEnd = false
        var forked = false
        defer { buffer.deallocate() }
        while true {
            // A chunk's worth (or the rest of the input); more while no unit has ended and one may still.
            while !atEnd && (count < chunkBytes || (cutter.lastCut == 0 && count <= limits.maxRecordBytes + 1)) {
                if count == buffer.count { grow(&buffer, count) }
                guard let n = fill(buffer, from: count) else { return }
                if n == 0 { atEnd = true }
                cutter.scan(UnsafeRawBufferPointer(rebasing: buffer[count..<count + n]), at: count)
                count += n
            }
            let cut = atEnd ? count : cutter.lastCut
            if cut == 0 && atEnd && forked { break }
            if format == .json || cut == 0 {
                // A JSON array, or a unit longer than a record may be: the rest goes through one parser.
                streamRest(prototype, UnsafeRawBufferPointer(rebasing: buffer[..<count]), atEnd: atEnd)
                return
            }
            let last = atEnd && cut == count
            if !forked {
                // The first piece holds the header: parse it here, then fork the workers' parsers from it.
                let (outcomes, lines) = prototype.parsePiece(UnsafeRawBufferPointer(rebasing: buffer[..<cut]), last: last)
                guard publish(Parsed(outcomes: translated(outcomes), origin: 1, lines: lines), seq: issue()) else { return }
                if last { break }
                shiftTail(&buffer, from: cut, count: &count, cutter: &cutter)
                if !prototype.knowsColumns {
                    // Only blank rows so far: no header to fork from.
                    streamRest(prototype, UnsafeRawBufferPointer(rebasing: buffer[..<count]), atEnd: false)
                    return
                }
                forked = true
                for w in 0..<workers {
                    let parser = prototype.fork()
                    startThread(name: "tally-parse-\(w)") { [self] in work(parser) }
                }
                continue
            }
            // The piece takes the buffer; the tail (the start of the next unit) moves to a fresh one.
            var next = takeBuffer()
            let rest = count - cut
            if rest > next.count { grow(&next, 0, to: rest) }
            if rest > 0 { next.baseAddress!.copyMemory(from: buffer.baseAddress! + cut, byteCount: rest) }
            guard enqueue(Piece(seq: issue(), bytes: buffer, count: cut, last: last)) else {
                next.deallocate()
                return
            }
            buffer = next
            count = rest
            cutter.shift(by: cut)
            if last { break }
        }
        finishIssuing()
    }

    /// Moves `buffer[from..<count]` to the front.
    private func shiftTail(_ buffer: inout UnsafeMutableRawBufferPointer, from: Int, count: inout Int, cutter: inout UnitCutter) {
        let rest = count - from
        if rest > 0 { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + from, byteCount: rest) }
        count = rest
        cutter.shift(by: from)
    }

    /// A buffer of `chunkBytes` a worker is done with, or a new one.
    private func takeBuffer() -> UnsafeMutableRawBufferPointer {
        lock.withLock { spare.popLast() } ?? Self.allocate(chunkBytes)
    }

    /// Reads into `buffer[from...]`; nil when reading failed or the parser was cancelled.
    private func fill(_ buffer: UnsafeMutableRawBufferPointer, from: Int) -> Int? {
        if lock.withLock({ stopping }) { return nil }
        do {
            let n = try read(UnsafeMutableRawBufferPointer(rebasing: buffer[from...]))
            lock.withLock { readBytes += n }
            return n
        } catch {
            lock.withLock {
                failureText = "\(error)"
                finishIssuingLocked()
            }
            return nil
        }
    }

    /// Parses everything from here on with one parser, as the streaming parser would, chunk by chunk.
    private func streamRest(_ parser: StreamingRecordParser, _ head: UnsafeRawBufferPointer, atEnd: Bool) {
        var parser = parser
        let chunk = Self.allocate(chunkBytes)
        defer { chunk.deallocate() }
        var pending = head
        while true {
            let before = parser.line
            let outcome = parser.feed(pending)
            guard publish(Parsed(outcomes: translated([outcome]), origin: before, lines: parser.line - before), seq: issue()) else { return }
            if atEnd { break }
            guard let n = fill(chunk, from: 0) else { return }
            if n == 0 { break }
            pending = UnsafeRawBufferPointer(rebasing: chunk[..<n])
        }
        let before = parser.line
        let last = parser.finish()
        guard publish(Parsed(outcomes: translated([last]), origin: before, lines: parser.line - before), seq: issue()) else { return }
        finishIssuing()
    }

    private func grow(_ buffer: inout UnsafeMutableRawBufferPointer, _ count: Int, to least: Int = 0) {
        let bigger = Self.allocate(max(buffer.count * 2, least))
        bigger.baseAddress!.copyMemory(from: buffer.baseAddress!, byteCount: count)
        buffer.deallocate()
        buffer = bigger
    }

    private static func allocate(_ bytes: Int) -> UnsafeMutableRawBufferPointer {
        .allocate(byteCount: max(bytes, 1), alignment: 16)
    }

    private func issue() -> Int {
        lock.withLock {
            defer { issued += 1 }
            return issued
        }
    }

    private func finishIssuing() { lock.withLock { finishIssuingLocked() } }

    private func finishIssuingLocked() {
        if total == nil { total = issued }
        lock.broadcast()
    }

    /// Queues a piece for the workers; waits while enough are queued. False when cancelled.
    private func enqueue(_ piece: Piece) -> Bool {
        lock.withLock {
            while !stopping && (pieces.count >= workers || parsed.count > 2 * workers) { lock.wait() }
            if stopping { return false }
            pieces.append(piece)
            lock.broadcast()
            return true
        }
    }

    /// Hands over what the reader parsed itself; waits while enough outcomes are waiting. False when cancelled.
    private func publish(_ p: Parsed, seq: Int) -> Bool {
        lock.withLock {
            while !stopping && parsed.count > 2 * workers { lock.wait() }
            if stopping { return false }
            parsed[seq] = p
            lock.broadcast()
            return true
        }
    }

    private func translated(_ outcomes: [ParseOutcome]) -> [ParseOutcome] {
        guard let table else { return outcomes }
        return outcomes.map { o in
            var o = o
            o.batch.translate(into: table)
            return o
        }
    }

    // MARK: - Workers

    private func work(_ parser: StreamingRecordParser) {
        var parser = parser
        while true {
            let piece: Piece? = lock.withLock {
                while pieces.isEmpty && !stopping && !(total.map { issued >= $0 } ?? false) { lock.wait() }
                if stopping || pieces.isEmpty { return nil }
                lock.broadcast()
                return pieces.removeFirst()
            }
            guard let piece else { break }
            let (outcomes, lines) = parser.parsePiece(UnsafeRawBufferPointer(rebasing: piece.bytes[..<piece.count]), last: piece.last)
            let done = Parsed(outcomes: translated(outcomes), origin: 1, lines: lines)
            lock.withLock {
                if piece.bytes.count == chunkBytes && spare.count < workers + 1 {
                    spare.append(piece.bytes)
                } else {
                    piece.bytes.deallocate()
                }
                parsed[piece.seq] = done
                lock.broadcast()
            }
        }
    }
}

/// Finds unit boundaries in a stream as the bytes arrive: after each line feed for NDJSON, after each line
/// feed outside quotes for CSV (every `"` toggles; doubled quotes toggle twice). Never cuts a JSON array.
struct UnitCutter {
    let format: InputFormat
    private var inQuotes = false
    /// Offset (in the caller's buffer) just past the last boundary seen, 0 if none.
    private(set) var lastCut = 0

    init(format: InputFormat) { self.format = format }

    /// Scans `bytes`, which sit at `offset` in the caller's buffer.
    mutating func scan(_ bytes: UnsafeRawBufferPointer, at offset: Int) {
        guard format != .json, let base = bytes.baseAddress, bytes.count > 0 else { return }
        let end = base + bytes.count
        var cur = base
        while cur < end {
            if !inQuotes {
                // Up to the next quote is outside quotes: its last line feed is a boundary.
                let quote = format == .csv ? memchr(cur, 0x22, end - cur).map { UnsafeRawPointer($0) } : nil
                let stop = quote ?? end
                if let lf = Self.lastLineFeed(cur, stop) { lastCut = offset + (lf - base) + 1 }
                guard let quote else { return }
                inQuotes = true
                cur = quote + 1
            } else {
                guard let quote = memchr(cur, 0x22, end - cur) else { return }
                inQuotes = false
                cur = UnsafeRawPointer(quote) + 1
            }
        }
    }

    /// The buffer's first `by` bytes were taken away.
    mutating func shift(by: Int) { lastCut = max(0, lastCut - by) }

    private static func lastLineFeed(_ from: UnsafeRawPointer, _ to: UnsafeRawPointer) -> UnsafeRawPointer? {
        // Backwards byte by byte: the last line feed is a record's length from the end.
        var p = to
        while p > from {
            p -= 1
            if p.load(as: UInt8.self) == 0x0A { return p }
        }
        return nil
    }
}
