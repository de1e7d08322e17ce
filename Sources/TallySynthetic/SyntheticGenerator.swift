#if canImport(Glibc)
import Glibc
#endif
import TallyStore

/// Deterministic, realistic synthetic cost records: the Swift port of `shared/bench/gen.py`.
///
/// About 200 tenants of Zipf-like sizes (the largest ~15 % of rows), 1-5 projects each, environments
/// prod/staging/dev ~75/15/10 %, up to ~50k users with skewed activity, 40 feature tags whose calls have
/// their own token shapes, 13 models with real list prices (cost is exact, in nano-dollars), workflows and
/// skills, unique UUIDv4 request ids, a diurnal and weekly pattern, ~2 % late rows and, when the window
/// is long enough, a few volume spikes and token drifts (`anomalies`).
///
/// The same options give the same records, whatever the chunk size. The data is not byte-identical to
/// gen.py's (a different random stream), only alike in shape.
public struct SyntheticGenerator: Sendable {
    /// What to generate.
    public struct Options: Sendable {
        /// Number of records.
        public var rows: Int
        /// Length of the window in days, ending at `end`.
        public var days: Int
        /// Seed of every random choice.
        public var seed: UInt64
        /// Number of tenants (at least 1).
        public var tenants: Int
        /// End of the window (exclusive), milliseconds since the epoch.
        public var end: Int64
        /// Share of records whose `created_at` lies up to 2 hours before their neighbours'.
        public var lateFraction: Double
        /// Approximate number of distinct users at scale; fewer for small row counts.
        public var users: Int

        /// 2025-06-01T00:00:00Z, the default end of the window (as in gen.py).
        public static let defaultEnd: Int64 = 1_748_736_000_000

        /// Options with gen.py's defaults.
        public init(
            rows: Int,
            days: Int = 30,
            seed: UInt64 = 42,
            tenants: Int = 200,
            end: Int64 = Options.defaultEnd,
            lateFraction: Double = 0.02,
            users: Int = 50_000
        ) {
            self.rows = rows
            self.days = days
            self.seed = seed
            self.tenants = tenants
            self.end = end
            self.lateFraction = lateFraction
            self.users = users
        }
    }

    /// The options, with out-of-range values clamped (rows >= 0, days >= 1, tenants >= 1).
    public let options: Options
    private let world: SyntheticWorld

    /// Lays out the world (tenants, users, mixes, anomalies); no rows yet.
    public init(_ options: Options) {
        var o = options
        o.rows = max(0, o.rows)
        o.days = max(1, o.days)
        o.tenants = max(1, o.tenants)
        o.lateFraction = min(1, max(0, o.lateFraction))
        self.options = o
        // About 20 calls per user at scale; never fewer than 3 users a tenant.
        let users = max(3 * o.tenants, min(max(1, o.users), o.rows / 20))
        world = SyntheticWorld(seed: o.seed, tenants: o.tenants, days: o.days, end: o.end, users: users)
    }

    /// The injected anomalies, for tests and `--describe`.
    public var anomalies: [InjectedAnomaly] { world.anomalies }

    /// Tenant ids by descending expected size.
    public var tenantIDs: [String] { world.tenantIDs }

    /// Expected share of rows of each tenant of `tenantIDs` (before spikes add volume); sums to 1.
    public var tenantShares: [Double] { world.tenantWeights }

    /// Number of distinct user ids the records draw from.
    public var userCount: Int { world.totalUsers }

    /// The time window of `created_at`, milliseconds since the epoch.
    public var window: Range<Int64> { world.start..<world.end }

    /// Generates the records in `created_at`-mostly order (~`lateFraction` of them up to 2 h late), calling
    /// `body` with batches of up to `chunkSize` records.
    public func generate(chunkSize: Int = 65536, _ body: (RecordBatch) throws -> Void) rethrows {
        let n = options.rows
        guard n > 0 else { return }
        let chunk = max(1, chunkSize)
        var state = RowState(world: world, seed: options.seed, rows: n, lateFraction: options.lateFraction)
        var row = 0
        while row < n {
            let m = min(chunk, n - row)
            var batch = RecordBatch()
            batch.reserveSyntheticRows(m)
            state.fill(&batch, rows: row..<(row + m))
            try body(batch)
            row += m
        }
    }

    /// All records in one array: for small counts (tests).
    public func records() -> [CostRecord] {
        var out: [CostRecord] = []
        out.reserveCapacity(options.rows)
        generate { out.append(contentsOf: $0.records) }
        return out
    }
}

extension RecordBatch {
    /// Reserves room for `count` more records of ~36-byte request ids.
    fileprivate mutating func reserveSyntheticRows(_ count: Int) {
        tenant.reserveCapacity(count)
        for d in 0..<dims.count { dims[d].reserveCapacity(count) }
        requestBytes.reserveCapacity(count * 36)
        requestOffsets.reserveCapacity(count + 1)
        inputTokens.reserveCapacity(count)
        outputTokens.reserveCapacity(count)
        costNanos.reserveCapacity(count)
        createdAt.reserveCapacity(count)
    }
}

/// The row loop's state: one random stream and the position in the arrival curve, carried across chunks.
private struct RowState {
    let world: SyntheticWorld
    let rows: Int
    let lateFraction: Double
    var rng: Xoshiro256
    /// Minute of the window the arrival curve has reached.
    var minute = 0
    /// Batch code of each world string in the current chunk, valid where `codeChunk` equals `chunkNumber`.
    var code: [UInt32]
    var codeChunk: [Int32]
    var chunkNumber: Int32 = -1
    var uuid = [UInt8](repeating: 0, count: 36)

    init(world: SyntheticWorld, seed: UInt64, rows: Int, lateFraction: Double) {
        self.world = world
        self.rows = rows
        self.lateFraction = lateFraction
        rng = Xoshiro256(seed: seed, stream: 2)
        code = [UInt32](repeating: 0, count: world.strings.count)
        codeChunk = [Int32](repeating: -1, count: world.strings.count)
    }

    /// The batch code of world string `w`, interning it on first use in this chunk.
    @inline(__always)
    mutating func local(_ w: Int32, _ batch: inout RecordBatch) -> UInt32 {
        let i = Int(w)
        if codeChunk[i] == chunkNumber { return code[i] }
        let c = batch.strings.intern(world.strings[i])
        code[i] = c
        codeChunk[i] = chunkNumber
        return c
    }

    mutating func fill(_ batch: inout RecordBatch, rows range: Range<Int>) {
        chunkNumber += 1
        let w = world
        let cumulative = w.cumulativeIntensity
        let minutes = cumulative.count - 1
        let qScale = 1 / Double(rows)
        let spikes = w.spikes
        let twoHours = 2 * TimeUnit.hourMillis
        for i in range {
            // Arrival: stratified quantiles (i + u) / rows through the intensity CDF are already sorted,
            // so rows stream out in time order without holding all timestamps.
            let q = (Double(i) + rng.uniform()) * qScale
            while minute + 1 < minutes && cumulative[minute + 1] <= q { minute += 1 }
            let lo = cumulative[minute], hi = cumulative[minute + 1]
            let within = min(59_999, Int64((q - lo) / (hi - lo) * 60_000))
            let ts = w.start + Int64(minute) * 60_000 + max(0, within)

            // Tenant: the base mix, plus the extra volume of spiking tenants.
            var tenant = Int(w.tenantTable.draw(0, &rng))
            if !spikes.isEmpty {
                var extra = 0.0
                for s in spikes where ts >= s.start && ts < s.end { extra += s.weight }
                if extra > 0, rng.uniform() < extra / (1 + extra) {
                    var u = rng.uniform() * extra
                    for s in spikes where ts >= s.start && ts < s.end {
                        tenant = s.tenant
                        if u < s.weight { break }
                        u -= s.weight
                    }
                }
            }

            let project = w.projectTables.draw(tenant, &rng)
            let envDraw = rng.uniform()
            let environment = w.environmentCode[envDraw < 0.75 ? 0 : envDraw < 0.90 ? 1 : 2]
            let nUsers = Int(w.userCount[tenant])
            let user = w.userBase[tenant] + Int32(min(nUsers - 1, Int(Double(nUsers) * pow(rng.uniform(), w.userSkew[tenant]))))
            let model = Int(w.modelTables.draw(tenant, &rng))
            let feature = Int(w.featureTables.draw(tenant, &rng))
            let u = rng.uniform()
            let workflow = w.workflowBase[tenant] + Int32(Double(w.workflowCount[tenant]) * u * u)
            let skill = w.skillBase + Int32(min(SyntheticCatalog.skillCount - 1, Int(Double(SyntheticCatalog.skillCount) * pow(rng.uniform(), 2.5))))

            // Tokens: log-normal around the feature's medians; drifting tenants ramp up over one day.
            var mult = 1.0
            let drift = w.driftFactor[tenant]
            if drift != 1, ts > w.driftStart {
                mult = 1 + (drift - 1) * min(1, Double(ts - w.driftStart) / Double(TimeUnit.dayMillis))
            }
            let tin = Int64(min(SyntheticCatalog.maxInputTokens, max(1, (w.medianIn[feature] * mult * rng.logNormal(sigma: 0.75)).rounded())))
            let tout = Int64(min(SyntheticCatalog.maxOutputTokens, max(1, (w.medianOut[feature] * mult * rng.logNormal(sigma: 0.65)).rounded())))
            let cost = tin * w.priceIn[model] + tout * w.priceOut[model]

            var created = ts
            if rng.uniform() < lateFraction {
                created = max(w.start, ts - 1 - Int64(rng.below(Int(twoHours) - 1)))
            }

            let a = rng.next(), b = rng.next()
            let dims = (
                local(project, &batch), local(environment, &batch), local(user, &batch),
                local(w.featureCode[feature], &batch), local(workflow, &batch), local(skill, &batch),
                local(w.modelCode[model], &batch)
            )
            let t = local(w.tenantCode[tenant], &batch)
            uuid.withUnsafeMutableBytes { SyntheticGenerator.formatUUID(a, b, into: $0) }
            uuid.withUnsafeBytes { rid in
                batch.append(
                    tenant: t, dims: dims, requestID: rid, inputTokens: tin, outputTokens: tout,
                    costNanos: cost, createdAt: created, line: i + 1)
            }
        }
    }
}

extension SyntheticGenerator {
    /// Writes the 128 bits `hi`, `lo` as a lowercase RFC 4122 version-4 UUID (36 bytes) into `out`.
    @inline(__always)
    package static func formatUUID(_ hi: UInt64, _ lo: UInt64, into out: UnsafeMutableRawBufferPointer) {
        let hexDigits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102)
        // Version nibble 4 (byte 6), variant bits 10 (byte 8).
        let h = (hi & ~0x0000_0000_0000_F000) | 0x0000_0000_0000_4000
        let l = (lo & ~0xC000_0000_0000_0000) | 0x8000_0000_0000_0000
        withUnsafeBytes(of: hexDigits) { hex in
            var o = 0
            for k in 0..<32 {
                if k == 8 || k == 12 || k == 16 || k == 20 { out[o] = 45; o += 1 }  // '-'
                let nibble = k < 16 ? (h >> UInt64(60 - 4 * k)) & 0xF : (l >> UInt64(60 - 4 * (k - 16))) & 0xF
                out[o] = hex[Int(nibble)]
                o += 1
            }
        }
    }
}
