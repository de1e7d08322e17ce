/// An open-addressing hash table from 64-bit group keys to dense slots `1, 2, 3...` (slot 0 is reserved
/// for rows that are filtered out), for key spaces too large for flat arrays.
///
/// One table belongs to one scan worker at a time; it is never shared while it changes.
final class SlotTable {
    /// Key of each slot; index 0 is unused.
    private(set) var keys: UnsafeMutablePointer<UInt64>
    /// Next slot to hand out (= slots used + 1).
    private(set) var next = 1
    private var keyCapacity: Int
    /// Slot per bucket, 0 = empty.
    private var buckets: UnsafeMutablePointer<UInt32>
    private var shift: UInt64
    private var mask: Int

    init(expected: Int = 256) {
        var cap = 64
        while cap < expected * 2 { cap <<= 1 }
        buckets = .allocate(capacity: cap)
        buckets.initialize(repeating: 0, count: cap)
        mask = cap - 1
        shift = UInt64(64 - cap.trailingZeroBitCount)
        keyCapacity = cap / 2 + 1
        keys = .allocate(capacity: keyCapacity)
        keys[0] = 0
    }

    deinit {
        buckets.deallocate()
        keys.deallocate()
    }

    /// Slots in use (not counting the reserved slot 0).
    var count: Int { next - 1 }

    /// The slot of `key`, adding it when new.
    @inline(__always)
    func slot(_ key: UInt64) -> UInt32 {
        var b = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while true {
            let s = buckets[b]
            if s == 0 { return insert(key, at: b) }
            if keys[Int(s)] == key { return s }
            b = (b &+ 1) & mask
        }
    }

    @inline(never)
    private func insert(_ key: UInt64, at bucket: Int) -> UInt32 {
        let s = UInt32(next)
        buckets[bucket] = s
        keys[next] = key
        next += 1
        if next >= keyCapacity { grow() }
        return s
    }

    private func grow() {
        let cap = (mask + 1) * 2
        buckets.deallocate()
        buckets = .allocate(capacity: cap)
        buckets.initialize(repeating: 0, count: cap)
        mask = cap - 1
        shift = UInt64(64 - cap.trailingZeroBitCount)
        let newKeys = UnsafeMutablePointer<UInt64>.allocate(capacity: cap / 2 + 1)
        newKeys.update(from: keys, count: next)
        keys.deallocate()
        keys = newKeys
        keyCapacity = cap / 2 + 1
        for s in 1..<next {
            var b = Int(truncatingIfNeeded: (keys[s] &* 0x9E37_79B9_7F4A_7C15) >> shift)
            while buckets[b] != 0 { b = (b &+ 1) & mask }
            buckets[b] = UInt32(s)
        }
    }
}
