import Synchronization
import CTallyPrefetch

/// An open, immutable part: its mapped file and its parsed footer.
///
/// Every block is checked against its CRC-32C when read; damage is reported as
/// `StoreError.corrupt` with the file and offset, never read as data.
///
/// A part opened from its manifest line (`init(path:listed:)`, what a read-only open does) reads (`pread`), checks and
/// parses its footer only on `load()`, and maps the file only when a block is first read: a process that answers one
/// tenant's question neither opens the files of every other tenant nor decodes their footers, and one answered from
/// footers alone maps no file. Until then it knows what the manifest
/// (checksummed) says of it; `load()` checks the file's size and the footer against that line. `meta` and every
/// block read need a loaded footer: readers call `load()` first (the planner, exports, stats and checks do), and a
/// damaged footer is a `StoreError.corrupt` there, as a damaged block is.
package final class PartReader: Sendable {
    package let path: String
    package let id: UInt64
    package let tenant: String
    package let level: Int
    package let rows: Int
    package let minTime: Int64
    package let maxTime: Int64
    package let fileSize: Int
    /// The mapped file: mapped by `init(path:)`, or by the first block read of a part opened from its manifest line.
    private let fileRef = OnceReference<MappedFile>()
    /// What fault injection decided when `load()` read the footer (tests only): the mapping made later applies the
    /// same, so every read of the part sees the bytes one read of the file would.
    private let footerReadFault = OnceReference<DecidedFault>()
    /// The checked and parsed footer (set once, by `init(path:)` or the first `load()`).
    private let footerRef = OnceReference<Footer>()
    /// The footer's hours by day (`dayTotals()`), made on first use. (`DayTotals` is immutable once made; the compiler
    /// cannot see its `ManagedBuffer` storage as `Sendable`.)
    nonisolated(unsafe) private let days = OnceReference<DayTotals>()
    /// The request-id filter has passed its checksum (checked on first use).
    private let filterChecked = CheckedFlag()
    /// The file's head has been checked (`checkFileHeader`, before the first block or filter read).
    private let headerChecked = CheckedFlag()

    /// A fault injection decision kept with the part (`footerReadFault`); `fault` nil: none.
    private final class DecidedFault: Sendable {
        let fault: FaultInjection.Fault?
        init(_ fault: FaultInjection.Fault?) { self.fault = fault }
    }

    /// What the footer says, and the per-column check flags that go with it.
    ///
    /// `@unchecked Sendable`: `blockChecks` is written only through atomic operations.
    private final class Footer: @unchecked Sendable {
        let meta: PartMeta
        /// The part format version (docs/FORMAT.md): 2 checksums block headers; 1 is read with each block
        /// header cross-checked against the footer.
        let version: UInt16
        /// Per column: every block of it has passed its checks once in this process (the file is immutable), so
        /// decodes after that look at no bit.
        let checked: [CheckedFlag]
        /// Until then, per column and granule, one bit each: the block has passed its checks (its checksum, its header
        /// against the footer, its row count and, for a dimension, its codes against the dictionary); then per column
        /// how many have. A block is checked when it is first read, so a question that reads a quarter of a part
        /// checks a quarter of it. Read and set with atomic operations, no lock: concurrent questions that read the
        /// same few granules of a part (a window that cuts it) read these bits on every block.
        private let blockChecks: UnsafeMutablePointer<UInt64>
        private let countsOffset: Int

        init(meta: PartMeta, version: UInt16) {
            self.meta = meta
            self.version = version
            checked = PartColumn.allCases.map { _ in CheckedFlag() }
            let blocks = meta.granules.count * PartColumn.allCases.count
            countsOffset = (blocks + 63) / 64
            let words = countsOffset + PartColumn.allCases.count
            blockChecks = .allocate(capacity: words)
            blockChecks.initialize(repeating: 0, count: words)
        }

        deinit { blockChecks.deallocate() }

        /// Whether granule `g`'s block of `column` has passed its checks.
        func isChecked(_ g: Int, _ column: PartColumn) -> Bool {
            if checked[column.rawValue].isSet { return true }
            let bit = g * PartColumn.allCases.count + column.rawValue
            return tally_atomic_load_u64(blockChecks + (bit >> 6)) & (1 << UInt64(bit & 63)) != 0
        }

        /// Records that granule `g`'s block of `column` has passed its checks.
        func markChecked(_ g: Int, _ column: PartColumn) {
            let bit = g * PartColumn.allCases.count + column.rawValue
            let mask: UInt64 = 1 << UInt64(bit & 63)
            guard tally_atomic_or_u64(blockChecks + (bit >> 6), mask) & mask == 0 else { return }
            let checkedBlocks = tally_atomic_add_u64(blockChecks + countsOffset + column.rawValue, 1)
            if checkedBlocks == UInt64(meta.granules.count) { checked[column.rawValue].set() }
        }
    }

    /// Opens a part and checks its trailer, footer checksum and footer structure.
    package init(path: String) throws {
        self.path = path
        let file = fileRef.storeIfNil(try MappedFile(path: path))
        fileSize = file.bytes.count
        let footer = try Self.readFooter(file.bytes, at: 0, fileSize: fileSize, path: path)
        let m = footer.meta
        (id, tenant, level, rows, minTime, maxTime) = (m.id, m.tenant, m.level, m.rows, m.minTime, m.maxTime)
        _ = footerRef.storeIfNil(footer)
    }

    /// The part the manifest lists as `entry`, its file neither opened nor read yet (see `load()`, which maps it
    /// and checks that it has the size the manifest says).
    package init(path: String, listed entry: Manifest.Entry) {
        self.path = path
        fileSize = entry.bytes
        (id, tenant, level, rows, minTime, maxTime) = (entry.id, entry.tenant, entry.level, entry.rows, entry.minTime, entry.maxTime)
    }

    /// The mapped file, mapped now if it is not yet; a file of another size than the manifest says is damage.
    private func mappedFile() throws -> MappedFile {
        if let f = fileRef.load() { return f }
        let f = try MappedFile(path: path, decidedFault: footerReadFault.load().map { $0.fault })
        guard f.bytes.count == fileSize else {
            throw StoreError.corrupt(path: path, offset: min(f.bytes.count, fileSize),
                                     reason: "the file is \(f.bytes.count) bytes, the manifest says \(fileSize)")
        }
        return fileRef.storeIfNil(f)
    }

    /// Whether the file is mapped (by `init(path:)`, a `load(.blocks)` or a block read).
    package var isMapped: Bool { fileRef.load() != nil }

    /// Maps the file if it is not yet (before a block or the filter is read; `load()` reads the footer without it).
    package func ensureMapped() throws { _ = try mappedFile() }

    /// The mapped file, once `ensureMapped()` (or an eager `init(path:)`) has mapped it.
    private var file: MappedFile {
        guard let f = fileRef.load() else { preconditionFailure("part \(path): block read before the file was mapped") }
        return f
    }

    /// Lets go of the part's pages read so far (`MappedFile.releasePages`); nothing if it was never mapped.
    package func releasePages() { fileRef.load()?.releasePages() }

    /// Whether the footer has been read and checked.
    package var isLoaded: Bool { footerRef.load() != nil }

    /// Reads and checks the footer if that was not done yet, and returns it. A footer that fails its checks, or
    /// disagrees with the manifest line the part was opened from, is `StoreError.corrupt`. `use` says what the caller
    /// will read next: with `.hours` (a part a question's window cuts) the hour entries are made as the footer is read,
    /// else on first use (`PartMeta.hours`); with `.blocks` (a scan) the file is mapped (even if the footer was read
    /// before) and the footer read from the mapping, else the footer alone is read and the file mapped at the first
    /// block read.
    @discardableResult
    package func load(_ use: FooterUse = []) throws -> PartMeta {
        if let f = footerRef.load() {
            if use.contains(.blocks) { try ensureMapped() }
            return f.meta
        }
        let f: Footer
        let keepingHours = use.contains(.hours)
        do {
            if use.contains(.blocks) || fileRef.load() != nil {
                let mapped = try mappedFile()
                f = try Self.readFooter(mapped.bytes, at: 0, fileSize: mapped.bytes.count, path: path, keepingHours: keepingHours)
            } else {
                f = try FileIO.readEnd(path, guess: Self.footerReadGuess, start: Self.footerStart) { bytes, offset, size, fault in
                    guard size == fileSize else {
                        throw StoreError.corrupt(path: path, offset: min(size, fileSize),
                                                 reason: "the file is \(size) bytes, the manifest says \(fileSize)")
                    }
                    _ = footerReadFault.storeIfNil(DecidedFault(fault))
                    return try Self.readFooter(bytes, at: offset, fileSize: size, path: path, keepingHours: keepingHours)
                }
            }
        } catch let StoreError.unsupportedVersion(path, found, supported) {
            // The manifest lists this part as one of the store's: a version this build does not read is damage here
            // (the eager open set such a part aside too), so it is left out and listed as missing like any other.
            throw StoreError.corrupt(path: path, offset: fileSize - 6,
                                     reason: "format version \(found); this build reads version \(supported)")
        }
        let m = f.meta
        guard m.id == id, m.tenant == tenant, m.level == level, m.rows == rows, m.minTime == minTime, m.maxTime == maxTime else {
            throw StoreError.corrupt(path: path, offset: max(0, fileSize - PartFormat.trailerSize),
                                     reason: "the footer (part \(m.id), \(m.rows) rows) disagrees with the manifest (part \(id), \(rows) rows)")
        }
        return footerRef.storeIfNil(f).meta
    }

    /// `load()` without returning a copy of the footer (which retains every one of its arrays): for a caller that reads
    /// `meta` next.
    package func ensureLoaded() throws {
        if footerRef.load() == nil { try load() }
    }

    /// Everything the footer says. Only after `load()` (or an eager `init(path:)`): reading a footer that was
    /// never checked would be a silent wrong answer, so it stops the process instead.
    /// The footer's hours in place; reads the footer first if it is not read yet, as `load()` does. (Not through
    /// `meta`: a copy of it retains every footer array.)
    package func withHours<R>(_ body: (UnsafeBufferPointer<HourEntry>) throws -> R) throws -> R {
        let f: Footer
        if let loaded = footerRef.load() { f = loaded } else { _ = try load(); f = footer }
        return try f.meta.hours.withUnsafeBufferPointer(body)
    }

    /// The footer's hours summed by UTC day, made on first use and kept with the part (read first if need be).
    package func dayTotals() throws -> DayTotals {
        if let d = days.load() { return d }
        // A footer read from disk summed them as it checked its hours.
        try ensureLoaded()
        if case let .deferred(deferred) = footer.meta.rollupStorage, let summed = deferred.days {
            return days.storeIfNil(DayTotals.make(days: summed))
        }
        return days.storeIfNil(try withHours { DayTotals.make($0) })
    }

    /// The footer's granules (after `load()`), without copying the rest of the footer.
    package var granules: [Granule] { footer.meta.granules }

    package var meta: PartMeta {
        // Borrowed, not copied: a copy retains and releases every array of the footer, and block reads ask for one
        // field of it per granule and column.
        _read { yield footer.meta }
    }

    /// Calls `body` with the footer in place. `meta` yields it from an accessor, and a caller that passes it on as an
    /// argument gets a copy (every array of the footer retained and released: a twentieth of a raw scan over 5,000 small
    /// parts); the footer's `meta` is a constant of a class here, which `body` borrows.
    package func withMeta<R>(_ body: (borrowing PartMeta) throws -> R) rethrows -> R {
        let f = footer
        return try withExtendedLifetime(f) { try body(f.meta) }
    }

    /// The part format version (docs/FORMAT.md).
    package var version: UInt16 { footer.version }

    private var footer: Footer {
        guard let f = footerRef.load() else { preconditionFailure("part \(path): footer used before load()") }
        return f
    }


    /// How much of a part's end `load()` reads first: the trailer and, for most parts, the whole footer (the median
    /// stored footer of gen.py's 10M-row shapes is 4-13 KiB; 94-99% of the 2,000-5,000-tenant shapes' fit).
    static let footerReadGuess = 16 << 10

    /// Where a part's stored footer begins, as its trailer (the last of `last`, the file's final bytes) says; 0 when
    /// `last` is too short to hold a trailer. Only where to read from: `readFooter` checks it.
    private static func footerStart(_ size: Int, _ last: UnsafeRawBufferPointer) -> Int {
        guard last.count >= PartFormat.trailerSize else { return 0 }
        return Int(clamping: UInt64(littleEndian: last.loadUnaligned(fromByteOffset: last.count - PartFormat.trailerSize, as: UInt64.self)))
    }

    /// Checks the trailer, the footer checksum and the footer structure of a part of `fileSize` bytes, and parses the
    /// footer. `b` holds the file's bytes from offset `start` to its end (the whole file when mapped).
    private static func readFooter(_ b: UnsafeRawBufferPointer, at start: Int, fileSize: Int, path: String,
                                   keepingHours: Bool = false) throws -> Footer {
        // The file's head (magic, version) is checked before its first block is read (`checkFileHeader`): an answer
        // from the footer needs none of it, and touching it was a page fault per part of an all-tenant open.
        guard fileSize >= PartFormat.headerSize + PartFormat.trailerSize, b.count >= PartFormat.trailerSize, b.count == fileSize - start else {
            throw StoreError.corrupt(path: path, offset: 0, reason: "not a Tally part file (too short)")
        }
        // `tOff` and `footerOffset` are offsets in the file; `b` is indexed from `start`.
        let tOff = fileSize - PartFormat.trailerSize
        guard b.loadUnaligned(fromByteOffset: b.count - 4, as: UInt32.self)
                == PartFormat.trailerMagic.withUnsafeBytes({ $0.loadUnaligned(as: UInt32.self) }) else {
            throw StoreError.corrupt(path: path, offset: fileSize - 4, reason: "bad trailer magic (truncated file?)")
        }
        var t = ByteReader(b, offset: tOff - start)
        let footerOffset = Int(exactly: try t.u64()) ?? -1, stored = Int(try t.u32()), raw = Int(try t.u32())
        let footerCRC = try t.u32()
        _ = try t.u32()
        let version = try t.u16(), codec = try t.u8(), pad = try t.u8()
        guard PartFormat.readableVersions.contains(version) else {
            throw StoreError.unsupportedVersion(path: path, found: Int(version), supported: Int(PartFormat.version))
        }
        guard footerOffset >= PartFormat.headerSize, footerOffset >= start, footerOffset <= tOff, tOff - footerOffset == stored,
              raw < 1 << 31 else {
            throw StoreError.corrupt(path: path, offset: tOff, reason: "footer position out of range")
        }
        let storedBytes = UnsafeRawBufferPointer(rebasing: b[(footerOffset - start)..<(tOff - start)])
        // v2: the footer CRC covers the trailer too, so it is checked before the codec and lengths are used.
        let trailer = UnsafeRawBufferPointer(rebasing: b[(tOff - start)...])
        guard PartFormat.footerChecksum(footer: storedBytes, trailer: trailer, version: version) == footerCRC else {
            throw StoreError.corrupt(path: path, offset: footerOffset, reason: "footer checksum mismatch")
        }
        guard codec <= 1, pad == 0 else {
            throw StoreError.corrupt(path: path, offset: tOff + 26, reason: "unknown footer codec \(codec)")
        }
        let body: [UInt8]
        if codec == 1 {
            // Not zeroed first: a decompression that does not fill every byte is refused.
            var ok = false
            body = [UInt8](unsafeUninitializedCapacity: raw) { out, count in
                ok = LZ4.decompress(storedBytes, into: UnsafeMutableRawBufferPointer(out))
                count = ok ? raw : 0
            }
            guard ok else { throw StoreError.corrupt(path: path, offset: footerOffset, reason: "footer does not decompress") }
        } else {
            guard raw == stored else { throw StoreError.corrupt(path: path, offset: footerOffset, reason: "footer length mismatch") }
            body = [UInt8](unsafeUninitializedCapacity: stored) { out, count in
                if stored > 0 { UnsafeMutableRawBufferPointer(out).copyMemory(from: storedBytes) }
                count = stored
            }
        }
        let meta: PartMeta
        do {
            // The rollups stay in the footer's bytes until a question needs them (`DeferredRollups`).
            meta = try body.withUnsafeBytes {
                try PartFooterCodec.decode($0, version: version, deferringRollupsOf: (path: path, footerOffset: footerOffset), body: body,
                                           keepingHours: keepingHours)
            }
        } catch {
            throw StoreError.corrupt(path: path, offset: footerOffset, reason: "footer does not parse")
        }
        for g in meta.granules {
            for ref in g.blocks where ref.offset < PartFormat.headerSize || ref.length < BlockHeader.size || ref.offset > footerOffset - ref.length {
                throw StoreError.corrupt(path: path, offset: ref.offset, reason: "block reference out of range")
            }
        }
        if let f = meta.filter, f.offset < PartFormat.headerSize || f.length > footerOffset - f.offset {
            throw StoreError.corrupt(path: path, offset: f.offset, reason: "request-id filter out of range")
        }
        return Footer(meta: meta, version: version)
    }

    /// The bytes of one block.
    package func block(_ granule: Int, _ column: PartColumn) -> UnsafeRawBufferPointer {
        let ref = meta.granules[granule].blocks[column.rawValue]
        return UnsafeRawBufferPointer(rebasing: file.bytes[ref.offset..<(ref.offset + ref.length)])
    }

    /// The bytes of one block of the mapped `file` and its granule's rows, looked up in `footer` once (a decode used to
    /// look them up four times, each through the footer and the mapping's references).
    private static func locate(_ footer: Footer, _ file: MappedFile, _ granule: Int, _ column: PartColumn) -> (UnsafeRawBufferPointer, rows: Int) {
        footer.meta.granules.withUnsafeBufferPointer { granules in
            precondition(granule >= 0 && granule < granules.count, "granule \(granule) of a part of \(granules.count)")
            let ref = granules[granule].blocks[column.rawValue]
            return (UnsafeRawBufferPointer(rebasing: file.bytes[ref.offset..<(ref.offset + ref.length)]), granules[granule].rows)
        }
    }

    /// Checks every block of `column` once: CRC, structure, row counts and (for codes) dictionary range.
    /// Two threads may both check a column the first time; that is harmless.
    /// Checks the file's head before anything after it is used: the magic, and a version and padding that agree
    /// with the trailer (the header is not used beyond this check). Once per part.
    private func checkFileHeader() throws {
        if headerChecked.isSet { return }
        let b = file.bytes
        guard b[0..<8].elementsEqual(PartFormat.magic) else {
            throw StoreError.corrupt(path: path, offset: 0, reason: "not a Tally part file (bad magic)")
        }
        let headerVersion = UInt16(b[8]) | UInt16(b[9]) << 8
        guard headerVersion == version, b[10..<16].allSatisfy({ $0 == 0 }) else {
            throw StoreError.corrupt(path: path, offset: 8, reason: "part header (version \(headerVersion)) disagrees with the trailer (version \(version))")
        }
        headerChecked.set()
    }

    private var coversHeader: Bool { version >= 2 }

    /// Checks a block header against the footer and the column before any of it is used: the encoding
    /// the column is written with, the granule's rows, the block length, lengths that agree with the
    /// codec, and zero reserved bytes. In v2 the block CRC covers the header as well; in v1 parts this
    /// is what stands between a damaged header and a wrong answer (the payload CRC still covers the rest).
    private func checkHeader(_ g: Int, _ column: PartColumn) throws(BlockDecoder.Damage) {
        try Self.checkHeader(block(g, column), rows: meta.granules[g].rows, column, version: version)
    }

    /// `checkHeader(_:_:)` of block `b` (at least a header long: checked at open) of a granule of `granuleRows` rows, in a
    /// part of format `version`.
    private static func checkHeader(_ b: UnsafeRawBufferPointer, rows granuleRows: Int, _ column: PartColumn,
                                    version: UInt16) throws(BlockDecoder.Damage) {
        let codec = b[0], encoding = b[1]
        let rows = Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
        let raw = Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
        let stored = Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: 12, as: UInt32.self)))
        let expected: Bool = switch column {
        case .createdAt: encoding == BlockEncoding.delta.rawValue || (version >= 3 && encoding == BlockEncoding.patchedDelta.rawValue)
        case .requestID: encoding == BlockEncoding.uuid.rawValue || encoding == BlockEncoding.bytes.rawValue || encoding == BlockEncoding.uuid4.rawValue
        case .cost where version >= 3 && encoding == BlockEncoding.priced.rawValue: true
        default: encoding == BlockEncoding.frameOfReference.rawValue || encoding == BlockEncoding.patched.rawValue
        }
        guard codec <= BlockCodec.lz4.rawValue else { throw BlockDecoder.Damage(offset: 0, reason: "unknown block codec \(codec)") }
        guard expected else { throw BlockDecoder.Damage(offset: 1, reason: "encoding \(encoding) is not one this column is written with") }
        guard b[2] | b[3] | b[20] | b[21] | b[22] | b[23] == 0 else { throw BlockDecoder.Damage(offset: 2, reason: "reserved block header bytes are not zero") }
        guard rows == granuleRows else { throw BlockDecoder.Damage(offset: 4, reason: "row count mismatch") }
        guard BlockHeader.size + stored == b.count else { throw BlockDecoder.Damage(offset: 12, reason: "stored length disagrees with the footer's block length") }
        // LZ4 is used only when it saves at least 1/16, and expands a byte to at most 255.
        let lengthsAgree = codec == BlockCodec.raw.rawValue ? raw == stored : stored < raw && raw <= 255 * stored + 64
        guard lengthsAgree else { throw BlockDecoder.Damage(offset: 8, reason: "raw length disagrees with the codec") }
    }

    private func damage(_ granule: Int, _ column: PartColumn, _ d: BlockDecoder.Damage) -> StoreError {
        .corrupt(path: path, offset: meta.granules[granule].blocks[column.rawValue].offset + d.offset,
                 reason: "\(d.reason) (column \(column.name), granule \(granule))")
    }

    /// Whether the cost block of `granule` is priced (part format v3): decoding it needs the granule's model codes and
    /// token counts (`decodeIntegers(_:_:_:costInputs:into:)`). Read from the block header before its checksum: a
    /// damaged byte here makes the decode fail its checksum, never read the block another way.
    package func costIsPriced(_ granule: Int) throws -> Bool {
        try ensureMapped()
        return block(granule, .cost)[1] == BlockEncoding.priced.rawValue
    }

    /// Decodes an integer column of a granule into `out` (capacity >= granule rows). A priced cost block (see
    /// `costIsPriced`) needs `costInputs`, the granule's decoded model codes and token counts.
    package func decodeIntegers(_ granule: Int, _ column: PartColumn, _ decoder: inout BlockDecoder, costInputs: CostInputs? = nil,
                                into out: UnsafeMutablePointer<Int64>) throws {
        try decodeBlock(granule, column) { block, verify in
            try decoder.decodeIntegers(block, verify: verify, padded: true, coversHeader: coversHeader, costInputs: costInputs, into: out)
        }
    }

    /// Decodes a granule's priced cost block (see `costIsPriced`) into its terms: the residuals into `out` (unless they
    /// are all one value) and the price table (`BlockDecoder.decodePricedTerms`; valid until `decoder`'s next decode).
    /// `model` holds the granule's decoded model codes.
    package func decodePricedTerms(_ granule: Int, _ decoder: inout BlockDecoder, model: UnsafePointer<UInt32>,
                                   residualsInto out: UnsafeMutablePointer<Int64>) throws -> PricedTerms {
        var terms: PricedTerms?
        try decodeBlock(granule, .cost) { block, verify in
            let (rows, t) = try decoder.decodePricedTerms(block, verify: verify, padded: true, coversHeader: coversHeader, model: model, residualsInto: out)
            terms = t
            return rows
        }
        return terms!
    }

    /// Decodes a dimension's codes of a granule into `out`.
    package func decodeCodes(_ granule: Int, _ dimension: Dimension, _ decoder: inout BlockDecoder, into out: UnsafeMutablePointer<UInt32>) throws {
        try decodeBlock(granule, PartColumn.of(dimension)) { block, verify in
            let n = try decoder.decodeCodes(block, verify: verify, padded: true, coversHeader: coversHeader, into: out)
            if verify {
                // Codes index the dictionary in every reader: a code past it is damage, found once per block.
                let limit = UInt32(meta.dictionaries.sizes[dimension.rawValue])
                for i in 0..<n where out[i] >= limit { throw BlockDecoder.Damage(offset: 0, reason: "code out of dictionary range") }
            }
            return n
        }
    }

    /// Runs `decode` (given the block and whether to verify it: the block's first read checks its CRC) on one block,
    /// after its header is checked against the footer; `decode` returns the rows it decoded, which must be the
    /// granule's. A failure is `StoreError.corrupt` naming the block's offset, column and granule.
    @inline(__always)
    private func decodeBlock(_ granule: Int, _ column: PartColumn, _ decode: (UnsafeRawBufferPointer, Bool) throws -> Int) throws {
        let f = footer
        let (b, rows) = Self.locate(f, try mappedFile(), granule, column)
        let verify = !f.isChecked(granule, column)
        if verify { try checkFileHeader() }
        do {
            try Self.checkHeader(b, rows: rows, column, version: f.version)
            let n = try decode(b, verify)
            guard n == rows else { throw BlockDecoder.Damage(offset: 4, reason: "row count mismatch") }
        } catch let d as BlockDecoder.Damage {
            throw damage(granule, column, d)
        }
        if verify { f.markChecked(granule, column) }
    }

    /// Calls `body` with the `request_id` bytes of each row of a granule (of the rows `only`, when given).
    ///
    /// The block's CRC is checked on the first decode of each granule's request ids (the deduplicator
    /// decodes single granules of parts that no scan has read).
    package func decodeRequestIDs(_ granule: Int, only: Range<Int>? = nil, _ decoder: inout BlockDecoder, _ body: (Int, UnsafeRawBufferPointer) -> Void) throws {
        let f = footer
        try ensureMapped()
        let verify = !f.isChecked(granule, .requestID)
        if verify { try checkFileHeader() }
        do {
            try checkHeader(granule, .requestID)
            try decoder.decodeBytes(block(granule, .requestID), verify: verify, padded: true, coversHeader: coversHeader, only: only, body)
        } catch let d as BlockDecoder.Damage {
            throw damage(granule, .requestID, d)
        }
        if verify { f.markChecked(granule, .requestID) }
    }

    /// Whether `key` (`RequestIDSet.key` of a request id) may be among this part's ids: false is
    /// certain; nil when the part has no filter (format v1). The filter's checksum is checked once.
    package func mayContainRequestID(_ key: (UInt64, UInt64)) throws -> Bool? {
        guard let f = try load(.blocks).filter else { return nil }
        let bytes = UnsafeRawBufferPointer(rebasing: file.bytes[f.offset..<(f.offset + f.length)])
        if !filterChecked.isSet {
            try checkFileHeader()
            guard CRC32C.checksum(bytes) == f.crc else {
                throw StoreError.corrupt(path: path, offset: f.offset, reason: "request-id filter checksum mismatch")
            }
            filterChecked.set()
        }
        return RequestIDFilter.mayContain(bytes, key.1)
    }

    /// The footer's entry for the hour starting at `start`, if the part holds rows of it (binary search:
    /// entries ascend).
    package func hour(startingAt start: Int64) -> HourEntry? {
        let hours = meta.hours
        var lo = 0, hi = hours.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if hours[mid].start < start { lo = mid + 1 } else { hi = mid }
        }
        return lo < hours.count && hours[lo].start == start ? hours[lo] : nil
    }

    /// Reads every row back (for merges, exports and checks).
    package func readAll() throws -> PartRows {
        let meta = try load()
        var rows = PartRows(tenant: meta.tenant)
        rows.dictionaries = Array(meta.dictionaries)
        var decoder = BlockDecoder()
        let cap = meta.granules.map(\.rows).max() ?? 0
        let ints = UnsafeMutablePointer<Int64>.allocate(capacity: max(cap, 1))
        let input = UnsafeMutablePointer<Int64>.allocate(capacity: max(cap, 1))
        let output = UnsafeMutablePointer<Int64>.allocate(capacity: max(cap, 1))
        let codes = UnsafeMutablePointer<UInt32>.allocate(capacity: max(cap, 1) * Dimension.allCases.count)
        defer { ints.deallocate(); input.deallocate(); output.deallocate(); codes.deallocate() }
        for (g, granule) in meta.granules.enumerated() {
            let n = granule.rows
            try decodeIntegers(g, .createdAt, &decoder, into: ints)
            rows.createdAt.append(contentsOf: UnsafeBufferPointer(start: ints, count: n))
            try decodeIntegers(g, .inputTokens, &decoder, into: input)
            rows.inputTokens.append(contentsOf: UnsafeBufferPointer(start: input, count: n))
            try decodeIntegers(g, .outputTokens, &decoder, into: output)
            rows.outputTokens.append(contentsOf: UnsafeBufferPointer(start: output, count: n))
            for d in Dimension.allCases {
                let out = codes + d.rawValue * cap
                try decodeCodes(g, d, &decoder, into: out)
                rows.dims[d.rawValue].append(contentsOf: UnsafeBufferPointer(start: out, count: n))
            }
            let prices = CostInputs(model: codes + Dimension.model.rawValue * cap, input: input, output: output)
            try decodeIntegers(g, .cost, &decoder, costInputs: prices, into: ints)
            rows.cost.append(contentsOf: UnsafeBufferPointer(start: ints, count: n))
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
        let meta = try load(.blocks)
        try checkFileHeader()
        let b = file.bytes
        var t = ByteReader(b, offset: b.count - PartFormat.trailerSize)
        let footerOffset = Int(try t.u64())
        _ = try t.u32(); _ = try t.u32(); _ = try t.u32()
        let bodyCRC = try t.u32()
        var decoder = BlockDecoder()
        for g in 0..<meta.granules.count {
            for column in PartColumn.allCases {
                do {
                    try checkHeader(g, column)
                    try decoder.payload(block(g, column), coversHeader: coversHeader) { _, _ in }
                } catch let d as BlockDecoder.Damage {
                    throw damage(g, column, d)
                }
            }
        }
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: b[0..<footerOffset])) == bodyCRC else {
            throw StoreError.corrupt(path: path, offset: 0, reason: "file checksum mismatch")
        }
        let rows = try readAll()
        // The filter must hold every id, or the deduplicator would take a stored id for a new one.
        guard let f = meta.filter else { return }
        _ = try mayContainRequestID((1, 0))  // checks the filter's CRC
        let filter = UnsafeRawBufferPointer(rebasing: b[f.offset..<(f.offset + f.length)])
        let missing: Int? = rows.requestBytes.withUnsafeBytes { all in
            (0..<rows.count).first { i in
                !RequestIDFilter.mayContain(filter, RequestIDSet.filterHash(UnsafeRawBufferPointer(rebasing: all[rows.requestOffsets[i]..<rows.requestOffsets[i + 1]])))
            }
        }
        if let missing {
            throw StoreError.corrupt(path: path, offset: f.offset, reason: "request-id filter does not hold the id of row \(missing)")
        }
    }
}

/// A flag set once, read without a lock.
final class CheckedFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

/// What a caller will read of a part after its footer (`PartReader.load(_:)`, `Store.loadFooters`).
public struct FooterUse: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Its hour entries (a part a question's window cuts, or an hourly series): made as the footer is read.
    public static let hours = FooterUse(rawValue: 1)
    /// Its blocks (a scan): the file is mapped and the footer read from the mapping, not read on its own first.
    public static let blocks = FooterUse(rawValue: 2)
}
