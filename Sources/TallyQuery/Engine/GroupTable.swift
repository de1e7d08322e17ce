import TallyStore

/// Global ids of key strings, one id space per group key position, shared by the runs of one query.
///
/// Sources have their own dictionaries (sorted per part, insertion-ordered in the head); partial
/// results meet here by their strings' bytes, each source code being interned once per query.
/// When one source holds every group of a run, a position is instead *bound* to that source's
/// dictionary: its codes are the ids, and nothing is interned unless another source comes later.
struct KeyDictionaries {
    private var interners: [StringInterner]
    /// Per position: the source whose codes are the ids, and its dictionary.
    private var bound: [(plan: ObjectIdentifier, values: [String])?]

    init(positions: Int) {
        interners = Array(repeating: StringInterner(), count: positions)
        bound = Array(repeating: nil, count: positions)
    }

    var positions: Int { interners.count }

    /// Whether `position` has no ids yet.
    func isEmpty(_ position: Int) -> Bool { bound[position] == nil && interners[position].count == 0 }

    /// Makes the codes of `plan`'s `values` the ids of an empty `position`.
    mutating func bind(_ position: Int, to plan: SourcePlan, values: [String]) {
        precondition(isEmpty(position))
        bound[position] = (ObjectIdentifier(plan), values)
    }

    /// The dictionary `position` is bound to (its ids are codes into it), if it is.
    func boundValues(_ position: Int) -> [String]? { bound[position]?.values }

    /// Whether `position` is bound to `plan`'s codes.
    func isBound(_ position: Int, to plan: SourcePlan) -> Bool { bound[position]?.plan == ObjectIdentifier(plan) }

    mutating func id(_ position: Int, _ string: String) -> Int32 {
        if let b = bound[position] {
            // Another source arrives: intern the bound strings first, in code order, so ids stay codes.
            for s in b.values { _ = interners[position].intern(s) }
            bound[position] = nil
        }
        return Int32(interners[position].intern(string))
    }

    /// The string of every id of `position`.
    func values(_ position: Int) -> [String] { bound[position]?.values ?? interners[position].values }

    /// The rank of every id of `position` in byte order of its string.
    func ranks(_ position: Int) -> [Int32] {
        let values = values(position)
        // A part's dictionary is sorted: when the ids are its codes (one source), each id is its own rank, and one
        // pass over neighbours says so instead of a sort.
        if zip(values, values.dropFirst()).allSatisfy({ UTF8Order.precedes($0, $1) }) {
            return (0..<Int32(values.count)).map { $0 }
        }
        let order = values.indices.sorted { UTF8Order.precedes(values[$0], values[$1]) }
        var rank = [Int32](repeating: 0, count: values.count)
        for (r, id) in order.enumerated() { rank[id] = Int32(r) }
        return rank
    }
}

/// A group across sources: the global id of each key position (-1 where unused) and the bucket start.
struct MergeKey: Equatable {
    var ids: SIMD8<Int32>
    var bucket: Int64

    /// Compared as words (`SIMD8 ==` compiles to a lane-by-lane loop through memory).
    @inline(__always)
    static func == (a: MergeKey, b: MergeKey) -> Bool {
        let x = unsafeBitCast(a.ids, to: (UInt64, UInt64, UInt64, UInt64).self)
        let y = unsafeBitCast(b.ids, to: (UInt64, UInt64, UInt64, UInt64).self)
        return (x.0 ^ y.0) | (x.1 ^ y.1) | (x.2 ^ y.2) | (x.3 ^ y.3) | UInt64(bitPattern: a.bucket ^ b.bucket) == 0
    }

    /// A well-mixed 64-bit hash (no `Hasher`: seeding one per lookup costs more than the merge itself).
    var hash: UInt64 {
        let w = unsafeBitCast(ids, to: (UInt64, UInt64, UInt64, UInt64).self)
        var h = (w.0 &* 0x9E37_79B9_7F4A_7C15) ^ (w.1 &* 0xBF58_476D_1CE4_E5B9) ^ (w.2 &* 0x94D0_49BB_1331_11EB)
            ^ (w.3 &* 0xD6E8_FEB8_6659_FD93) ^ (UInt64(bitPattern: bucket) &* 0xA076_1D64_78BD_642F)
        h ^= h >> 32
        h &*= 0xE703_7ED1_A0B4_28DB
        return h ^ (h >> 29)
    }
}

extension MergeKey {
    /// The key's id when it is one non-negative id in the first position, no other, and bucket 0: the key of a
    /// group-by of one dimension without buckets, which `MergeIndex` finds by that id, without hashing.
    @inline(__always)
    var directID: Int? {
        guard bucket == 0, ids[0] >= 0, ids[0] < MergeIndex.directLimit else { return nil }
        // Lanes 1-7 all -1, compared as words (`SIMD8 ==` compiles to a lane-by-lane loop through memory).
        let w = unsafeBitCast(ids, to: (UInt64, UInt64, UInt64, UInt64).self)
        return (w.0 | 0xFFFF_FFFF) & w.1 & w.2 & w.3 == .max ? Int(ids[0]) : nil
    }
}

/// Distinct merge keys in insertion order: key -> dense index.
///
/// While every key has a `directID` (one dimension, no buckets: the breakdowns and top-k of most answers), an array
/// indexed by that id finds it. The ids are dense (interned per query, or a part dictionary's codes), so the array is
/// as long as the strings the query met. The first key without one moves the index to open addressing.
struct MergeIndex {
    /// Ids past this are hashed (they are interned per query from 0, so this is never reached in practice).
    static let directLimit: Int32 = 1 << 22

    private(set) var keys: [MergeKey] = []
    /// Whether `direct` is in use (else `slots`).
    private var isDirect = true
    /// The index of each direct id (-1 = absent).
    private var direct: [Int32] = []
    /// Open addressing over `keys`, once a key without a direct id has come.
    private var slots: [Int32] = []

    /// Makes room for `n` keys in all, so that adding them neither grows nor rehashes.
    mutating func reserve(_ n: Int) {
        keys.reserveGrowing(n)
        guard !isDirect, n * 2 > slots.count else { return }
        var size = slots.count
        while n * 2 > size { size *= 2 }
        rehash(size)
    }

    /// The index of `key`, if present.
    func find(_ key: MergeKey) -> Int? {
        if isDirect {
            guard let id = key.directID, id < direct.count else { return nil }
            let at = direct[id]
            return at < 0 ? nil : Int(at)
        }
        let mask = slots.count - 1
        var s = Int(truncatingIfNeeded: key.hash) & mask
        while true {
            let at = slots[s]
            if at < 0 { return nil }
            if keys[Int(at)] == key { return Int(at) }
            s = (s + 1) & mask
        }
    }

    /// The index of `key`, added when new; `added` tells which.
    mutating func insert(_ key: MergeKey) -> (index: Int, added: Bool) {
        if isDirect {
            if let id = key.directID {
                if id < direct.count {
                    let at = direct[id]
                    if at >= 0 { return (Int(at), false) }
                } else {
                    direct.append(contentsOf: repeatElement(-1, count: Swift.max(id + 1, 2 * direct.count, 64) - direct.count))
                }
                direct[id] = Int32(keys.count)
                keys.append(key)
                return (keys.count - 1, true)
            }
            isDirect = false
            direct = []
            var size = 64
            while (keys.count + 1) * 2 > size { size *= 2 }
            rehash(size)
        }
        let mask = slots.count - 1
        var s = Int(truncatingIfNeeded: key.hash) & mask
        while true {
            let at = slots[s]
            if at < 0 { break }
            if keys[Int(at)] == key { return (Int(at), false) }
            s = (s + 1) & mask
        }
        slots[s] = Int32(keys.count)
        keys.append(key)
        if keys.count * 2 > slots.count { grow() }
        return (keys.count - 1, true)
    }

    private mutating func grow() { rehash(slots.count * 2) }

    private mutating func rehash(_ size: Int) {
        slots = [Int32](repeating: -1, count: size)
        let mask = slots.count - 1
        for (i, key) in keys.enumerated() {
            var s = Int(truncatingIfNeeded: key.hash) & mask
            while slots[s] >= 0 { s = (s + 1) & mask }
            slots[s] = Int32(i)
        }
    }
}

/// Sums per group and bucket, merged from every source's partial results.
struct GroupTable {
    private(set) var index = MergeIndex()
    var count: [Int64] = []
    var input: [Int64] = []
    var output: [Int64] = []
    var cost: [Int64] = []

    var keys: [MergeKey] { index.keys }

    func find(_ key: MergeKey) -> Int? { index.find(key) }

    /// Makes room for `n` more groups.
    mutating func reserve(more n: Int) {
        let total = keys.count + n
        index.reserve(total)
        count.reserveGrowing(total); input.reserveGrowing(total); output.reserveGrowing(total); cost.reserveGrowing(total)
    }

    mutating func add(_ key: MergeKey, _ c: Int64, _ i: Int64, _ o: Int64, _ k: Int64) {
        let (at, added) = index.insert(key)
        if added {
            count.append(c); input.append(i); output.append(o); cost.append(k)
        } else {
            count[at] &+= c; input[at] &+= i; output[at] &+= o; cost[at] &+= k
        }
    }

    /// Adds the groups of `partial`, a partial result of `plan`, translating its codes into global ids.
    ///
    /// `maps[j]` caches the global id of each code of group dimension `j` of this source (-1 = not yet).
    mutating func absorb(_ partial: Partial, of plan: SourcePlan, groupBy: [Query.Key], dictionaries: inout KeyDictionaries,
                         maps: inout [[Int32]], subtracting: Bool = false) {
        var codes = [UInt32](repeating: 0, count: plan.groupDims.count)
        var tenantID: Int32 = -1
        if let p = groupBy.firstIndex(of: .tenant) { tenantID = dictionaries.id(p, plan.tenant) }
        // Position of each group key among the source's group dimensions (-1 for the tenant).
        var dimIndex: [Int] = []
        var j = 0
        for key in groupBy {
            if case .dimension = key { dimIndex.append(j); j += 1 } else { dimIndex.append(-1) }
        }
        let direct = (0..<groupBy.count).map { dictionaries.isBound($0, to: plan) }
        // The source's values of each group dimension, taken on its first code not seen yet (a part makes a
        // dictionary's strings on its first use).
        var values: [[String]?] = Array(repeating: nil, count: plan.groupDims.count)
        var groups = 0
        partial.forEachGroup { _, _ in groups += 1 }
        reserve(more: groups)
        partial.forEachGroup { key, slot in
            let bucket = partial.decode(key, codes: &codes)
            // Lanes are collected as scalars and the key made whole, in registers: lanes written one by one into a
            // SIMD8 go through memory and stall the vector load that follows.
            var lane: (Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32) = (-1, -1, -1, -1, -1, -1, -1, -1)
            for (p, j) in dimIndex.enumerated() {
                var id: Int32
                if j < 0 {
                    id = tenantID
                } else {
                    let c = Int(codes[j])
                    if direct[p] {
                        id = Int32(c)
                    } else {
                        id = maps[j][c]
                        if id < 0 {
                            let source = values[j] ?? plan.dictionaries[plan.groupDims[j].rawValue]
                            values[j] = source
                            id = dictionaries.id(p, source[c])
                            maps[j][c] = id
                        }
                    }
                }
                switch p {
                case 0: lane.0 = id
                case 1: lane.1 = id
                case 2: lane.2 = id
                case 3: lane.3 = id
                case 4: lane.4 = id
                case 5: lane.5 = id
                case 6: lane.6 = id
                default: lane.7 = id
                }
            }
            let ids = SIMD8<Int32>(lane.0, lane.1, lane.2, lane.3, lane.4, lane.5, lane.6, lane.7)
            let sums = partial.sums(slot)
            let key = MergeKey(ids: ids, bucket: plan.bucketStart(bucket))
            if subtracting {
                add(key, 0 &- sums.count, 0 &- sums.input, 0 &- sums.output, 0 &- sums.cost)
            } else {
                add(key, sums.count, sums.input, sums.output, sums.cost)
            }
        }
    }

    /// Drops the groups without rows (left by a subtraction), keeping the others in their order.
    mutating func dropEmpty() {
        guard count.contains(0) else { return }
        var kept = GroupTable()
        kept.reserve(more: keys.count)
        for i in keys.indices where count[i] != 0 { kept.add(keys[i], count[i], input[i], output[i], cost[i]) }
        self = kept
    }
}

extension Array {
    /// Room for `n` elements, at least doubling when it grows: reserving a little more for each of many
    /// partials stays linear (`reserveCapacity` alone allocates exactly `n`, copying every time).
    mutating func reserveGrowing(_ n: Int) {
        if n > capacity { reserveCapacity(Swift.max(n, 2 * capacity)) }
    }
}
