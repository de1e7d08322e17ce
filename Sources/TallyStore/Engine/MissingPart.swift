#if canImport(Glibc)
import Glibc
#endif
import TallyText

/// A part the store cannot read (quarantined, or skipped by a read-only open): whose rows, which hours, how many.
///
/// Every answer taken from a snapshot that misses a part covering it must say so; this is what it says.
public struct MissingPart: Sendable, Equatable, CustomStringConvertible {
    /// The part's id (its file name is `PartFormat.fileName(id)`).
    public var id: UInt64
    /// The tenant whose rows the part held; empty when not known (a damaged quarantine record).
    public var tenant: String
    /// Rows the part held, from the manifest entry it had.
    public var rows: Int
    /// `created_at` of its oldest and newest row (ms UTC).
    public var minTime: Int64
    public var maxTime: Int64
    /// What was wrong with it.
    public var reason: String

    public init(id: UInt64, tenant: String, rows: Int, minTime: Int64, maxTime: Int64, reason: String) {
        self.id = id
        self.tenant = tenant
        self.rows = rows
        self.minTime = minTime
        self.maxTime = maxTime
        self.reason = reason
    }

    /// The part's file name.
    public var fileName: String { PartFormat.fileName(id) }

    /// Start of the first hour the part held (ms UTC).
    public var firstHour: Int64 { TimeUnit.hourStart(minTime) }
    /// End of the last hour the part held (exclusive, ms UTC).
    public var endHour: Int64 {
        let last = TimeUnit.hourStart(maxTime)
        return last > Int64.max - TimeUnit.hourMillis ? .max : last + TimeUnit.hourMillis
    }

    /// Whether rows of `tenant` (nil: any tenant) with `from <= created_at < to` may be among the missing rows.
    /// A part whose tenant is unknown matches no named tenant, so it is never reported to another tenant.
    public func covers(tenant t: String?, from: Int64, to: Int64) -> Bool {
        (t == nil || t == tenant) && maxTime >= from && minTime < to
    }

    /// The part, its tenant, hours and rows, without the reason (which may name server paths).
    public var summary: String {
        guard !tenant.isEmpty else { return "part \(fileName) (tenant and hours unknown)" }
        return "part \(fileName) (tenant \(tenant), hours \(Timestamp.formatSeconds(firstHour)) to \(Timestamp.formatSeconds(endHour)), "
            + "\(rows) rows)"
    }

    public var description: String { summary + ": " + reason }
}

/// `quarantine/<part file>.missing`: what the store knew of a part when it quarantined it, so every later
/// answer (after restarts too) can say what is missing.
///
/// `TLYQUAR1`, `u32 version`, `u64 id`, `string16 tenant`, `u32 level`, `u64 rows`, `i64 minTime`, `i64 maxTime`,
/// `u64 bytes`, `i64 quarantinedAt` (ms UTC), `string16 reason`, then `u32 crc32c` of everything before it.
package enum QuarantineRecord {
    package static let magic: [UInt8] = Array("TLYQUAR1".utf8)
    package static let version: UInt32 = 1
    package static let suffix = ".missing"

    package static func encode(_ e: Manifest.Entry, reason: String, at millis: Int64) -> [UInt8] {
        var w = ByteWriter(capacity: 128 + reason.utf8.count)
        w.bytes.append(contentsOf: magic)
        w.u32(version)
        e.encode(into: &w)
        w.i64(millis)
        w.string16(String(reason.prefix(1000)))
        w.u32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    package static func decode(_ bytes: [UInt8], path: String) throws -> MissingPart {
        try bytes.withUnsafeBytes { buf in
            guard buf.count >= 16, Array(buf[0..<8]) == magic else {
                throw StoreError.corrupt(path: path, offset: 0, reason: "not a Tally quarantine record")
            }
            let crc = UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: buf.count - 4, as: UInt32.self))
            guard CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buf[0..<(buf.count - 4)])) == crc else {
                throw StoreError.corrupt(path: path, offset: buf.count - 4, reason: "quarantine record checksum mismatch")
            }
            var r = ByteReader(UnsafeRawBufferPointer(rebasing: buf[0..<(buf.count - 4)]), offset: 8)
            do {
                let v = try r.u32()
                guard v == version else { throw StoreError.unsupportedVersion(path: path, found: Int(v), supported: Int(version)) }
                let e = try Manifest.Entry(from: &r)
                _ = try r.i64()
                let reason = try r.string16()
                return MissingPart(id: e.id, tenant: e.tenant, rows: e.rows, minTime: e.minTime, maxTime: e.maxTime, reason: reason)
            } catch let e as ByteReader.Overrun {
                throw StoreError.corrupt(path: path, offset: e.offset, reason: "quarantine record does not parse")
            }
        }
    }

    /// Writes the record of a part about to be quarantined (before the part leaves the manifest).
    package static func write(_ e: Manifest.Entry, reason: String, quarantineDirectory: String) throws {
        let bytes = encode(e, reason: reason, at: TimeSource.systemWallMillis())
        try FileIO.writeAtomically(bytes, to: quarantineDirectory + "/" + PartFormat.fileName(e.id) + suffix, directory: quarantineDirectory)
    }

    /// The parts recorded in `quarantine/`. A part file there without a readable record (quarantined by an older
    /// build, or its record damaged) is described from its own footer when that still reads, else with an
    /// unknown tenant: it is never left out.
    package static func load(quarantineDirectory dir: String) -> [MissingPart] {
        let names = FileIO.list(dir)
        var out: [UInt64: MissingPart] = [:]
        for name in names where name.hasSuffix(".part" + suffix) {
            let partName = String(name.dropLast(suffix.count))
            guard let id = UInt64(partName.dropLast(5), radix: 16) else { continue }
            do {
                out[id] = try decode(try FileIO.readAll(dir + "/" + name), path: dir + "/" + name)
            } catch {
                out[id] = MissingPart(id: id, tenant: "", rows: 0, minTime: .min, maxTime: .max,
                                      reason: "quarantined; its record is unreadable (\(error))")
            }
        }
        for name in names where name.hasSuffix(".part") {
            guard let id = UInt64(name.dropLast(5), radix: 16), out[id] == nil else { continue }
            if let r = try? PartReader(path: dir + "/" + name) {
                out[id] = MissingPart(id: id, tenant: r.tenant, rows: r.rows, minTime: r.minTime,
                                      maxTime: r.maxTime, reason: "quarantined (no record; described from its footer)")
            } else {
                out[id] = MissingPart(id: id, tenant: "", rows: 0, minTime: .min, maxTime: .max,
                                      reason: "quarantined (no record, footer unreadable)")
            }
        }
        return out.values.sorted { $0.id < $1.id }
    }
}
