/// A split-block Bloom filter over the `request_id`s of one part, keyed by the second half of the
/// 128-bit hash the deduplicator already computes (`RequestIDSet.key(...).1`), so a lookup hashes nothing.
///
/// Lets the writer answer "is this late id stored in that part?" without decoding request-id blocks:
/// a "no" is certain, a "maybe" (every stored id, and about 1% of others at 10 bits per id) falls back
/// to decoding. Layout (docs/FORMAT.md, "Request-id filter"): `n` blocks of 32 bytes, each eight
/// little-endian `u32` words; a key sets one bit in each word of one block (the Parquet / Impala
/// split-block scheme), so a probe touches one cache line.
package enum RequestIDFilter {
    /// Bits per id: ~1% false positives, 1.25 bytes per record on disk.
    package static let bitsPerKey = 10
    package static let blockSize = 32

    /// The odd constants that spread a key's low 32 bits over the eight words (Parquet's salts).
    private static let salts: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0x47B6_137B, 0x4497_4D91, 0x8824_AD5B, 0xA2B7_289D, 0x7054_95C7, 0x2DF1_424B, 0x9EFC_4947, 0x5C6B_FB31)

    /// Blocks for `count` ids.
    package static func blocks(count: Int) -> Int { max(1, (count * bitsPerKey + 255) / 256) }

    @inline(__always)
    private static func salt(_ i: Int) -> UInt32 {
        switch i {
        case 0: salts.0
        case 1: salts.1
        case 2: salts.2
        case 3: salts.3
        case 4: salts.4
        case 5: salts.5
        case 6: salts.6
        default: salts.7
        }
    }

    /// The byte offset of the block a hash falls in (its high 32 bits, scaled to the block count).
    @inline(__always)
    private static func blockOffset(_ hash: UInt64, blocks: Int) -> Int {
        Int(truncatingIfNeeded: ((hash >> 32) &* UInt64(blocks)) >> 32) * blockSize
    }

    /// The filter bytes of ids with these hashes (`RequestIDSet.filterHash`).
    package static func build(_ hashes: UnsafeBufferPointer<UInt64>) -> [UInt8] {
        let n = blocks(count: hashes.count)
        var bytes = [UInt8](repeating: 0, count: n * blockSize)
        bytes.withUnsafeMutableBytes { out in
            for k in hashes {
                let at = blockOffset(k, blocks: n)
                let x = UInt32(truncatingIfNeeded: k)
                for i in 0..<8 {
                    let o = at + 4 * i
                    let w = UInt32(littleEndian: out.loadUnaligned(fromByteOffset: o, as: UInt32.self))
                    out.storeBytes(of: (w | 1 << ((x &* salt(i)) >> 27)).littleEndian, toByteOffset: o, as: UInt32.self)
                }
            }
        }
        return bytes
    }

    /// Whether an id with this hash may be among the ids of a filter (`filter.count` a non-zero multiple of 32).
    @inline(__always)
    package static func mayContain(_ filter: UnsafeRawBufferPointer, _ hash: UInt64) -> Bool {
        let at = blockOffset(hash, blocks: filter.count / blockSize)
        let x = UInt32(truncatingIfNeeded: hash)
        var missing: UInt32 = 0
        for i in 0..<8 {
            let w = UInt32(littleEndian: filter.loadUnaligned(fromByteOffset: at + 4 * i, as: UInt32.self))
            missing |= ~w & (1 << ((x &* salt(i)) >> 27))
        }
        return missing == 0
    }
}

/// Where a part's request-id filter is and its checksum (part footer, v2).
package struct FilterRef: Sendable, Hashable {
    package var offset: Int
    package var length: Int
    package var crc: UInt32
}
