import TallyText
/// Appends little-endian integers, varints and length-prefixed strings to a byte array.
package struct ByteWriter {
    package var bytes: [UInt8]

    package init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    package var count: Int { bytes.count }

    package mutating func u8(_ v: UInt8) { bytes.append(v) }
    package mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    package mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    package mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    package mutating func i64(_ v: Int64) { u64(UInt64(bitPattern: v)) }

    /// LEB128 unsigned varint.
    package mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Zig-zag signed varint.
    package mutating func svarint(_ v: Int64) { varint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }

    /// `u16` length, then the UTF-8 bytes.
    package mutating func string16(_ s: String) {
        var s = s
        s.withUTF8 { b in
            u16(UInt16(b.count))
            bytes.append(contentsOf: b)
        }
    }

    /// `u16` length, then the bytes.
    package mutating func bytes16(_ b: UnsafeRawBufferPointer) {
        u16(UInt16(b.count))
        bytes.append(contentsOf: b)
    }

    package mutating func append(_ b: UnsafeRawBufferPointer) { bytes.append(contentsOf: b) }

    /// Overwrites a `u32` at `offset`.
    package mutating func patchU32(_ v: UInt32, at offset: Int) {
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt32.self) }
    }
}

/// Reads what `ByteWriter` wrote; every read is bounds-checked and throws `ByteReader.Overrun`.
package struct ByteReader {
    package struct Overrun: Error { package var offset: Int }

    package let buffer: UnsafeRawBufferPointer
    package var offset: Int

    package init(_ buffer: UnsafeRawBufferPointer, offset: Int = 0) {
        self.buffer = buffer
        self.offset = offset
    }

    package var remaining: Int { buffer.count - offset }

    @inline(__always)
    private mutating func need(_ n: Int) throws {
        if n < 0 || offset + n > buffer.count { throw Overrun(offset: offset) }
    }

    package mutating func u8() throws -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return buffer[offset]
    }

    package mutating func u16() throws -> UInt16 {
        try need(2)
        defer { offset += 2 }
        return UInt16(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    package mutating func u32() throws -> UInt32 {
        try need(4)
        defer { offset += 4 }
        return UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    package mutating func u64() throws -> UInt64 {
        try need(8)
        defer { offset += 8 }
        return UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    package mutating func i64() throws -> Int64 { Int64(bitPattern: try u64()) }

    package mutating func varint() throws -> UInt64 {
        // Most varints in a footer are one or two bytes: those are read without the per-byte bounds checks.
        if offset + 2 <= buffer.count, let base = buffer.baseAddress {
            let b0 = base.load(fromByteOffset: offset, as: UInt8.self)
            if b0 < 0x80 {
                offset += 1
                return UInt64(b0)
            }
            let b1 = base.load(fromByteOffset: offset + 1, as: UInt8.self)
            if b1 < 0x80 {
                offset += 2
                return UInt64(b0 & 0x7F) | UInt64(b1) << 7
            }
            // Up to eight bytes (sums of tokens and nano-dollars) from one load: the first byte without its high bit
            // ends it; the 7-bit groups are then packed together in three steps.
            if offset + 8 <= buffer.count {
                let w = UInt64(littleEndian: (base + offset).loadUnaligned(as: UInt64.self))
                let stops = ~w & 0x8080_8080_8080_8080
                if stops != 0 {
                    let bits = stops.trailingZeroBitCount + 1  // 8 x the varint's length
                    var x = (bits == 64 ? w : w & ((1 << UInt64(bits)) &- 1)) & 0x7F7F_7F7F_7F7F_7F7F
                    x = (x & 0x007F_007F_007F_007F) | ((x & 0x7F00_7F00_7F00_7F00) >> 1)
                    x = (x & 0x0000_3FFF_0000_3FFF) | ((x & 0x3FFF_0000_3FFF_0000) >> 2)
                    x = (x & 0x0000_0000_0FFF_FFFF) | ((x & 0x0FFF_FFFF_0000_0000) >> 4)
                    offset += bits / 8
                    return x
                }
            }
        }
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try u8()
            if shift == 63 && b > 1 { throw Overrun(offset: offset) }
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
            if shift > 63 { throw Overrun(offset: offset) }
        }
    }

    /// Steps over `n` varints: `n` bytes under 0x80 (each ends one), all within the buffer.
    package mutating func skipVarints(_ n: Int) throws {
        var left = n
        var i = offset
        let end = buffer.count
        guard let base = buffer.baseAddress else {
            if n > 0 { throw Overrun(offset: offset) }
            return
        }
        // Eight bytes at a time while every terminator among them is needed (a whole word may end at most 8).
        while left > 8, end - i >= 8 {
            let w = UInt64(littleEndian: (base + i).loadUnaligned(as: UInt64.self))
            left -= (~w & 0x8080_8080_8080_8080).nonzeroBitCount
            i += 8
        }
        while left > 0 {
            guard i < end else { throw Overrun(offset: end) }
            if base.load(fromByteOffset: i, as: UInt8.self) < 0x80 { left -= 1 }
            i += 1
        }
        offset = i
    }

    package mutating func svarint() throws -> Int64 {
        let u = try varint()
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    /// A `u16`-length-prefixed byte range.
    package mutating func bytes16() throws -> UnsafeRawBufferPointer {
        let n = Int(try u16())
        return try take(n)
    }

    /// A `u16`-length-prefixed UTF-8 string (invalid UTF-8 is repaired, never trusted).
    package mutating func string16() throws -> String {
        String(utf8: try bytes16())
    }

    package mutating func take(_ n: Int) throws -> UnsafeRawBufferPointer {
        try need(n)
        defer { offset += n }
        return UnsafeRawBufferPointer(rebasing: buffer[offset..<(offset + n)])
    }
}
