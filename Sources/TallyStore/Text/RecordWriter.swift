#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file format records can be written in (the ingestion wire formats that have one record per line).
public enum RecordFileFormat: String, Sendable, CaseIterable {
    /// RFC 4180 CSV with a header row of the contract's field names.
    case csv
    /// One JSON object per line.
    case ndjson
}

/// Writes cost records as CSV or NDJSON to a file descriptor, buffered.
///
/// Fields come in the contract's order (`RecordWriter.fieldNames`). CSV quotes a field only when it holds a
/// comma, quote, CR or LF. NDJSON writes tokens as numbers and `cost_cents` as a string with 7 decimals
/// (exact; `Money.formatCents`), `created_at` as `Timestamp.format` does. Output is buffered (1 MiB) and
/// written with `write(2)`; call `flush()` at the end. The writer does not own or close the descriptor.
/// Copies of a writer share the descriptor but not the buffer: use one.
public struct RecordWriter {
    /// The contract's field names, in the order written.
    public static let fieldNames = [
        "tenant_id", "project_id", "environment", "user_id", "feature_tag", "request_id",
        "workflow_id", "skill_id", "model", "input_tokens", "output_tokens", "cost_cents", "created_at",
    ]

    /// The format written.
    public let format: RecordFileFormat
    /// The descriptor written to.
    public let fileDescriptor: Int32
    private var buffer: [UInt8]
    private var used = 0
    /// Per-batch encodings of the batch's distinct strings (quoted/escaped as the format needs).
    private var encoded: [UInt8] = []
    private var encodedOffsets: [Int] = []
    /// Whether NDJSON rows are written as the members of one JSON array (`[`, `,` between rows, `]` at `finish()`).
    private let jsonArray: Bool
    private var rowsWritten = 0

    private static let bufferSize = 1 << 20

    /// A writer of `format` to `fileDescriptor`; a CSV header is written with the first flush.
    public init(format: RecordFileFormat, fileDescriptor: Int32) {
        self.init(format: format, fileDescriptor: fileDescriptor, jsonArray: false)
    }

    /// A writer of one JSON array of record objects (the ingestion's `json` format), one object per line;
    /// call `finish()` to close the array.
    public static func jsonArray(fileDescriptor: Int32) -> RecordWriter {
        RecordWriter(format: .ndjson, fileDescriptor: fileDescriptor, jsonArray: true)
    }

    private init(format: RecordFileFormat, fileDescriptor: Int32, jsonArray: Bool) {
        self.format = format
        self.fileDescriptor = fileDescriptor
        self.jsonArray = jsonArray
        buffer = [UInt8](repeating: 0, count: Self.bufferSize)
        if format == .csv {
            let header = Array((Self.fieldNames.joined(separator: ",") + "\n").utf8)
            buffer.replaceSubrange(0..<header.count, with: header)
            used = header.count
        }
    }

    /// Writes the records of `records` (buffered).
    public mutating func write(_ records: [CostRecord]) throws {
        try write(RecordBatch(records))
    }

    /// Writes the records of `batch` (buffered).
    public mutating func write(_ batch: RecordBatch) throws {
        guard batch.count > 0 else { return }
        encodeStrings(batch.strings.values)

        // The most one row can take: 9 string fields, 4 numbers of <= 21 bytes, keys and punctuation.
        var longestString = 0
        for c in 0..<(encodedOffsets.count - 1) { longestString = max(longestString, encodedOffsets[c + 1] - encodedOffsets[c]) }
        var longestRequestID = 0
        for i in 0..<batch.count { longestRequestID = max(longestRequestID, batch.requestOffsets[i + 1] - batch.requestOffsets[i]) }
        let rowBound = 8 * longestString + 6 * longestRequestID + 2 + 4 * 21 + 40 + 256
        if rowBound > buffer.count {
            try flush()
            buffer = [UInt8](repeating: 0, count: rowBound)
        }

        let fd = fileDescriptor
        let json = format == .ndjson
        let array = jsonArray
        var rowsWritten = self.rowsWritten
        var used = self.used
        try buffer.withUnsafeMutableBytes { out in
            try encoded.withUnsafeBytes { enc in
                try encodedOffsets.withUnsafeBufferPointer { offsets in
                    try batch.requestBytes.withUnsafeBytes { rids in
                        var timestamp = TimestampFormatter()
                        let o = out.baseAddress!
                        let e = enc.baseAddress!
                        @inline(__always) func put(_ code: UInt32) {
                            let s = offsets[Int(code)], n = offsets[Int(code) + 1] - s
                            memcpy(o + used, e + s, n)
                            used += n
                        }
                        @inline(__always) func put(_ literal: StaticString) {
                            memcpy(o + used, literal.utf8Start, literal.utf8CodeUnitCount)
                            used += literal.utf8CodeUnitCount
                        }
                        for i in 0..<batch.count {
                            if used + rowBound > out.count {
                                try FileIO.writeAll(fd, UnsafeRawBufferPointer(start: o, count: used), path: "file descriptor \(fd)")
                                used = 0
                            }
                            let rid = UnsafeRawBufferPointer(rebasing: rids[batch.requestOffsets[i]..<batch.requestOffsets[i + 1]])
                            if json {
                                if array { put(rowsWritten == 0 ? "[\n" : ",\n") }
                                rowsWritten += 1
                                put("{\"tenant_id\":"); put(batch.tenant[i])
                                put(",\"project_id\":"); put(batch.dims[0][i])
                                put(",\"environment\":"); put(batch.dims[1][i])
                                put(",\"user_id\":"); put(batch.dims[2][i])
                                put(",\"feature_tag\":"); put(batch.dims[3][i])
                                put(",\"request_id\":"); used += TextEncoding.jsonString(rid, into: o + used)
                                put(",\"workflow_id\":"); put(batch.dims[4][i])
                                put(",\"skill_id\":"); put(batch.dims[5][i])
                                put(",\"model\":"); put(batch.dims[6][i])
                                put(",\"input_tokens\":"); used += TextEncoding.decimal(batch.inputTokens[i], into: o + used)
                                put(",\"output_tokens\":"); used += TextEncoding.decimal(batch.outputTokens[i], into: o + used)
                                put(",\"cost_cents\":\""); used += TextEncoding.cents(batch.costNanos[i], into: o + used)
                                put("\",\"created_at\":\""); used += timestamp.format(batch.createdAt[i], into: o + used)
                                if array { put("\"}") } else { put("\"}\n") }
                            } else {
                                put(batch.tenant[i]); put(",")
                                put(batch.dims[0][i]); put(",")
                                put(batch.dims[1][i]); put(",")
                                put(batch.dims[2][i]); put(",")
                                put(batch.dims[3][i]); put(",")
                                used += TextEncoding.csvField(rid, into: o + used); put(",")
                                put(batch.dims[4][i]); put(",")
                                put(batch.dims[5][i]); put(",")
                                put(batch.dims[6][i]); put(",")
                                used += TextEncoding.decimal(batch.inputTokens[i], into: o + used); put(",")
                                used += TextEncoding.decimal(batch.outputTokens[i], into: o + used); put(",")
                                used += TextEncoding.cents(batch.costNanos[i], into: o + used); put(",")
                                used += timestamp.format(batch.createdAt[i], into: o + used); put("\n")
                            }
                        }
                    }
                }
            }
        }
        self.used = used
        self.rowsWritten = rowsWritten
    }

    /// Writes what the format needs at the end (the closing `]` of a JSON array), then flushes.
    public mutating func finish() throws {
        if jsonArray {
            let tail = Array((rowsWritten == 0 ? "[]\n" : "\n]\n").utf8)
            if used + tail.count > buffer.count { try flush() }
            buffer.replaceSubrange(used..<(used + tail.count), with: tail)
            used += tail.count
        }
        try flush()
    }

    /// Writes out everything buffered.
    public mutating func flush() throws {
        guard used > 0 else { return }
        let n = used
        try buffer.withUnsafeBytes { try FileIO.writeAll(fileDescriptor, UnsafeRawBufferPointer(rebasing: $0[..<n]), path: "file descriptor \(fileDescriptor)") }
        used = 0
    }

    /// Encodes each distinct string of a batch once, as the format needs it.
    private mutating func encodeStrings(_ values: [String]) {
        encoded.removeAll(keepingCapacity: true)
        encodedOffsets.removeAll(keepingCapacity: true)
        encodedOffsets.append(0)
        let json = format == .ndjson
        var scratch = [UInt8]()
        for value in values {
            var v = value
            v.withUTF8 { utf8 in
                let raw = UnsafeRawBufferPointer(utf8)
                let need = 6 * raw.count + 2
                if scratch.count < need { scratch = [UInt8](repeating: 0, count: need) }
                let n = scratch.withUnsafeMutableBytes { s in
                    json ? TextEncoding.jsonString(raw, into: s.baseAddress!) : TextEncoding.csvField(raw, into: s.baseAddress!)
                }
                encoded.append(contentsOf: scratch[0..<n])
            }
            encodedOffsets.append(encoded.count)
        }
    }
}

extension RecordWriter {
    /// Byte-level text encoders of the writer; each writes at `p` (with enough room) and returns the bytes written.
    enum TextEncoding {
        /// `v` in decimal (at most 20 bytes).
        @inline(__always)
        static func decimal(_ v: Int64, into p: UnsafeMutableRawPointer) -> Int {
            if v < 0 {
                p.storeBytes(of: 45, as: UInt8.self)
                return 1 + decimal(v.magnitude, into: p + 1)
            }
            return decimal(UInt64(v), into: p)
        }

        @inline(__always)
        static func decimal(_ v: UInt64, into p: UnsafeMutableRawPointer) -> Int {
            var digits = 1
            var x = v
            while x >= 10 { x /= 10; digits += 1 }
            x = v
            var i = digits - 1
            while i >= 0 {
                p.storeBytes(of: UInt8(48 + x % 10), toByteOffset: i, as: UInt8.self)
                x /= 10
                i -= 1
            }
            return digits
        }

        /// Nano-dollars as cents with exactly 7 decimals, the same text as `Money.formatCents`.
        @inline(__always)
        static func cents(_ nanos: Int64, into p: UnsafeMutableRawPointer) -> Int {
            var n = 0
            if nanos < 0 { p.storeBytes(of: 45, as: UInt8.self); n = 1 }
            let m = nanos.magnitude
            n += decimal(m / UInt64(Money.nanosPerCent), into: p + n)
            p.storeBytes(of: 46, toByteOffset: n, as: UInt8.self)  // '.'
            var frac = m % UInt64(Money.nanosPerCent)
            for k in stride(from: 7, through: 1, by: -1) {
                p.storeBytes(of: UInt8(48 + frac % 10), toByteOffset: n + k, as: UInt8.self)
                frac /= 10
            }
            return n + 8
        }

        /// A CSV field: as is, or quoted with inner quotes doubled when it holds `,`, `"`, CR or LF (<= 2n + 2 bytes).
        /// Deliberately not neutralised for spreadsheets (no `'` before `=`, `+`, `-`, `@`): this is the import
        /// format and a records export must give back exactly what was stored (people-facing CSVs use
        /// `SpreadsheetCSV` in TallyAnalytics).
        @inline(__always)
        static func csvField(_ s: UnsafeRawBufferPointer, into p: UnsafeMutableRawPointer) -> Int {
            var needsQuotes = false
            for c in s where c == 44 || c == 34 || c == 13 || c == 10 { needsQuotes = true; break }
            guard needsQuotes else {
                if s.count > 0 { memcpy(p, s.baseAddress!, s.count) }
                return s.count
            }
            var n = 0
            p.storeBytes(of: 34, toByteOffset: n, as: UInt8.self); n += 1
            for c in s {
                if c == 34 { p.storeBytes(of: 34, toByteOffset: n, as: UInt8.self); n += 1 }
                p.storeBytes(of: c, toByteOffset: n, as: UInt8.self); n += 1
            }
            p.storeBytes(of: 34, toByteOffset: n, as: UInt8.self); n += 1
            return n
        }

        /// A JSON string literal with its quotes: `"` and `\` escaped, control characters as `\n`, `\u001f`...
        /// (<= 6n + 2 bytes). Bytes >= 0x80 pass through: the input is UTF-8.
        @inline(__always)
        static func jsonString(_ s: UnsafeRawBufferPointer, into p: UnsafeMutableRawPointer) -> Int {
            let hex: StaticString = "0123456789abcdef"
            var n = 0
            @inline(__always) func put(_ c: UInt8) { p.storeBytes(of: c, toByteOffset: n, as: UInt8.self); n += 1 }
            put(34)
            for c in s {
                switch c {
                case 34: put(92); put(34)
                case 92: put(92); put(92)
                case 10: put(92); put(110)
                case 13: put(92); put(114)
                case 9: put(92); put(116)
                case 8: put(92); put(98)
                case 12: put(92); put(102)
                case 0..<32:
                    put(92); put(117); put(48); put(48)
                    put(hex.utf8Start[Int(c >> 4)]); put(hex.utf8Start[Int(c & 0xF)])
                default: put(c)
                }
            }
            put(34)
            return n
        }
    }

    /// Formats timestamps like `Timestamp.format` into bytes, reusing the date part while the day stays the same.
    struct TimestampFormatter {
        private var day = Int64.min
        /// `YYYY-MM-DDT`
        private var datePrefix: (UInt64, UInt32) = (0, 0)

        /// Writes `YYYY-MM-DDTHH:MM:SS.mmmZ` (24 bytes for years 0-9999) and returns the length.
        @inline(__always)
        mutating func format(_ millis: Int64, into p: UnsafeMutableRawPointer) -> Int {
            // Years outside 1970-9999 are rare enough for the String formatter.
            guard millis >= 0, millis < 253_402_300_800_000 else {
                var s = Timestamp.format(millis)
                return s.withUTF8 { u in
                    memcpy(p, u.baseAddress!, u.count)
                    return u.count
                }
            }
            let d = millis / TimeUnit.dayMillis
            if d != day {
                day = d
                let (y, m, dd) = Timestamp.civilFromDays(Int(d))
                withUnsafeMutableBytes(of: &datePrefix) { b in
                    b[0] = UInt8(48 + y / 1000); b[1] = UInt8(48 + y / 100 % 10); b[2] = UInt8(48 + y / 10 % 10); b[3] = UInt8(48 + y % 10)
                    b[4] = 45; b[5] = UInt8(48 + m / 10); b[6] = UInt8(48 + m % 10)
                    b[7] = 45; b[8] = UInt8(48 + dd / 10); b[9] = UInt8(48 + dd % 10)
                    b[10] = 84  // 'T'
                }
            }
            _ = withUnsafeBytes(of: datePrefix) { memcpy(p, $0.baseAddress!, 11) }
            let ms = Int(millis - d * TimeUnit.dayMillis)
            let h = ms / 3_600_000, mi = ms / 60_000 % 60, s = ms / 1000 % 60, f = ms % 1000
            @inline(__always) func put(_ c: Int, _ at: Int) { p.storeBytes(of: UInt8(truncatingIfNeeded: c), toByteOffset: at, as: UInt8.self) }
            put(48 + h / 10, 11); put(48 + h % 10, 12); put(58, 13)
            put(48 + mi / 10, 14); put(48 + mi % 10, 15); put(58, 16)
            put(48 + s / 10, 17); put(48 + s % 10, 18); put(46, 19)
            put(48 + f / 100, 20); put(48 + f / 10 % 10, 21); put(48 + f % 10, 22); put(90, 23)
            return 24
        }
    }
}
