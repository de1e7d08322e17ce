/// The request ids of one tenant's dedup window, 8 bytes each: a 43-bit fingerprint of the id and the UTC hour of
/// its row.
///
/// A match is not an answer: it names the hour whose stored ids are then decoded and compared in full
/// (`Deduplicator.storedInParts`), so a fingerprint shared by two ids costs one decode, never a record. What it saves
/// is memory: the `RequestIDSet` of recent ids keeps 96 bits of hash, a time and an epoch (16-byte slots); this table
/// holds the rest of the window at a third of that.
///
/// Open addressing with linear probing, kept between half and four fifths full (10-16 bytes per id). Entries are
/// never removed one by one: `drop(before:)` rebuilds the table without the hours that left the window.
package struct WindowIDTable: Sendable {
    /// Hours since 1970 in the low 21 bits (to the year 2209; `created_at` is refused past 2200).
    static let hourBits: UInt64 = 21
    static let hourMask: UInt64 = (1 << hourBits) - 1
    static let maxLoad = 0.8
    static let targetLoad = 0.5

    private var slots: [UInt64]
    private var touched: UInt64 = 0
    package private(set) var count = 0
    /// The earliest hour held (`Int64.max` when empty).
    package private(set) var oldestHour = Int64.max

    package init() { slots = [] }

    package var tableBytes: Int { slots.count * MemoryLayout<UInt64>.stride }

    /// The slot value of an id's key and its row's `created_at`: never 0 (the fingerprint's top bit is set).
    @inline(__always)
    static func entry(_ key: (UInt64, UInt64), createdAt: Int64) -> UInt64 {
        let fingerprint = (key.0 >> (hourBits + 1)) | (1 << (63 - hourBits))
        let hour = UInt64(clamping: max(createdAt, 0) / TimeUnit.hourMillis) & hourMask
        return fingerprint << hourBits | hour
    }

    @inline(__always)
    private static func fingerprint(_ e: UInt64) -> UInt64 { e >> hourBits }

    @inline(__always)
    private static func home(_ e: UInt64, _ n: Int) -> Int {
        Int(truncatingIfNeeded: (fingerprint(e) &* 0x9E37_79B9_7F4A_7C15).multipliedFullWidth(by: UInt64(n)).high)
    }

    /// Calls `body` with the start (ms) of each hour whose rows may hold `key`, until it returns true; returns
    /// whether it did.
    package func anyHour(of key: (UInt64, UInt64), _ body: (Int64) throws -> Bool) rethrows -> Bool {
        guard count > 0 else { return false }
        let f = Self.fingerprint(Self.entry(key, createdAt: 0))
        let n = slots.count
        var s = Self.home(f << Self.hourBits, n)
        while true {
            let e = slots[s]
            if e == 0 { return false }
            if Self.fingerprint(e) == f, try body(Int64(e & Self.hourMask) * TimeUnit.hourMillis) { return true }
            s += 1
            if s == n { s = 0 }
        }
    }

    /// Adds an id stored at `createdAt` (an id stored in two hours, which the store never does, is simply held twice).
    package mutating func insert(_ key: (UInt64, UInt64), createdAt: Int64) {
        reserve(1)
        let e = Self.entry(key, createdAt: createdAt)
        slots.withUnsafeMutableBufferPointer { Self.place(e, in: $0) }
        count += 1
        oldestHour = min(oldestHour, Int64(e & Self.hourMask))
    }

    /// Adds `entries` (values of `entry(_:createdAt:)`), each placed while the slot of the one 8 on is fetched.
    package mutating func insert(entries: UnsafeBufferPointer<UInt64>) {
        guard !entries.isEmpty else { return }
        reserve(entries.count)
        var oldest = oldestHour
        let touched = slots.withUnsafeMutableBufferPointer { t -> UInt64 in
            let n = t.count, ahead = 8
            var touched: UInt64 = 0
            for i in 0..<entries.count {
                if i + ahead < entries.count { touched ^= t[Self.home(entries[i + ahead], n)] }
                Self.place(entries[i], in: t)
                oldest = min(oldest, Int64(entries[i] & Self.hourMask))
            }
            return touched
        }
        self.touched ^= touched
        count += entries.count
        oldestHour = oldest
    }

    @inline(__always)
    private static func place(_ e: UInt64, in t: UnsafeMutableBufferPointer<UInt64>) {
        let n = t.count
        var s = home(e, n)
        while t[s] != 0 {
            s += 1
            if s == n { s = 0 }
        }
        t[s] = e
    }

    /// Makes room for `n` more ids.
    package mutating func reserve(_ n: Int) {
        if Double(count + n) > Double(slots.count) * Self.maxLoad { rebuild(keepingFrom: .min, reserving: n) }
    }

    /// Drops the ids of rows before the hour starting at or before `time` (rebuilds the table).
    package mutating func drop(before time: Int64) {
        let hour = max(time, 0) / TimeUnit.hourMillis
        guard oldestHour < hour else { return }
        rebuild(keepingFrom: hour, reserving: 0)
    }

    private mutating func rebuild(keepingFrom hour: Int64, reserving: Int) {
        var keep = 0, oldest = Int64.max
        for e in slots where e != 0 && Int64(e & Self.hourMask) >= hour {
            keep += 1
            oldest = min(oldest, Int64(e & Self.hourMask))
        }
        let c = max(16, Int((Double(keep + reserving) / Self.targetLoad).rounded(.up)))
        var table = [UInt64](repeating: 0, count: c)
        table.withUnsafeMutableBufferPointer { t in
            for e in slots where e != 0 && Int64(e & Self.hourMask) >= hour { Self.place(e, in: t) }
        }
        slots = table
        count = keep
        oldestHour = oldest
    }
}
