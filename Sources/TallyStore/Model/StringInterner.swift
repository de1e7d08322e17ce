import CTallyPrefetch
import Synchronization

/// Maps byte strings to dense `UInt32` codes, so each distinct string is validated and allocated once.
///
/// Lookups hash the bytes in place: a string already seen costs no allocation. Each slot of the open
/// addressing table (32 bytes, half a cache line) holds the whole hash, the length, the code and the
/// first 16 bytes of the string, so a probe of a string of at most 16 bytes (most ids) reads one cache
/// line and nothing else, even when the table is far larger than the cache (a bulk load's interner
/// holds every user id of the input).
package struct StringInterner: Sendable {
    /// The distinct strings; a code is an index into this array.
    package private(set) var values: [String] = []
    private var arena: [UInt8] = []
    private var offsets: [Int] = [0]
    private var hashes: [UInt64] = []
    private var slots = [Slot](repeating: Slot(), count: 16)

    /// One slot: empty when `codeAndLength` is 0.
    private struct Slot {
        var hash: UInt64 = 0
        /// `(length << 32) | (code + 1)`.
        var codeAndLength: UInt64 = 0
        /// The first 16 bytes of the string, zero-padded.
        var head: (UInt64, UInt64) = (0, 0)
    }

    package init() {}

    /// A new nonzero id for `RecordBatch.stringsLineage`.
    package static func newLineage() -> UInt64 {
        lineages.wrappingAdd(1, ordering: .relaxed).newValue
    }

    /// Number of distinct strings.
    package var count: Int { values.count }

    /// The first 16 bytes of `bytes`, zero-padded, as two little-endian words (reads nothing past the end).
    @inline(__always)
    private static func head(_ bytes: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
        let n = bytes.count
        if n >= 16 {
            return (bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian,
                    bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self).littleEndian)
        }
        if n > 8 {
            let last = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self))
            return (bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian, last >> UInt64((16 - n) * 8))
        }
        if n == 8 { return (bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian, 0) }
        return (shortWord(bytes), 0)
    }

    @inline(__always)
    private func find(_ bytes: UnsafeRawBufferPointer, _ h: UInt64) -> (found: UInt32?, slot: Int) {
        let head = Self.head(bytes)
        let n = UInt64(bytes.count)
        return slots.withUnsafeBufferPointer { table in
            let mask = table.count - 1
            var s = Int(truncatingIfNeeded: h) & mask
            while true {
                let v = table[s]
                if v.codeAndLength == 0 { return (nil, s) }
                if v.hash == h && v.codeAndLength >> 32 == n && v.head == head {
                    let code = Int(truncatingIfNeeded: v.codeAndLength & 0xFFFF_FFFF) - 1
                    if n <= 16 || equalsTail(code, bytes) { return (UInt32(code), s) }
                }
                s = (s + 1) & mask
            }
        }
    }

    /// Starts loading the first slot a lookup of a string with `stringHash` `h` reads, so a probe made a
    /// little later (after other work) finds it in the cache instead of waiting for memory.
    @inline(__always)
    package func prefetch(hash h: UInt64) {
        slots.withUnsafeBufferPointer { table in
            tally_prefetch(table.baseAddress! + (Int(truncatingIfNeeded: h) & (table.count - 1)))
        }
    }

    /// Returns the code of `bytes` if it was interned before.
    package func lookup(_ bytes: UnsafeRawBufferPointer) -> UInt32? {
        find(bytes, stringHash(bytes)).found
    }

    /// Interns `bytes`, creating the `String` with `make` only when the bytes are new.
    /// `make` may reject the bytes (invalid UTF-8) by returning nil; nothing is stored then.
    package mutating func intern(_ bytes: UnsafeRawBufferPointer, make: (UnsafeRawBufferPointer) -> String?) -> UInt32? {
        intern(bytes, hash: stringHash(bytes), make: make)
    }

    /// `intern(_:make:)` with the `stringHash` of `bytes` already computed (see `prefetch(hash:)`).
    @inline(__always)
    package mutating func intern(
        _ bytes: UnsafeRawBufferPointer, hash h: UInt64, make: (UnsafeRawBufferPointer) -> String?
    ) -> UInt32? {
        let (found, s) = find(bytes, h)
        if let found { return found }
        guard let string = make(bytes) else { return nil }
        return add(string, bytes, h, at: s)
    }

    /// Stores a new string in the empty slot `s` found for it.
    @inline(__always)
    private mutating func add(_ string: String, _ bytes: UnsafeRawBufferPointer, _ h: UInt64, at s: Int) -> UInt32 {
        let code = values.count
        values.append(string)
        hashes.append(h)
        arena.append(contentsOf: bytes)
        offsets.append(arena.count)
        slots[s] = Slot(hash: h, codeAndLength: UInt64(bytes.count) << 32 | UInt64(code + 1), head: Self.head(bytes))
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
            return add(other.values[c], bytes, h, at: s)
        }
    }

    /// Interns a Swift string.
    package mutating func intern(_ string: String) -> UInt32 {
        var s = string
        return s.withUTF8 { buf in
            intern(UnsafeRawBufferPointer(buf), make: { _ in string })!
        }
    }

    /// Whether the bytes of `code` after the first 16 equal those of `bytes` (same length).
    private func equalsTail(_ code: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let start = offsets[code]
        let len = offsets[code + 1] - start
        return arena.withUnsafeBytes { a in
            let p = a.baseAddress! + start, q = bytes.baseAddress!
            var i = 16
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
        var newSlots = [Slot](repeating: Slot(), count: slots.count * 2)
        let mask = newSlots.count - 1
        newSlots.withUnsafeMutableBufferPointer { t in
            for v in slots where v.codeAndLength != 0 {
                var s = Int(truncatingIfNeeded: v.hash) & mask
                while t[s].codeAndLength != 0 { s = (s + 1) & mask }
                t[s] = v
            }
        }
        slots = newSlots
    }
}

private let lineages = Atomic<UInt64>(0)
