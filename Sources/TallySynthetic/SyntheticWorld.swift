#if canImport(Glibc)
import Glibc
#endif
import TallyStore

/// Everything fixed by the seed before the first row: tenants, their users, projects, model and feature
/// mixes, workflows, the anomalies and the request intensity of every minute of the window.
///
/// Strings live once in `strings`; the row loop works with indices into it ("world codes").
struct SyntheticWorld: Sendable {
    struct Spike: Sendable {
        var tenant: Int
        var start: Int64
        var end: Int64
        var weight: Double
    }

    let start: Int64
    let end: Int64
    /// Every string a row can hold; rows refer to them by index.
    private(set) var strings: [String] = []

    private(set) var tenantIDs: [String] = []
    /// Expected share of rows per tenant before spikes, descending.
    private(set) var tenantWeights: [Double] = []
    private(set) var tenantCode: [Int32] = []
    /// Table 0: the tenant mix.
    private(set) var tenantTable = AliasTables()
    /// Table `t` of each: tenant `t`'s projects (string codes), models (catalog indices), features (catalog indices).
    private(set) var projectTables = AliasTables()
    private(set) var modelTables = AliasTables()
    private(set) var featureTables = AliasTables()

    /// String code of each tenant's first user, and how many users it has.
    private(set) var userBase: [Int32] = []
    private(set) var userCount: [Int32] = []
    /// Exponent `a` of `u^a` when drawing a user: larger means a few users make most calls.
    private(set) var userSkew: [Double] = []
    private(set) var totalUsers = 0

    private(set) var workflowBase: [Int32] = []
    private(set) var workflowCount: [Int32] = []
    private(set) var skillBase: Int32 = 0
    private(set) var environmentCode: [Int32] = []
    private(set) var featureCode: [Int32] = []
    private(set) var modelCode: [Int32] = []
    let priceIn: [Int64]
    let priceOut: [Int64]
    let medianIn: [Double]
    let medianOut: [Double]

    private(set) var spikes: [Spike] = []
    /// Token multiplier reached by each tenant's drift (1 when it has none).
    private(set) var driftFactor: [Double] = []
    private(set) var driftStart: Int64 = .max
    private(set) var anomalies: [InjectedAnomaly] = []

    /// Cumulative request intensity at the start of each minute, normalised so the last entry is 1.
    private(set) var cumulativeIntensity: [Double] = []

    init(seed: UInt64, tenants: Int, days: Int, end: Int64, users targetUsers: Int) {
        var rng = Xoshiro256(seed: seed, stream: 1)
        let T = max(1, tenants)
        self.end = end
        self.start = end - Int64(days) * TimeUnit.dayMillis
        priceIn = SyntheticCatalog.models.map(\.inputNanosPerToken)
        priceOut = SyntheticCatalog.models.map(\.outputNanosPerToken)
        medianIn = SyntheticCatalog.features.map(\.medianInputTokens)
        medianOut = SyntheticCatalog.features.map(\.medianOutputTokens)

        // Vocabulary shared by all tenants.
        environmentCode = addAll(SyntheticCatalog.environments.map(\.name))
        featureCode = addAll(SyntheticCatalog.features.map(\.tag))
        modelCode = addAll(SyntheticCatalog.models.map(\.name))
        skillBase = Int32(strings.count)
        for i in 0..<SyntheticCatalog.skillCount {
            let verb = SyntheticCatalog.skillVerbs[i % SyntheticCatalog.skillVerbs.count]
            add("sk_\(verb)_" + Self.padded(i, 3))
        }

        // Tenant sizes: Zipf(1.1) over ranks 2...T with jitter, the largest pinned to 15 % of rows. With
        // few tenants the pin would not be the largest; then plain Zipf over all ranks.
        var rest = (1..<T).map { 1 / pow(Double($0 + 1), 1.1) * rng.logNormal(sigma: 0.25) }
        rest.sort(by: >)
        let restSum = rest.reduce(0, +)
        var weights: [Double]
        if T == 1 {
            weights = [1]
        } else if 0.85 * rest[0] / restSum <= 0.15 {
            weights = [0.15] + rest.map { 0.85 * $0 / restSum }
        } else {
            let all = [1.0] + rest
            let sum = all.reduce(0, +)
            weights = all.map { $0 / sum }
        }
        tenantWeights = weights
        tenantIDs = Self.uniqueIDs(count: T, prefix: "tnt_", digits: 8, seed: seed, tag: 1)
        tenantCode = addAll(tenantIDs)
        tenantTable.add(values: (0..<Int32(T)).map { $0 }, weights: weights)

        // Users per tenant ~ size^0.75, scaled so the total is about `targetUsers`.
        let raw = weights.map { pow($0, 0.75) }
        let rawSum = raw.reduce(0, +)
        var nUsers = raw.map { min(5000, max(3, Int((($0 / rawSum) * Double(targetUsers)).rounded()))) }
        nUsers[0] = min(5000, max(nUsers[0], targetUsers / 10))
        let userSalt = UInt32(truncatingIfNeeded: mix64(seed ^ 0x5553_4552))
        var g: UInt32 = 0
        for t in 0..<T {
            userBase.append(Int32(strings.count))
            userCount.append(Int32(nUsers[t]))
            for _ in 0..<nUsers[t] {
                // Multiplying by an odd constant is a bijection mod 2^32: distinct indices, distinct ids.
                add("usr_" + Self.hex(UInt64((g ^ userSalt) &* 2_654_435_761), digits: 8))
                g &+= 1
            }
            userSkew.append(rng.uniform(1.8, 3.2))
        }
        totalUsers = Int(g)

        // Projects (1-5 per tenant, halving weights), model mix (2-7 models), features (4-25 of the 40).
        let modelPopularity = SyntheticCatalog.models.map(\.popularity)
        let featurePopularity = SyntheticCatalog.features.map(\.popularity)
        for t in 0..<T {
            let nProjects = 1 + rng.below(5)
            let projectIDs = Self.uniqueIDs(count: nProjects, prefix: "prj_", digits: 8, seed: seed, tag: 2 + UInt64(t) << 8)
            projectTables.add(
                values: addAll(projectIDs),
                weights: (0..<nProjects).map { pow(0.5, Double($0)) * rng.uniform(0.7, 1.3) })

            let models = rng.weightedSample(modelPopularity, count: 2 + rng.below(6))
            modelTables.add(
                values: models.map { Int32($0) },
                weights: models.map { modelPopularity[$0] * rng.logNormal(sigma: 0.8) })

            let features = rng.weightedSample(featurePopularity, count: 4 + rng.below(22))
            featureTables.add(
                values: features.map { Int32($0) },
                weights: features.map { featurePopularity[$0] * rng.logNormal(sigma: 0.7) })
        }

        // Workflows: 3-60 per tenant.
        let workflowCounts = (0..<T).map { _ in 3 + rng.below(58) }
        let workflowIDs = Self.uniqueIDs(count: workflowCounts.reduce(0, +), prefix: "wf_", digits: 10, seed: seed, tag: 3)
        var next = 0
        for t in 0..<T {
            workflowBase.append(Int32(strings.count))
            workflowCount.append(Int32(workflowCounts[t]))
            for _ in 0..<workflowCounts[t] { add(workflowIDs[next]); next += 1 }
        }

        // Anomalies, among the 16 largest tenants so that they stand out in their series and spend above the
        // detection floor (spikes not on the largest, whose share of rows they would change);
        // only when the window leaves a week of baseline around them. Each is placed where the detection rules
        // (DESIGN.md section 5) can see it: a spike starts on a Monday..Wednesday after a full week of history, so
        // its 3 days hold at least 2 consecutive weekdays (weekends run at 0.55, and a doubled weekend day stays
        // under 1.4 x the 7-day mean); a token drift of 1.45..1.60 lifts spend (part of which is not tokens) by
        // enough that the 7-day average clears 1.25 x the week before on 3+ days despite day-to-day noise.
        driftFactor = [Double](repeating: 1, count: T)
        if days >= 8, T >= 2 {
            let candidates = rng.permutation(min(T, 16) - 1).map { $0 + 1 }
            let lo = min(7, days - 3), hi = max(lo + 1, days - 13)  // keep spikes out of the final drift window when possible
            var spikeDays: [Int] = []
            for d in lo..<hi {
                let weekday = (TimeUnit.floorDiv(start, TimeUnit.dayMillis) + Int64(d) + 3) % 7  // 0 = Monday
                if weekday <= 2 { spikeDays.append(d) }
            }
            if spikeDays.isEmpty { spikeDays = Array(lo..<hi) }
            for t in candidates.prefix(3) {
                let s = start + Int64(spikeDays[rng.below(spikeDays.count)]) * TimeUnit.dayMillis
                spikes.append(Spike(tenant: t, start: s, end: s + 3 * TimeUnit.dayMillis, weight: weights[t]))
                anomalies.append(InjectedAnomaly(kind: .spike, tenantID: tenantIDs[t], start: s, end: s + 3 * TimeUnit.dayMillis, factor: 2))
            }
            driftStart = end - Int64(min(10, days / 2)) * TimeUnit.dayMillis
            // The largest tenant (the one `tally keys demo` hands out) drifts too: a token drift leaves its share of
            // rows as it is, and the demo's console then has an ongoing anomaly to show.
            for t in [0] + candidates.dropFirst(3).prefix(3) {
                let f = rng.uniform(1.45, 1.60)
                driftFactor[t] = f
                anomalies.append(InjectedAnomaly(kind: .drift, tenantID: tenantIDs[t], start: driftStart, end: end, factor: f))
            }
        }

        cumulativeIntensity = Self.intensity(start: start, days: days, spikes: spikes)
    }

    /// Relative request intensity per minute (diurnal, weekly, slow growth, spikes), as a normalised CDF.
    private static func intensity(start: Int64, days: Int, spikes: [Spike]) -> [Double] {
        let minutes = days * 1440
        var cumulative = [Double](repeating: 0, count: minutes + 1)
        var total = 0.0
        for m in 0..<minutes {
            let t = start + Int64(m) * 60_000
            let hour = Double(TimeUnit.floorDiv(t, 60_000) % 1440) / 60
            // Two-humped business-day curve (UTC): lowest around 03:00, peaks around 15:00 and 20:30.
            let diurnal = 0.35 + exp(-pow((hour - 15) / 4, 2)) + 0.55 * exp(-pow((hour - 20.5) / 2.5, 2))
            let weekday = (TimeUnit.floorDiv(t, TimeUnit.dayMillis) + 3) % 7  // 1970-01-01 was a Thursday; 0 = Monday
            let weekly = weekday >= 5 ? 0.55 : 1.0
            let growth = 1 + 0.10 * Double(m) / Double(minutes)
            var extra = 0.0
            for s in spikes where t >= s.start && t < s.end { extra += s.weight }
            total += diurnal * weekly * growth * (1 + extra)
            cumulative[m + 1] = total
        }
        for m in 0...minutes { cumulative[m] /= total }
        cumulative[minutes] = 1
        return cumulative
    }

    private mutating func addAll(_ list: [String]) -> [Int32] {
        var codes: [Int32] = []
        for s in list { codes.append(add(s)) }
        return codes
    }

    @discardableResult
    private mutating func add(_ s: String) -> Int32 {
        strings.append(s)
        return Int32(strings.count - 1)
    }

    /// `count` distinct ids `prefix + digits hex chars`, stable for (seed, tag).
    private static func uniqueIDs(count: Int, prefix: String, digits: Int, seed: UInt64, tag: UInt64) -> [String] {
        var seen = Set<String>()
        var out: [String] = []
        var salt: UInt64 = 0
        for i in 0..<count {
            while true {
                let h = mix64(seed ^ mix64(tag &* 0x1000_0000_01B3 &+ UInt64(i) &+ salt << 40))
                let id = prefix + hex(h, digits: digits)
                if seen.insert(id).inserted { out.append(id); break }
                salt += 1
            }
        }
        return out
    }

    /// The low `digits * 4` bits of `v` as lowercase hex, most significant first.
    static func hex(_ v: UInt64, digits: Int) -> String {
        let chars = Array("0123456789abcdef".utf8)
        var bytes = [UInt8](repeating: 0, count: digits)
        var x = v
        for i in stride(from: digits - 1, through: 0, by: -1) {
            bytes[i] = chars[Int(x & 0xF)]
            x >>= 4
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func padded(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
