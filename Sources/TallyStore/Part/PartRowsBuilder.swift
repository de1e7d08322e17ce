/// Collects rows of one tenant whose dimension codes index one shared, load-wide dictionary.
///
/// `PartWriter` keeps only the values a part uses, sorted, so sharing a big dictionary costs nothing on disk.
struct PartRowsBuilder {
    private(set) var rows: PartRows

    init(tenant: String) { rows = PartRows(tenant: tenant) }

    var count: Int { rows.count }

    /// Appends rows `indices` of `batch`; `map[c]` is the shared code of the batch's string code `c`.
    mutating func append(_ batch: RecordBatch, _ indices: ArraySlice<Int>, map: [UInt32]) {
        guard !indices.isEmpty else { return }
        indices.withUnsafeBufferPointer { idx in
            map.withUnsafeBufferPointer { m in
                for d in 0..<Dimension.allCases.count {
                    batch.dims[d].withUnsafeBufferPointer { source in
                        Self.extend(&rows.dims[d], idx.count) { out in
                            for (k, i) in idx.enumerated() { out[k] = m[Int(source[i])] }
                        }
                    }
                }
            }
            Self.gather(&rows.createdAt, batch.createdAt, idx)
            Self.gather(&rows.inputTokens, batch.inputTokens, idx)
            Self.gather(&rows.outputTokens, batch.outputTokens, idx)
            Self.gather(&rows.cost, batch.costNanos, idx)
            batch.requestOffsets.withUnsafeBufferPointer { offsets in
                var total = 0
                for i in idx { total += offsets[i + 1] - offsets[i] }
                var end = rows.requestBytes.count
                Self.extend(&rows.requestOffsets, idx.count) { out in
                    for (k, i) in idx.enumerated() {
                        end += offsets[i + 1] - offsets[i]
                        out[k] = end
                    }
                }
                guard total > 0 else { return }
                batch.requestBytes.withUnsafeBytes { bytes in
                    Self.extend(&rows.requestBytes, total) { out in
                        var at = 0
                        for i in idx {
                            let n = offsets[i + 1] - offsets[i]
                            UnsafeMutableRawPointer(out.baseAddress! + at).copyMemory(from: bytes.baseAddress! + offsets[i], byteCount: n)
                            at += n
                        }
                    }
                }
            }
        }
    }

    /// Appends `source[i]` for each of `indices` to `column`.
    @inline(__always)
    private static func gather<T: FixedWidthInteger>(_ column: inout [T], _ source: [T], _ indices: UnsafeBufferPointer<Int>) {
        source.withUnsafeBufferPointer { s in
            extend(&column, indices.count) { out in
                for (k, i) in indices.enumerated() { out[k] = s[i] }
            }
        }
    }

    /// Grows `array` by `n` elements (zeroed, then written by `fill`), keeping the array's geometric
    /// growth (an exact reserve per call would copy the column every time).
    @inline(__always)
    private static func extend<T: FixedWidthInteger>(_ array: inout [T], _ n: Int, _ fill: (UnsafeMutableBufferPointer<T>) -> Void) {
        let old = array.count
        array.append(contentsOf: repeatElement(0, count: n))
        array.withUnsafeMutableBufferPointer { all in fill(UnsafeMutableBufferPointer(rebasing: all[old...])) }
    }

    /// The rows, with `dictionary` for every dimension.
    func build(dictionary: [String]) -> PartRows {
        var out = rows
        out.dictionaries = Array(repeating: dictionary, count: Dimension.allCases.count)
        return out
    }
}
