/// The trailer check of a gzip member (RFC 1952 section 2.3.1): CRC-32 and ISIZE of the decompressed data.
///
/// The decompressor reports success for a stream that stops before its end, so a body cut short (no
/// trailer, or part of one) would be stored as if whole. zlib checks the trailer when it reaches it; this
/// check makes reaching it a requirement: the last 8 bytes of the body must be the CRC-32 and length (mod
/// 2^32) of what was decompressed. A body with bytes after its member's trailer, or several members, fails too.
enum GzipTrailer {
    /// Whether `compressed` ends with the trailer of exactly `decompressed`.
    static func matches(compressed: ByteView, decompressed: ByteView) -> Bool {
        let n = compressed.count
        guard n >= 18 else { return false }
        func le32(_ at: Int) -> UInt32 {
            (0..<4).reduce(UInt32(0)) { $0 | UInt32(compressed[compressed.startIndex + at + $1]) << (8 * UInt32($1)) }
        }
        return le32(n - 8) == crc32(decompressed) && le32(n - 4) == UInt32(truncatingIfNeeded: decompressed.count)
    }

    typealias ByteView = UnsafeRawBufferPointer

    /// CRC-32 (IEEE 802.3, reflected, as gzip uses), a byte at a time from a table.
    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        }
        return c ^ 0xFFFF_FFFF
    }

    private static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
}
