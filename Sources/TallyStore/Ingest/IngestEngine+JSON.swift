#if canImport(Glibc)
import Glibc
#endif

/// NDJSON (one object per line, blank lines skipped) and JSON arrays of objects (`[ {...}, {...} ]`,
/// whitespace anywhere, a record's line being the line of its `{`). Objects are read in place: keys are
/// matched as machine words, string values without escapes are lent straight from the input.
extension IngestEngine {
    mutating func runNDJSON(
        _ p: UnsafeRawBufferPointer, endIsBoundary: Bool, _ work: Workspace, _ sink: inout RecordSink
    ) -> Int {
        let n = p.count
        let base = p.baseAddress!
        var pos = 0
        while pos < n {
            sink.unit &+= 1
            let start = pos
            let lineEnd: Int
            let next: Int
            if let hit = memchr(base + pos, 0x0A, n - pos) {
                lineEnd = UnsafeRawPointer(hit) - base
                next = lineEnd + 1
            } else {
                guard endIsBoundary else { return start }
                lineEnd = n
                next = n
            }
            let recordLine = line
            if next > lineEnd { line += 1 }
            pos = next
            if lineEnd - start > limits.maxRecordBytes {
                oversized(at: recordLine, &sink)
                continue
            }
            Self.parseObject(p, start, lineEnd, line: recordLine, work, &sink)
        }
        return n
    }

    mutating func runJSONArray(
        _ p: UnsafeRawBufferPointer, endIsBoundary: Bool, _ work: Workspace, _ sink: inout RecordSink
    ) -> Int {
        let n = p.count
        var pos = 0
        while true {
            if arrayState == .failed { return n }
            sink.unit &+= 1
            while pos < n, JSONLexer.isSpace(p[pos]) {
                if p[pos] == 0x0A { line += 1 }
                pos += 1
            }
            guard pos < n else { return n }
            let c = p[pos]
            switch arrayState {
            case .expectOpen:
                guard c == 0x5B else {
                    sink.fail(line, nil, "the input must be a JSON array of records (it does not start with '[')")
                    arrayState = .failed
                    return n
                }
                arrayState = .expectFirst
                pos += 1
                continue
            case .expectFirst:
                if c == 0x5D {
                    arrayState = .closed
                    pos += 1
                    continue
                }
            case .expectElement:
                if c == 0x5D {
                    sink.fail(line, nil, "the JSON array is not valid: ']' follows a ','")
                    arrayState = .failed
                    return n
                }
            case .afterElement:
                if c == 0x2C {
                    arrayState = .expectElement
                } else if c == 0x5D {
                    arrayState = .closed
                } else {
                    sink.fail(line, nil, "the JSON array is not valid: expected ',' or ']' after an element")
                    arrayState = .failed
                    return n
                }
                pos += 1
                continue
            case .closed:
                sink.fail(line, nil, "the input has data after the end of the JSON array")
                arrayState = .failed
                return n
            case .failed:
                return n
            }
            // An element starts at `pos`.
            let start = pos
            var scan = UnitScanner(.jsonValue)
            let end = scan.scan(p, from: start)
            if end == nil && !endIsBoundary { return start }
            let recordLine = line
            line += scan.newlines
            arrayState = .afterElement
            pos = end ?? n
            if pos - start > limits.maxRecordBytes {
                oversized(at: recordLine, &sink)
                continue
            }
            if end == nil, p[start] == 0x7B || p[start] == 0x5B || p[start] == 0x22 {
                sink.fail(recordLine, nil, "the record is not valid JSON: the input ends inside it")
                continue
            }
            guard c == 0x7B else {
                sink.fail(recordLine, nil, "the array element is not a JSON object")
                continue
            }
            Self.parseObject(p, start, pos, line: recordLine, work, &sink)
        }
    }

    /// Parses the object in `p[start..<end]` (whitespace around it allowed; nothing but whitespace is a
    /// blank line and ignored) and hands it to the sink.
    @inline(__always)
    static func parseObject(
        _ p: UnsafeRawBufferPointer, _ start: Int, _ end: Int, line: Int, _ work: Workspace,
        _ sink: inout RecordSink
    ) {
        var i = JSONLexer.skipSpace(p, start, end)
        guard i < end else { return }
        guard p[i] == 0x7B else {
            sink.fail(line, nil, "the record is not a JSON object")
            return
        }
        let base = p.baseAddress!
        let slots = work.slots
        let scratch = work.scratch.baseAddress!
        work.clearSlots()
        var scratchUsed = 0
        var seen: UInt16 = 0
        i = JSONLexer.skipSpace(p, i + 1, end)
        if i < end && p[i] == 0x7D {
            i += 1
        } else {
            while true {
                guard i < end else { return invalid(.unexpectedEnd, line, &sink) }
                guard p[i] == 0x22 else { return invalid(.unexpected("a key that is not a string"), line, &sink) }
                let keyStart = i + 1
                let keyClose: Int, keyEscaped: Bool
                switch JSONLexer.scanString(p, keyStart, end) {
                case let .success(r): (keyClose, keyEscaped) = r
                case let .failure(f): return invalid(f, line, &sink)
                }
                var key = UnsafeRawBufferPointer(rebasing: p[keyStart..<keyClose])
                if keyEscaped {
                    switch JSONLexer.decodeString(p, keyStart, keyClose, into: scratch + scratchUsed) {
                    case let .success(len): key = UnsafeRawBufferPointer(start: scratch + scratchUsed, count: len)
                    case let .failure(f): return invalid(f, line, &sink)
                    }
                }
                guard let field = RecordField.match(key) else {
                    sink.fail(line, fieldName: displayName(Array(key)), "is not a field of the cost record")
                    return
                }
                let bit = UInt16(1) << UInt16(field.rawValue)
                guard seen & bit == 0 else {
                    sink.fail(line, field, "appears more than once")
                    return
                }
                seen |= bit
                i = JSONLexer.skipSpace(p, keyClose + 1, end)
                guard i < end else { return invalid(.unexpectedEnd, line, &sink) }
                guard p[i] == 0x3A else { return invalid(.unexpected("no ':' after a key"), line, &sink) }
                i = JSONLexer.skipSpace(p, i + 1, end)
                guard i < end else { return invalid(.unexpectedEnd, line, &sink) }
                let value: FieldValue
                switch p[i] {
                case 0x22:
                    let s = i + 1
                    let close: Int, escaped: Bool
                    switch JSONLexer.scanString(p, s, end) {
                    case let .success(r): (close, escaped) = r
                    case .failure(.unexpectedEnd): return invalid(.unexpectedEnd, line, &sink)
                    case let .failure(f): return invalidString(f, field, line, &sink)
                    }
                    if escaped {
                        switch JSONLexer.decodeString(p, s, close, into: scratch + scratchUsed) {
                        case let .success(len):
                            value = FieldValue(base: UnsafeRawPointer(scratch + scratchUsed), count: len, kind: .string)
                            scratchUsed += len
                        case let .failure(f):
                            return invalidString(f, field, line, &sink)
                        }
                    } else {
                        value = FieldValue(base: base + s, count: close - s, kind: .string)
                    }
                    i = close + 1
                case 0x2D, 0x30...0x39:
                    guard let e = JSONLexer.scanNumber(p, i, end) else { return invalid(.badNumber, line, &sink) }
                    value = FieldValue(base: base + i, count: e - i, kind: .number)
                    i = e
                case 0x74 where JSONLexer.hasLiteral(p, i, end, "true"):
                    value = FieldValue(base: base + i, count: 4, kind: .bool)
                    i += 4
                case 0x66 where JSONLexer.hasLiteral(p, i, end, "false"):
                    value = FieldValue(base: base + i, count: 5, kind: .bool)
                    i += 5
                case 0x6E where JSONLexer.hasLiteral(p, i, end, "null"):
                    value = .absent
                    i += 4
                case 0x7B, 0x5B:
                    sink.fail(line, field, "must not be a nested object or array")
                    return
                default:
                    return invalid(.unexpected("an unexpected character where a value belongs"), line, &sink)
                }
                slots[field.rawValue] = value
                i = JSONLexer.skipSpace(p, i, end)
                guard i < end else { return invalid(.unexpectedEnd, line, &sink) }
                if p[i] == 0x2C {
                    i = JSONLexer.skipSpace(p, i + 1, end)
                    continue
                }
                guard p[i] == 0x7D else {
                    return invalid(.unexpected("no ',' or '}' after a value"), line, &sink)
                }
                i += 1
                break
            }
        }
        guard JSONLexer.skipSpace(p, i, end) == end else {
            sink.fail(line, nil, "the record has data after the end of its JSON object")
            return
        }
        sink.append(slots, line: line)
    }

    @inline(never)
    private static func invalid(_ f: JSONLexer.Failure, _ line: Int, _ sink: inout RecordSink) {
        sink.fail(line, nil, "the record is not valid JSON: it \(f.text)")
    }

    @inline(never)
    private static func invalidString(_ f: JSONLexer.Failure, _ field: RecordField, _ line: Int, _ sink: inout RecordSink) {
        sink.fail(line, field, "is not a valid JSON string: it \(f.text)")
    }
}
