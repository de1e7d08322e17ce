/// Decides which records are already stored, by `(tenant_id, request_id)`.
///
/// Two tiers per tenant, both in memory. The ids of every unsealed row and of the sealed rows within
/// `recentWindow` of the tenant's newest `created_at` are held whole (`RequestIDSet`: 96 bits of hash, 21-32 bytes
/// an id); every id of the dedup window (`window`, 7 days by default) is held as a fingerprint with the hour of its
/// row (`WindowIDTable`, 10-16 bytes). A record is a duplicate when its id is among the whole ones, or when a
/// fingerprint matches and the ids stored in the hour it names hold it (decoded from the parts, cached per
/// tenant-hour). A record older than the window is also looked up in the parts that hold its own hour. Used only
/// by the writer, under the store's writer lock.
final class Deduplicator {
    let window: Int64
    /// How far back sealed ids are held whole (never more than `window`).
    private(set) var recentWindow: Int64
    private var slots: [String: Int] = [:]
    private var tenants: [String] = []
    private var sets: [RequestIDSet] = []
    private var windowIDs: [WindowIDTable] = []
    /// Ids before this `created_at` may be in neither tier (the window's horizon).
    private var horizons: [Int64] = []
    /// Seal epoch: rows inserted now are sealed by the freeze that ends this epoch.
    private(set) var epoch: UInt32 = 1
    /// While a bulk load runs, its ids' window entries wait here (per slot) and reach the tables at its commit:
    /// the whole ids are all held until then, so the load's own rows need no fingerprint probe.
    private var pendingWindowIDs: [[UInt64]]?

    private struct HourKey: Hashable { var slot: Int; var hour: Int64 }
    private var cold: [HourKey: RequestIDSet] = [:]
    private var coldOrder: [HourKey] = []
    private let coldCapacity = 256
    /// Tenant-hours whose request ids were decoded from parts (a filter hit or a part without one).
    private(set) var hoursDecoded = 0

    init(window: Int64, recentWindow: Int64) {
        self.window = window
        self.recentWindow = min(recentWindow, window)
    }

    func slot(_ tenant: String) -> Int {
        if let s = slots[tenant] { return s }
        let s = sets.count
        slots[tenant] = s
        tenants.append(tenant)
        sets.append(RequestIDSet())
        windowIDs.append(WindowIDTable())
        horizons.append(.min)
        pendingWindowIDs?.append([])
        return s
    }

    /// Loads the ids of a part's rows at or after the tenant's horizon (start-up).
    func load(_ part: PartReader, newest: Int64) throws {
        let s = slot(part.tenant)
        let horizon = newest &- window
        let recent = newest &- recentWindow
        horizons[s] = max(horizons[s], horizon)
        guard part.maxTime >= horizon else { return }
        // Room for the part's ids (its hour index counts them), so a table grows once per part, not by steps, each of
        // which would hold the old table and the new one for a moment.
        func rows(after t: Int64) -> Int { part.meta.hours.reduce(0) { $0 + ($1.start + TimeUnit.hourMillis > t ? $1.rows : 0) } }
        windowIDs[s].reserve(rows(after: horizon))
        if part.maxTime >= recent { sets[s].reserve(rows(after: recent)) }
        var decoder = BlockDecoder()
        let cap = max(part.meta.granules.map(\.rows).max() ?? 1, 1)
        let times = UnsafeMutablePointer<Int64>.allocate(capacity: cap)
        defer { times.deallocate() }
        for (g, granule) in part.meta.granules.enumerated() where granule.blocks[PartColumn.createdAt.rawValue].max >= horizon {
            try part.decodeIntegers(g, .createdAt, &decoder, into: times)
            try part.decodeRequestIDs(g, &decoder) { i, bytes in
                guard times[i] >= horizon else { return }
                let key = RequestIDSet.key(bytes)
                windowIDs[s].insert(key, createdAt: times[i])
                if times[i] >= recent { sets[s].insert(key, createdAt: times[i], epoch: 0) }
            }
        }
    }

    /// Ids held in memory (the window's, counted once) and the bytes of both tiers' tables (`Store.dedupFootprint`).
    var footprint: (ids: Int, bytes: Int) {
        var ids = 0, bytes = 0
        for s in sets.indices {
            ids += max(windowIDs[s].count + (pendingWindowIDs?[s].count ?? 0), sets[s].count)
            bytes += sets[s].tableBytes + windowIDs[s].tableBytes + (pendingWindowIDs?[s].capacity ?? 0) * 8
        }
        return (ids, bytes)
    }

    func contains(slot s: Int, _ key: (UInt64, UInt64)) -> Bool { sets[s].contains(key) }

    /// Whether every stored id of slot `s`'s tenant is among the whole ones (no fingerprint of the window, no horizon:
    /// nothing of it was stored before the whole ones began), so `storedOutsideRecent` is false for any id and
    /// `insertIfAbsent` alone decides. A tenant new to the store, as every tenant of an import into a new store.
    func holdsEveryIDWhole(slot s: Int) -> Bool { windowIDs[s].count == 0 && horizons[s] == .min }

    /// Whether a record whose id is not among the whole ones (`contains`) is stored: a fingerprint of the window
    /// that matches and is confirmed in the hour it names, or, for a record older than the window, its id in the
    /// parts holding its own hour. `parts` is called only when parts must be read.
    func storedOutsideRecent(
        slot s: Int, _ key: (UInt64, UInt64), createdAt: Int64, parts: () -> PartList
    ) throws -> Bool {
        let ownHour = TimeUnit.hourStart(createdAt)
        if try windowIDs[s].anyHour(of: key, { try storedInParts(slot: s, key, hour: $0, parts: parts()) }) { return true }
        guard createdAt < horizons[s] else { return false }
        return try storedInParts(slot: s, key, hour: ownHour, parts: parts())
    }

    /// Whether an id is in the parts holding rows of the hour starting at `hour`.
    ///
    /// Each part that holds rows of the hour is asked first through its request-id filter: when every
    /// such part has a filter and none may hold the id, it is new, with no block decoded and nothing
    /// cached (a late batch of new ids then costs a few probes per record). Only a filter hit (a stored
    /// id, or about 1 in 100 others) or a part without a filter (a v1 part, or one of fewer than
    /// `PartFormat.filterMinRows` rows) decodes the hour's ids: an hour of at most `directCheckRows` stored rows
    /// (a small tenant's) is compared directly, as cheap as the probes and with nothing cached; a larger one is made
    /// into a set, cached for the hour's next late records.
    func storedInParts(slot s: Int, _ key: (UInt64, UInt64), hour: Int64, parts: PartList) throws -> Bool {
        let hk = HourKey(slot: s, hour: hour)
        if let set = cold[hk] { return set.contains(key) }
        let parts = parts.parts(of: tenants[s])  // the part list's tenant index: its few parts, not every one
        var mayBeStored = false, hourRows = 0
        for p in parts where p.minTime < hk.hour + TimeUnit.hourMillis && p.maxTime >= hk.hour {
            guard let h = p.hour(startingAt: hk.hour) else { continue }
            hourRows += h.rows
            if !mayBeStored, try p.mayContainRequestID(key) != false { mayBeStored = true }
        }
        guard mayBeStored else { return false }
        hoursDecoded += 1
        if hourRows <= Self.directCheckRows {
            var found = false
            try forEachRequestID(inHour: hk.hour, of: parts) { bytes in
                if !found && RequestIDSet.key(bytes) == key { found = true }
            }
            return found
        }
        var set = RequestIDSet()
        try forEachRequestID(inHour: hk.hour, of: parts) { set.insert(RequestIDSet.key($0), createdAt: hk.hour) }
        let found = set.contains(key)
        cold[hk] = set
        coldOrder.append(hk)
        if coldOrder.count > coldCapacity { cold[coldOrder.removeFirst()] = nil }
        return found
    }

    /// Hours of at most this many stored rows are checked without a cached set.
    static let directCheckRows = 64

    /// Every request id the parts hold of the hour starting at `hour` (only that hour's rows are decoded).
    private func forEachRequestID(inHour hour: Int64, of parts: [PartReader], _ body: (UnsafeRawBufferPointer) -> Void) throws {
        var decoder = BlockDecoder()
        for p in parts where p.minTime < hour + TimeUnit.hourMillis && p.maxTime >= hour {
            guard let h = p.hour(startingAt: hour) else { continue }
            for (g, granule) in p.meta.granules.enumerated()
            where granule.rowStart < h.rowStart + h.rows && granule.rowStart + granule.rows > h.rowStart {
                try p.decodeRequestIDs(g, only: (h.rowStart - granule.rowStart)..<(h.rowStart + h.rows - granule.rowStart), &decoder) { _, bytes in
                    body(bytes)
                }
            }
        }
    }

    /// Records an id unless it is there; returns whether it was new.
    func insertIfAbsent(slot s: Int, _ key: (UInt64, UInt64), createdAt: Int64, epoch: UInt32) -> Bool {
        guard sets[s].insert(key, createdAt: createdAt, epoch: epoch) else { return false }
        if pendingWindowIDs != nil {
            pendingWindowIDs![s].append(WindowIDTable.entry(key, createdAt: createdAt))
        } else {
            windowIDs[s].insert(key, createdAt: createdAt)
        }
        noteInCache(slot: s, key, createdAt: createdAt)
        return true
    }

    /// `insertIfAbsent` of many ids of one tenant, in order; writes whether each was new to `inserted`.
    func insertIfAbsent(
        slot s: Int, _ keys: UnsafeBufferPointer<(UInt64, UInt64)>, createdAt times: UnsafeBufferPointer<Int64>,
        epoch: UInt32, inserted: UnsafeMutableBufferPointer<Bool>
    ) {
        touched ^= sets[s].insert(keys, createdAt: times, epoch: epoch, inserted: inserted)
        if pendingWindowIDs != nil {
            for i in 0..<keys.count where inserted[i] { pendingWindowIDs![s].append(WindowIDTable.entry(keys[i], createdAt: times[i])) }
        } else {
            var entries: [UInt64] = []
            entries.reserveCapacity(keys.count)
            for i in 0..<keys.count where inserted[i] { entries.append(WindowIDTable.entry(keys[i], createdAt: times[i])) }
            entries.withUnsafeBufferPointer { windowIDs[s].insert(entries: $0) }
        }
        guard !cold.isEmpty else { return }
        for i in 0..<keys.count where inserted[i] { noteInCache(slot: s, keys[i], createdAt: times[i]) }
    }

    /// Keeps the prefetching reads of batch inserts from being optimised away.
    private var touched: UInt64 = 0

    /// Records a stored id.
    func insert(slot s: Int, _ key: (UInt64, UInt64), createdAt: Int64) {
        _ = insertIfAbsent(slot: s, key, createdAt: createdAt, epoch: epoch)
    }

    /// Keeps a cached hour of old ids complete (most of the time nothing is cached: no lookup then).
    @inline(__always)
    private func noteInCache(slot s: Int, _ key: (UInt64, UInt64), createdAt: Int64) {
        guard !cold.isEmpty else { return }
        let hk = HourKey(slot: s, hour: TimeUnit.hourStart(createdAt))
        if cold[hk] != nil { cold[hk]!.insert(key, createdAt: hk.hour) }
    }

    /// Ends the current epoch (the head was frozen); returns the epoch the frozen rows belong to.
    func freeze() -> UInt32 {
        defer { epoch += 1 }
        return epoch
    }

    /// The rows of `sealed` and earlier epochs are in durable parts: their whole ids outside the recent window go
    /// (their fingerprints stay), and the fingerprints of hours that left the window, once half a day of them has.
    func evict(sealed: UInt32) {
        for s in 0..<sets.count {
            guard sets[s].newest != .min else { continue }
            let horizon = sets[s].newest &- window
            sets[s].evict(before: sets[s].newest &- recentWindow, sealed: sealed)
            if windowIDs[s].oldestHour * TimeUnit.hourMillis < horizon &- TimeUnit.dayMillis / 2 { windowIDs[s].drop(before: horizon) }
            horizons[s] = max(horizons[s], horizon)
        }
        dropCachedHours()
    }

    /// A bulk load begins: its ids' fingerprints wait until `endLoad`.
    func beginLoad() {
        pendingWindowIDs = Array(repeating: [], count: sets.count)
    }

    /// A bulk load committed: its ids' fingerprints join the window. With `keepingWholeIDs`, the store keeps every
    /// whole id from now on (an import that closes the store next skips the eviction that would rebuild the sets).
    func endLoad(keepingWholeIDs: Bool) {
        guard let pending = pendingWindowIDs else { return }
        pendingWindowIDs = nil
        for s in pending.indices where !pending[s].isEmpty {
            pending[s].withUnsafeBufferPointer { windowIDs[s].insert(entries: $0) }
        }
        if keepingWholeIDs { recentWindow = window }
    }

    /// Forgets the ids read from parts: cached hours were read before newly written rows reached the parts.
    func dropCachedHours() {
        cold.removeAll()
        coldOrder.removeAll()
    }
}
