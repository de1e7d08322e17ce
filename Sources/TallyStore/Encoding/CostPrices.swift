/// Per-model token prices that predict a granule's costs: `cost = inputPrice[model] x input + outputPrice[model] x
/// output`, nano-dollars per token, wrapping arithmetic. Costs computed from a price table (what providers bill, what
/// most callers log) then store as residuals of zero: a few bytes a granule instead of ~27 bits a row. Costs that
/// follow no table keep their own encoding (`BlockEncoder.encodeCost` keeps whichever payload is smaller).
package struct CostPrices: Equatable, Sendable {
    /// Model `m`'s input price at `2m`, its output price at `2m + 1`; models without a fit price 0 (their residual
    /// is their cost).
    package var table: [Int64]

    package init(table: [Int64]) { self.table = table }

    /// Rows per model that candidate prices are solved from (every pair of them) and scored on.
    static let samples = 8
    /// The most models a table holds (its count is a `u16`).
    static let maxModels = Int(UInt16.max)

    /// The prices that predict the most sampled rows of each model exactly, or nil when no model has two sampled
    /// rows that solve to whole prices (then a table would only cost bytes).
    package static func fit(cost: UnsafeBufferPointer<Int64>, input: UnsafeBufferPointer<Int64>,
                            output: UnsafeBufferPointer<Int64>, model: UnsafeBufferPointer<UInt32>) -> CostPrices? {
        let n = cost.count
        precondition(input.count == n && output.count == n && model.count == n)
        guard n >= 2 else { return nil }
        var models = 0
        for c in model { models = max(models, Int(c) + 1) }
        // A table entry is 16 bytes, and a row saves at most 8: a table with more entries than rows never pays.
        guard models <= maxModels, models <= n else { return nil }
        var picked = [Int32](repeating: 0, count: models * samples)
        var counts = [Int](repeating: 0, count: models)
        for i in 0..<n {
            let m = Int(model[i])
            if counts[m] < samples {
                picked[m * samples + counts[m]] = Int32(i)
                counts[m] += 1
            }
        }
        var table = [Int64](repeating: 0, count: 2 * models)
        var found = false
        for m in 0..<models where counts[m] >= 2 {
            let rows = picked[(m * samples)..<(m * samples + counts[m])].map(Int.init)
            var best: (Int64, Int64)?
            var bestHits = 1
            for a in 0..<rows.count {
                for b in (a + 1)..<rows.count {
                    guard let p = solve(rows[a], rows[b], cost, input, output) else { continue }
                    let hits = rows.reduce(0) { $0 + (p.0 &* input[$1] &+ p.1 &* output[$1] == cost[$1] ? 1 : 0) }
                    if hits > bestHits { best = p; bestHits = hits }
                }
            }
            if let best {
                table[2 * m] = best.0
                table[2 * m + 1] = best.1
                found = true
            }
        }
        return found ? CostPrices(table: table) : nil
    }

    /// The whole prices `(x, y)` with `x * input + y * output = cost` on rows `a` and `b`, if there are such.
    private static func solve(_ a: Int, _ b: Int, _ cost: UnsafeBufferPointer<Int64>, _ input: UnsafeBufferPointer<Int64>,
                              _ output: UnsafeBufferPointer<Int64>) -> (Int64, Int64)? {
        let i1 = Int128(input[a]), o1 = Int128(output[a]), c1 = Int128(cost[a])
        let i2 = Int128(input[b]), o2 = Int128(output[b]), c2 = Int128(cost[b])
        // Each product is below 2^126; only the differences can overflow.
        let (det, o) = (i1 * o2).subtractingReportingOverflow(i2 * o1)
        let (x, ox) = (c1 * o2).subtractingReportingOverflow(c2 * o1)
        let (y, oy) = (i1 * c2).subtractingReportingOverflow(i2 * c1)
        guard !o, !ox, !oy, det != 0, x % det == 0, y % det == 0, let px = Int64(exactly: x / det), let py = Int64(exactly: y / det) else { return nil }
        return (px, py)
    }
}
