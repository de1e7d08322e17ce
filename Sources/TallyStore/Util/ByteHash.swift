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
