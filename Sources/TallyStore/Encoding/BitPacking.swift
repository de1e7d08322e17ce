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
    package static func unpack(_ packed: UnsafeRawBufferPointer, count: Int, base: Int64, width: Int, into out: UnsafeMutablePointer<Int64>) {
        if width == 0 {
            out.update(repeating: base, count: count)
            return
        }
        if width > 56 {
            unpackWide(packed, count: count, base: base, width: width, into: out)
            return
        }
        unpackGrouped(packed.baseAddress!, count: count, base: base, width: width, into: out)
    }

    /// Unpacks `count` values into 32-bit outputs (dictionary codes); `base + packed` must fit.
    package static func unpack32(_ packed: UnsafeRawBufferPointer, count: Int, base: Int64, width: Int, into out: UnsafeMutablePointer<UInt32>) {
        let b32 = UInt32(truncatingIfNeeded: base)
        if width == 0 {
            out.update(repeating: b32, count: count)
            return
        }
        if width > 32 {
            // Wider than a code: the low 32 bits of each value, as the callers' checks expect.
            unpackLoop(packed.baseAddress!, from: 0, count: count, base: b32, width: width, bits: 32, into: out)
            return
        }
        unpackGrouped(packed.baseAddress!, count: count, base: b32, width: width, into: out)
    }

    /// Eight values of `width` bits take exactly `width` bytes, so in groups of eight every value's byte offset and
    /// shift are constants of the width: `unpack8` is inlined once per width (the switch), without the variable shifts
    /// of the general loop, which is left for the last `count % 8` values. `width` is 1...56.
    @inline(__always)
    private static func unpackGrouped<T: FixedWidthInteger>(_ p: UnsafeRawPointer, count: Int, base: T, width: Int, into out: UnsafeMutablePointer<T>) {
        let groups = count / 8
        switch width {
        case 1: unpack8(p, groups: groups, base: base, width: 1, into: out)
        case 2: unpack8(p, groups: groups, base: base, width: 2, into: out)
        case 3: unpack8(p, groups: groups, base: base, width: 3, into: out)
        case 4: unpack8(p, groups: groups, base: base, width: 4, into: out)
        case 5: unpack8(p, groups: groups, base: base, width: 5, into: out)
        case 6: unpack8(p, groups: groups, base: base, width: 6, into: out)
        case 7: unpack8(p, groups: groups, base: base, width: 7, into: out)
        case 8: unpack8(p, groups: groups, base: base, width: 8, into: out)
        case 9: unpack8(p, groups: groups, base: base, width: 9, into: out)
        case 10: unpack8(p, groups: groups, base: base, width: 10, into: out)
        case 11: unpack8(p, groups: groups, base: base, width: 11, into: out)
        case 12: unpack8(p, groups: groups, base: base, width: 12, into: out)
        case 13: unpack8(p, groups: groups, base: base, width: 13, into: out)
        case 14: unpack8(p, groups: groups, base: base, width: 14, into: out)
        case 15: unpack8(p, groups: groups, base: base, width: 15, into: out)
        case 16: unpack8(p, groups: groups, base: base, width: 16, into: out)
        case 17: unpack8(p, groups: groups, base: base, width: 17, into: out)
        case 18: unpack8(p, groups: groups, base: base, width: 18, into: out)
        case 19: unpack8(p, groups: groups, base: base, width: 19, into: out)
        case 20: unpack8(p, groups: groups, base: base, width: 20, into: out)
        case 21: unpack8(p, groups: groups, base: base, width: 21, into: out)
        case 22: unpack8(p, groups: groups, base: base, width: 22, into: out)
        case 23: unpack8(p, groups: groups, base: base, width: 23, into: out)
        case 24: unpack8(p, groups: groups, base: base, width: 24, into: out)
        case 25: unpack8(p, groups: groups, base: base, width: 25, into: out)
        case 26: unpack8(p, groups: groups, base: base, width: 26, into: out)
        case 27: unpack8(p, groups: groups, base: base, width: 27, into: out)
        case 28: unpack8(p, groups: groups, base: base, width: 28, into: out)
        case 29: unpack8(p, groups: groups, base: base, width: 29, into: out)
        case 30: unpack8(p, groups: groups, base: base, width: 30, into: out)
        case 31: unpack8(p, groups: groups, base: base, width: 31, into: out)
        case 32: unpack8(p, groups: groups, base: base, width: 32, into: out)
        case 33: unpack8(p, groups: groups, base: base, width: 33, into: out)
        case 34: unpack8(p, groups: groups, base: base, width: 34, into: out)
        case 35: unpack8(p, groups: groups, base: base, width: 35, into: out)
        case 36: unpack8(p, groups: groups, base: base, width: 36, into: out)
        case 37: unpack8(p, groups: groups, base: base, width: 37, into: out)
        case 38: unpack8(p, groups: groups, base: base, width: 38, into: out)
        case 39: unpack8(p, groups: groups, base: base, width: 39, into: out)
        case 40: unpack8(p, groups: groups, base: base, width: 40, into: out)
        case 41: unpack8(p, groups: groups, base: base, width: 41, into: out)
        case 42: unpack8(p, groups: groups, base: base, width: 42, into: out)
        case 43: unpack8(p, groups: groups, base: base, width: 43, into: out)
        case 44: unpack8(p, groups: groups, base: base, width: 44, into: out)
        case 45: unpack8(p, groups: groups, base: base, width: 45, into: out)
        case 46: unpack8(p, groups: groups, base: base, width: 46, into: out)
        case 47: unpack8(p, groups: groups, base: base, width: 47, into: out)
        case 48: unpack8(p, groups: groups, base: base, width: 48, into: out)
        case 49: unpack8(p, groups: groups, base: base, width: 49, into: out)
        case 50: unpack8(p, groups: groups, base: base, width: 50, into: out)
        case 51: unpack8(p, groups: groups, base: base, width: 51, into: out)
        case 52: unpack8(p, groups: groups, base: base, width: 52, into: out)
        case 53: unpack8(p, groups: groups, base: base, width: 53, into: out)
        case 54: unpack8(p, groups: groups, base: base, width: 54, into: out)
        case 55: unpack8(p, groups: groups, base: base, width: 55, into: out)
        case 56: unpack8(p, groups: groups, base: base, width: 56, into: out)
        default: preconditionFailure("width \(width)")
        }
        unpackLoop(p, from: groups * 8, count: count, base: base, width: width, bits: width, into: out)
    }

    /// The first `groups * 8` values, for one width (a constant where it is inlined).
    @inline(__always)
    private static func unpack8<T: FixedWidthInteger>(_ p: UnsafeRawPointer, groups: Int, base: T, width: Int, into out: UnsafeMutablePointer<T>) {
        let mask: UInt64 = (1 << UInt64(width)) - 1
        var src = p, dst = out
        for _ in 0..<groups {
            for j in 0..<8 {
                let bit = j * width
                let w = UInt64(littleEndian: src.loadUnaligned(fromByteOffset: bit >> 3, as: UInt64.self))
                dst[j] = base &+ T(truncatingIfNeeded: (w >> UInt64(bit & 7)) & mask)
            }
            src += width
            dst += 8
        }
    }

    /// Values `from..<count`, one at a time, keeping the low `bits` of each (at most 56, and at most `width`).
    @inline(__always)
    private static func unpackLoop<T: FixedWidthInteger>(_ p: UnsafeRawPointer, from: Int, count: Int, base: T, width: Int, bits: Int,
                                                         into out: UnsafeMutablePointer<T>) {
        let mask: UInt64 = (1 << UInt64(min(bits, 56))) - 1
        var bit = from * width
        for i in from..<max(from, count) {
            let w = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: bit >> 3, as: UInt64.self))
            out[i] = base &+ T(truncatingIfNeeded: (w >> UInt64(bit & 7)) & mask)
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
