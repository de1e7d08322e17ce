/// A fast 64-bit hash of a byte string (wyhash-style mixing of 8-byte words); not cryptographic.
@inlinable
package func byteHash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> UInt64 {
    var h = seed ^ (UInt64(bytes.count) &* 0xC2B2_AE3D_27D4_EB4F)
    var i = 0
    let n = bytes.count
    while i + 8 <= n {
        let w = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
        h = mix64(h ^ w)
        i += 8
    }
    if i < n {
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(bytes[i]) << shift
            shift += 8
            i += 1
        }
        h = mix64(h ^ tail ^ 0xFF51_AFD7_ED55_8CCD)
    }
    return mix64(h)
}

@inlinable
package func mix64(_ x: UInt64) -> UInt64 {
    var z = x &* 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// The hash string interners key their tables by (`StringInterner`, and the hashes callers compute ahead for it): kept
/// in memory only, never written, so it is free to differ from `byteHash` (whose values part filters store).
///
/// Cheaper than `byteHash` on the short strings interned per record (ids of 3-20 bytes, 8 fields a record): one
/// multiply per 8-byte word instead of a full mix, the last word read whole (overlapping the one before) instead of
/// byte by byte, strings under 8 bytes read as one word (`shortWord`); one full mix at the end.
@inline(__always)
package func stringHash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    let n = bytes.count
    let k: UInt64 = 0x9FB2_1C65_1E98_DF25
    var h = 0x9E37_79B9_7F4A_7C15 ^ (UInt64(truncatingIfNeeded: n) &* k)
    if n >= 8 {
        var i = 0
        while i + 8 < n {
            h = (h ^ UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))) &* k
            h ^= h >> 32
            i += 8
        }
        h = (h ^ UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self))) &* k
    } else if n > 0 {
        h = (h ^ shortWord(bytes)) &* k
    }
    return mix64(h)
}

/// Fewer than 8 bytes as one little-endian word, zero-padded, reading nothing past the end: from 4 bytes on, two
/// 4-byte reads that overlap on 8 - n bytes (which hold the same values in both).
@inline(__always)
package func shortWord(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    let n = bytes.count
    if n >= 4 {
        let lo = UInt64(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
        let hi = UInt64(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)))
        return lo | hi << UInt64((n - 4) * 8)
    }
    var w: UInt64 = 0
    var i = n
    while i > 0 {
        i -= 1
        w = w << 8 | UInt64(bytes[i])
    }
    return w
}
