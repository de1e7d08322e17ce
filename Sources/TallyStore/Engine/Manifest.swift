/// The list of live parts and where WAL replay starts; replaced atomically on every change.
///
/// `MANIFEST`: `TLYMANI1`, `u32 version`, `u64 generation`, `u64 walStart`, `u64 nextPartID`,
/// `u32 partCount`, per part `u64 id, string16 tenant, u32 level, u64 rows, i64 minTime, i64 maxTime, u64 bytes`,
/// then `u32 crc32c` of everything before it.
package struct Manifest: Sendable, Equatable {
    package static let magic: [UInt8] = Array("TLYMANI1".utf8)
    package static let version: UInt32 = 1

    package struct Entry: Sendable, Equatable {
        package var id: UInt64
        package var tenant: String
        package var level: Int
        package var rows: Int
        package var minTime: Int64
        package var maxTime: Int64
        package var bytes: Int

        /// `u64 id, string16 tenant, u32 level, u64 rows, i64 minTime, i64 maxTime, u64 bytes`: a part's line in the
        /// manifest, and what a quarantine record keeps of it.
        func encode(into w: inout ByteWriter) {
            w.u64(id); w.string16(tenant); w.u32(UInt32(level)); w.u64(UInt64(rows))
            w.i64(minTime); w.i64(maxTime); w.u64(UInt64(bytes))
        }

        init(id: UInt64, tenant: String, level: Int, rows: Int, minTime: Int64, maxTime: Int64, bytes: Int) {
            (self.id, self.tenant, self.level, self.rows, self.minTime, self.maxTime, self.bytes) = (id, tenant, level, rows, minTime, maxTime, bytes)
        }

        /// Reads what `encode(into:)` wrote.
        init(from r: inout ByteReader) throws {
            self.init(id: try r.u64(), tenant: try r.string16(), level: Int(try r.u32()), rows: Int(try r.u64()),
                      minTime: try r.i64(), maxTime: try r.i64(), bytes: Int(try r.u64()))
        }
    }

    package var generation: UInt64 = 0
    /// The first WAL segment whose records are not all in parts.
    package var walStart: UInt64 = 1
    package var nextPartID: UInt64 = 1
    package var parts: [Entry] = []

    package init() {}

    package func encode() -> [UInt8] {
        var w = ByteWriter(capacity: 64 + parts.count * 64)
        w.bytes.append(contentsOf: Self.magic)
        w.u32(Self.version)
        w.u64(generation)
        w.u64(walStart)
        w.u64(nextPartID)
        w.u32(UInt32(parts.count))
        for p in parts { p.encode(into: &w) }
        w.u32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    package static func decode(_ bytes: [UInt8], path: String) throws -> Manifest {
        try bytes.withUnsafeBytes { buf in
            guard buf.count >= 12, Array(buf[0..<8]) == magic else {
                throw StoreError.corrupt(path: path, offset: 0, reason: "not a Tally manifest")
            }
            let body = UnsafeRawBufferPointer(rebasing: buf[0..<(buf.count - 4)])
            let crc = UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: buf.count - 4, as: UInt32.self))
            guard CRC32C.checksum(body) == crc else {
                throw StoreError.corrupt(path: path, offset: buf.count - 4, reason: "manifest checksum mismatch")
            }
            var r = ByteReader(body, offset: 8)
            do {
                let v = try r.u32()
                guard v == version else { throw StoreError.unsupportedVersion(path: path, found: Int(v), supported: Int(version)) }
                var m = Manifest()
                m.generation = try r.u64()
                m.walStart = try r.u64()
                m.nextPartID = try r.u64()
                let n = Int(try r.u32())
                for _ in 0..<n { m.parts.append(try Entry(from: &r)) }
                return m
            } catch let e as ByteReader.Overrun {
                throw StoreError.corrupt(path: path, offset: e.offset, reason: "manifest does not parse")
            }
        }
    }
}
