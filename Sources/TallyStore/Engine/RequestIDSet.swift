/// The recent `request_id`s of one tenant, as 128-bit hashes with their `created_at`, for idempotency.
///
/// Open addressing with linear probing. The store drops entries older than the dedup window after
/// each seal (`evict(before:)`), once the rows they stand for are in parts, so memory follows the
/// window, not the history; older ids are checked against the parts themselves.
package struct RequestIDSet: Sendable {
    private var h1: [UInt64]
    private var h2: [UInt64]
    private var times: [Int64]
    private var epochs: [UInt32]
    package private(set) var count = 0
    /// Newest `created_at` inserted.
    package private(set) var newest = Int64.min

    package init(capacity: Int = 64) {
        var c = 16
        while c < capacity * 2 { c <<= 1 }
        h1 = [UInt64](repeating: 0, count: c)
        h2 = [UInt64](repeating: 0, count: c)
        times = [Int64](repeating: 0, count: c)
        epochs = [UInt32](repeating: 0, count: c)
    }

    /// The key of some `request_id` bytes.
    @inlinable
    package static func key(_ bytes: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
        (byteHash(bytes, seed: 0x243F_6A88_85A3_08D3) | 1, byteHash(bytes, seed: 0x1319_8A2E_0370_7344))
    }

    package func contains(_ k: (UInt64, UInt64)) -> Bool {
        let mask = h1.count - 1
        var s = Int(truncatingIfNeeded: k.0 ^ (k.1 >> 17)) & mask
        while h1[s] != 0 {
            if h1[s] == k.0 && h2[s] == k.1 { return true }
            s = (s + 1) & mask
        }
        return false
    }

    /// Inserts a key; returns false (and changes nothing but `newest`) when it was already there.
    @discardableResult
    package mutating func insert(_ k: (UInt64, UInt64), createdAt: Int64, epoch: UInt32 = 0) -> Bool {
        newest = max(newest, createdAt)
        if (count + 1) * 2 > h1.count { rebuild(horizon: .min, sealed: 0) }
        let mask = h1.count - 1
        var s = Int(truncatingIfNeeded: k.0 ^ (k.1 >> 17)) & mask
        while h1[s] != 0 {
            if h1[s] == k.0 && h2[s] == k.1 {
                times[s] = max(times[s], createdAt)
                return false
            }
            s = (s + 1) & mask
        }
        h1[s] = k.0
        h2[s] = k.1
        times[s] = createdAt
        epochs[s] = epoch
        count += 1
        return true
    }

    /// Drops entries with `created_at` before `horizon` that were inserted in epoch `sealed` or earlier
    /// (their rows are in durable parts, where older ids are looked up).
    package mutating func evict(before horizon: Int64, sealed: UInt32) {
        rebuild(horizon: horizon, sealed: sealed)
    }

    /// Keeps entries at or after `horizon`, growing the table if it is then more than a quarter full.
    private mutating func rebuild(horizon: Int64, sealed: UInt32) {
        var keep: [(UInt64, UInt64, Int64, UInt32)] = []
        keep.reserveCapacity(count)
        for s in 0..<h1.count where h1[s] != 0 && (times[s] >= horizon || epochs[s] > sealed) {
            keep.append((h1[s], h2[s], times[s], epochs[s]))
        }
        var c = 16
        while keep.count * 4 > c { c <<= 1 }
        h1 = [UInt64](repeating: 0, count: c)
        h2 = [UInt64](repeating: 0, count: c)
        times = [Int64](repeating: 0, count: c)
        epochs = [UInt32](repeating: 0, count: c)
        count = 0
        let mask = c - 1
        for (a, b, t, e) in keep {
            var s = Int(truncatingIfNeeded: a ^ (b >> 17)) & mask
            while h1[s] != 0 { s = (s + 1) & mask }
            h1[s] = a; h2[s] = b; times[s] = t; epochs[s] = e
            count += 1
        }
    }
}
