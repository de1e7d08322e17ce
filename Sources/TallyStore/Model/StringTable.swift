#if canImport(Glibc)
import Glibc
#endif

/// A string dictionary shared by a producer of batches and a bulk load, so the producer (a parsing
/// thread) can translate each batch's codes into one stream-wide code space while the load thread
/// does other work.
///
/// `@unchecked Sendable`: the interner is only touched with `lock` held.
package final class StringTable: @unchecked Sendable {
    private let lock = ConditionLock()
    private var interner = StringInterner()
    /// The batch lineages translated lately (one per parsing thread), each with the table codes of its
    /// strings so far; the oldest is forgotten past `maxLineages`.
    private var lineages: [(lineage: UInt64, codes: [UInt32])] = []
    private static let maxLineages = 8

    package init() {}

    /// The table code of each of `batch`'s string codes (interning new strings). A batch continuing
    /// the lineage of an earlier one costs only its new strings.
    package func translate(_ batch: RecordBatch) -> [UInt32] {
        lock.withLock {
            let n = batch.strings.count
            let lineage = batch.stringsLineage
            if lineage != 0, let k = lineages.firstIndex(where: { $0.lineage == lineage }), n >= lineages[k].codes.count {
                var codes = lineages[k].codes
                lineages[k].codes = []  // the table's reference let go while it grows
                for c in codes.count..<n { codes.append(interner.intern(code: c, of: batch.strings)) }
                lineages[k].codes = codes
                return codes
            }
            let codes = (0..<n).map { interner.intern(code: $0, of: batch.strings) }
            if lineage != 0 {
                lineages.removeAll { $0.lineage == lineage }
                if lineages.count == Self.maxLineages { lineages.removeFirst() }
                lineages.append((lineage, codes))
            }
            return codes
        }
    }

    /// Every string so far; a code is an index.
    package var values: [String] { lock.withLock { interner.values } }
}

extension RecordBatch {
    /// Translates this batch's string codes into `table` ahead of a bulk load (on the producer's thread).
    package mutating func translate(into table: StringTable) {
        tableCodes = (table, table.translate(self))
    }
}

/// Byte order of strings' UTF-8 (the order of part dictionaries), by `memcmp`: the generic
/// `utf8.lexicographicallyPrecedes` walks the views byte by byte through their iterators.
package enum UTF8Order {
    package static func precedes(_ a: String, _ b: String) -> Bool { compare(a, b) < 0 }

    /// Whether `a` and `b` hold the same UTF-8 bytes (not `String`'s canonical equivalence); lengths first.
    package static func equal(_ a: String, _ b: String) -> Bool { a.utf8.count == b.utf8.count && compare(a, b) == 0 }

    /// Negative, zero or positive as `a`'s UTF-8 bytes order before, equal to or after `b`'s.
    package static func compare(_ a: String, _ b: String) -> Int {
        // Both strings' bytes in place when they have them (native and small strings), without copying the strings.
        if let c = a.utf8.withContiguousStorageIfAvailable({ x in b.utf8.withContiguousStorageIfAvailable { y in compare(x, y) } }),
           let c {
            return c
        }
        var a = a, b = b
        return a.withUTF8 { x in b.withUTF8 { y in compare(x, y) } }
    }

    @inline(__always)
    private static func compare(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Int {
        let n = min(x.count, y.count)
        if n > 0, let p = x.baseAddress, let q = y.baseAddress {
            let c = memcmp(p, q, n)
            if c != 0 { return Int(c) }
        }
        return x.count - y.count
    }
}
