#if canImport(Glibc)
import Glibc
#endif

/// The write-ahead log: numbered segment files of CRC-framed records, each batch closed by a commit frame.
///
/// Segment file: `TLYWAL01`, `u64` segment number, then frames. A frame is
/// `u32 length, u32 crc32c(body), body` where `body = u8 type, payload`: type 3 lists the strings
/// the next records refer to, type 1 is one record, type 2 commits the records since the previous commit.
/// Replay applies only committed batches and stops at the first torn or bad frame.
package final class WriteAheadLog {
    package static let magic: [UInt8] = Array("TLYWAL01".utf8)
    package static let headerSize = 16
    static let recordFrame: UInt8 = 1
    static let commitFrame: UInt8 = 2
    static let stringsFrame: UInt8 = 3

    package let directory: String
    package private(set) var segment: UInt64
    private var fd: Int32
    private var path: String
    private var batchSequence: UInt64 = 0
    /// The first failed write or sync. After it the log refuses every write and sync: the tail on disk is
    /// unknown, and a retried `fsync` may report success for pages the kernel already dropped.
    package private(set) var failure: StoreError?

    /// Opens (creating) segment `segment` for appending at its end.
    package init(directory: String, segment: UInt64) throws {
        self.directory = directory
        self.segment = segment
        path = Self.path(directory, segment)
        fd = try Self.openSegment(path, segment)
    }

    deinit { close(fd) }

    package static func path(_ directory: String, _ segment: UInt64) -> String {
        let hex = String(segment, radix: 16)
        return directory + "/" + String(repeating: "0", count: max(0, 16 - hex.count)) + hex + ".wal"
    }

    private static func openSegment(_ path: String, _ segment: UInt64) throws -> Int32 {
        let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_APPEND)
        var st = stat()
        fstat(fd, &st)
        if st.st_size == 0 {
            var w = ByteWriter(capacity: headerSize)
            w.bytes.append(contentsOf: magic)
            w.u64(segment)
            try FileIO.writeAll(fd, w.bytes, path: path)
            try FileIO.sync(fd, path: path)
        }
        return fd
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
    }

    /// `fdatasync`s the current segment. After any failed write or sync, throws that failure.
    package func sync() throws {
        try sticky { try FileIO.sync(fd, path: path) }
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

    /// Closes the current segment (synced) and starts the next; returns the new segment number.
    package func rotate() throws -> UInt64 {
        try sync()
        let next = segment + 1
        let nfd = try Self.openSegment(Self.path(directory, next), next)
        try FileIO.syncDirectory(directory)
        close(fd)
        fd = nfd
        segment = next
        path = Self.path(directory, next)
        return next
    }

    /// Deletes segments numbered below `segment` (their records are in durable parts).
    package static func removeSegments(in directory: String, before segment: UInt64) {
        for s in segments(in: directory) where s < segment { unlink(path(directory, s)) }
    }

    /// What replay found.
    package struct ReplayResult {
        package var batches = 0
        package var records = 0
        /// Set when a torn or bad frame was found: where the log was cut.
        package var truncated: (segment: UInt64, offset: Int, reason: String)?
        package var lastSegment: UInt64 = 0
        /// Files moved or written to `quarantine/` because the log was cut at damage, not at a crash's torn tail.
        package var kept: [String] = []
    }

    /// Replays committed batches of segments >= `from`, in order; cuts the log at the first bad frame
    /// (truncating that segment to its last commit and deleting later segments).
    package static func replay(directory: String, from: UInt64, repair: Bool = true, apply: (RecordBatch) throws -> Void) throws -> ReplayResult {
        var result = ReplayResult()
        let all = segments(in: directory).filter { $0 >= from }
        result.lastSegment = all.last ?? from
        for (k, seg) in all.enumerated() {
            let p = path(directory, seg)
            var bytes = try FileIO.readAll(p)
            var (good, cut) = try scan(bytes, segment: seg, from: 0, apply: apply, into: &result)
            if let c = cut, c.reason == checksumMismatch || c.reason == doesNotParse || c.reason == badHeader {
                // A frame that is all there but fails its checksum: read the file again before believing it, so a
                // bit flipped on the way (not on the disk) never cuts acknowledged batches. Batches are applied only
                // at their commit, so scanning resumes cleanly at the last good commit.
                bytes = try FileIO.readAll(p)
                (good, cut) = try scan(bytes, segment: seg, from: good, apply: apply, into: &result)
            }
            // Damage rather than the tail a crash leaves: keep what is cut off (the rest of this segment and the
            // later segments) in quarantine/, so bytes damaged on disk never destroy the acknowledged batches after them.
            let quarantine = directory + "/../quarantine"
            let keep = repair && cut.map { $0.reason != uncommittedTail && !$0.reason.hasPrefix("torn") } == true
                && FileIO.exists(quarantine)
            if keep, let c = cut, good < bytes.count {
                let name = String(p.split(separator: "/").last ?? "") + ".cut-at-\(c.offset)"
                try FileIO.writeAtomically(Array(bytes[good...]), to: quarantine + "/" + name, directory: quarantine)
                result.kept.append(name)
            }
            if let (offset, reason) = cut {
                result.truncated = (seg, offset, reason)
                result.lastSegment = seg
                guard repair else { break }
                guard truncate(p, off_t(good)) == 0 else { throw StoreError.io(path: p, operation: "truncate", errno: errno) }
                if good == 0 { unlink(p) }
                for later in all[(k + 1)...] {
                    let name = String(path(directory, later).split(separator: "/").last ?? "")
                    if keep, rename(path(directory, later), quarantine + "/" + name) == 0 {
                        result.kept.append(name)
                    } else {
                        unlink(path(directory, later))
                    }
                }
                try FileIO.syncDirectory(directory)
                result.lastSegment = seg
                break
            }
        }
        return result
    }

    static let checksumMismatch = "frame checksum mismatch"
    static let doesNotParse = "frame does not parse"
    static let uncommittedTail = "uncommitted records at the end"
    static let badHeader = "bad segment header"

    /// Applies the committed batches of one segment's bytes from `start` (0, or the end of a commit frame);
    /// returns the end of the last commit and where and why the scan stopped early, if it did.
    private static func scan(_ bytes: [UInt8], segment seg: UInt64, from start: Int, apply: (RecordBatch) throws -> Void,
                             into result: inout ReplayResult) throws -> (good: Int, cut: (offset: Int, reason: String)?) {
        var cut: (offset: Int, reason: String)?
        var good = start == 0 ? headerSize : start
        try bytes.withUnsafeBytes { buf in
            guard buf.count >= headerSize, Array(buf[0..<8]) == magic,
                  UInt64(littleEndian: buf.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) == seg
            else {
                cut = (0, badHeader)
                good = 0
                return
            }
            var batch = RecordBatch()
            var table: [UInt32] = []
            var off = good
            var line = 0
            while off < buf.count {
                guard buf.count - off >= 8 else { cut = (off, "torn frame header"); break }
                let len = Int(UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: off, as: UInt32.self)))
                let crc = UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: off + 4, as: UInt32.self))
                guard len >= 1, len <= buf.count - off - 8 else { cut = (off, "torn frame"); break }
                let body = UnsafeRawBufferPointer(rebasing: buf[(off + 8)..<(off + 8 + len)])
                guard CRC32C.checksum(body) == crc else { cut = (off, checksumMismatch); break }
                var r = ByteReader(body)
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
                            table.append(batch.strings.intern(b, make: { String(decoding: $0, as: UTF8.self) })!)
                        }
                    } else if type == recordFrame {
                        line += 1
                        try decodeRecord(&r, table: table, into: &batch, line: line)
                    } else if type == commitFrame {
                        _ = try r.u64()
                        let n = Int(try r.u32())
                        guard n == batch.count else { cut = (off, "commit count mismatch"); break }
                        if n > 0 { try apply(batch) }
                        result.batches += 1
                        result.records += n
                        batch = RecordBatch()
                        table = []
                        line = 0
                        good = off + 8 + len
                    } else {
                        cut = (off, "unknown frame type \(type)")
                        break
                    }
                } catch is ByteReader.Overrun {
                    cut = (off, doesNotParse)
                    break
                }
                off += 8 + len
            }
            if cut == nil && good < buf.count { cut = (good, uncommittedTail) }
        }
        return (good, cut)
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
