/// Fixed-capacity column storage for head rows.
///
/// The writer fills rows at and after the published count; readers only read rows below the count
/// they captured under the store's state lock. Buffers never move, so that split is race-free.
/// `@unchecked Sendable` for that reason: the lock publishing the count orders the writes before the reads.
/// A tenant's first chunk is small and each next one twice as large (up to `maxCapacity`), so a
/// head with many small tenants stays small.
package final class HeadChunk: @unchecked Sendable {
    package static let maxCapacity = 16_384
    package static let firstCapacity = 256
    /// Rows this chunk can hold.
    package let capacity: Int
    /// Bytes of request ids it can hold (48 per row on average).
    let bytesCapacity: Int

    package let createdAt: UnsafeMutablePointer<Int64>
    package let inputTokens: UnsafeMutablePointer<Int64>
    package let outputTokens: UnsafeMutablePointer<Int64>
    package let cost: UnsafeMutablePointer<Int64>
    /// Dimension `d` of row `i` is at `d * capacity + i`.
    package let dims: UnsafeMutablePointer<UInt32>
    package let requestBytes: UnsafeMutablePointer<UInt8>
    /// Row `i`'s request id spans `requestOffsets[i]..<requestOffsets[i+1]`.
    package let requestOffsets: UnsafeMutablePointer<Int32>
    /// Rows written (writer only).
    fileprivate var rows = 0
    /// What readers derive from the chunk once it is full and never changes again (per-dimension rollups).
    package let derived = DerivedIndexes()

    init(capacity: Int) {
        self.capacity = capacity
        bytesCapacity = max(capacity * 48, 4096)
        createdAt = .allocate(capacity: capacity)
        inputTokens = .allocate(capacity: capacity)
        outputTokens = .allocate(capacity: capacity)
        cost = .allocate(capacity: capacity)
        dims = .allocate(capacity: capacity * Dimension.allCases.count)
        requestBytes = .allocate(capacity: bytesCapacity)
        requestOffsets = .allocate(capacity: capacity + 1)
        requestOffsets[0] = 0
    }

    deinit {
        createdAt.deallocate(); inputTokens.deallocate(); outputTokens.deallocate(); cost.deallocate()
        dims.deallocate(); requestBytes.deallocate(); requestOffsets.deallocate()
    }

    fileprivate func fits(_ requestIDBytes: Int) -> Bool {
        rows < capacity && Int(requestOffsets[rows]) + requestIDBytes <= bytesCapacity
    }

    /// Codes of dimension `d`.
    package func codes(_ d: Dimension) -> UnsafeMutablePointer<UInt32> { dims + d.rawValue * capacity }

    package func requestID(_ i: Int) -> UnsafeRawBufferPointer {
        let a = Int(requestOffsets[i]), b = Int(requestOffsets[i + 1])
        return UnsafeRawBufferPointer(start: requestBytes + a, count: b - a)
    }
}

/// The totals of one UTC hour of a tenant's head rows: answers that need no dimension (usage series and totals)
/// read these instead of every head row, so readers do not pay for what writers append.
package struct HeadHour: Sendable, Equatable {
    package var start: Int64
    package var rows: Int
    package var inputTokens: Int64
    package var outputTokens: Int64
    package var cost: Int64
}

/// A consistent, immutable view of one tenant's head rows: what a reader holds.
package struct HeadView: Sendable {
    package var tenant: String
    package var chunks: [HeadChunk]
    /// Rows visible in each chunk.
    package var chunkRows: [Int]
    /// Values per `Dimension.rawValue`; head codes index these (insertion order, not sorted).
    package var dictionaries: [[String]]
    package var minTime: Int64
    package var maxTime: Int64
    /// Totals of the rows of this view by UTC hour, ascending.
    package var hours: [HeadHour] = []

    package var rows: Int { chunkRows.reduce(0, +) }

    /// The rows, gathered into columns (for sealing, reference queries and exports).
    package func gather() -> PartRows {
        var out = PartRows(tenant: tenant)
        out.dictionaries = dictionaries
        for (chunk, n) in zip(chunks, chunkRows) {
            out.createdAt.append(contentsOf: UnsafeBufferPointer(start: chunk.createdAt, count: n))
            out.inputTokens.append(contentsOf: UnsafeBufferPointer(start: chunk.inputTokens, count: n))
            out.outputTokens.append(contentsOf: UnsafeBufferPointer(start: chunk.outputTokens, count: n))
            out.cost.append(contentsOf: UnsafeBufferPointer(start: chunk.cost, count: n))
            for d in Dimension.allCases {
                out.dims[d.rawValue].append(contentsOf: UnsafeBufferPointer(start: chunk.codes(d), count: n))
            }
            for i in 0..<n {
                out.requestBytes.append(contentsOf: chunk.requestID(i))
                out.requestOffsets.append(out.requestBytes.count)
            }
        }
        return out
    }
}

/// The writer's side of one tenant's head: dictionaries and chunks it appends to.
final class TenantHead {
    let tenant: String
    var interners = [StringInterner](repeating: StringInterner(), count: Dimension.allCases.count)
    var chunks: [HeadChunk] = [HeadChunk(capacity: HeadChunk.firstCapacity)]
    var rows = 0
    var minTime = Int64.max
    var maxTime = Int64.min
    /// Totals by UTC hour, ascending, and the index of the hour the last row went to (rows mostly arrive in order).
    var hours: [HeadHour] = []
    private var lastHour = 0

    init(tenant: String) { self.tenant = tenant }

    /// Adds a row to its hour's totals (a binary search and an insertion only when the hour changes).
    @inline(__always)
    private func count(_ t: Int64, _ input: Int64, _ output: Int64, _ cost: Int64) {
        let start = TimeUnit.hourStart(t)
        var k = lastHour
        if k >= hours.count || hours[k].start != start {
            var a = 0, b = hours.count
            while a < b {
                let mid = (a + b) / 2
                if hours[mid].start < start { a = mid + 1 } else { b = mid }
            }
            if a == hours.count || hours[a].start != start {
                hours.insert(HeadHour(start: start, rows: 0, inputTokens: 0, outputTokens: 0, cost: 0), at: a)
            }
            k = a
            lastHour = a
        }
        hours[k].rows += 1
        hours[k].inputTokens &+= input
        hours[k].outputTokens &+= output
        hours[k].cost &+= cost
    }

    /// Appends row `i` of `batch`, whose string codes map to this tenant's through `translate`.
    func append(_ batch: RecordBatch, _ i: Int, codes: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)) {
        batch.withRequestIDBytes(at: i) { rid in
            var chunk = chunks[chunks.count - 1]
            if !chunk.fits(rid.count) {
                chunk = HeadChunk(capacity: min(chunk.capacity * 2, HeadChunk.maxCapacity))
                chunks.append(chunk)
            }
            let r = chunk.rows
            chunk.createdAt[r] = batch.createdAt[i]
            chunk.inputTokens[r] = batch.inputTokens[i]
            chunk.outputTokens[r] = batch.outputTokens[i]
            chunk.cost[r] = batch.costNanos[i]
            let cap = chunk.capacity
            chunk.dims[r] = codes.0
            chunk.dims[cap + r] = codes.1
            chunk.dims[2 * cap + r] = codes.2
            chunk.dims[3 * cap + r] = codes.3
            chunk.dims[4 * cap + r] = codes.4
            chunk.dims[5 * cap + r] = codes.5
            chunk.dims[6 * cap + r] = codes.6
            let start = Int(chunk.requestOffsets[r])
            if rid.count > 0 {
                (chunk.requestBytes + start).update(from: rid.baseAddress!.assumingMemoryBound(to: UInt8.self), count: rid.count)
            }
            chunk.requestOffsets[r + 1] = Int32(start + rid.count)
            chunk.rows = r + 1
            rows += 1
            minTime = min(minTime, batch.createdAt[i])
            maxTime = max(maxTime, batch.createdAt[i])
            count(batch.createdAt[i], batch.inputTokens[i], batch.outputTokens[i], batch.costNanos[i])
        }
    }

    /// A view of everything appended so far.
    func view() -> HeadView {
        HeadView(tenant: tenant, chunks: chunks, chunkRows: chunks.map(\.rows),
                 dictionaries: interners.map(\.values), minTime: minTime, maxTime: maxTime, hours: hours)
    }
}

/// All tenants' head rows since the last seal.
final class Head {
    var tenants: [String: TenantHead] = [:]
    var rows = 0

    /// Appends `rows` of `batch`, translating batch string codes into each tenant's dictionaries.
    /// Returns the tenants touched.
    func apply(_ batch: RecordBatch, rows selected: [Int]) -> Set<String> {
        var touched = Set<String>()
        guard !selected.isEmpty else { return touched }
        // Batch code -> tenant head code, per dimension; reset between tenants.
        let n = batch.strings.count
        var translate = [[UInt32]](repeating: [UInt32](repeating: .max, count: n), count: Dimension.allCases.count)
        var byTenant: [UInt32: [Int]] = [:]
        for i in selected { byTenant[batch.tenant[i], default: []].append(i) }
        let values = batch.strings.values
        for (tcode, indices) in byTenant.sorted(by: { $0.key < $1.key }) {
            let name = values[Int(tcode)]
            let th = tenants[name] ?? { let t = TenantHead(tenant: name); tenants[name] = t; return t }()
            touched.insert(name)
            var used: [[UInt32]] = Array(repeating: [], count: Dimension.allCases.count)
            for i in indices {
                var c = (UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0))
                for d in 0..<Dimension.allCases.count {
                    let b = batch.dims[d][i]
                    var h = translate[d][Int(b)]
                    if h == .max {
                        h = th.interners[d].intern(values[Int(b)])
                        translate[d][Int(b)] = h
                        used[d].append(b)
                    }
                    switch d {
                    case 0: c.0 = h
                    case 1: c.1 = h
                    case 2: c.2 = h
                    case 3: c.3 = h
                    case 4: c.4 = h
                    case 5: c.5 = h
                    default: c.6 = h
                    }
                }
                th.append(batch, i, codes: c)
            }
            for d in 0..<used.count { for b in used[d] { translate[d][Int(b)] = .max } }
        }
        rows += selected.count
        return touched
    }
}
