/// The recent `request_id`s of one tenant, as 128-bit hashes with their `created_at`, for idempotency.
///
/// Open addressing with linear probing. The store drops entries older than the dedup window after
/// each seal (`evict(before:)`), once the rows they stand for are in parts, so memory follows the
/// window, not the history; older ids are checked against the parts themselves.
package struct RequestIDSet: Sendable {
    /// One slot: both halves of the key, when the id's record was created, and the seal epoch it
    /// was inserted in. 32 bytes, so a probe usually costs one cache miss.
    private struct Entry {
        var h1: UInt64  // 0 = empty (keys always have the low bit set)
        var h2: UInt64
        var time: Int64
        var epoch: UInt32
        var pad: UInt32 = 0
    }

    private var entries: [Entry]
    /// Folds the prefetching reads of `rebuild`, so they are not optimised away.
    private var touched: UInt64 = 0
    package private(set) var count = 0
    /// Newest `created_at` inserted.
    package private(set) var newest = Int64.min

    package init(capacity: Int = 64) {
        var c = 16
        while c < capacity * 2 { c <<= 1 }
        entries = [Entry](repeating: Entry(h1: 0, h2: 0, time: 0, epoch: 0), count: c)
    }

    /// The key of some `request_id` bytes.
    @inlinable
    package static func key(_ bytes: UnsafeRawBufferPointer) -> (UInt64, UInt64) {
        (byteHash(bytes, seed: 0x243F_6A88_85A3_08D3) | 1, filterHash(bytes))
    }

    /// The half of `key(bytes)` the parts' request-id filters are keyed by (one hash, not two, at write time).
    @inlinable
    package static func filterHash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        byteHash(bytes, seed: 0x1319_8A2E_0370_7344)
    }

    @inline(__always)
    private static func home(_ k: (UInt64, UInt64), _ mask: Int) -> Int {
        Int(truncatingIfNeeded: k.0 ^ (k.1 >> 17)) & mask
    }

    package func contains(_ k: (UInt64, UInt64)) -> Bool {
        entries.withUnsafeBufferPointer { e in
            let mask = e.count - 1
            var s = Self.home(k, mask)
            while e[s].h1 != 0 {
                if e[s].h1 == k.0 && e[s].h2 == k.1 { return true }
                s = (s + 1) & mask
            }
            return false
        }
    }

    /// Inserts a key; returns false (and changes nothing but `newest`) when it was already there.
    @discardableResult
    package mutating func insert(_ k: (UInt64, UInt64), createdAt: Int64, epoch: UInt32 = 0) -> Bool {
        newest = max(newest, createdAt)
        if (count + 1) * 2 > entries.count { rebuild(horizon: .min, sealed: 0) }
        let inserted = entries.withUnsafeMutableBufferPointer { e -> Bool in
            let mask = e.count - 1
            var s = Self.home(k, mask)
            while e[s].h1 != 0 {
                if e[s].h1 == k.0 && e[s].h2 == k.1 {
                    e[s].time = max(e[s].time, createdAt)
                    return false
                }
                s = (s + 1) & mask
            }
            e[s] = Entry(h1: k.0, h2: k.1, time: createdAt, epoch: epoch)
            return true
        }
        if inserted { count += 1 }
        return inserted
    }

    /// Inserts `keys` (created at `times`) in order, as `insert` would one by one, writing whether each
    /// was new to `inserted`. The table is grown once up front, so the probes run over one buffer with
    /// no other memory traffic, each starting the cache miss of the key `ahead` places on (the slots are
    /// random: without that nearly every probe waits for memory). Returns a value to keep (see `touch`).
    package mutating func insert(
        _ keys: UnsafeBufferPointer<(UInt64, UInt64)>, createdAt times: UnsafeBufferPointer<Int64>,
        epoch: UInt32, inserted: UnsafeMutableBufferPointer<Bool>
    ) -> UInt64 {
        let m = keys.count
        guard m > 0 else { return 0 }
        for t in times { newest = max(newest, t) }
        if (count + m) * 2 > entries.count { rebuild(horizon: .min, sealed: 0, reserving: m) }
        let ahead = 8
        var added = 0
        let touched = entries.withUnsafeMutableBufferPointer { e -> UInt64 in
            let mask = e.count - 1
            var touched: UInt64 = 0
            for i in 0..<min(ahead, m) { touched ^= e[Self.home(keys[i], mask)].h1 }
            for i in 0..<m {
                if i + ahead < m { touched ^= e[Self.home(keys[i + ahead], mask)].h1 }
                let k = keys[i]
                var s = Self.home(k, mask)
                var new = true
                while e[s].h1 != 0 {
                    if e[s].h1 == k.0 && e[s].h2 == k.1 {
                        e[s].time = max(e[s].time, times[i])
                        new = false
                        break
                    }
                    s = (s + 1) & mask
                }
                if new {
                    e[s] = Entry(h1: k.0, h2: k.1, time: times[i], epoch: epoch)
                    added += 1
                }
                inserted[i] = new
            }
            return touched
        }
        count += added
        return touched
    }

    /// Drops entries with `created_at` before `horizon` that were inserted in epoch `sealed` or earlier
    /// (their rows are in durable parts, where older ids are looked up).
    package mutating func evict(before horizon: Int64, sealed: UInt32) {
        rebuild(horizon: horizon, sealed: sealed)
    }

    /// Keeps entries at or after `horizon` (or of a later epoch), in a table at most a quarter full
    /// and with room for `reserving` more keys before it is half full.
    private mutating func rebuild(horizon: Int64, sealed: UInt32, reserving: Int = 0) {
        var keep = 0
        if horizon == .min {
            keep = count  // every entry is kept
        } else {
            for e in entries where e.h1 != 0 && (e.time >= horizon || e.epoch > sealed) { keep += 1 }
        }
        var c = 16
        while keep * 4 > c || (keep + reserving) * 2 > c { c <<= 1 }
        var table = [Entry](repeating: Entry(h1: 0, h2: 0, time: 0, epoch: 0), count: c)
        let mask = c - 1
        var touched: UInt64 = 0
        table.withUnsafeMutableBufferPointer { t in
            entries.withUnsafeBufferPointer { old in
                // The new slots are random: start the miss of the entry 8 on before placing this one.
                let ahead = 8
                for i in 0..<old.count {
                    if i + ahead < old.count {
                        let f = old[i + ahead]
                        touched ^= t[Self.home((f.h1, f.h2), mask)].h1
                    }
                    let e = old[i]
                    guard e.h1 != 0 && (e.time >= horizon || e.epoch > sealed) else { continue }
                    var s = Self.home((e.h1, e.h2), mask)
                    while t[s].h1 != 0 { s = (s + 1) & mask }
                    t[s] = e
                }
            }
        }
        entries = table
        self.touched ^= touched
        count = keep
    }
}
