/// Constants of the part file format (docs/FORMAT.md, "Part files").
package enum PartFormat {
    /// The version the writer writes: 2 covers block headers and the trailer with checksums and adds
    /// the request-id filter; 3 adds priced cost blocks and patched `created_at` deltas
    /// (`BlockEncoding.priced`, `.patchedDelta`) and leaves thin part rollups out of small parts, so a
    /// build that reads only 2 refuses such a part as a version it does not read instead of as damage.
    /// 4 packs each hour entry's row count, "the next hour" and "a rollup mask follows" into one varint
    /// (`packedHoursVersion`). (Parts of fewer than `filterMinRows` rows have no request-id filter in any version
    /// this build writes: a reader of version 2 or later already takes a filter length of 0 as none.)
    package static let version: UInt16 = 4
    /// Versions a reader opens: version 1 parts (before block headers were checksummed) are read with
    /// every block header cross-checked against the footer and the column.
    package static let readableVersions: ClosedRange<UInt16> = 1...4
    /// The first version whose footer holds packed hour entries (docs/FORMAT.md, "Footer").
    package static let packedHoursVersion: UInt16 = 4
    package static let magic: [UInt8] = Array("TALLYPRT".utf8)
    package static let trailerMagic: [UInt8] = Array("TLP1".utf8)
    package static let headerSize = 16
    package static let trailerSize = 32
    /// Offset of the footer CRC in the trailer (excluded from the v2 footer checksum, which covers the trailer).
    package static let trailerFooterCRCOffset = 16
    package static let defaultGranuleRows = 8192

    /// A rollup of a dimension in an hour is kept only when the hour has at least this many rows per
    /// distinct value: smaller hours are cheaper to scan than to summarise on disk.
    package static let rollupRowsPerValue = 32
    /// A part with fewer rows may leave out the part rollup of a dimension with fewer than `rollupRowsPerValue` rows
    /// per value (version 3): it scans in well under a millisecond. A larger part keeps every part rollup.
    package static let smallPartRows = 1 << 16
    /// A part of fewer rows carries no request-id filter (its length is 0, as a v1 part's is absent): its ids are one
    /// block, a late id is checked against its hour's few rows directly (`Deduplicator.storedInParts`), and the filter
    /// would cost 1.25 of the ~28 bytes a record that a small tenant's parts take.
    package static let filterMinRows = 1 << 13

    /// File name of part `id`.
    package static func fileName(_ id: UInt64) -> String {
        let hex = String(id, radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.count)) + hex + ".part"
    }

    /// The v2 footer checksum: the stored footer, then the trailer without its footer-CRC field, so
    /// every trailer byte a reader uses (offsets, lengths, version, codec) is covered.
    package static func footerChecksum(footer: UnsafeRawBufferPointer, trailer: UnsafeRawBufferPointer, version: UInt16) -> UInt32 {
        var crc = CRC32C.checksum(footer)
        guard version >= 2 else { return crc }
        crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: trailer[0..<trailerFooterCRCOffset]), continuing: crc)
        return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: trailer[(trailerFooterCRCOffset + 4)..<trailerSize]), continuing: crc)
    }
}
