import CLZ4

/// The one place that calls liblz4 (block format, no frame).
package enum LZ4 {
    /// Worst-case compressed size of `count` bytes.
    package static func bound(_ count: Int) -> Int { Int(LZ4_compressBound(Int32(count))) }

    /// Compresses `source` into `destination` (at least `bound(source.count)` bytes); returns the size written.
    package static func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int {
        guard source.count > 0 else { return 0 }
        let n = LZ4_compress_default(
            source.baseAddress!.assumingMemoryBound(to: CChar.self),
            destination.baseAddress!.assumingMemoryBound(to: CChar.self),
            Int32(source.count), Int32(destination.count))
        return Int(n)
    }

    /// Decompresses exactly `destination.count` bytes; returns false when the input is damaged.
    package static func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Bool {
        if destination.count == 0 { return source.count == 0 }
        guard source.count > 0 else { return false }
        let n = LZ4_decompress_safe(
            source.baseAddress!.assumingMemoryBound(to: CChar.self),
            destination.baseAddress!.assumingMemoryBound(to: CChar.self),
            Int32(source.count), Int32(destination.count))
        return Int(n) == destination.count
    }

    /// Compresses a byte array (allocates; for tests and cold paths).
    package static func compress(_ source: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: bound(source.count))
        let n = source.withUnsafeBytes { s in out.withUnsafeMutableBytes { compress(s, into: $0) } }
        out.removeSubrange(n...)
        return out
    }
}
