/// How one source (a part or a head view) turns a row's group codes and bucket into one integer key.
///
/// The key is `bucket * dimSpace + k`, where `k` is the mixed-radix number of the group dimensions'
/// dictionary codes (`((c0 * s1 + c1) * s2 + c2)...`, `s` = dictionary sizes). When that space would
/// pass 2^40 (several high-cardinality dimensions), the running number is re-keyed through a hash
/// table into dense ids (at most one per row) before the next dimension is added, so keys never
/// overflow. When `buckets * dimSpace` is small the key is itself the slot of flat accumulator arrays;
/// otherwise a `SlotTable` maps keys to dense slots.
struct KeyLayout: Sendable {
    enum Step: Sendable {
        /// Multiply by `size` and add the code of group position `position`.
        case dim(position: Int, size: UInt64)
        /// Replace the running number by its dense id in re-key table `level`.
        case rekey(level: Int)
    }

    /// Flat arrays are used up to this many slots (4 arrays of 8-byte sums: 4 MiB).
    static let flatLimit: UInt64 = 1 << 17
    /// Flat layouts with fewer slots than this get 4 lanes (see `Partial`).
    static let laneLimit = 4096
    /// The running key is re-keyed before it would pass this.
    static let rekeyLimit: UInt64 = 1 << 40

    let steps: [Step]
    /// Number of distinct `k` values the dimensions can produce.
    let dimSpace: UInt64
    /// Local buckets of the source.
    let buckets: Int
    /// Whether keys are slots of flat arrays.
    let flat: Bool
    let rekeyLevels: Int
    /// Copies of each sum in a partial (4 for small flat layouts, else 1).
    let lanes: Int
    /// Flat layout only: multiplier of each group position's code.
    let strides: [UInt32]

    /// A layout for group dimensions with dictionaries of `sizes`, `buckets` local buckets, and at most
    /// `rows` rows (which bounds the dense ids of a re-key).
    init(sizes: [Int], buckets: Int, rows: Int, flatLimit: UInt64 = KeyLayout.flatLimit, rekeyLimit: UInt64 = KeyLayout.rekeyLimit,
         laneLimit: Int = KeyLayout.laneLimit) {
        var steps: [Step] = []
        var space: UInt64 = 1
        var levels = 0
        let bound = UInt64(max(rows, 1)) + 2
        for (position, size) in sizes.enumerated() {
            let s = UInt64(max(size, 1))
            let (product, overflow) = space.multipliedReportingOverflow(by: s)
            if space > 1 && (overflow || product > rekeyLimit) {
                steps.append(.rekey(level: levels))
                levels += 1
                space = bound
            }
            steps.append(.dim(position: position, size: s))
            space *= s
        }
        let (total, overflow) = space.multipliedReportingOverflow(by: UInt64(max(buckets, 1)))
        if overflow || total >= 1 << 62 {
            steps.append(.rekey(level: levels))
            levels += 1
            space = bound
        }
        self.steps = steps
        dimSpace = space
        self.buckets = max(buckets, 1)
        rekeyLevels = levels
        flat = levels == 0 && space * UInt64(self.buckets) <= flatLimit
        lanes = flat && Int(space) * self.buckets < laneLimit ? 4 : 1
        var strides = [UInt32](repeating: 1, count: sizes.count)
        if flat {
            var m: UInt64 = 1
            for p in stride(from: sizes.count - 1, through: 0, by: -1) {
                strides[p] = UInt32(m)
                m *= UInt64(max(sizes[p], 1))
            }
        }
        self.strides = strides
    }

    /// Slots of flat arrays, the trash slot excluded.
    var flatSlots: Int { Int(dimSpace) * buckets }
}
