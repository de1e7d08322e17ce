/// Collects rows of one tenant whose dimension codes index one shared, load-wide dictionary.
///
/// `PartWriter` keeps only the values a part uses, sorted, so sharing a big dictionary costs nothing on disk.
struct PartRowsBuilder {
    private(set) var rows: PartRows

    init(tenant: String) { rows = PartRows(tenant: tenant) }

    var count: Int { rows.count }

    /// Appends rows `indices` of `batch`; `map[c]` is the shared code of the batch's string code `c`.
    mutating func append(_ batch: RecordBatch, _ indices: [Int], map: [UInt32]) {
        map.withUnsafeBufferPointer { m in
            for d in 0..<Dimension.allCases.count {
                batch.dims[d].withUnsafeBufferPointer { source in
                    for i in indices { rows.dims[d].append(m[Int(source[i])]) }
                }
            }
        }
        for i in indices {
            rows.createdAt.append(batch.createdAt[i])
            rows.inputTokens.append(batch.inputTokens[i])
            rows.outputTokens.append(batch.outputTokens[i])
            rows.cost.append(batch.costNanos[i])
        }
        batch.requestBytes.withUnsafeBytes { bytes in
            for i in indices {
                rows.requestBytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[batch.requestOffsets[i]..<batch.requestOffsets[i + 1]]))
                rows.requestOffsets.append(rows.requestBytes.count)
            }
        }
    }

    /// The rows, with `dictionary` for every dimension.
    func build(dictionary: [String]) -> PartRows {
        var out = rows
        out.dictionaries = Array(repeating: dictionary, count: Dimension.allCases.count)
        return out
    }
}
