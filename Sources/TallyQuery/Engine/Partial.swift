/// The sums of one source (or one worker's share of it): count, tokens and cost per slot.
///
/// Flat layouts index the arrays by key and keep the trash slot (rows filtered out) last; hashed layouts
/// map keys to slots with a `SlotTable` and use slot 0 as the trash.
///
/// Small flat layouts keep `lanes` (4) copies of every sum, interleaved (`slot * 4 + row % 4`): runs of
/// rows in the same group then add into four independent memory locations instead of one chain of
/// read-modify-writes. The lanes are added up when the partial is read.
///
/// `@unchecked Sendable`: a partial is filled by exactly one worker and handed to the merge only after
/// that worker has finished (the join orders the writes before the reads).
final class Partial: @unchecked Sendable {
    let layout: KeyLayout
    let table: SlotTable?
    let rekeys: [SlotTable]
    /// Copies of each sum (1 or 4); element `slot * lanes + lane`.
    let lanes: Int
    private(set) var capacity: Int
    private(set) var count: UnsafeMutablePointer<Int64>
    private(set) var input: UnsafeMutablePointer<Int64>
    private(set) var output: UnsafeMutablePointer<Int64>
    private(set) var cost: UnsafeMutablePointer<Int64>

    init(_ layout: KeyLayout) {
        self.layout = layout
        if layout.flat {
            table = nil
            lanes = layout.lanes
            capacity = (layout.flatSlots + 1) * lanes
        } else {
            table = SlotTable()
            lanes = 1
            capacity = 1024
        }
        rekeys = (0..<layout.rekeyLevels).map { _ in SlotTable() }
        count = Self.zeros(capacity)
        input = Self.zeros(capacity)
        output = Self.zeros(capacity)
        cost = Self.zeros(capacity)
    }

    deinit {
        count.deallocate(); input.deallocate(); output.deallocate(); cost.deallocate()
    }

    private static func zeros(_ n: Int) -> UnsafeMutablePointer<Int64> {
        let p = UnsafeMutablePointer<Int64>.allocate(capacity: n)
        p.initialize(repeating: 0, count: n)
        return p
    }

    /// The slot rows that are filtered out are summed into.
    var trash: UInt32 { layout.flat ? UInt32(layout.flatSlots) : 0 }

    /// Makes room for every slot the table has handed out (hashed layouts; call after adding keys).
    @inline(__always)
    func reserveSlots() {
        guard let table, table.next > capacity else { return }
        grow(table.next)
    }

    @inline(never)
    private func grow(_ needed: Int) {
        var n = capacity * 2
        while n < needed { n *= 2 }
        count = Self.resized(count, from: capacity, to: n)
        input = Self.resized(input, from: capacity, to: n)
        output = Self.resized(output, from: capacity, to: n)
        cost = Self.resized(cost, from: capacity, to: n)
        capacity = n
    }

    private static func resized(_ p: UnsafeMutablePointer<Int64>, from old: Int, to n: Int) -> UnsafeMutablePointer<Int64> {
        let fresh = zeros(n)
        fresh.update(from: p, count: old)
        p.deallocate()
        return fresh
    }

    /// The slot of a key (slow path, for per-hour pre-aggregates).
    func slot(forKey key: UInt64) -> Int {
        guard let table else { return Int(key) }
        let s = table.slot(key)
        reserveSlots()
        return Int(s)
    }

    /// Adds sums to the slot of `key` (slow path, for per-hour pre-aggregates).
    func add(key: UInt64, count c: Int64, input i: Int64, output o: Int64, cost k: Int64) {
        let s = slot(forKey: key) * lanes
        count[s] &+= c
        input[s] &+= i
        output[s] &+= o
        cost[s] &+= k
    }

    /// The sums of a slot, its lanes added up.
    func sums(_ slot: Int) -> (count: Int64, input: Int64, output: Int64, cost: Int64) {
        var c: Int64 = 0, i: Int64 = 0, o: Int64 = 0, k: Int64 = 0
        for e in (slot * lanes)..<((slot + 1) * lanes) {
            c &+= count[e]; i &+= input[e]; o &+= output[e]; k &+= cost[e]
        }
        return (c, i, o, k)
    }

    /// Calls `body(key, slot)` for every slot holding at least one row.
    func forEachGroup(_ body: (UInt64, Int) -> Void) {
        if let table {
            for s in 1..<table.next where count[s] > 0 { body(table.keys[s], s) }
        } else if lanes == 1 {
            for s in 0..<layout.flatSlots where count[s] > 0 { body(UInt64(s), s) }
        } else {
            for s in 0..<layout.flatSlots where count[4 * s] | count[4 * s + 1] | count[4 * s + 2] | count[4 * s + 3] != 0 {
                body(UInt64(s), s)
            }
        }
    }

    /// Splits a key into its local bucket and the dictionary code of each group position.
    func decode(_ key: UInt64, codes: inout [UInt32]) -> Int {
        let bucket = Int(key / layout.dimSpace)
        var k = key % layout.dimSpace
        for step in layout.steps.reversed() {
            switch step {
            case let .dim(position, size):
                codes[position] = UInt32(k % size)
                k /= size
            case let .rekey(level):
                k = rekeys[level].keys[Int(k)]
            }
        }
        return bucket
    }
}
