import TallyText
/// Rows of one tenant, column by column, with dimension codes into `dictionaries` (in any order):
/// what a part is written from (sealed head rows, merged parts) and what it reads back into.
package struct PartRows: Sendable {
    package var tenant: String
    package var createdAt: [Int64] = []
    package var inputTokens: [Int64] = []
    package var outputTokens: [Int64] = []
    package var cost: [Int64] = []
    /// Codes per `Dimension.rawValue`.
    package var dims: [[UInt32]] = Array(repeating: [], count: Dimension.allCases.count)
    /// Values per `Dimension.rawValue`.
    package var dictionaries: [[String]] = Array(repeating: [], count: Dimension.allCases.count)
    package var requestBytes: [UInt8] = []
    package var requestOffsets: [Int] = [0]

    package init(tenant: String) { self.tenant = tenant }

    package var count: Int { createdAt.count }

    package func withRequestID<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        requestBytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[requestOffsets[i]..<requestOffsets[i + 1]])) }
    }

    /// The row at `i` as a record (allocates; for tests, exports and the reference path).
    package func record(_ i: Int) -> CostRecord {
        var r = CostRecord(
            tenantID: tenant,
            requestID: withRequestID(i) { String(utf8: $0) },
            model: "", inputTokens: inputTokens[i], outputTokens: outputTokens[i],
            costNanos: cost[i], createdAtMillis: createdAt[i])
        for d in Dimension.allCases { r[d] = dictionaries[d.rawValue][Int(dims[d.rawValue][i])] }
        return r
    }

    /// Appends all rows of `other` (same tenant), re-coding its dimensions into this one's dictionaries.
    /// Strings are matched byte for byte (not by Swift's canonical equivalence), so ids stay exact.
    package mutating func append(contentsOf other: PartRows) {
        for d in 0..<dims.count {
            var index = StringInterner()
            for s in dictionaries[d] { _ = index.intern(s) }
            let remap: [UInt32] = other.dictionaries[d].map { s in
                let before = index.count
                let c = index.intern(s)
                if index.count > before { dictionaries[d].append(s) }
                return c
            }
            dims[d].append(contentsOf: other.dims[d].lazy.map { remap[Int($0)] })
        }
        createdAt.append(contentsOf: other.createdAt)
        inputTokens.append(contentsOf: other.inputTokens)
        outputTokens.append(contentsOf: other.outputTokens)
        cost.append(contentsOf: other.cost)
        let base = requestBytes.count
        requestBytes.append(contentsOf: other.requestBytes)
        requestOffsets.append(contentsOf: other.requestOffsets.dropFirst().lazy.map { $0 + base })
    }

    /// The rows at `order`, in that order.
    package func permuted(_ order: [Int]) -> PartRows {
        var out = PartRows(tenant: tenant)
        out.dictionaries = dictionaries
        out.createdAt = order.map { createdAt[$0] }
        out.inputTokens = order.map { inputTokens[$0] }
        out.outputTokens = order.map { outputTokens[$0] }
        out.cost = order.map { cost[$0] }
        for d in 0..<dims.count { out.dims[d] = order.map { dims[d][$0] } }
        out.requestBytes.reserveCapacity(requestBytes.count)
        out.requestOffsets.reserveCapacity(order.count + 1)
        for i in order {
            out.requestBytes.append(contentsOf: requestBytes[requestOffsets[i]..<requestOffsets[i + 1]])
            out.requestOffsets.append(out.requestBytes.count)
        }
        return out
    }
}
