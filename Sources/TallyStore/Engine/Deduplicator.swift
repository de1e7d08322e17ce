/// Decides which records are already stored, by `(tenant_id, request_id)`.
///
/// Ids of recent records (within the dedup window of each tenant's newest `created_at`) and of every
/// row not yet sealed are held in memory. An older id may have been evicted after its rows were
/// sealed, so a record older than the last eviction horizon is also looked up in the parts that hold
/// its hour (cached per tenant-hour). Used only by the writer, under the store's writer lock.
final class Deduplicator {
    let window: Int64
    private var slots: [String: Int] = [:]
    private var tenants: [String] = []
    private var sets: [RequestIDSet] = []
    /// Ids before this `created_at` may have been evicted from `sets[slot]`.
    private var horizons: [Int64] = []
    /// Seal epoch: rows inserted now are sealed by the freeze that ends this epoch.
    private(set) var epoch: UInt32 = 1

    private struct HourKey: Hashable { var slot: Int; var hour: Int64 }
    private var cold: [HourKey: RequestIDSet] = [:]
    private var coldOrder: [HourKey] = []
    private let coldCapacity = 256
    /// Tenant-hours whose request ids were decoded from parts (a filter hit or a part without one).
    private(set) var hoursDecoded = 0

    /// The part list the per-tenant lists below were taken from: held, so its buffer's address (which
    /// identifies it: a new part list is a new array) cannot be reused while it is compared against.
    private var indexedParts: [PartReader] = []
    private var indexedAddress: UnsafeRawPointer?
    /// Per slot, its tenant's parts in `indexedParts` (nil: not listed yet), so a late record looks at
    /// its tenant's few parts, not at every part of the store.
    private var partsOfSlot: [[PartReader]?] = []

    /// The parts of slot `s`'s tenant among `parts`.
    private func tenantParts(_ s: Int, _ parts: [PartReader]) -> [PartReader] {
        let address = parts.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
        if address != indexedAddress || parts.count != indexedParts.count {
            indexedParts = parts
            indexedAddress = address
            partsOfSlot = []
        }
        if partsOfSlot.count <= s { partsOfSlot.append(contentsOf: repeatElement(nil, count: s + 1 - partsOfSlot.count)) }
        if let listed = partsOfSlot[s] { return listed }
        let tenant = tenants[s]
        let listed = parts.filter { $0.tenant == tenant }
        partsOfSlot[s] = listed
        return listed
    }

    init(window: Int64) { self.window = window }

    func slot(_ tenant: String) -> Int {
        if let s = slots[tenant] { return s }
        let s = sets.count
        slots[tenant] = s
        tenants.append(tenant)
        sets.append(RequestIDSet())
        horizons.append(.min)
        return s
    }

    /// Loads the ids of a part's rows at or after the tenant's horizon (start-up).
    func load(_ part: PartReader, newest: Int64) throws {
        let s = slot(part.tenant)
        let horizon = newest &- window
        horizons[s] = max(horizons[s], horizon)
        guard part.maxTime >= horizon else { return }
        // Room for the part's ids in the window (its hour index counts them), so the set grows once per part,
        // not by steps, each of which would hold the old table and the new one for a moment.
        sets[s].reserve(part.meta.hours.reduce(0) { $0 + ($1.start + TimeUnit.hourMillis > horizon ? $1.rows : 0) })
        var decoder = BlockDecoder()
        let cap = max(part.meta.granules.map(\.rows).max() ?? 1, 1)
        let times = UnsafeMutablePointer<Int64>.allocate(capacity: cap)
        defer { times.deallocate() }
        for (g, granule) in part.meta.granules.enumerated() where granule.blocks[PartColumn.createdAt.rawValue].max >= horizon {
            try part.decodeIntegers(g, .createdAt, &decoder, into: times)
            try part.decodeRequestIDs(g, &decoder) { i, bytes in
                if times[i] >= horizon { sets[s].insert(RequestIDSet.key(bytes), createdAt: times[i], epoch: 0) }
            }
        }
    }

    /// Ids held in memory and the bytes of their tables (the window's cost; `Store.dedupFootprint`).
    var footprint: (ids: Int, bytes: Int) {
        sets.reduce((0, 0)) { ($0.0 + $1.count, $0.1 + $1.tableBytes) }
    }

    /// Whether an id is certainly new without looking at parts.
    func isRecent(slot s: Int, createdAt: Int64) -> Bool { createdAt >= horizons[s] }

    func contains(slot s: Int, _ key: (UInt64, UInt64)) -> Bool { sets[s].contains(key) }

    /// Whether an old id is in the parts holding its hour.
    ///
    /// Each part that holds rows of the hour is asked first through its request-id filter: when every
    /// such part has a filter and none may hold the id, it is new, with no block decoded and nothing
    /// cached (a late batch of new ids then costs a few probes per record). Only a filter hit (a stored
    /// id, or about 1 in 100 others) or a v1 part without a filter decodes the hour's ids, as before.
    func storedInParts(slot s: Int, _ key: (UInt64, UInt64), createdAt: Int64, parts: [PartReader]) throws -> Bool {
        let hk = HourKey(slot: s, hour: TimeUnit.hourStart(createdAt))
        if let set = cold[hk] { return set.contains(key) }
        let parts = tenantParts(s, parts)
        var mayBeStored = false
        for p in parts where p.minTime < hk.hour + TimeUnit.hourMillis && p.maxTime >= hk.hour {
            if p.hour(startingAt: hk.hour) != nil, try p.mayContainRequestID(key) != false {
                mayBeStored = true
                break
            }
        }
        guard mayBeStored else { return false }
        hoursDecoded += 1
        var set = RequestIDSet()
        var decoder = BlockDecoder()
        for p in parts where p.minTime < hk.hour + TimeUnit.hourMillis && p.maxTime >= hk.hour {
            guard let h = p.hour(startingAt: hk.hour) else { continue }
            for (g, granule) in p.meta.granules.enumerated()
            where granule.rowStart < h.rowStart + h.rows && granule.rowStart + granule.rows > h.rowStart {
                try p.decodeRequestIDs(g, only: (h.rowStart - granule.rowStart)..<(h.rowStart + h.rows - granule.rowStart), &decoder) { _, bytes in
                    set.insert(RequestIDSet.key(bytes), createdAt: hk.hour)
                }
            }
        }
        let found = set.contains(key)
        cold[hk] = set
        coldOrder.append(hk)
        if coldOrder.count > coldCapacity { cold[coldOrder.removeFirst()] = nil }
        return found
    }

    /// Records an id unless it is there; returns whether it was new.
    func insertIfAbsent(slot s: Int, _ key: (UInt64, UInt64), createdAt: Int64, epoch: UInt32) -> Bool {
        guard sets[s].insert(key, createdAt: createdAt, epoch: epoch) else { return false }
        noteInCache(slot: s, key, createdAt: createdAt)
        return true
    }

    /// `insertIfAbsent` of many ids of one tenant, in order; writes whether each was new to `inserted`.
    func insertIfAbsent(
        slot s: Int, _ keys: UnsafeBufferPointer<(UInt64, UInt64)>, createdAt times: UnsafeBufferPointer<Int64>,
        epoch: UInt32, inserted: UnsafeMutableBufferPointer<Bool>
    ) {
        touched ^= sets[s].insert(keys, createdAt: times, epoch: epoch, inserted: inserted)
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

    /// The rows of `sealed` and earlier epochs are in durable parts: drop their ids outside the window.
    func evict(sealed: UInt32) {
        for s in 0..<sets.count {
            guard sets[s].newest != .min else { continue }
            let horizon = sets[s].newest &- window
            sets[s].evict(before: horizon, sealed: sealed)
            horizons[s] = max(horizons[s], horizon)
        }
        dropCachedHours()
    }

    /// Forgets the ids read from parts: cached hours were read before newly written rows reached the parts.
    func dropCachedHours() {
        cold.removeAll()
        coldOrder.removeAll()
    }
}
