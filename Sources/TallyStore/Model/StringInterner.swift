/// Maps byte strings to dense `UInt32` codes, so each distinct string is validated and allocated once.
///
/// Lookups hash the bytes in place: a string already seen costs no allocation. Each slot of the open
/// addressing table holds the code and 32 bits of the hash, so a probe touches the bytes of a stored
/// string only when those 32 bits match.
package struct StringInterner: Sendable {
    /// The distinct strings; a code is an index into this array.
    package private(set) var values: [String] = []
    private var arena: [UInt8] = []
    private var offsets: [Int] = [0]
    private var hashes: [UInt64] = []
    /// 0 = empty; else `(hash >> 32) << 32 | (code + 1)`.
    private var slots = [UInt64](repeating: 0, count: 64)

    package init() {}

    /// Number of distinct strings.
    package var count: Int { values.count }

    @inline(__always)
    private func find(_ bytes: UnsafeRawBufferPointer, _ h: UInt64) -> (found: UInt32?, slot: Int) {
        slots.withUnsafeBufferPointer { table in
            let mask = table.count - 1
            let tag = h >> 32
            var s = Int(truncatingIfNeeded: h) & mask
            while true {
                let v = table[s]
                if v == 0 { return (nil, s) }
                if v >> 32 == tag {
                    let code = Int(truncatingIfNeeded: v & 0xFFFF_FFFF) - 1
                    if equals(code, bytes) { return (UInt32(code), s) }
                }
                s = (s + 1) & mask
            }
        }
    }

    /// Returns the code of `bytes` if it was interned before.
    package func lookup(_ bytes: UnsafeRawBufferPointer) -> UInt32? {
        find(bytes, byteHash(bytes)).found
    }

    /// Interns `bytes`, creating the `String` with `make` only when the bytes are new.
    /// `make` may reject the bytes (invalid UTF-8) by returning nil; nothing is stored then.
    package mutating func intern(_ bytes: UnsafeRawBufferPointer, make: (UnsafeRawBufferPointer) -> String?) -> UInt32? {
        let h = byteHash(bytes)
        let (found, s) = find(bytes, h)
        if let found { return found }
        guard let string = make(bytes) else { return nil }
        let code = values.count
        values.append(string)
        hashes.append(h)
        arena.append(contentsOf: bytes)
        offsets.append(arena.count)
        slots[s] = (h >> 32) << 32 | UInt64(code + 1)
        if values.count * 2 > slots.count { grow() }
        return UInt32(code)
    }

    /// The hash and bytes of code `c`, lent for the duration of `body`.
    package func withEntry<R>(_ c: Int, _ body: (UInt64, UnsafeRawBufferPointer) -> R) -> R {
        arena.withUnsafeBytes { a in body(hashes[c], UnsafeRawBufferPointer(rebasing: a[offsets[c]..<offsets[c + 1]])) }
    }

    /// Interns code `c` of `other` (reusing its hash and bytes; no `String` is made when already known).
    package mutating func intern(code c: Int, of other: StringInterner) -> UInt32 {
        other.withEntry(c) { h, bytes in
            let (found, s) = find(bytes, h)
            if let found { return found }
            let code = values.count
            values.append(other.values[c])
            hashes.append(h)
            arena.append(contentsOf: bytes)
            offsets.append(arena.count)
            slots[s] = (h >> 32) << 32 | UInt64(code + 1)
            if values.count * 2 > slots.count { grow() }
            return UInt32(code)
        }
    }

    /// Interns a Swift string.
    package mutating func intern(_ string: String) -> UInt32 {
        var s = string
        return s.withUTF8 { buf in
            intern(UnsafeRawBufferPointer(buf), make: { _ in string })!
        }
    }

    @inline(__always)
    private func equals(_ code: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let start = offsets[code]
        let len = offsets[code + 1] - start
        guard len == bytes.count else { return false }
        return arena.withUnsafeBytes { a in
            let p = a.baseAddress! + start, q = bytes.baseAddress!
            var i = 0
            // Short strings (most ids) compare as a few words, without a call into libc.
            while i + 8 <= len {
                if p.loadUnaligned(fromByteOffset: i, as: UInt64.self) != q.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
                i += 8
            }
            while i < len {
                if p.load(fromByteOffset: i, as: UInt8.self) != q.load(fromByteOffset: i, as: UInt8.self) { return false }
                i += 1
            }
            return true
        }
    }

    private mutating func grow() {
        var newSlots = [UInt64](repeating: 0, count: slots.count * 2)
        let mask = newSlots.count - 1
        for code in 0..<values.count {
            let h = hashes[code]
            var s = Int(truncatingIfNeeded: h) & mask
            while newSlots[s] != 0 { s = (s + 1) & mask }
            newSlots[s] = (h >> 32) << 32 | UInt64(code + 1)
        }
        slots = newSlots
    }
}
