/// A batch of validated cost records, held column by column with batch-local string codes.
///
/// Parsers fill it without allocating a `String` per field: each distinct string is interned once.
/// `lines` keeps the source line of every record, for receipts and error reports.
public struct RecordBatch: Sendable {
    /// Number of records.
    public private(set) var count = 0
    /// Distinct strings of every string column but `request_id`.
    package var strings = StringInterner()
    /// Nonzero when `strings` grows along a stream (`StreamingRecordParser(keepingStrings: true)`):
    /// batches of one lineage agree on every code they share, a later one's strings extending an
    /// earlier one's, so a consumer can translate only the codes it has not seen.
    package var stringsLineage: UInt64 = 0
    /// Code of `tenant_id` per record.
    package var tenant: [UInt32] = []
    /// Codes of each `Dimension`, indexed by `Dimension.rawValue`.
    package var dims: [[UInt32]] = Array(repeating: [], count: Dimension.allCases.count)
    /// `request_id` bytes of all records, back to back; record `i` spans `requestOffsets[i]..<requestOffsets[i+1]`.
    package var requestBytes: [UInt8] = []
    package var requestOffsets: [Int] = [0]
    package var inputTokens: [Int64] = []
    package var outputTokens: [Int64] = []
    package var costNanos: [Int64] = []
    package var createdAt: [Int64] = []
    /// Source line (1-based) of each record.
    public private(set) var lines: [Int] = []

    /// Moves every record's source line by `delta` (a piece of a stream parsed as if it began on line 1).
    package mutating func shiftLines(by delta: Int) {
        guard delta != 0 else { return }
        for i in lines.indices { lines[i] += delta }
    }
    /// The dedup key of each `request_id`, when computed ahead (by a parsing thread) with `computeRequestKeys()`.
    package private(set) var requestKeys: [(UInt64, UInt64)]?
    /// This batch's string codes translated into a shared `StringTable`, when done ahead.
    package var tableCodes: (table: StringTable, codes: [UInt32])?

    /// An empty batch.
    public init() {}

    /// A batch of the given records, numbered 1, 2, 3...
    public init<S: Sequence>(_ records: S) where S.Element == CostRecord {
        for (i, r) in records.enumerated() { append(r, line: i + 1) }
    }

    /// Appends a record that is already valid.
    public mutating func append(_ record: CostRecord, line: Int) {
        stringsLineage = 0  // new strings here would fork the lineage
        tenant.append(strings.intern(record.tenantID))
        for d in Dimension.allCases { dims[d.rawValue].append(strings.intern(record[d])) }
        var rid = record.requestID
        rid.withUTF8 { requestBytes.append(contentsOf: $0) }
        requestOffsets.append(requestBytes.count)
        inputTokens.append(record.inputTokens)
        outputTokens.append(record.outputTokens)
        costNanos.append(record.costNanos)
        createdAt.append(record.createdAtMillis)
        lines.append(line)
        count += 1
    }

    /// Appends one record from already-interned codes (the parsers' fast path).
    package mutating func append(
        tenant t: UInt32, dims d: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32),
        requestID: UnsafeRawBufferPointer, inputTokens: Int64, outputTokens: Int64,
        costNanos: Int64, createdAt: Int64, line: Int
    ) {
        tenant.append(t)
        dims[0].append(d.0); dims[1].append(d.1); dims[2].append(d.2); dims[3].append(d.3)
        dims[4].append(d.4); dims[5].append(d.5); dims[6].append(d.6)
        requestBytes.append(contentsOf: requestID)
        requestOffsets.append(requestBytes.count)
        self.inputTokens.append(inputTokens)
        self.outputTokens.append(outputTokens)
        self.costNanos.append(costNanos)
        self.createdAt.append(createdAt)
        lines.append(line)
        count += 1
    }

    /// Reserves room for `rows` more records with `requestBytes` bytes of ids, so a parser filling a
    /// large batch does not grow (copy and fault in) every column step by step.
    package mutating func reserveCapacity(rows: Int, requestBytes bytes: Int) {
        let n = count + rows
        tenant.reserveCapacity(n)
        for d in 0..<dims.count { dims[d].reserveCapacity(n) }
        requestBytes.reserveCapacity(requestBytes.count + bytes)
        requestOffsets.reserveCapacity(n + 1)
        inputTokens.reserveCapacity(n)
        outputTokens.reserveCapacity(n)
        costNanos.reserveCapacity(n)
        createdAt.reserveCapacity(n)
        lines.reserveCapacity(n)
    }

    /// Hashes every `request_id` now, so the writer does not have to.
    package mutating func computeRequestKeys() {
        requestKeys = keys()
    }

    /// The dedup key of every `request_id` (computed ahead or now).
    package func keys() -> [(UInt64, UInt64)] {
        if let requestKeys, requestKeys.count == count { return requestKeys }
        var out: [(UInt64, UInt64)] = []
        out.reserveCapacity(count)
        requestBytes.withUnsafeBytes { bytes in
            for i in 0..<count {
                out.append(RequestIDSet.key(UnsafeRawBufferPointer(rebasing: bytes[requestOffsets[i]..<requestOffsets[i + 1]])))
            }
        }
        return out
    }

    /// The record at `index`, as a value (allocates: not for hot paths).
    public subscript(index: Int) -> CostRecord {
        var r = CostRecord(
            tenantID: strings.values[Int(tenant[index])],
            requestID: requestID(at: index),
            model: "",
            inputTokens: inputTokens[index],
            outputTokens: outputTokens[index],
            costNanos: costNanos[index],
            createdAtMillis: createdAt[index]
        )
        for d in Dimension.allCases { r[d] = strings.values[Int(dims[d.rawValue][index])] }
        return r
    }

    /// The records, in order.
    public var records: [CostRecord] { (0..<count).map { self[$0] } }

    /// `tenant_id` of the record at `index`.
    public func tenantID(at index: Int) -> String { strings.values[Int(tenant[index])] }

    /// `request_id` of the record at `index`.
    public func requestID(at index: Int) -> String {
        requestBytes.withUnsafeBufferPointer { buf in
            String(decoding: UnsafeBufferPointer(rebasing: buf[requestOffsets[index]..<requestOffsets[index + 1]]), as: UTF8.self)
        }
    }

    /// Lends the bytes of the `request_id` at `index`.
    package func withRequestIDBytes<R>(at index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try requestBytes.withUnsafeBytes { buf in
            try body(UnsafeRawBufferPointer(rebasing: buf[requestOffsets[index]..<requestOffsets[index + 1]]))
        }
    }

    /// A batch of the records at `indices`, in that order.
    public func selecting(_ indices: [Int]) -> RecordBatch {
        var out = RecordBatch()
        out.strings = strings
        out.stringsLineage = stringsLineage
        out.tenant.reserveCapacity(indices.count)
        for i in indices {
            out.tenant.append(tenant[i])
            for d in 0..<dims.count { out.dims[d].append(dims[d][i]) }
            out.requestBytes.append(contentsOf: requestBytes[requestOffsets[i]..<requestOffsets[i + 1]])
            out.requestOffsets.append(out.requestBytes.count)
            out.inputTokens.append(inputTokens[i])
            out.outputTokens.append(outputTokens[i])
            out.costNanos.append(costNanos[i])
            out.createdAt.append(createdAt[i])
            out.lines.append(lines[i])
            out.count += 1
        }
        return out
    }
}
