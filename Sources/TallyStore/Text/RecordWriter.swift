#if canImport(Glibc)
import Glibc
#endif
import TallyText

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
/// (exact; `Money.formatCents`), `created_at` as `Timestamp.format` does; the bytes come from TallyText's
/// `TextEncoding`, as every other writer's do. Output is buffered (1 MiB) and written with `FileIO.writeAll`
/// (so fault injection reaches it by `path`); call `flush()` at the end. The writer does not own or close the descriptor.
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
    /// The file's path, for errors (and fault injection); `file descriptor N` when unknown.
    package let path: String
    private var buffer: [UInt8]
    private var used = 0
    /// Per-batch encodings of the batch's distinct strings (quoted/escaped as the format needs).
    private var encoded: [UInt8] = []
    private var encodedOffsets: [Int] = []
    /// Whether NDJSON rows are written as the members of one JSON array (`[`, `,` between rows, `]` at `finish()`).
    private let jsonArray: Bool
    private var rowsWritten = 0

    private static let bufferSize = 1 << 20

    /// A writer of `format` to `fileDescriptor` (the file at `path`, when known); a CSV header is written with
    /// the first flush.
    public init(format: RecordFileFormat, fileDescriptor: Int32, path: String? = nil) {
        self.init(format: format, fileDescriptor: fileDescriptor, path: path, jsonArray: false)
    }

    /// A writer of one JSON array of record objects (the ingestion's `json` format), one object per line;
    /// call `finish()` to close the array.
    public static func jsonArray(fileDescriptor: Int32, path: String? = nil) -> RecordWriter {
        RecordWriter(format: .ndjson, fileDescriptor: fileDescriptor, path: path, jsonArray: true)
    }

    private init(format: RecordFileFormat, fileDescriptor: Int32, path: String?, jsonArray: Bool) {
        self.format = format
        self.fileDescriptor = fileDescriptor
        self.path = path ?? "file descriptor \(fileDescriptor)"
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
        let path = self.path
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
                                try FileIO.writeAll(fd, UnsafeRawBufferPointer(start: o, count: used), path: path)
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
        try buffer.withUnsafeBytes { try FileIO.writeAll(fileDescriptor, UnsafeRawBufferPointer(rebasing: $0[..<n]), path: path) }
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
