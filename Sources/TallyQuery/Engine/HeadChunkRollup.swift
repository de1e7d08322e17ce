import TallyStore

/// A full head chunk's sums by the codes of one dimension, and its rows' time range: made once per chunk and
/// dimension from its rows (`HeadChunk.derived`), and valid for as long as the chunk lives, since a full chunk never
/// changes (the writer appends to a tenant's last chunk only).
struct HeadChunkRollup: Sendable {
    var minTime = Int64.max
    var maxTime = Int64.min
    /// Per code of the tenant head's dictionary (codes past the largest one in the chunk are absent).
    var count: [Int64] = []
    var input: [Int64] = []
    var output: [Int64] = []
    var cost: [Int64] = []

    /// The rollup of `chunk`'s first `rows` rows (all of them: the caller passes full chunks only) by dimension `d`.
    static func of(_ chunk: HeadChunk, rows: Int, dimension d: Dimension) -> HeadChunkRollup {
        chunk.derived.value(d.rawValue) {
            var r = HeadChunkRollup()
            let codes = chunk.codes(d)
            var top: UInt32 = 0
            for i in 0..<rows { top = max(top, codes[i]) }
            let n = Int(top) + 1
            r.count = [Int64](repeating: 0, count: n)
            r.input = r.count; r.output = r.count; r.cost = r.count
            for i in 0..<rows {
                let c = Int(codes[i])
                r.count[c] &+= 1
                r.input[c] &+= chunk.inputTokens[i]
                r.output[c] &+= chunk.outputTokens[i]
                r.cost[c] &+= chunk.cost[i]
                r.minTime = min(r.minTime, chunk.createdAt[i])
                r.maxTime = max(r.maxTime, chunk.createdAt[i])
            }
            return r
        }
    }
}
