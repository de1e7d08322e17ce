/// Collects rows of one tenant from record batches, interning dimension strings once per batch.
struct PartRowsBuilder {
    private(set) var rows: PartRows
    private var interners = [StringInterner](repeating: StringInterner(), count: Dimension.allCases.count)

    init(tenant: String) { rows = PartRows(tenant: tenant) }

    var count: Int { rows.count }

    /// Appends rows `indices` of `batch`. `translate` maps batch codes to this builder's codes per
    /// dimension (`.max` = unknown); it is shared across builders and left all `.max` again on return.
    mutating func append(_ batch: RecordBatch, _ indices: [Int], translate: inout [[UInt32]]) {
        let values = batch.strings.values
        for d in 0..<Dimension.allCases.count {
            var used: [UInt32] = []
            let source = batch.dims[d]
            rows.dims[d].reserveCapacity(rows.dims[d].count + indices.count)
            for i in indices {
                let b = Int(source[i])
                var c = translate[d][b]
                if c == .max {
                    c = interners[d].intern(values[b])
                    translate[d][b] = c
                    used.append(UInt32(b))
                }
                rows.dims[d].append(c)
            }
            for b in used { translate[d][Int(b)] = .max }
        }
        for i in indices {
            rows.createdAt.append(batch.createdAt[i])
            rows.inputTokens.append(batch.inputTokens[i])
            rows.outputTokens.append(batch.outputTokens[i])
            rows.cost.append(batch.costNanos[i])
            batch.withRequestIDBytes(at: i) { rows.requestBytes.append(contentsOf: $0) }
            rows.requestOffsets.append(rows.requestBytes.count)
        }
    }

    /// The rows with their dictionaries.
    func build() -> PartRows {
        var out = rows
        out.dictionaries = interners.map(\.values)
        return out
    }
}
