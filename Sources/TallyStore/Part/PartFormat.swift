/// Constants of the part file format (docs/FORMAT.md, "Part files").
package enum PartFormat {
    package static let version: UInt16 = 1
    package static let magic: [UInt8] = Array("TALLYPRT".utf8)
    package static let trailerMagic: [UInt8] = Array("TLP1".utf8)
    package static let headerSize = 16
    package static let trailerSize = 32
    package static let defaultGranuleRows = 8192

    /// A rollup of a dimension in an hour is kept only when the hour has at least this many rows per
    /// distinct value: smaller hours are cheaper to scan than to summarise on disk.
    package static let rollupRowsPerValue = 32

    /// File name of part `id`.
    package static func fileName(_ id: UInt64) -> String {
        let hex = String(id, radix: 16)
        return String(repeating: "0", count: max(0, 16 - hex.count)) + hex + ".part"
    }
}
