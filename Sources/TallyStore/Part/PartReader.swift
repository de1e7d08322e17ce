import Synchronization

/// An open, immutable part: its mapped file and its parsed footer.
///
/// Every block is checked against its CRC-32C when read; damage is reported as
/// `StoreError.corrupt` with the file and offset, never read as data.
package final class PartReader: Sendable {
    package let path: String
    package let meta: PartMeta
    package let fileSize: Int
    private let file: MappedFile
    /// Per column: every block of it has passed its checksum once in this process (the file is
    /// immutable), so decodes after the first skip the CRC without taking any lock.
    private let checked: [CheckedFlag]

    /// Opens a part and checks its trailer, footer checksum and footer structure.
    package init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        let b = file.bytes
        fileSize = b.count
        guard b.count >= PartFormat.headerSize + PartFormat.trailerSize,
              Array(b[0..<8]) == PartFormat.magic
        else { throw StoreError.corrupt(path: path, offset: 0, reason: "not a Tally part file (bad magic or too short)") }
        let tOff = b.count - PartFormat.trailerSize
        guard Array(b[(b.count - 4)...]) == PartFormat.trailerMagic else {
            throw StoreError.corrupt(path: path, offset: b.count - 4, reason: "bad trailer magic (truncated file?)")
        }
        var t = ByteReader(b, offset: tOff)
        let footerOffset = Int(exactly: try t.u64()) ?? -1, stored = Int(try t.u32()), raw = Int(try t.u32())
        let footerCRC = try t.u32()
        _ = try t.u32()
        let version = try t.u16(), codec = try t.u8()
        guard version == PartFormat.version else {
            throw StoreError.unsupportedVersion(path: path, found: Int(version), supported: Int(PartFormat.version))
        }
        guard footerOffset >= PartFormat.headerSize, footerOffset <= tOff, tOff - footerOffset == stored, raw < 1 << 31 else {
            throw StoreError.corrupt(path: path, offset: tOff, reason: "footer position out of range")
        }
        let storedBytes = UnsafeRawBufferPointer(rebasing: b[footerOffset..<tOff])
        guard CRC32C.checksum(storedBytes) == footerCRC else {
            throw StoreError.corrupt(path: path, offset: footerOffset, reason: "footer checksum mismatch")
        }
        var body = [UInt8](repeating: 0, count: raw)
        if codec == 1 {
            let ok = body.withUnsafeMutableBytes { LZ4.decompress(storedBytes, into: $0) }
            guard ok else { throw StoreError.corrupt(path: path, offset: footerOffset, reason: "footer does not decompress") }
        } else {
            guard raw == stored else { throw StoreError.corrupt(path: path, offset: footerOffset, reason: "footer length mismatch") }
            body = Array(storedBytes)
        }
        do {
            meta = try body.withUnsafeBytes { try PartFooterCodec.decode($0) }
        } catch {
            throw StoreError.corrupt(path: path, offset: footerOffset, reason: "footer does not parse")
        }
        checked = PartColumn.allCases.map { _ in CheckedFlag() }
        for g in meta.granules {
            for ref in g.blocks where ref.offset < PartFormat.headerSize || ref.length < BlockHeader.size || ref.offset > footerOffset - ref.length {
                throw StoreError.corrupt(path: path, offset: ref.offset, reason: "block reference out of range")
            }
        }
    }

    /// The bytes of one block.
    package func block(_ granule: Int, _ column: PartColumn) -> UnsafeRawBufferPointer {
        let ref = meta.granules[granule].blocks[column.rawValue]
        return UnsafeRawBufferPointer(rebasing: file.bytes[ref.offset..<(ref.offset + ref.length)])
    }

    /// Checks every block of `column` once: CRC, structure, row counts and (for codes) dictionary range.
    /// Two threads may both check a column the first time; that is harmless.
    private func ensureChecked(_ column: PartColumn) throws {
        if checked[column.rawValue].isSet { return }
        var decoder = BlockDecoder()
        let cap = max(meta.granules.map(\.rows).max() ?? 1, 1)
        for g in 0..<meta.granules.count {
            let rows = meta.granules[g].rows
            do {
                // The decoders write as many values as the block header states, into buffers sized
                // from the footer: a header that disagrees must be refused before decoding.
                if let h = BlockDecoder.header(block(g, column)), h.rows != rows {
                    throw BlockDecoder.Damage(offset: 4, reason: "row count mismatch")
                }
                switch column {
                case .requestID:
                    var n = 0
                    try decoder.decodeBytes(block(g, column)) { _, _ in n += 1 }
                    guard n == rows else { throw BlockDecoder.Damage(offset: 4, reason: "row count mismatch") }
                case .createdAt, .inputTokens, .outputTokens, .cost:
                    let out = UnsafeMutablePointer<Int64>.allocate(capacity: cap)
                    defer { out.deallocate() }
                    guard try decoder.decodeIntegers(block(g, column), verify: true, padded: true, into: out) == rows else {
                        throw BlockDecoder.Damage(offset: 4, reason: "row count mismatch")
                    }
                default:
                    let out = UnsafeMutablePointer<UInt32>.allocate(capacity: cap)
                    defer { out.deallocate() }
                    guard try decoder.decodeCodes(block(g, column), verify: true, padded: true, into: out) == rows else {
                        throw BlockDecoder.Damage(offset: 4, reason: "row count mismatch")
                    }
                    let limit = UInt32(meta.dictionaries[column.dimension!.rawValue].count)
                    for i in 0..<rows where out[i] >= limit { throw BlockDecoder.Damage(offset: 0, reason: "code out of dictionary range") }
                }
            } catch let d as BlockDecoder.Damage {
                throw damage(g, column, d)
            }
        }
        checked[column.rawValue].set()
    }

    private func damage(_ granule: Int, _ column: PartColumn, _ d: BlockDecoder.Damage) -> StoreError {
        .corrupt(path: path, offset: meta.granules[granule].blocks[column.rawValue].offset + d.offset,
                 reason: "\(d.reason) (column \(column.name), granule \(granule))")
    }

    /// Decodes an integer column of a granule into `out` (capacity >= granule rows).
    package func decodeIntegers(_ granule: Int, _ column: PartColumn, _ decoder: inout BlockDecoder, into out: UnsafeMutablePointer<Int64>) throws {
        try ensureChecked(column)
        do {
            _ = try decoder.decodeIntegers(block(granule, column), verify: false, padded: true, into: out)
        } catch let d as BlockDecoder.Damage {
            throw damage(granule, column, d)
        }
    }

    /// Decodes a dimension's codes of a granule into `out`.
    package func decodeCodes(_ granule: Int, _ dimension: Dimension, _ decoder: inout BlockDecoder, into out: UnsafeMutablePointer<UInt32>) throws {
        let column = PartColumn.of(dimension)
        try ensureChecked(column)
        do {
            _ = try decoder.decodeCodes(block(granule, column), verify: false, padded: true, into: out)
        } catch let d as BlockDecoder.Damage {
            throw damage(granule, column, d)
        }
    }

    /// Calls `body` with the `request_id` bytes of each row of a granule.
    package func decodeRequestIDs(_ granule: Int, _ decoder: inout BlockDecoder, _ body: (Int, UnsafeRawBufferPointer) -> Void) throws {
        do {
            try decoder.decodeBytes(block(granule, .requestID), body)
        } catch let d as BlockDecoder.Damage {
            throw damage(granule, .requestID, d)
        }
    }

    /// Reads every row back (for merges, exports and checks).
    package func readAll() throws -> PartRows {
        var rows = PartRows(tenant: meta.tenant)
        rows.dictionaries = meta.dictionaries
        var decoder = BlockDecoder()
        let cap = meta.granules.map(\.rows).max() ?? 0
        let ints = UnsafeMutablePointer<Int64>.allocate(capacity: max(cap, 1))
        let codes = UnsafeMutablePointer<UInt32>.allocate(capacity: max(cap, 1))
        defer { ints.deallocate(); codes.deallocate() }
        for (g, granule) in meta.granules.enumerated() {
            let n = granule.rows
            try decodeIntegers(g, .createdAt, &decoder, into: ints)
            rows.createdAt.append(contentsOf: UnsafeBufferPointer(start: ints, count: n))
            try decodeIntegers(g, .inputTokens, &decoder, into: ints)
            rows.inputTokens.append(contentsOf: UnsafeBufferPointer(start: ints, count: n))
            try decodeIntegers(g, .outputTokens, &decoder, into: ints)
            rows.outputTokens.append(contentsOf: UnsafeBufferPointer(start: ints, count: n))
            try decodeIntegers(g, .cost, &decoder, into: ints)
            rows.cost.append(contentsOf: UnsafeBufferPointer(start: ints, count: n))
            for d in Dimension.allCases {
                try decodeCodes(g, d, &decoder, into: codes)
                rows.dims[d.rawValue].append(contentsOf: UnsafeBufferPointer(start: codes, count: n))
            }
            try decodeRequestIDs(g, &decoder) { _, b in
                rows.requestBytes.append(contentsOf: b)
                rows.requestOffsets.append(rows.requestBytes.count)
            }
        }
        guard rows.count == meta.rows, rows.requestOffsets.count == meta.rows + 1 else {
            throw StoreError.corrupt(path: path, offset: 0, reason: "row count does not match the footer")
        }
        return rows
    }

    /// Checks every byte: the body checksum, then every block.
    package func verify() throws {
        let b = file.bytes
        var t = ByteReader(b, offset: b.count - PartFormat.trailerSize)
        let footerOffset = Int(try t.u64())
        _ = try t.u32(); _ = try t.u32(); _ = try t.u32()
        let bodyCRC = try t.u32()
        var decoder = BlockDecoder()
        for g in 0..<meta.granules.count {
            for column in PartColumn.allCases {
                do {
                    try decoder.payload(block(g, column)) { _, _ in }
                } catch let d as BlockDecoder.Damage {
                    throw damage(g, column, d)
                }
            }
        }
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[0..<footerOffset])) == bodyCRC else {
            throw StoreError.corrupt(path: path, offset: 0, reason: "file checksum mismatch")
        }
        _ = try readAll()
    }
}

/// A flag set once, read without a lock.
final class CheckedFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
