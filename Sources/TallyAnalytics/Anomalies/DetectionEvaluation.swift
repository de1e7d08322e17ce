import TallyQuery
import TallyStore
import TallyText

/// A change planted in data whose detection is evaluated: which tenant, the rule that should report it, and its time.
/// (The analytics module does not know the synthetic generator: `tally anomalies evaluate` turns its injections into these.)
public struct PlantedAnomaly: Sendable, Hashable {
    public var tenant: String
    /// ABSOLUTE_SPIKE for a volume spike, SUSTAINED_DRIFT for a lasting shift.
    public var type: AnomalyType
    /// First millisecond of the change and its end (exclusive), UTC.
    public var start: Int64
    public var end: Int64

    /// A planted anomaly.
    public init(tenant: String, type: AnomalyType, start: Int64, end: Int64) {
        self.tenant = tenant
        self.type = type
        self.start = start
        self.end = end
    }

    /// Whether a finding's days (`firstDay ... lastDay`, day starts) overlap the change's time.
    func overlaps(firstDay: Int64, lastDay: Int64) -> Bool {
        firstDay < end && lastDay + TimeUnit.dayMillis > start
    }
}

/// Tenant size by mean spend per day over the evaluated window.
public enum TenantSizeBand: String, Sendable, CaseIterable, Comparable {
    case under1 = "<$1/day"
    case from1to5 = "$1-5/day"
    case atLeast5 = ">=$5/day"

    /// The band of a mean daily spend in nano-dollars.
    public static func of(dailyNanos: Int64) -> TenantSizeBand {
        let dollar = 100 * Money.nanosPerCent
        return dailyNanos < dollar ? .under1 : dailyNanos < 5 * dollar ? .from1to5 : .atLeast5
    }

    public static func < (a: TenantSizeBand, b: TenantSizeBand) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// The recall, false alarms and time to detection of anomaly detection run day by day over data with planted anomalies.
///
/// Definitions (docs/ANALYTICS.md, "Evaluation"):
/// - a planted anomaly is *found* when a run reports a tenant-level anomaly of its rule, for its tenant, whose days
///   overlap its time; its *time to detection* runs from its start to the clock of the first run that reported it;
/// - a *false alarm* is a tenant-level spike or drift episode (one anomaly id, however many runs report it) whose
///   tenant and days no planted anomaly explains (of any rule: a spike also lifts the weekly average);
/// - *tenant-months* are the tenants with records in the window times the judged days, over 30.
public struct DetectionEvaluation: Sendable {
    /// A tenant-level finding as a run reported it.
    public struct Report: Sendable, Equatable {
        /// The anomaly (episode) id.
        public var id: String
        public var tenant: String
        public var type: AnomalyType
        public var severity: AnomalySeverity
        public var firstDay: Int64
        public var lastDay: Int64
        /// The clock of the run that reported it.
        public var reportedAt: Int64
        /// Whether it was provisional as reported (an intraday finding not yet confirmed).
        public var provisional: Bool

        public init(id: String, tenant: String, type: AnomalyType, severity: AnomalySeverity, firstDay: Int64, lastDay: Int64,
                    reportedAt: Int64, provisional: Bool = false) {
            self.provisional = provisional
            self.id = id
            self.tenant = tenant
            self.type = type
            self.severity = severity
            self.firstDay = firstDay
            self.lastDay = lastDay
            self.reportedAt = reportedAt
        }
    }

    /// What became of one planted anomaly.
    public struct Outcome: Sendable, Equatable {
        public var planted: PlantedAnomaly
        public var band: TenantSizeBand
        /// The clock of the first run that reported it; nil: never found.
        public var detectedAt: Int64?

        /// Hours from its start to its detection.
        public var hoursToDetection: Double? { detectedAt.map { Double($0 - planted.start) / Double(TimeUnit.hourMillis) } }
    }

    /// One false alarm: an episode as last reported, with its first report's clock.
    public struct FalseAlarm: Sendable, Equatable {
        public var report: Report
        public var band: TenantSizeBand
    }

    public var outcomes: [Outcome]
    public var falseAlarms: [FalseAlarm]
    /// Tenants with records in the window, by band.
    public var tenants: [TenantSizeBand: Int]
    /// Days judged (one detection run per day).
    public var judgedDays: Int
    /// Store queries the detection runs made.
    public var queries: Int = 0

    /// Scores `reports` (every tenant-level report of every run, in run order) against `planted`, for tenants of
    /// the given bands (tenants missing from `bands` are counted as under $1/day).
    public static func score(planted: [PlantedAnomaly], reports: [Report], bands: [String: TenantSizeBand],
                             judgedDays: Int) -> DetectionEvaluation {
        let ordered = reports.enumerated().sorted { ($0.element.reportedAt, $0.offset) < ($1.element.reportedAt, $1.offset) }.map(\.element)
        var outcomes: [Outcome] = []
        for p in planted {
            let first = ordered.first { $0.tenant == p.tenant && $0.type == p.type && p.overlaps(firstDay: $0.firstDay, lastDay: $0.lastDay) }
            outcomes.append(Outcome(planted: p, band: bands[p.tenant] ?? .under1, detectedAt: first?.reportedAt))
        }
        // Episodes: the last report of each id decides its days; the first, when it was raised.
        var firstSeen: [String: Int64] = [:]
        var last: [String: Report] = [:]
        var order: [String] = []
        for r in ordered where !r.type.isBudget {
            if firstSeen[r.id] == nil { firstSeen[r.id] = r.reportedAt; order.append(r.id) }
            last[r.id] = r
        }
        var falseAlarms: [FalseAlarm] = []
        for id in order {
            var r = last[id]!
            if planted.contains(where: { $0.tenant == r.tenant && $0.overlaps(firstDay: r.firstDay, lastDay: r.lastDay) }) { continue }
            r.reportedAt = firstSeen[id]!
            falseAlarms.append(FalseAlarm(report: r, band: bands[r.tenant] ?? .under1))
        }
        var tenants: [TenantSizeBand: Int] = [:]
        for band in bands.values { tenants[band, default: 0] += 1 }
        return DetectionEvaluation(outcomes: outcomes, falseAlarms: falseAlarms, tenants: tenants, judgedDays: judgedDays)
    }

    /// Several evaluations (seeds) as one: their planted anomalies, false alarms and tenant-months added up.
    public static func combined(_ parts: [DetectionEvaluation]) -> DetectionEvaluation {
        var all = DetectionEvaluation(outcomes: [], falseAlarms: [], tenants: [:], judgedDays: 0)
        var tenantDays: [TenantSizeBand: Int] = [:]
        for p in parts {
            all.outcomes += p.outcomes
            all.falseAlarms += p.falseAlarms
            all.queries += p.queries
            for (band, n) in p.tenants { tenantDays[band, default: 0] += n * p.judgedDays }
        }
        // Keep tenant-days exact: one "day" per tenant-day.
        all.tenants = tenantDays
        all.judgedDays = 1
        return all
    }

    // MARK: Figures

    /// Planted anomalies of `type` (nil: both rules) in `bands`, and how many were found.
    public func recall(type: AnomalyType? = nil, bands: Set<TenantSizeBand> = Set(TenantSizeBand.allCases)) -> (found: Int, planted: Int) {
        let list = outcomes.filter { (type == nil || $0.planted.type == type) && bands.contains($0.band) }
        return (list.filter { $0.detectedAt != nil }.count, list.count)
    }

    /// Tenant-months of the tenants in `bands`.
    public func tenantMonths(bands: Set<TenantSizeBand> = Set(TenantSizeBand.allCases)) -> Double {
        Double(tenants.filter { bands.contains($0.key) }.values.reduce(0, +) * judgedDays) / 30
    }

    /// False alarms of `type` (nil: both) in `bands`, and their rate per 100 tenant-months of those bands.
    public func falseAlarmRate(type: AnomalyType? = nil, bands: Set<TenantSizeBand> = Set(TenantSizeBand.allCases)) -> (count: Int, per100: Double?) {
        let n = falseAlarms.filter { (type == nil || $0.report.type == type) && bands.contains($0.band) }.count
        let months = tenantMonths(bands: bands)
        return (n, months > 0 ? Double(n) * 100 / months : nil)
    }

    /// Median and maximum hours to detection of the found anomalies of `type` (nil: both) in `bands`.
    public func hoursToDetection(type: AnomalyType? = nil, bands: Set<TenantSizeBand> = Set(TenantSizeBand.allCases)) -> (median: Double, max: Double)? {
        let hours = outcomes.filter { (type == nil || $0.planted.type == type) && bands.contains($0.band) }
            .compactMap(\.hoursToDetection).sorted()
        guard let top = hours.last else { return nil }
        let mid = hours.count / 2
        return (hours.count % 2 == 1 ? hours[mid] : (hours[mid - 1] + hours[mid]) / 2, top)
    }

    /// The table `tally anomalies evaluate` prints (and docs/ANALYTICS.md shows): one row per rule and tenant size band.
    public func table() -> String {
        let header = "| rule | tenants | recall | false alarms (per 100 tenant-months) | hours to detection (median / max) |"
        var lines = [header, "|---|---|---|---|---|"]
        let rows: [(String, AnomalyType?)] = [("ABSOLUTE_SPIKE", .absoluteSpike), ("SUSTAINED_DRIFT", .sustainedDrift), ("both", nil)]
        let bandRows: [(String, Set<TenantSizeBand>)] = TenantSizeBand.allCases.map { ($0.rawValue, [$0]) }
            + [(">=$1/day", [.from1to5, .atLeast5]), ("all", Set(TenantSizeBand.allCases))]
        for (name, type) in rows {
            for (bandName, bands) in bandRows {
                let r = recall(type: type, bands: bands)
                let f = falseAlarmRate(type: type, bands: bands)
                let recallText = r.planted == 0 ? "-" : "\(r.found)/\(r.planted) (\(fixed(Double(r.found) * 100 / Double(r.planted), 0))%)"
                let falseText = "\(f.count) (" + (f.per100.map { fixed($0, 2) } ?? "-") + ")"
                let ttd = hoursToDetection(type: type, bands: bands).map { fixed($0.median, 1) + " / " + fixed($0.max, 1) } ?? "-"
                lines.append("| \(name) | \(bandName) | \(recallText) | \(falseText) | \(ttd) |")
            }
        }
        lines.append("")
        let withdrawn = falseAlarms.filter(\.report.provisional)
        if !withdrawn.isEmpty {
            lines.append("false alarms still provisional when last reported (withdrawn or pending at the end): "
                + "\(withdrawn.count) of \(falseAlarms.count); at >=$1/day "
                + "\(withdrawn.filter { $0.band != .under1 }.count) of \(falseAlarms.filter { $0.band != .under1 }.count)")
        }
        lines.append("tenant-months: " + TenantSizeBand.allCases.map { "\($0.rawValue) \(fixed(tenantMonths(bands: [$0]), 1))" }
            .joined(separator: ", ") + "; total \(fixed(tenantMonths(), 1))")
        return lines.joined(separator: "\n")
    }

    /// `v` with `digits` decimals (0 to 2).
    private func fixed(_ v: Double, _ digits: Int) -> String {
        let scale = digits == 0 ? 1 : digits == 1 ? 10 : 100
        let n = Int((v * Double(scale)).rounded())
        guard digits > 0 else { return String(n) }
        let sign = n < 0 ? "-" : "", m = abs(n)
        let frac = String(m % scale)
        return sign + String(m / scale) + "." + String(repeating: "0", count: digits - frac.count) + frac
    }
}

extension Analytics {
    /// Evaluates anomaly detection on the records of `window` (whole UTC days) against `planted`: from `judgeFrom` to
    /// the end of the window, sets "now" every `stepMinutes` (the day in progress is read by the hour once a day, and the
    /// hour holding "now" afresh when "now" is not a whole hour) through `setNow` (the clock this `Analytics` reads must be the one `setNow` moves) and runs
    /// detection of every tenant as the background job does: the complete days of the default window and the day in
    /// progress, each run seeing only records before its "now". Findings are recorded in the catalog as usual (use a
    /// scratch catalog); only the tenant level is judged and drivers are skipped, since neither changes the
    /// tenant-level findings scored; a day's daily series and hourly history are read once per tenant (records never
    /// arrive late here). Tenants are banded by their mean daily spend over the window.
    public func evaluateDetection(planted: [PlantedAnomaly], window: Range<Int64>, judgeFrom: Int64, stepMinutes: Int = 60,
                                  setNow: (Int64) -> Void) async throws -> DetectionEvaluation {
        let day = TimeUnit.dayMillis
        let step = Int64(max(1, min(stepMinutes, 24 * 60))) * 60_000
        let first = TimeUnit.dayStart(judgeFrom), end = TimeUnit.dayStart(window.upperBound - 1) + day
        let windowDays = max(1, (end - TimeUnit.dayStart(window.lowerBound)) / day)
        var run = try await QueryRun(records, useRollups: options.useRollups)
        let totals = try await run.run(try Self.query(tenants: .all, from: window.lowerBound, to: window.upperBound, groupBy: [.tenant],
                                                      order: .key, useRollups: options.useRollups))
        var bands: [String: TenantSizeBand] = [:]
        for row in 0..<totals.rowCount {
            bands[totals.keyColumns[0][row]] = .of(dailyNanos: totals.cost[row] / windowDays)
        }
        var reports: [DetectionEvaluation.Report] = []
        var queries = 0
        var reuse = DetectionReuse(enabled: true)
        let tenants = bands.keys.sorted()
        var now = first + step
        while now <= end {
            setNow(now)
            // The background job's days: the complete days of the default detection window, and the day in progress.
            let (judgedFrom, judgedEnd) = try detectionDays(from: nil, to: nil, now: now)
            for tenant in tenants {
                let result = try await detect(tenant: tenant, judgedFrom: judgedFrom, end: judgedEnd, now: now, drivers: false,
                                              tenantLevelOnly: true, reuse: &reuse)
                queries += result.queries
                for a in result.anomalies where a.entity.level == .tenant {
                    reports.append(.init(id: a.id, tenant: a.tenant, type: a.type, severity: a.severity, firstDay: a.firstDay,
                                         lastDay: a.lastDay, reportedAt: now, provisional: a.provisional))
                }
            }
            now += step
        }
        var result = DetectionEvaluation.score(planted: planted, reports: reports, bands: bands, judgedDays: Int((end - first) / day))
        result.queries = queries
        return result
    }
}
