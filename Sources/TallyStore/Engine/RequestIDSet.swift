/// The recent `request_id`s of one tenant, as 96-bit hashes with a coarse `created_at` and their seal epoch, for
/// idempotency.
///
/// Open addressing with linear probing over 16-byte slots, kept between half and three quarters full (the
/// capacity need not be a power of two: a slot is picked by a multiply-shift), so an id costs 21-32 bytes of
/// table. The store drops entries older than the dedup window after each seal (`evict(before:sealed:)`), once
/// the rows they stand for are in parts, so memory follows the window, not the history; older ids are checked
/// against the parts themselves.
///
/// What a slot keeps of an id is 96 bits of its hashes (all of `key.0`, the high half of `key.1`): two distinct
/// ids of one tenant are taken for one with probability about n / 2^96 per insert (below 10^-21 at 10M ids in
/// the window), the same kind of bound the 128-bit slots before had. Times are kept in 4-minute units rounded
/// up and epochs modulo 256, and eviction only ever keeps more than it must: an entry goes only when its time,
/// rounded up, is before the horizon, and when its epoch is certainly sealed.
package struct RequestIDSet: Sendable {
    /// One slot: the key's hashes, then the time (high 24 bits, `timeUnit`s since `timeBase`, rounded up and
    /// clamped) and the seal epoch it was inserted in (low 8 bits, modulo 256).
    private struct Entry {
        var h1: UInt64  // 0 = empty (keys always have the low bit set)
        var h2: UInt32
        var stamp: UInt32
    }

    /// 2000-01-01T00:00:00Z, and 4 minutes: 24 bits reach past 2127.
    static let timeBase: Int64 = 946_684_800_000
    static let timeUnit: Int64 = 240_000
    /// The most slots may be filled before the table grows, and how full a grown or rebuilt table is.
    static let maxLoad = 0.75
    static let targetLoad = 0.5

    private var entries: [Entry]
    /// Folds the prefetching reads of `rebuild`, so they are not optimised away.
    private var touched: UInt64 = 0
    package private(set) var count = 0
    /// Newest `created_at` inserted.
    package private(set) var newest = Int64.min
    /// The newest epoch inserted (epochs only grow; see `evict`).
    private var newestEpoch: UInt32 = 0

    package init(capacity: Int = 64) {
        entries = [Entry](repeating: Entry(h1: 0, h2: 0, stamp: 0), count: Self.slots(for: capacity))
    }

    /// Slots for `n` ids at the target load (at least 16).
    private static func slots(for n: Int) -> Int { max(16, Int((Double(n) / targetLoad).rounded(.up))) }

    /// Bytes of the table (what the set costs in memory, beyond a few words).
    package var tableBytes: Int { entries.count * MemoryLayout<Entry>.stride }

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

    /// The time field of `t`: monotone (a later time never gets a smaller field), rounded up.
    @inline(__always)
    static func timeField(_ t: Int64) -> UInt32 {
        if t <= timeBase { return 0 }
        let (d, r) = (t - timeBase).quotientAndRemainder(dividingBy: timeUnit)
        return UInt32(min(d + (r > 0 ? 1 : 0), (1 << 24) - 1))
    }

    @inline(__always)
    private static func stamp(_ t: Int64, _ epoch: UInt32) -> UInt32 { timeField(t) << 8 | (epoch & 0xFF) }

    /// The home slot of a key in `n` slots: the high bits of `key.0` scaled to `n` (multiply-shift).
    @inline(__always)
    private static func home(_ h1: UInt64, _ n: Int) -> Int {
        Int(truncatingIfNeeded: h1.multipliedFullWidth(by: UInt64(n)).high)
    }

    @inline(__always)
    private static func tag(_ k: (UInt64, UInt64)) -> UInt32 { UInt32(truncatingIfNeeded: k.1 >> 32) }

    package func contains(_ k: (UInt64, UInt64)) -> Bool {
        entries.withUnsafeBufferPointer { e in
            let n = e.count, t = Self.tag(k)
            var s = Self.home(k.0, n)
            while e[s].h1 != 0 {
                if e[s].h1 == k.0 && e[s].h2 == t { return true }
                s += 1
                if s == n { s = 0 }
            }
            return false
        }
    }

    /// Inserts a key; returns false (and changes nothing but `newest` and the id's time) when it was already there.
    @discardableResult
    package mutating func insert(_ k: (UInt64, UInt64), createdAt: Int64, epoch: UInt32 = 0) -> Bool {
        newest = max(newest, createdAt)
        newestEpoch = max(newestEpoch, epoch)
        if Double(count + 1) > Double(entries.count) * Self.maxLoad { rebuild(horizon: .min, sealed: 0, reserving: 1) }
        let inserted = entries.withUnsafeMutableBufferPointer { e -> Bool in
            let n = e.count, t = Self.tag(k)
            var s = Self.home(k.0, n)
            while e[s].h1 != 0 {
                if e[s].h1 == k.0 && e[s].h2 == t {
                    Self.touch(&e[s], createdAt)
                    return false
                }
                s += 1
                if s == n { s = 0 }
            }
            e[s] = Entry(h1: k.0, h2: t, stamp: Self.stamp(createdAt, epoch))
            return true
        }
        if inserted { count += 1 }
        return inserted
    }

    /// An id met again: its time becomes the later of the two (its epoch stays that of its first insert).
    @inline(__always)
    private static func touch(_ e: inout Entry, _ createdAt: Int64) {
        let t = timeField(createdAt)
        if t > e.stamp >> 8 { e.stamp = t << 8 | (e.stamp & 0xFF) }
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
        newestEpoch = max(newestEpoch, epoch)
        if Double(count + m) > Double(entries.count) * Self.maxLoad { rebuild(horizon: .min, sealed: 0, reserving: m) }
        let ahead = 8
        var added = 0
        let touched = entries.withUnsafeMutableBufferPointer { e -> UInt64 in
            let n = e.count
            var touched: UInt64 = 0
            for i in 0..<min(ahead, m) { touched ^= e[Self.home(keys[i].0, n)].h1 }
            for i in 0..<m {
                if i + ahead < m { touched ^= e[Self.home(keys[i + ahead].0, n)].h1 }
                let k = keys[i], t = Self.tag(k)
                var s = Self.home(k.0, n)
                var new = true
                while e[s].h1 != 0 {
                    if e[s].h1 == k.0 && e[s].h2 == t {
                        Self.touch(&e[s], times[i])
                        new = false
                        break
                    }
                    s += 1
                    if s == n { s = 0 }
                }
                if new {
                    e[s] = Entry(h1: k.0, h2: t, stamp: Self.stamp(times[i], epoch))
                    added += 1
                }
                inserted[i] = new
            }
            return touched
        }
        count += added
        return touched
    }

    /// Makes room for `n` more ids without growing on the way (at open, when the window's size is known).
    package mutating func reserve(_ n: Int) {
        if Double(count + n) > Double(entries.count) * Self.maxLoad { rebuild(horizon: .min, sealed: 0, reserving: n) }
    }

    /// Drops entries with `created_at` before `horizon` that were inserted in epoch `sealed` or earlier
    /// (their rows are in durable parts, where older ids are looked up).
    package mutating func evict(before horizon: Int64, sealed: UInt32) {
        // Epochs are kept modulo 256: an epoch after `sealed` is told apart from one at or before it only while
        // fewer than 128 epochs are unsealed. Beyond that (seals failing for a long time) nothing is evicted.
        guard newestEpoch &- sealed < 128 || newestEpoch <= sealed else { return }
        rebuild(horizon: horizon, sealed: sealed)
    }

    /// Whether an entry stays when entries before `horizon` (a time field) of epoch `sealed` or earlier go.
    @inline(__always)
    private static func keeps(_ e: Entry, horizon: UInt32, sealed: UInt32) -> Bool {
        guard e.h1 != 0 else { return false }
        if e.stamp >> 8 >= horizon { return true }
        // Unsealed: 1...127 epochs after `sealed`, modulo 256 (a sealed entry read as unsealed is merely kept).
        let ahead = (e.stamp &- sealed) & 0xFF
        return ahead >= 1 && ahead < 128
    }

    /// Keeps entries at or after `horizon` (or of a later epoch), in a table `targetLoad` full after room
    /// for `reserving` more keys.
    private mutating func rebuild(horizon: Int64, sealed: UInt32, reserving: Int = 0) {
        let all = horizon == .min
        let h = all ? 0 : Self.timeField(horizon)
        var keep = 0
        if all {
            keep = count  // every entry is kept
        } else {
            for e in entries where Self.keeps(e, horizon: h, sealed: sealed) { keep += 1 }
        }
        let c = Self.slots(for: keep + reserving)
        var table = [Entry](repeating: Entry(h1: 0, h2: 0, stamp: 0), count: c)
        var touched: UInt64 = 0
        table.withUnsafeMutableBufferPointer { t in
            entries.withUnsafeBufferPointer { old in
                // The new slots are random: start the miss of the entry 8 on before placing this one.
                let ahead = 8
                for i in 0..<old.count {
                    if i + ahead < old.count { touched ^= t[Self.home(old[i + ahead].h1, c)].h1 }
                    let e = old[i]
                    guard all ? e.h1 != 0 : Self.keeps(e, horizon: h, sealed: sealed) else { continue }
                    var s = Self.home(e.h1, c)
                    while t[s].h1 != 0 {
                        s += 1
                        if s == c { s = 0 }
                    }
                    t[s] = e
                }
            }
        }
        entries = table
        self.touched ^= touched
        count = keep
    }
}
