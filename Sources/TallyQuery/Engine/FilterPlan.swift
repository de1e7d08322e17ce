import TallyStore

/// A dimension filter as it applies to one source: which of the source's codes pass.
///
/// `@unchecked Sendable`: `deny` is written once while planning and only read afterwards.
final class FilterPlan: @unchecked Sendable {
    let dimension: Dimension
    /// 1 for each code of the source's dictionary that does not pass, 0 for each that does.
    let deny: UnsafeMutablePointer<UInt8>
    /// Codes that pass, ascending.
    let allowed: [UInt32]

    init(dimension: Dimension, dictionarySize: Int, allowed: [UInt32]) {
        self.dimension = dimension
        self.allowed = allowed
        deny = .allocate(capacity: max(dictionarySize, 1))
        deny.initialize(repeating: 1, count: max(dictionarySize, 1))
        for c in allowed { deny[Int(c)] = 0 }
    }

    deinit { deny.deallocate() }

    /// How many passing codes lie in `lo...hi` (a granule's zone map of this dimension).
    func allowedCount(_ lo: Int64, _ hi: Int64) -> Int64 {
        guard lo <= hi, lo >= 0 else { return 0 }
        return Int64(lowerBound(hi + 1) - lowerBound(lo))
    }

    private func lowerBound(_ v: Int64) -> Int {
        var a = 0, b = allowed.count
        while a < b {
            let m = (a + b) / 2
            if Int64(allowed[m]) < v { a = m + 1 } else { b = m }
        }
        return a
    }
}
