import TallyQuery
import TallyStore
import TallyText

/// The outcome of detection for one tenant.
public struct TenantDetection: Sendable {
    public var tenant: String
    /// First and last UTC day judged (day starts, ms).
    public var judgedFrom: Int64
    public var judgedThrough: Int64
    public var changes: DetectionChanges
    /// The anomalies the run created, updated or resolved, as they are now.
    public var anomalies: [Anomaly]
    /// Store queries the run made.
    public var queries: Int
    /// Unreadable (quarantined) parts of the tenant in the days detection reads: the tenant was not judged, since
    /// spend missing from them would read as drops, end episodes early and hide spikes.
    public var skippedFor: [MissingPart] = []
    /// What the run read from the store (nil when the tenant was skipped).
    var source: Provenance.Source?
}

/// Reads that detection may keep between runs of the same day: the evaluation harness, whose records never arrive
/// late (the server reads afresh on every run).
struct DetectionReuse {
    var enabled: Bool
    /// Per tenant, the daily series of the window ending at `end`.
    var daily: [String: (end: Int64, series: AnomalyDetector.DailySeries)] = [:]
    /// Per tenant, its hourly history with the whole of `day` (sliced to "now" on every run).
    var hourly: [String: (day: Int64, hours: [Int64], counts: [Int64])] = [:]
    /// Per tenant, the complete days' findings of the window ending at `end`, and how its spike runs end.
    var complete: [String: (end: Int64, findings: [AnomalyFinding], tail: AnomalyRules.SpikeTail?)] = [:]
    /// Per tenant, what the last run found (a run finding the same as the one before records nothing).
    var lastRun: [String: String] = [:]
}

/// `{ tenants, generated_at, provenance }`: what a detection run found.
public struct DetectionReport: Sendable {
    public var tenants: [TenantDetection]
    public var generatedAt: Int64
    public var provenance: Provenance

    /// The report of the tenant runs over the days `judgedFrom ..< end`: their store reads added up, and the catalog
    /// transaction of each tenant.
    init(tenants: [TenantDetection], judgedFrom: Int64, end: Int64, now: Int64) {
        self.tenants = tenants
        generatedAt = now
        var sources = Provenance.Source.merged(tenants.compactMap(\.source))
        if !tenants.isEmpty { sources.append(.catalog(reads: tenants.count)) }
        provenance = Provenance(
            sources: sources, window: Window(from: judgedFrom, to: end),
            aggregation: "daily cost per entity (tenant, feature_tag, user_id) over the judged days and the history the rules "
                + "read before them, judged by the spike and drift rules; budgets in their current period; episodes and "
                + "incidents recorded in one catalog transaction per tenant",
            generatedAt: now, missing: tenants.flatMap(\.skippedFor))
    }
}

/// `{ anomalies, count, generated_at, provenance }`.
public struct AnomalyList: Sendable {
    public var anomalies: [Anomaly]
    public var window: Window?
    public var generatedAt: Int64
    public var provenance: Provenance
}

/// `{ anomaly, provenance }`: one anomaly.
public struct AnomalyAnswer: Sendable {
    public var anomaly: Anomaly
    public var provenance: Provenance

    /// The answer of one anomaly read (or changed) in one catalog call at `now`; its window is its days.
    init(anomaly: Anomaly, now: Int64) {
        self.anomaly = anomaly
        provenance = .catalog(
            reads: 1, window: Window(from: anomaly.firstDay, to: anomaly.lastDay + TimeUnit.dayMillis),
            aggregation: "one anomaly episode as detection recorded it in the catalog (expected and actual cost over its days)",
            now: now)
    }
}

extension Analytics {
    /// Days judged when a detection names no `from`.
    public static let defaultDetectionDays = 30
    /// Most days one detection may judge.
    public static let maxDetectionDays = 366

    /// Runs detection for the tenant of `principal` (an admin's named tenant, or every tenant when it names none) over
    /// the UTC days of `from ..< to` (default: the 30 complete days before today). Writer or admin keys.
    public func detectAnomalies(tenantID: String?, from: Int64?, to: Int64?, principal: Principal) async throws -> DetectionReport {
        let tenants = try AccessPolicy.check(.detectAnomalies, principal, tenants: tenantID)
        let now = self.now
        let (judgedFrom, end) = try detectionDays(from: from, to: to, now: now)
        let list: [String] = if let one = tenants.scopeTenant { [one] } else { try await detectableTenants(now: now) }
        var results: [TenantDetection] = []
        for tenant in list {
            results.append(try await detect(tenant: tenant, judgedFrom: judgedFrom, end: end, now: now))
        }
        return DetectionReport(tenants: results, judgedFrom: judgedFrom, end: end, now: now)
    }

    /// Detection for every tenant with records in the last `defaultDetectionDays` days or with budgets (the
    /// background job): the complete days up to today.
    public func detectAllTenants() async throws -> DetectionReport {
        let now = self.now
        let (judgedFrom, end) = try detectionDays(from: nil, to: nil, now: now)
        var results: [TenantDetection] = []
        for tenant in try await detectableTenants(now: now) {
            results.append(try await detect(tenant: tenant, judgedFrom: judgedFrom, end: end, now: now))
        }
        return DetectionReport(tenants: results, judgedFrom: judgedFrom, end: end, now: now)
    }

    /// The first judged day and the end (exclusive) of a detection window: whole UTC days, by default the complete
    /// days before today; never past the end of today.
    func detectionDays(from: Int64?, to: Int64?, now: Int64) throws(AnalyticsError) -> (Int64, Int64) {
        let day = TimeUnit.dayMillis
        let today = TimeUnit.dayStart(now)
        let end = min(to.map { TimeUnit.dayStart($0 - 1) + day } ?? today, today + day)
        let start = from.map { TimeUnit.dayStart($0) } ?? end - Int64(Self.defaultDetectionDays) * day
        guard start < end else {
            throw .invalidParameter(name: "from", reason: "must be before to and before the end of today (UTC)")
        }
        guard (end - start) / day <= Int64(Self.maxDetectionDays) else {
            throw .invalidParameter(name: "from", reason: "a detection judges at most \(Self.maxDetectionDays) days")
        }
        return (start, end)
    }

    /// Tenants with records in the last `defaultDetectionDays` days, plus those with budgets or settings.
    func detectableTenants(now: Int64) async throws -> [String] {
        var run = try await QueryRun(records, useRollups: options.useRollups)
        let recent = try await run.run(try Self.query(
            tenants: .all, from: now - Int64(Self.defaultDetectionDays) * TimeUnit.dayMillis, to: now + 1, groupBy: [.tenant],
            order: .key, useRollups: options.useRollups))
        let configured = try await blocking { [catalog] in try catalog.tenantsWithConfiguration() }
        return Array(Set(recent.keyColumns.first ?? []).union(configured)).sorted()
    }

    /// Detection for one tenant: findings of the series rules (with the day in progress when the window ends with
    /// the last complete day), their grouping under the tenant finding they explain, the budgets (their current
    /// period, and the one that closed within the last day, judged once more), the drivers, then the episodes and
    /// incidents in the catalog. `drivers` false and `tenantLevelOnly` are for the evaluation harness, which scores
    /// tenant-level findings only (each level's findings are independent of the others').
    func detect(tenant: String, judgedFrom: Int64, end: Int64, now: Int64, drivers: Bool = true,
                tenantLevelOnly: Bool = false) async throws -> TenantDetection {
        var reuse = DetectionReuse(enabled: false)
        return try await detect(tenant: tenant, judgedFrom: judgedFrom, end: end, now: now, drivers: drivers,
                                tenantLevelOnly: tenantLevelOnly, reuse: &reuse)
    }

    func detect(tenant: String, judgedFrom: Int64, end: Int64, now: Int64, drivers: Bool, tenantLevelOnly: Bool,
                reuse: inout DetectionReuse) async throws -> TenantDetection {
        let (catalog, defaults) = (self.catalog, options.anomalyThresholds)
        let (thresholds, budgets) = try await blocking {
            (try catalog.anomalyThresholds(tenant: tenant, defaults: defaults).thresholds, try catalog.budgets(tenant: tenant))
        }
        var detector = AnomalyDetector(tenant: tenant, thresholds: thresholds, useRollups: options.useRollups)
        if tenantLevelOnly { detector.levels = [.tenant] }
        detector.noiseZ = options.anomalyNoiseZ
        let reader = try await records.reader()
        let day = TimeUnit.dayMillis
        let today = TimeUnit.dayStart(now)
        // The history the series rules read, and the budget periods (the current one and the one before, a month each at most).
        let readFrom = min(judgedFrom - Int64(detector.historyDays) * day, today - 62 * day)
        let unreadable = try await reader.missing(tenants: [tenant], from: readFrom, to: max(end, now))
        if !unreadable.isEmpty {
            return TenantDetection(tenant: tenant, judgedFrom: judgedFrom, judgedThrough: end - day,
                                   changes: DetectionChanges(), anomalies: [], queries: 0, skippedFor: unreadable)
        }
        var run = QueryRun(reader: reader, useRollups: options.useRollups)
        let series: AnomalyDetector.DailySeries
        if reuse.enabled, let kept = reuse.daily[tenant], kept.end == end {
            series = kept.series
        } else {
            series = try await detector.dailySeries(&run, judgedFrom: judgedFrom, end: end)
            if reuse.enabled { reuse.daily[tenant] = (end, series) }
        }
        // Intraday: when the window ends with the last complete day, the day in progress is judged too (tenant level).
        var partial: PartialDay?
        var lastDay = DayEvidence.none
        if end == today && detector.levels.contains(.tenant) {
            var hours: (cost: [Int64], count: [Int64])
            if reuse.enabled {
                if reuse.hourly[tenant]?.day != today {
                    let whole = try await detector.hourlyHistory(&run, now: today + day - 1)
                    reuse.hourly[tenant] = (today, whole.cost, whole.count)
                }
                // The whole day was read once: only its hours before now count, and of the hour holding now, the records
                // before now (read afresh when now is not a whole hour).
                let kept = reuse.hourly[tenant]!
                hours = (kept.hours, kept.counts)
                let cut = (hours.cost.count - 24) + Int((now - today) / TimeUnit.hourMillis)
                for h in cut..<hours.cost.count { hours.cost[h] = 0; hours.count[h] = 0 }
                if now > TimeUnit.hourStart(now) && cut < hours.cost.count && kept.counts[cut] > 0 {
                    let part = try await run.run(try Self.query(tenants: .one(tenant), from: TimeUnit.hourStart(now), to: now,
                                                                 order: .key, useRollups: options.useRollups))
                    if part.rowCount > 0 { hours.cost[cut] = part.cost[0]; hours.count[cut] = part.count[0] }
                }
            } else {
                hours = try await detector.hourlyHistory(&run, now: now)
            }
            // Without enough history for today, nothing of today is judged, but a pending spike of complete days stays
            // provisional.
            partial = AnomalyDetector.partialDay(hourly: hours.cost, counts: hours.count, now: now,
                                                 alpha: options.anomalyIntradayAlpha)
                ?? PartialDay(spentNanos: 0, fraction: 0, unusualVolume: false)
            lastDay = AnomalyDetector.lastDayEvidence(hourly: hours.cost, counts: hours.count, now: now)
        }
        var findings: [AnomalyFinding]
        if reuse.enabled {
            // The complete days' findings change only when the window does.
            if reuse.complete[tenant]?.end != end {
                let complete = detector.completeDayFindings(series, judgedFrom: judgedFrom)
                reuse.complete[tenant] = (end, complete.findings, complete.tenantTail)
            }
            let kept = reuse.complete[tenant]!
            findings = kept.findings
                + (partial.flatMap { detector.provisionalFinding(series, tail: kept.tail, today: $0, lastDay: lastDay) }.map { [$0] } ?? [])
        } else {
            findings = detector.findings(series, judgedFrom: judgedFrom, today: partial, lastDay: lastDay)
        }
        let groups = AnomalyGrouping.group(&findings)
        for i in findings.indices where !findings[i].grouped {
            guard drivers else {
                findings[i].entityDrivers = (groups[i] ?? []).map { AnomalyDetector.DriverBreakdown().entityDriver(for: $0) }
                continue
            }
            let (current, baseline) = detector.driverPeriods(findings[i], now: now)
            let breakdown = try await detector.drivers(&run, entity: findings[i].entity, current: current, baseline: baseline)
            findings[i].drivers = breakdown.top
            findings[i].entityDrivers = (groups[i] ?? []).map { breakdown.entityDriver(for: $0) }
                .sorted { ($0.changeNanos, $1.entity.value) > ($1.changeNanos, $0.entity.value) }
        }
        for budget in budgets {
            // The current period and, for a day after it closed, the one before: a late-day overrun (after the last
            // run of its period) or late records are reported once it has closed.
            let currentStart = budget.period.bounds(containing: now).start
            let moments = now - currentStart < day ? [currentStart - 1, now] : [now]
            for at in moments {
                let closed = at != now
                let status = BudgetStatus(budget: budget, spentNanos: try await spend(&run, budget, now: at), now: at)
                let type: AnomalyType
                let expected: Int64
                switch status.state {
                case .ok: continue
                case .warning: (type, expected) = (.budgetWarning, budget.warnThresholdNanos)
                case .exceeded: (type, expected) = (.budgetExceeded, budget.limitNanos)
                }
                let entity = AnomalyEntity(level: budget.level, value: budget.subject)
                let current = status.periodStart..<min(now, status.periodEnd)
                let elapsed = max(1, current.upperBound - current.lowerBound)
                findings.append(AnomalyFinding(
                    type: type, severity: type == .budgetExceeded ? .high : .medium, entity: entity, budgetID: budget.id,
                    firstDay: status.periodStart, lastDay: closed ? TimeUnit.dayStart(status.periodEnd - 1) : today,
                    expectedNanos: expected, actualNanos: status.spentNanos, ongoing: !closed,
                    drivers: !drivers ? [] : try await detector.drivers(&run, entity: entity, current: current,
                                                                        baseline: (status.periodStart - elapsed)..<status.periodStart).top))
            }
        }
        let queries = run.queries
        let judgedThrough = end - day
        if reuse.enabled {
            // The same findings over the same window as the run before: recording them again would change nothing.
            let key = "\(end)|" + findings.map {
                "\($0.type.rawValue) \($0.entity.level.rawValue) \($0.entity.value) \($0.budgetID) \($0.firstDay) \($0.lastDay) "
                    + "\($0.expectedNanos) \($0.actualNanos) \($0.ongoing) \($0.provisional) \($0.grouped)"
            }.joined(separator: ";")
            if reuse.lastRun[tenant] == key {
                return TenantDetection(tenant: tenant, judgedFrom: judgedFrom, judgedThrough: judgedThrough, changes: DetectionChanges(),
                                       anomalies: [], queries: queries)
            }
            reuse.lastRun[tenant] = key
        }
        let (changes, touched) = try await blocking { [findings] () -> (DetectionChanges, [Anomaly]) in
            // Nothing found and nothing open: nothing to record (most runs of most tenants).
            let open = findings.isEmpty ? try catalog.anomalies(tenant: tenant, filter: AnomalyFilter(resolved: false, limit: 1)) : []
            if findings.isEmpty && open.isEmpty {
                return (DetectionChanges(), [])
            }
            let changes = try catalog.write { tx in
                try AnomalyEpisodes.record(tenant: tenant, findings: findings, judgedFrom: judgedFrom,
                                           judgedThrough: judgedThrough, now: now, in: tx)
            }
            var touched: [Anomaly] = []
            for id in changes.created + changes.updated + changes.resolved where !touched.contains(where: { $0.id == id }) {
                if let a = try catalog.anomaly(id: id) { touched.append(a) }
            }
            return (changes, touched)
        }
        return TenantDetection(tenant: tenant, judgedFrom: judgedFrom, judgedThrough: judgedThrough, changes: changes,
                               anomalies: touched, queries: queries, source: run.source)
    }

    /// The anomalies `principal` reaches that pass `filter`.
    public func anomalies(_ filter: AnomalyFilter, principal: Principal) async throws -> AnomalyList {
        let tenants = try AccessPolicy.check(.readAnomalies, principal, tenants: filter.tenantID)
        if let from = filter.from, let to = filter.to, from >= to {
            throw AnalyticsError.invalidParameter(name: "from", reason: "must be before to")
        }
        if filter.value != nil && (filter.level == nil || filter.level == .tenant) {
            throw AnalyticsError.invalidParameter(name: "entity_value", reason: "needs entity_level=feature or entity_level=user")
        }
        let now = self.now
        return try await blocking { [self] in
            let listed = try catalog.anomalies(tenant: tenants.scopeTenant, filter: filter)
            let window = filter.from.flatMap { f in filter.to.map { Window(from: f, to: $0) } }
            // Without both bounds the answer covers the days of what it lists (from the filter's bound where given).
            let covered = window ?? Window(
                from: filter.from ?? listed.map(\.firstDay).min() ?? TimeUnit.dayStart(now),
                to: filter.to ?? listed.map { $0.lastDay + TimeUnit.dayMillis }.max() ?? TimeUnit.dayStart(now) + TimeUnit.dayMillis)
            return AnomalyList(
                anomalies: listed, window: window, generatedAt: now,
                provenance: .catalog(
                    reads: 1, window: covered,
                    aggregation: "anomaly episodes recorded by detection, read from the catalog, filtered, newest last day first",
                    now: now))
        }
    }

    /// The anomaly `id`; another tenant's is "not found".
    public func anomaly(id: String, principal: Principal) async throws -> AnomalyAnswer {
        try AccessPolicy.check(.readAnomalies, principal)
        let now = self.now
        return try await blocking { [self] in
            guard let a = try catalog.anomaly(id: id), AccessPolicy.reaches(principal, tenant: a.tenant) else {
                throw AnalyticsError.notFound(reason: "no anomaly \(id)")
            }
            return AnomalyAnswer(anomaly: a, now: now)
        }
    }

    /// Resolves the anomaly `id` by hand (writer or admin keys); resolving a resolved anomaly changes nothing.
    public func resolveAnomaly(id: String, principal: Principal) async throws -> AnomalyAnswer {
        try AccessPolicy.check(.resolveAnomalies, principal)
        let now = self.now
        return try await blocking { [self] in
            guard let resolved = try catalog.write({ tx in
                try AnomalyEpisodes.resolve(id: id, actor: principal.keyID, now: now,
                                            reaches: { AccessPolicy.reaches(principal, tenant: $0) }, in: tx)
            }) else {
                throw AnalyticsError.notFound(reason: "no anomaly \(id)")
            }
            return AnomalyAnswer(anomaly: resolved, now: now)
        }
    }
}
