/// CSV (RFC 4180): a header row of contract field names in any order, then one record per row. Quoted
/// fields may hold commas, doubled quotes and line breaks; rows end with LF or CRLF. An empty field is
/// an absent one. Blank rows are skipped.
extension IngestEngine {
    /// How a CSV field ended.
    enum CSVFieldEnd {
        /// A comma follows: more fields in this row.
        case comma
        /// A line feed (or CRLF) ends the row.
        case lineEnd
        /// The input ends the row (only when the end of the buffer is the end of the input).
        case inputEnd
        /// The buffer ends before the field does.
        case incomplete
        /// A quote inside an unquoted field, or text after a closing quote.
        case malformed
        /// The input ends inside a quoted field.
        case unterminated
    }

    struct CSVField {
        var base: UnsafeRawPointer?
        var count: Int
        var end: CSVFieldEnd
        /// Index of the byte after the field's terminator.
        var next: Int
    }

    /// Reads one field starting at `i`. Values with doubled quotes are copied, unescaped, into `scratch`.
    @inline(__always)
    static func csvField(
        _ p: UnsafeRawBufferPointer, _ i: Int, endIsBoundary: Bool,
        _ scratch: UnsafeMutableRawBufferPointer, _ scratchUsed: inout Int, _ newlines: inout Int
    ) -> CSVField {
        let n = p.count
        let base = p.baseAddress!
        var i = i
        if i < n && p[i] == 0x22 {
            i += 1
            var seg = i
            var copiedFrom = -1
            while true {
                guard i < n else {
                    return CSVField(base: nil, count: 0, end: endIsBoundary ? .unterminated : .incomplete, next: n)
                }
                let c = p[i]
                if c == 0x22 {
                    if i + 1 < n {
                        if p[i + 1] == 0x22 {
                            // A doubled quote: keep the text so far and one quote.
                            let len = i + 1 - seg
                            guard scratchUsed + len <= scratch.count else {
                                return CSVField(base: nil, count: 0, end: .malformed, next: i)
                            }
                            if copiedFrom < 0 { copiedFrom = scratchUsed }
                            (scratch.baseAddress! + scratchUsed).copyMemory(from: base + seg, byteCount: len)
                            scratchUsed += len
                            i += 2
                            seg = i
                            continue
                        }
                    } else if !endIsBoundary {
                        return CSVField(base: nil, count: 0, end: .incomplete, next: n)
                    }
                    break
                }
                if c == 0x0A { newlines += 1 }
                i += 1
            }
            var fieldBase = base + seg
            var fieldCount = i - seg
            if copiedFrom >= 0 {
                guard scratchUsed + fieldCount <= scratch.count else {
                    return CSVField(base: nil, count: 0, end: .malformed, next: i)
                }
                (scratch.baseAddress! + scratchUsed).copyMemory(from: base + seg, byteCount: fieldCount)
                scratchUsed += fieldCount
                fieldBase = UnsafeRawPointer(scratch.baseAddress! + copiedFrom)
                fieldCount = scratchUsed - copiedFrom
            }
            i += 1  // the closing quote
            guard i < n else {
                return CSVField(base: fieldBase, count: fieldCount, end: endIsBoundary ? .inputEnd : .incomplete, next: n)
            }
            switch p[i] {
            case 0x2C:
                return CSVField(base: fieldBase, count: fieldCount, end: .comma, next: i + 1)
            case 0x0A:
                return CSVField(base: fieldBase, count: fieldCount, end: .lineEnd, next: i + 1)
            case 0x0D:
                if i + 1 < n {
                    if p[i + 1] == 0x0A {
                        return CSVField(base: fieldBase, count: fieldCount, end: .lineEnd, next: i + 2)
                    }
                } else {
                    return CSVField(base: fieldBase, count: fieldCount, end: endIsBoundary ? .inputEnd : .incomplete, next: n)
                }
                return CSVField(base: nil, count: 0, end: .malformed, next: i)
            default:
                return CSVField(base: nil, count: 0, end: .malformed, next: i)
            }
        }
        let s = i
        // Skip eight bytes at a time while none is a comma, line feed or quote (the lowest flagged byte
        // of a word is exact; borrows only flag bytes above a match), then find the byte itself below.
        while i + 8 <= n {
            let w = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            let hit = Self.zeroBytes(w ^ 0x2C2C_2C2C_2C2C_2C2C) | Self.zeroBytes(w ^ 0x0A0A_0A0A_0A0A_0A0A)
                | Self.zeroBytes(w ^ 0x2222_2222_2222_2222)
            if hit != 0 {
                i += hit.trailingZeroBitCount >> 3
                break
            }
            i += 8
        }
        while i < n {
            let c = p[i]
            if c == 0x2C || c == 0x0A || c == 0x22 { break }
            i += 1
        }
        if i == n {
            guard endIsBoundary else { return CSVField(base: nil, count: 0, end: .incomplete, next: n) }
            let e = n > s && p[n - 1] == 0x0D ? n - 1 : n
            return CSVField(base: base + s, count: e - s, end: .inputEnd, next: n)
        }
        switch p[i] {
        case 0x2C:
            return CSVField(base: base + s, count: i - s, end: .comma, next: i + 1)
        case 0x0A:
            let e = i > s && p[i - 1] == 0x0D ? i - 1 : i
            return CSVField(base: base + s, count: e - s, end: .lineEnd, next: i + 1)
        default:
            return CSVField(base: nil, count: 0, end: .malformed, next: i)
        }
    }

    /// The high bit of each zero byte of `x` set (and possibly of bytes above the lowest zero byte).
    @inline(__always)
    static func zeroBytes(_ x: UInt64) -> UInt64 {
        (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
    }

    mutating func runCSV(
        _ p: UnsafeRawBufferPointer, endIsBoundary: Bool, _ work: Workspace, _ sink: inout RecordSink
    ) -> Int {
        let n = p.count
        var pos = 0
        var headerNames: [[UInt8]] = []
        while pos < n {
            if rejectAll { return n }
            sink.unit &+= 1
            let start = pos
            let isHeader = columns == nil
            let map = columns ?? []
            var col = 0
            var newlines = 0
            var scratchUsed = 0
            var next = n
            var terminated = false
            var problem = CSVFieldEnd.comma
            var blank = true
            // Hashes of the user and workflow ids, whose interner slots start loading as soon as the
            // field is read (see `RecordSink.append`); `.some(nil)` for a value that is not looked up.
            var userHash: UInt64?? = .some(nil)
            var workflowHash: UInt64?? = .some(nil)
            headerNames.removeAll(keepingCapacity: true)
            work.clearSlots()
            fields: while true {
                let f = Self.csvField(p, pos, endIsBoundary: endIsBoundary, work.scratch, &scratchUsed, &newlines)
                switch f.end {
                case .incomplete:
                    return start
                case .malformed, .unterminated:
                    problem = f.end
                    break fields
                case .comma, .lineEnd, .inputEnd:
                    break
                }
                if isHeader {
                    headerNames.append(Array(UnsafeRawBufferPointer(start: f.base, count: f.count)))
                } else if col < map.count, f.count > 0 {
                    let field = Int(map[col])
                    let value = FieldValue(base: f.base, count: f.count, kind: .text)
                    work.slots[field] = value
                    if field == RecordField.userID.rawValue {
                        userHash = sink.prefetch(value)
                    } else if field == RecordField.workflowID.rawValue {
                        workflowHash = sink.prefetch(value)
                    }
                }
                if f.count > 0 || col > 0 || f.end == .comma { blank = false }
                col += 1
                switch f.end {
                case .comma:
                    pos = f.next
                case .lineEnd:
                    next = f.next
                    terminated = true
                    newlines += 1
                    break fields
                default:
                    next = n
                    break fields
                }
            }
            if problem == .malformed {
                // Resynchronise on the row's end by quote parity, as the streaming scanner does.
                var scan = UnitScanner(.csv)
                if let e = scan.scan(p, from: start) {
                    next = e
                    terminated = true
                } else if !endIsBoundary {
                    return start
                } else {
                    next = n
                }
                newlines = scan.newlines
            } else if problem == .unterminated {
                next = n
            }
            let recordLine = line
            line += newlines
            pos = next
            let size = (terminated ? next - 1 : next) - start
            if size > limits.maxRecordBytes {
                oversized(at: recordLine, &sink)
                continue
            }
            if problem == .malformed || problem == .unterminated {
                let why = problem == .malformed
                    ? "is not valid CSV: a quote inside an unquoted field or text after a closing quote"
                    : "is not valid CSV: a quoted field is never closed"
                if isHeader {
                    sink.fail(recordLine, nil, "the header row " + why)
                    rejectAll = true
                } else {
                    sink.fail(recordLine, nil, "the row " + why)
                }
                continue
            }
            if blank { continue }
            if isHeader {
                readHeader(headerNames, line: recordLine, &sink)
                continue
            }
            guard col == map.count else {
                sink.fail(recordLine, nil, "the row has \(col) fields but the header has \(map.count)")
                continue
            }
            sink.append(work.slots, line: recordLine, userHash: userHash, workflowHash: workflowHash)
        }
        return n
    }

    /// Maps header names to fields; any unknown, duplicated or missing required column rejects the input.
    private mutating func readHeader(_ names: [[UInt8]], line: Int, _ sink: inout RecordSink) {
        var map: [Int8] = []
        var seen = Set<Int>()
        var bad = false
        for (k, name) in names.enumerated() {
            guard !name.isEmpty else {
                sink.fail(line, nil, "column \(k + 1) of the header has no name")
                bad = true
                continue
            }
            guard let field = name.withUnsafeBytes({ RecordField.match($0) }) else {
                sink.fail(line, fieldName: Self.displayName(name), "is not a field of the cost record")
                bad = true
                continue
            }
            guard seen.insert(field.rawValue).inserted else {
                sink.fail(line, field, "appears more than once in the header")
                bad = true
                continue
            }
            map.append(Int8(field.rawValue))
        }
        for field in RecordField.allCases where field.isRequired && !seen.contains(field.rawValue) {
            sink.fail(line, field, "is a required column and missing from the header")
            bad = true
        }
        if bad {
            rejectAll = true
        } else {
            columns = map
        }
    }

    /// A field name taken from the input, safe to put in an error: at most 64 bytes, valid UTF-8.
    static func displayName(_ bytes: [UInt8]) -> String {
        let s = String(decoding: bytes.prefix(64), as: UTF8.self)
        return bytes.count > 64 ? s + "..." : s
    }
}
