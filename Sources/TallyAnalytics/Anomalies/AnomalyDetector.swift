import TallyQuery
import TallyStore

/// Runs the anomaly rules of one tenant over its UTC daily spend, as the query layer gives it: one grouped daily
/// query per level (the tenant, its features, its users), every group's series filled with zero days; then the
/// drivers of each finding, from grouped queries of the entity's spend before and during the anomaly.
struct AnomalyDetector {
    /// Driver values kept per dimension.
    static let driversPerDimension = 3
    /// Dimensions drivers are looked for in.
    static let driverDimensions: [Dimension] = [.model, .feature, .user]

    let tenant: String
    let thresholds: AnomalyThresholds
    let useRollups: Bool
    /// The levels judged (all but in the evaluation harness, which scores tenant-level findings only).
    var levels: [Budget.Level] = Budget.Level.allCases
    /// `SeriesContext.z`.
    var noiseZ = SeriesContext.defaultZ

    /// Days of history read before the first judged day: the spike baseline or two drift windows, plus the reference
    /// days of the noise profile, plus three weeks so a drift's held baseline (the level before it began) is still in
    /// the series while the drift lasts up to three weeks (the query reads a longer range, not more queries).
    var historyDays: Int {
        max(thresholds.baselineDays, 2 * thresholds.driftWindowDays - 1) + SeriesContext.defaultReferenceDays + 21
    }

    /// Spike and drift findings of the days `judgedFrom ..< end` (UTC day starts), at every level.
    /// Episodes that ended before `judgedFrom` are left out.
    func seriesFindings(_ run: inout QueryRun, judgedFrom: Int64, end: Int64) async throws -> [AnomalyFinding] {
        let day = TimeUnit.dayMillis
        let queryFrom = judgedFrom - Int64(historyDays) * day
        let count = Int((end - queryFrom) / day)
        let firstJudged = historyDays
        var found: [AnomalyFinding] = []
        for level in levels {
            let groupBy: [Query.Key] = level.dimension.map { [.dimension($0)] } ?? []
            let result = try await run.run(try Analytics.query(
                tenants: .one(tenant), from: queryFrom, to: end, bucket: .day, groupBy: groupBy, order: .key, useRollups: useRollups))
            // Rows come ordered by key then day: cut the columns into one series per group.
            var row = 0
            while row < result.rowCount {
                let value = groupBy.isEmpty ? "" : result.keyColumns[0][row]
                var series = [Int64](repeating: 0, count: count)
                var next = row
                while next < result.rowCount && (groupBy.isEmpty || result.keyColumns[0][next] == value) {
                    let index = Int((result.bucketStarts[next] - queryFrom) / day)
                    if index >= 0 && index < count { series[index] = result.cost[next] }
                    next += 1
                }
                row = next
                // An entity's history starts on its first day with spend: the zero days before it are not a baseline
                // (a new feature or user is not a spike of infinite percent).
                guard let born = series.firstIndex(where: { $0 != 0 }) else { continue }
                let context = SeriesContext(weekend: (born..<count).map { Self.isWeekend(queryFrom + Int64($0) * day) }, z: noiseZ)
                for d in AnomalyRules.detect(Array(series[born...]), context: context, thresholds: thresholds)
                where born + d.lastDay >= firstJudged {
                    found.append(AnomalyFinding(
                        type: AnomalyType(d.kind), severity: d.severity, entity: AnomalyEntity(level: level, value: value),
                        budgetID: "", firstDay: queryFrom + Int64(born + d.firstDay) * day,
                        lastDay: queryFrom + Int64(born + d.lastDay) * day,
                        expectedNanos: d.expectedNanos, actualNanos: d.actualNanos, ongoing: d.ongoing, drivers: []))
                }
            }
        }
        return found
    }

    /// Whether the UTC day starting at `dayStart` is a Saturday or Sunday (1970-01-01 was a Thursday).
    static func isWeekend(_ dayStart: Int64) -> Bool {
        (TimeUnit.floorDiv(dayStart, TimeUnit.dayMillis) + 3) % 7 >= 5
    }

    /// The periods drivers compare for a spike or drift finding: the anomaly's days (a drift: its last rolling window)
    /// against the baseline before them.
    func driverPeriods(_ f: AnomalyFinding) -> (current: Range<Int64>, baseline: Range<Int64>) {
        let day = TimeUnit.dayMillis
        switch f.type {
        case .sustainedDrift:
            let w = Int64(thresholds.driftWindowDays) * day
            let start = f.lastDay + day - w
            return (start..<(f.lastDay + day), (start - w)..<start)
        default:
            return (f.firstDay..<(f.lastDay + day), (f.firstDay - Int64(thresholds.baselineDays) * day)..<f.firstDay)
        }
    }

    /// The values of each driver dimension whose spend grew most from `baseline` (scaled to the length of `current`)
    /// to `current`, with their share of the entity's growth: one grouped daily query per dimension.
    func drivers(_ run: inout QueryRun, entity: AnomalyEntity, current: Range<Int64>,
                 baseline: Range<Int64>) async throws -> [AnomalyDriver] {
        let currentLength = Int128(current.upperBound - current.lowerBound)
        let baselineLength = Int128(max(1, baseline.upperBound - baseline.lowerBound))
        var all: [AnomalyDriver] = []
        var entityChange: Int64?
        for dimension in Self.driverDimensions where dimension != entity.level.dimension {
            let result = try await run.run(try Analytics.query(
                tenants: .one(tenant), from: baseline.lowerBound, to: current.upperBound, filters: entity.filters, bucket: .day,
                groupBy: [.dimension(dimension)], order: .key, useRollups: useRollups))
            var before: [String: Int64] = [:], during: [String: Int64] = [:]
            for row in 0..<result.rowCount where result.cost[row] != 0 {
                let value = result.keyColumns[0][row]
                if result.bucketStarts[row] < current.lowerBound {
                    before[value, default: 0] += result.cost[row]
                } else {
                    during[value, default: 0] += result.cost[row]
                }
            }
            var candidates: [AnomalyDriver] = []
            var total: Int64 = 0
            for value in Set(before.keys).union(during.keys) {
                let expected = Int64(Int128(before[value] ?? 0) * currentLength / baselineLength)
                let d = AnomalyDriver(dimension: dimension, value: value, expectedNanos: expected,
                                      actualNanos: during[value] ?? 0, sharePPM: nil)
                total += d.changeNanos
                if d.changeNanos > 0 { candidates.append(d) }
            }
            if entityChange == nil { entityChange = total }
            candidates.sort { ($0.changeNanos, $1.value) > ($1.changeNanos, $0.value) }
            all += candidates.prefix(Self.driversPerDimension)
        }
        if let change = entityChange, change > 0 {
            for i in all.indices { all[i].sharePPM = Int64(Int128(all[i].changeNanos) * 1_000_000 / Int128(change)) }
        }
        return all
    }
}
