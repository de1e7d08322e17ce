#if canImport(Glibc)
import Glibc
#endif
import TallyText

/// The write-ahead log: numbered segment files of CRC-framed records, each batch closed by a commit frame.
///
/// Segment file: `TLYWAL01`, `u64` segment number, then frames. A frame is
/// `u32 length, u32 crc32c(body), body` where `body = u8 type, payload`: type 3 lists the strings
/// the next records refer to, type 1 is one record, type 2 commits the records since the previous commit.
/// Replay applies only committed batches. Damage costs at most the batches it touches: replay resynchronises
/// on the next intact strings frame and goes on; only a torn tail (what a crash leaves) is cut.
package final class WriteAheadLog {
    package static let magic: [UInt8] = Array("TLYWAL01".utf8)
    package static let headerSize = 16
    static let recordFrame: UInt8 = 1
    static let commitFrame: UInt8 = 2
    static let stringsFrame: UInt8 = 3
    /// Body length of a commit frame: type, `u64` sequence, `u32` count.
    static let commitBody = 13
    /// The longest record frame body the encoder can write (8 code varints, a `string16` id, 4 number varints).
    static let maxRecordBody = 1 + 8 * 10 + 2 + Int(UInt16.max) + 4 * 10
    /// A bound on a strings frame body no request comes near (a batch is one request body): a torn frame
    /// claiming more is a damaged header, not a crash's torn write.
    static let maxStringsBody = 1 << 28

    package let directory: String
    package private(set) var segment: UInt64
    private var fd: Int32
    private var path: String
    private var batchSequence: UInt64 = 0
    /// Bytes of the current segment that end at an acknowledged commit: where `recover()` cuts a failed tail back to.
    private var acknowledgedEnd: Int
    /// Bytes written to the current segment so far (acknowledged or not).
    private var writtenEnd: Int
    /// The first failed write or sync. After it the log refuses every write and sync until `recover()` succeeds:
    /// the tail on disk is unknown, and a retried `fsync` may report success for pages the kernel already dropped.
    package private(set) var failure: StoreError?

    /// Opens (creating) segment `segment` for appending at its end.
    package init(directory: String, segment: UInt64) throws {
        self.directory = directory
        self.segment = segment
        path = Self.path(directory, segment)
        (fd, writtenEnd) = try Self.openSegment(path, segment)
        acknowledgedEnd = writtenEnd
    }

    deinit { FileIO.close(fd) }

    package static func path(_ directory: String, _ segment: UInt64) -> String {
        directory + "/" + WALLoss.segmentFile(segment)
    }

    /// Opens a segment for appending, writing (and syncing) its header when it has none; returns the fd and size.
    private static func openSegment(_ path: String, _ segment: UInt64) throws -> (Int32, Int) {
        let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_APPEND)
        var size: Int
        do {
            size = try FileIO.fileSize(fd, path: path)
        } catch {
            FileIO.close(fd)
            throw error
        }
        if size < headerSize {
            // Empty, or a header torn by a crash or a full disk while the segment was created: it holds nothing.
            do {
                if size > 0 { try FileIO.truncate(fd, to: 0, path: path) }
                var w = ByteWriter(capacity: headerSize)
                w.bytes.append(contentsOf: magic)
                w.u64(segment)
                try FileIO.writeAll(fd, w.bytes, path: path)
                try FileIO.sync(fd, path: path)
            } catch {
                FileIO.close(fd)
                throw error
            }
            size = headerSize
        }
        return (fd, size)
    }

    /// Segment numbers present in `directory`, ascending.
    package static func segments(in directory: String) -> [UInt64] {
        FileIO.list(directory).compactMap { name in
            name.hasSuffix(".wal") ? UInt64(name.dropLast(4), radix: 16) : nil
        }.sorted()
    }

    /// Encodes the given rows of `batch` as a strings frame, one record frame each, and a commit frame.
    package func encode(_ batch: RecordBatch, rows: [Int], into out: inout ByteWriter) {
        var body = ByteWriter(capacity: 1024)
        body.u8(Self.stringsFrame)
        body.varint(UInt64(batch.strings.count))
        for s in batch.strings.values { body.string16(s) }
        Self.frame(body.bytes, into: &out)
        for i in rows {
            body.bytes.removeAll(keepingCapacity: true)
            body.u8(Self.recordFrame)
            body.varint(UInt64(batch.tenant[i]))
            for d in 0..<batch.dims.count { body.varint(UInt64(batch.dims[d][i])) }
            batch.withRequestIDBytes(at: i) { body.bytes16($0) }
            body.varint(UInt64(batch.inputTokens[i]))
            body.varint(UInt64(batch.outputTokens[i]))
            body.varint(UInt64(batch.costNanos[i]))
            body.svarint(batch.createdAt[i])
            Self.frame(body.bytes, into: &out)
        }
        batchSequence += 1
        body.bytes.removeAll(keepingCapacity: true)
        body.u8(Self.commitFrame)
        body.u64(batchSequence)
        body.u32(UInt32(rows.count))
        Self.frame(body.bytes, into: &out)
    }

    private static func frame(_ body: [UInt8], into out: inout ByteWriter) {
        out.u32(UInt32(body.count))
        out.u32(CRC32C.checksum(body))
        out.bytes.append(contentsOf: body)
    }

    /// Appends encoded frames; durable only after `sync()`. After any failed write or sync, throws that failure.
    package func write(_ bytes: [UInt8]) throws {
        try sticky { try FileIO.writeAll(fd, bytes, path: path) }
        writtenEnd += bytes.count
    }

    /// `fdatasync`s the current segment. After any failed write or sync, throws that failure.
    package func sync() throws {
        try sticky { try FileIO.sync(fd, path: path) }
    }

    /// Marks everything written so far as acknowledged (called once the caller's durability rule is met).
    package func acknowledge() {
        acknowledgedEnd = writtenEnd
    }

    private func sticky(_ body: () throws -> Void) throws {
        if let failure { throw failure }
        do {
            try body()
        } catch {
            let e = error as? StoreError ?? .io(path: path, operation: "write", errno: EIO)
            failure = e
            throw e
        }
    }

    /// After a failed write or sync: cuts the current segment back to its last acknowledged commit, syncs it, and
    /// continues in a fresh segment, so writes can resume once the cause (a full disk) is gone. Throws, and the
    /// log stays failed, if any step fails. Nothing acknowledged is touched: the cut removes only the bytes of
    /// the group whose write or sync failed, which no caller was told were stored.
    ///
    /// A fresh file descriptor, not the failed one: an `fsync` on a descriptor that already reported a writeback
    /// error can succeed without the pages being on disk; the cut-off pages no longer matter, and the pages
    /// before `acknowledgedEnd` were synced (fsync mode) when they were acknowledged.
    package func recover() throws {
        guard failure != nil else { return }
        let cutFD = try FileIO.open(path, O_WRONLY)
        do {
            try FileIO.truncate(cutFD, to: acknowledgedEnd, path: path)
            try FileIO.sync(cutFD, path: path)
        } catch {
            FileIO.close(cutFD)
            throw error
        }
        FileIO.close(cutFD)
        try continueInNextSegment()
        failure = nil
    }

    /// Closes the current segment (synced) and starts the next; returns the new segment number.
    package func rotate() throws -> UInt64 {
        try sync()
        try continueInNextSegment()
        return segment
    }

    /// Opens segment `segment + 1` and makes it current. On failure no new segment is left behind: appends go on in
    /// the current one, and a stray empty segment after it would make a crash's torn tail there look like damage.
    private func continueInNextSegment() throws {
        let next = segment + 1
        let nextPath = Self.path(directory, next)
        let opened: (Int32, Int)
        do {
            opened = try Self.openSegment(nextPath, next)
        } catch {
            try? FileIO.remove(nextPath)
            throw error
        }
        do {
            try FileIO.syncDirectory(directory)
        } catch {
            FileIO.close(opened.0)
            try? FileIO.remove(nextPath)
            throw error
        }
        FileIO.close(fd)
        (fd, writtenEnd) = opened
        acknowledgedEnd = writtenEnd
        segment = next
        path = nextPath
    }

    /// Deletes segments numbered below `segment` (their records are in durable parts).
    package static func removeSegments(in directory: String, before segment: UInt64) {
        for s in segments(in: directory) where s < segment { try? FileIO.remove(path(directory, s)) }
    }

    /// What replay found.
    package struct ReplayResult {
        package var batches = 0
        package var records = 0
        /// Set when the end of the log was cut (a torn tail, or a damaged one): where and why.
        package var truncated: (segment: UInt64, offset: Int, reason: String)?
        package var lastSegment: UInt64 = 0
        /// Files written to `quarantine/`: copies of damaged bytes and loss records.
        package var kept: [String] = []
        /// Damaged ranges and what they cost (batches skipped in place, or a damaged tail cut).
        package var losses: [WALLoss] = []
    }

    /// Replays committed batches of segments >= `from`, in order.
    ///
    /// A frame that fails (checksum, parse, length) costs only its batch: replay scans forward byte by byte for
    /// the next frame that is whole and passes its checksum, skips record and commit frames of the damaged
    /// batch, and resumes at the next strings frame, in this segment or the next. Damage with nothing intact
    /// after it in the last segment is the log's tail: with `repair` it is cut back to the last intact commit,
    /// silently when it is what a crash leaves (a torn or uncommitted last batch), otherwise reported as a
    /// loss. With `repair` and a `quarantine` directory, damaged bytes are copied there and each loss is
    /// recorded in a `.loss` file; nothing in the log is removed except a tail.
    package static func replay(directory: String, from: UInt64, repair: Bool = true, quarantine: String? = nil,
                               now: Int64? = nil, apply: (RecordBatch) throws -> Void) throws -> ReplayResult {
        var result = ReplayResult()
        let all = segments(in: directory).filter { $0 >= from }
        result.lastSegment = all.last ?? from
        // The log's tail is the last segment holding more than a header: later ones (a fresh segment, or one a
        // failed rotate of an older build left empty) hold nothing, and must not turn a crash's torn tail into damage.
        let tailIndex = all.lastIndex { (FileIO.fileSize(path(directory, $0)) ?? 0) > headerSize } ?? all.count - 1
        for (k, seg) in all.enumerated() {
            let p = path(directory, seg)
            let isLast = k >= tailIndex
            var bytes = try FileIO.readAll(p)
            var applied = Set<Int>()
            var scan = try scanSegment(bytes, segment: seg, skip: [], applied: &applied, apply: apply, into: &result)
            if !scan.losses.isEmpty || scan.tail.map({ !$0.uncommittedOnly }) == true {
                // Read the file again before believing damage, so a bit flipped on the way (not on the disk) costs
                // nothing. Batches the first pass applied are not applied twice.
                bytes = try FileIO.readAll(p)
                scan = try scanSegment(bytes, segment: seg, skip: applied, applied: &applied, apply: apply, into: &result)
            }
            var losses = scan.losses.map { $0.loss(segment: seg, cut: false, now: now) }
            if let tail = scan.tail {
                if isLast {
                    result.truncated = (seg, tail.damagedAt, tail.reason)
                    if !tail.crash {
                        var loss = tail.loss(segment: seg, cut: true, now: now)
                        loss.end = bytes.count
                        losses.append(loss)
                    }
                } else {
                    // Not the log's tail: later segments go on, so this is damage, never a crash's torn write.
                    var loss = tail.loss(segment: seg, cut: false, now: now)
                    loss.end = bytes.count
                    losses.append(loss)
                }
            }
            if repair, let quarantine, FileIO.exists(quarantine) {
                for i in losses.indices {
                    let name = losses[i].cut
                        ? WALLoss.segmentFile(seg) + ".cut-at-\(losses[i].start)"
                        : WALLoss.segmentFile(seg) + ".damaged-\(losses[i].start)-\(losses[i].end)"
                    let record = losses[i].recordName
                    if !FileIO.exists(quarantine + "/" + name) {
                        try FileIO.writeAtomically(Array(bytes[losses[i].start..<losses[i].end]), to: quarantine + "/" + name,
                                                   directory: quarantine)
                        result.kept.append(name)
                    }
                    losses[i].copy = name
                    if !FileIO.exists(quarantine + "/" + record) {
                        try FileIO.writeAtomically(losses[i].encode(), to: quarantine + "/" + record, directory: quarantine)
                        result.kept.append(record)
                    }
                }
            }
            result.losses += losses
            if isLast, let tail = scan.tail, repair {
                let good = tail.start
                try FileIO.truncate(p, to: good)
                if good == 0 { try? FileIO.remove(p) }
                try FileIO.syncDirectory(directory)
            }
        }
        return result
    }

    static let checksumMismatch = "frame checksum mismatch"
    static let doesNotParse = "frame does not parse"
    static let uncommittedTail = "uncommitted records at the end"
    static let badHeader = "bad segment header"

    /// A damaged range being scanned past: where it starts and what it held.
    struct Damage {
        /// The end of the last applied commit (or of the header) before the damage.
        var start: Int
        var damagedAt: Int
        var reason: String
        /// Only what a crash leaves so far: a torn or uncommitted last batch, nothing intact after it.
        var crash: Bool
        var batches = 0
        var records = 0
        /// Intact record frames seen since the last intact commit frame in the range.
        var pending = 0
        /// Whether bytes after the last intact commit frame belong to a batch that lost its commit frame.
        var trailing = true
        /// Whether bytes that are no frame were skipped (a damaged header, garbage): they may have held whole
        /// batches, commit frames included, so the counts are lower bounds.
        var skipped = false
        /// Where replay resumed (set when the range is closed by an applied batch).
        var end = 0

        var uncommittedOnly: Bool { crash && reason == WriteAheadLog.uncommittedTail }

        func loss(segment: UInt64, cut: Bool, now: Int64?) -> WALLoss {
            WALLoss(segment: segment, start: start, end: end, damagedAt: damagedAt, reason: reason,
                    batches: batches + (trailing ? 1 : 0), records: records + pending, exact: !trailing && !skipped, cut: cut,
                    detectedAt: now)
        }
    }

    /// What one segment's scan found.
    struct SegmentScan {
        /// Damaged ranges followed by an applied batch in the same segment.
        var losses: [Damage] = []
        /// What follows the last applied commit, when anything does: the log may be cut at `tail.start`.
        var tail: Damage?
    }

    /// Applies the committed batches of one segment's bytes (except those starting at an offset in `skip`),
    /// resynchronising after damage; records the start of every batch it applies in `applied`.
    private static func scanSegment(_ bytes: [UInt8], segment seg: UInt64, skip: Set<Int>, applied: inout Set<Int>,
                                    apply: (RecordBatch) throws -> Void, into result: inout ReplayResult) throws -> SegmentScan {
        var scan = SegmentScan()
        try bytes.withUnsafeBytes { buf in
            var damage: Damage?
            var good = headerSize
            var off = headerSize
            var batchStart = headerSize
            var batch = RecordBatch()
            var table: [UInt32] = []
            var line = 0

            /// Scans from `from` to the next intact strings frame, counting the intact frames of lost batches;
            /// nil when nothing intact follows.
            func resync(_ from: Int) -> Int? {
                var q = from
                while let f = nextValidFrame(buf, from: q) {
                    if f.offset > q {
                        damage!.trailing = true
                        damage!.skipped = true
                    }
                    damage!.crash = false
                    switch f.type {
                    case stringsFrame:
                        return f.offset
                    case recordFrame:
                        damage!.pending += 1
                        damage!.trailing = true
                    default:
                        damage!.batches += 1
                        damage!.records += Int(UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: f.offset + 8 + 9, as: UInt32.self)))
                        damage!.pending = 0
                        damage!.trailing = false
                    }
                    q = f.offset + 8 + f.length
                }
                if q < buf.count {
                    damage!.trailing = true
                    damage!.skipped = true
                }
                return nil
            }

            /// Records a failure of the frame at `off` and resynchronises from `resume` (nil: nothing may follow);
            /// returns false when nothing intact follows.
            func fail(_ reason: String, crash: Bool, resume: Int?) -> Bool {
                if damage == nil {
                    damage = Damage(start: good, damagedAt: off, reason: reason, crash: crash)
                } else {
                    damage!.crash = false
                }
                damage!.pending += batch.count
                damage!.trailing = true
                batch = RecordBatch()
                table = []
                line = 0
                guard let resume, let q = resync(resume) else { return false }
                off = q
                batchStart = q
                return true
            }

            /// Where to look for the next batch after a frame at `off` that is whole (`len` fits) but fails its
            /// checksum, or whose length runs past the end; nil for a torn last frame. The frame's own bytes are
            /// looked into only when its header cannot be trusted: a client's request id or string may hold bytes
            /// that look like frames, and a crash must never turn them into a batch.
            func resumeAfterBadFrame(len: Int, crc: UInt32) -> (resume: Int?, reason: String, crash: Bool) {
                let bodyStart = off + 8
                // The body intact, the length field damaged: the body parses to its own end and that matches the CRC.
                if let n = naturalBodyLength(buf, at: bodyStart), n != len,
                   CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buf[bodyStart..<(bodyStart + n)])) == crc {
                    return (bodyStart + n, "frame length damaged", false)
                }
                let plausible: Bool
                if bodyStart < buf.count {
                    plausible = switch buf[bodyStart] {
                    case commitFrame: len == commitBody
                    case recordFrame: len <= maxRecordBody
                    case stringsFrame: len <= maxStringsBody
                    default: false
                    }
                } else {
                    plausible = len <= maxStringsBody
                }
                if len > buf.count - bodyStart {
                    // A plausible frame cut short by the end of the file: what a crash mid-write leaves. Its claimed
                    // length covers everything after it, so nothing after it is a frame.
                    return plausible ? (nil, "torn frame", true) : (off + 1, "frame header damaged", false)
                }
                let end = bodyStart + len
                if plausible && (end == buf.count || validFrame(buf, at: end) != nil) {
                    return (end, checksumMismatch, false)
                }
                return (off + 1, checksumMismatch, false)
            }

            func frames() throws {
                while off < buf.count {
                    guard buf.count - off >= 8 else {
                        _ = fail("torn frame header", crash: true, resume: nil)
                        break
                    }
                    let len = Int(UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: off, as: UInt32.self)))
                    let crc = UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: off + 4, as: UInt32.self))
                    guard len >= 1 else {
                        // Zeros: never written by the encoder (a body has a type byte); unwritten space after a
                        // power loss, or a zeroed block with intact frames after it.
                        if fail("torn frame", crash: true, resume: off + 1) { continue } else { break }
                    }
                    guard len <= buf.count - off - 8,
                          CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buf[(off + 8)..<(off + 8 + len)])) == crc
                    else {
                        let bad = resumeAfterBadFrame(len: len, crc: crc)
                        if fail(bad.reason, crash: bad.crash, resume: bad.resume) { continue } else { break }
                    }
                    // The frame is whole and its checksum matches: its length can be trusted, so a resync after it
                    // starts at the next frame, never inside this one.
                    let next = off + 8 + len
                    var r = ByteReader(UnsafeRawBufferPointer(rebasing: buf[(off + 8)..<next]))
                    do {
                        let type = try r.u8()
                        if type == stringsFrame {
                            let count = try r.varint()
                            guard count <= UInt64(r.remaining / 2) else { throw ByteReader.Overrun(offset: r.offset) }
                            let n = Int(count)
                            table = []
                            table.reserveCapacity(n)
                            for _ in 0..<n {
                                let b = try r.bytes16()
                                table.append(batch.strings.intern(b, make: { String(utf8: $0) })!)
                            }
                        } else if type == recordFrame {
                            line += 1
                            try decodeRecord(&r, table: table, into: &batch, line: line)
                        } else if type == commitFrame {
                            _ = try r.u64()
                            let n = Int(try r.u32())
                            guard n == batch.count else {
                                // The frames are intact but do not add up: the batch is lost, with the count its commit states.
                                let pending = batch.count
                                _ = fail("commit count mismatch", crash: false, resume: nil)
                                damage!.pending -= pending
                                damage!.batches += 1
                                damage!.records += n
                                damage!.trailing = false
                                guard let q = resync(next) else { break }
                                off = q
                                batchStart = q
                                continue
                            }
                            if !skip.contains(batchStart) {
                                if n > 0 { try apply(batch) }
                                result.batches += 1
                                result.records += n
                                applied.insert(batchStart)
                            }
                            if var d = damage {
                                d.end = batchStart
                                scan.losses.append(d)
                                damage = nil
                            }
                            batch = RecordBatch()
                            table = []
                            line = 0
                            good = next
                            batchStart = next
                        } else {
                            if fail("unknown frame type \(type)", crash: false, resume: next) { continue } else { break }
                        }
                    } catch is ByteReader.Overrun {
                        if fail(doesNotParse, crash: false, resume: next) { continue } else { break }
                    }
                    off = next
                }
                if damage == nil && good < buf.count {
                    damage = Damage(start: good, damagedAt: batchStart, reason: uncommittedTail, crash: true)
                    damage!.pending = batch.count
                }
                scan.tail = damage
            }

            guard buf.count >= headerSize, Array(buf[0..<8]) == magic,
                  UInt64(littleEndian: buf.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) == seg
            else {
                // The header holds no batch: a damaged one costs nothing by itself, and the frames after it are
                // found as after any damage. A header shorter than its size is a crash while creating the segment.
                good = 0
                damage = Damage(start: 0, damagedAt: 0, reason: buf.count < headerSize ? "torn segment header" : badHeader,
                                crash: buf.count < headerSize, trailing: false)
                guard buf.count >= headerSize, let q = resync(headerSize) else {
                    scan.tail = damage
                    return
                }
                off = q
                batchStart = q
                return try frames()
            }
            try frames()
        }
        return scan
    }

    /// The frame at `o`, if it is whole, has a known type and that type's shape, and passes its checksum.
    /// The shape checks come first, so scanning damaged bytes rarely computes a CRC.
    static func validFrame(_ buf: UnsafeRawBufferPointer, at o: Int) -> (offset: Int, type: UInt8, length: Int)? {
        guard buf.count - o >= 9 else { return nil }
        let len = Int(UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: o, as: UInt32.self)))
        guard len >= 1, len <= buf.count - o - 8 else { return nil }
        let type = buf[o + 8]
        let shaped = switch type {
        case commitFrame: len == commitBody
        case recordFrame: len <= maxRecordBody
        case stringsFrame: stringsShapeFits(UnsafeRawBufferPointer(rebasing: buf[(o + 9)..<(o + 8 + len)]))
        default: false
        }
        guard shaped else { return nil }
        let crc = UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: o + 4, as: UInt32.self))
        guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buf[(o + 8)..<(o + 8 + len)])) == crc else { return nil }
        return (o, type, len)
    }

    /// The first valid frame at or after `from`, scanning byte by byte.
    static func nextValidFrame(_ buf: UnsafeRawBufferPointer, from: Int) -> (offset: Int, type: UInt8, length: Int)? {
        var o = from
        while buf.count - o >= 9 {
            if let f = validFrame(buf, at: o) { return f }
            o += 1
        }
        return nil
    }

    /// The length a frame body starting at `bodyStart` has by its own structure (type byte and fields), if it
    /// fits in `buf`. The encoder's frames parse to exactly their length, so a body that parses to `n` bytes and
    /// matches the stored CRC over those `n` is that frame, whatever its length field says.
    private static func naturalBodyLength(_ buf: UnsafeRawBufferPointer, at bodyStart: Int) -> Int? {
        guard bodyStart < buf.count else { return nil }
        var r = ByteReader(UnsafeRawBufferPointer(rebasing: buf[bodyStart...]))
        do {
            switch try r.u8() {
            case recordFrame:
                for _ in 0..<8 { _ = try r.varint() }
                _ = try r.bytes16()
                for _ in 0..<4 { _ = try r.varint() }
            case commitFrame:
                _ = try r.take(commitBody - 1)
            case stringsFrame:
                let n = try r.varint()
                guard n <= UInt64(r.remaining / 2) else { return nil }
                for _ in 0..<Int(n) { _ = try r.bytes16() }
            default:
                return nil
            }
        } catch {
            return nil
        }
        return r.offset
    }

    /// Whether a strings payload is a count and exactly that many `string16`s.
    private static func stringsShapeFits(_ payload: UnsafeRawBufferPointer) -> Bool {
        var r = ByteReader(payload)
        guard let count = try? r.varint(), count <= UInt64(r.remaining / 2) else { return false }
        for _ in 0..<Int(count) {
            guard (try? r.bytes16()) != nil else { return false }
        }
        return r.remaining == 0
    }

    private static func decodeRecord(_ r: inout ByteReader, table: [UInt32], into batch: inout RecordBatch, line: Int) throws {
        func code() throws -> UInt32 {
            let i = try r.varint()
            guard i < UInt64(table.count) else { throw ByteReader.Overrun(offset: r.offset) }
            return table[Int(i)]
        }
        let t = try code()
        let d = (try code(), try code(), try code(), try code(), try code(), try code(), try code())
        let rid = try r.bytes16()
        let inT = Int64(bitPattern: try r.varint()), outT = Int64(bitPattern: try r.varint())
        let cost = Int64(bitPattern: try r.varint()), at = try r.svarint()
        batch.append(tenant: t, dims: d, requestID: rid,
                     inputTokens: inT, outputTokens: outT, costNanos: cost, createdAt: at, line: line)
    }
}
