/// Frame-of-reference bit packing: values are stored as `value - base` in `width` bits each,
/// little-endian, LSB first. Unpacking reads one unaligned 64-bit word per value, so the packed
/// buffer always carries 8 bytes of zero padding after the last value.
package enum BitPacking {
    /// Bits needed to hold `range` (0 for 0).
    @inlinable
    package static func width(of range: UInt64) -> Int { range == 0 ? 0 : 64 - range.leadingZeroBitCount }

    /// Bytes of a packed buffer of `count` values of `width` bits, padding included.
    @inlinable
    package static func packedSize(count: Int, width: Int) -> Int { (count * width + 7) / 8 + 8 }

    /// Packs `values[i] - base` (each must fit `width` bits) into `out`, which has `packedSize` zeroed bytes.
    package static func pack(_ values: UnsafeBufferPointer<Int64>, base: Int64, width: Int, into out: UnsafeMutableRawBufferPointer) {
        guard width > 0 else { return }
        if width == 64 {
            for (i, v) in values.enumerated() {
                out.storeBytes(of: UInt64(bitPattern: v &- base).littleEndian, toByteOffset: i * 8, as: UInt64.self)
            }
            return
        }
        var acc: UInt64 = 0
        var bits = 0
        var o = 0
        for v in values {
            let u = UInt64(bitPattern: v &- base)
            acc |= u << UInt64(bits)
            let room = 64 - bits
            if width >= room {
                out.storeBytes(of: acc.littleEndian, toByteOffset: o, as: UInt64.self)
                o += 8
                acc = room == 64 ? 0 : u >> UInt64(room)
                bits = width - room
            } else {
                bits += width
            }
        }
        if bits > 0 {
            var b = 0
            while b < bits {
                out[o] = UInt8(truncatingIfNeeded: acc >> UInt64(b))
                o += 1
                b += 8
            }
        }
    }

    /// Unpacks `count` values into `out` as `base + packed`.
    @inlinable
    package static func unpack(_ packed: UnsafeRawBufferPointer, count: Int, base: Int64, width: Int, into out: UnsafeMutablePointer<Int64>) {
        if width == 0 {
            out.update(repeating: base, count: count)
            return
        }
        if width > 56 {
            unpackWide(packed, count: count, base: base, width: width, into: out)
            return
        }
        let mask: UInt64 = (1 << UInt64(width)) - 1
        let p = packed.baseAddress!
        var bit = 0
        for i in 0..<count {
            let w = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: bit >> 3, as: UInt64.self))
            out[i] = base &+ Int64(bitPattern: (w >> UInt64(bit & 7)) & mask)
            bit &+= width
        }
    }

    /// Unpacks `count` values into 32-bit outputs (dictionary codes); `base + packed` must fit.
    @inlinable
    package static func unpack32(_ packed: UnsafeRawBufferPointer, count: Int, base: Int64, width: Int, into out: UnsafeMutablePointer<UInt32>) {
        let b32 = UInt32(truncatingIfNeeded: base)
        if width == 0 {
            out.update(repeating: b32, count: count)
            return
        }
        let mask: UInt64 = (1 << UInt64(min(width, 32))) - 1
        let p = packed.baseAddress!
        var bit = 0
        for i in 0..<count {
            let w = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: bit >> 3, as: UInt64.self))
            out[i] = b32 &+ UInt32(truncatingIfNeeded: (w >> UInt64(bit & 7)) & mask)
            bit &+= width
        }
    }

    @usableFromInline
    static func unpackWide(_ packed: UnsafeRawBufferPointer, count: Int, base: Int64, width: Int, into out: UnsafeMutablePointer<Int64>) {
        let mask: UInt64 = width == 64 ? ~0 : (1 << UInt64(width)) - 1
        var bit = 0
        for i in 0..<count {
            var v: UInt64 = 0
            var got = 0
            var b = bit
            while got < width {
                let byte = UInt64(packed[b >> 3])
                let off = b & 7
                let take = min(8 - off, width - got)
                v |= ((byte >> UInt64(off)) & ((1 << UInt64(take)) - 1)) << UInt64(got)
                got += take
                b += take
            }
            out[i] = base &+ Int64(bitPattern: v & mask)
            bit += width
        }
    }
}
