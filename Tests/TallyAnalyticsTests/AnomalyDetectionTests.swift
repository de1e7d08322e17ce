import Synchronization
import TallyAnalytics
import TallyQuery
import TallyStore
import TallyTestSupport
import TallyText
import Testing

/// A store, a catalog and the services over them, with "now" set by hand.
final class DetectionFixture: Sendable {
    static let day = TimeUnit.dayMillis
    static let cent = Money.nanosPerCent
    /// 2025-05-01T00:00:00Z: day 0 of the synthetic series.
    static let may1: Int64 = 1_746_057_600_000

    let directory: TemporaryDirectory
    let store: Store
    let catalog: SQLiteCatalog
    let analytics: Analytics
    let clock = ManualClock(DetectionFixture.may1)
    private let sequence = Mutex(0)
    let admin = Principal(keyID: "key_admin", tenant: nil, role: .admin)
    let writer = Principal(keyID: "key_writer", tenant: "t1", role: .writer)
    let reader = Principal(keyID: "key_reader", tenant: "t1", role: .reader)
    /// Each record appended is written as this many requests sharing its cost (the first takes the remainder). The
    /// detector holds a day's relative variance at least at the Poisson variance of its requests (1 / requests a day),
    /// so a series of one or two requests a day is noise whatever its spend; hand-built series of whole days of
    /// spend stand for many requests (docs/ANALYTICS.md, session 9).
    let requestsPerRecord: Int

    init(requestsPerRecord: Int = 100) throws {
        self.requestsPerRecord = requestsPerRecord
        directory = try TemporaryDirectory(prefix: "tally-detect")
        var o = StoreOptions()
        o.background = false
        o.durability = .buffered
        store = try Store(path: directory.appending("store"), options: o)
        catalog = try SQLiteCatalog(directory: directory.appending("store"))
        let clock = self.clock
        analytics = Analytics(store: store, catalog: catalog, clock: { clock.now })
    }

    deinit {
        try? analytics.close()
        directory.remove()
    }

    /// Sets "now" to the start of day `d` (0 = 2025-05-01) plus `hours`.
    func setNow(day d: Int, hours: Int64 = 0) { clock.set(Self.may1 + Int64(d) * Self.day + hours * TimeUnit.hourMillis) }

    /// One record of `cents` on day `d` at noon.
    func record(_ tenant: String, day d: Int, cents: Int64, feature: String = "chat", user: String = "u1", model: String = "m1") -> CostRecord {
        let n = sequence.withLock { s -> Int in s += 1; return s }
        return CostRecord(tenantID: tenant, projectID: "p", environment: "prod", userID: user, featureTag: feature,
                          requestID: "r\(n)", model: model, inputTokens: 10, outputTokens: 1, costNanos: cents * Self.cent,
                          createdAtMillis: Self.may1 + Int64(d) * Self.day + 12 * TimeUnit.hourMillis)
    }

    /// The steady pattern of tenant `t`: per day, 500 cents of (chat, u1, m1) and 500 of (search, u2, m2).
    func steady(_ tenant: String, days: Range<Int>, cents: Int64 = 500) -> [CostRecord] {
        days.flatMap { d in
            [record(tenant, day: d, cents: cents), record(tenant, day: d, cents: cents, feature: "search", user: "u2", model: "m2")]
        }
    }

    /// The spike: 2000 cents more a day of (chat, u1, m-big).
    func spike(_ tenant: String, days: Range<Int>) -> [CostRecord] {
        days.map { record(tenant, day: $0, cents: 2_000, model: "m-big") }
    }

    /// The same spike as 20 requests of 100 cents (intraday detection also needs the number of requests to be
    /// unusual: one dear request is no spike before its day completes).
    func busySpike(_ tenant: String, days: Range<Int>) -> [CostRecord] {
        days.flatMap { d in (0..<20).map { _ in record(tenant, day: d, cents: 100, model: "m-big") } }
    }

    /// Appends `records`, each as `requests` requests (default `requestsPerRecord`).
    func append(_ records: [CostRecord], requests: Int? = nil) throws {
        let k = Int64(requests ?? requestsPerRecord)
        let requests = k == 1 ? records : records.flatMap { r in
            (0..<k).map { j in
                var part = r
                part.requestID = "\(r.requestID)-\(j)"
                part.costNanos = r.costNanos / k + (j == 0 ? r.costNanos % k : 0)
                return part
            }
        }
        _ = try store.append(RecordBatch(requests))
    }

    func detect(_ principal: Principal? = nil, tenant: String? = "t1") async throws -> DetectionReport {
        try await analytics.detectAnomalies(tenantID: tenant, from: nil, to: nil, principal: principal ?? admin)
    }

    func anomalies(_ filter: AnomalyFilter = AnomalyFilter(tenantID: "t1")) async throws -> [Anomaly] {
        try await analytics.anomalies(filter, principal: admin).anomalies
    }
}

/// "Now", set by hand.
final class ManualClock: Sendable {
    private let value: Mutex<Int64>

    init(_ start: Int64) { value = Mutex(start) }

    var now: Int64 { value.withLock { $0 } }

    func set(_ millis: Int64) { value.withLock { $0 = millis } }
}

@Suite("Anomaly detection: episodes, drivers, budgets, incidents")
struct AnomalyDetectionTests {
    static let cent = DetectionFixture.cent

    @Test("a spike is found at tenant level with its days, baseline, impact and drivers; the feature and user spikes are its entity drivers")
    func spikeAtEveryLevel() async throws {
        let f = try DetectionFixture()
        try f.append(f.steady("t1", days: 0..<31) + f.spike("t1", days: 24..<26))
        f.setNow(day: 31)
        _ = try await f.detect()
        let spikes = try await f.anomalies(AnomalyFilter(tenantID: "t1", type: .absoluteSpike))
        #expect(Set(spikes.map(\.entity)) == [.tenant])
        #expect(spikes.first?.entityDrivers.map(\.entity) == [AnomalyEntity(level: .feature, value: "chat"), AnomalyEntity(level: .user, value: "u1")])
        let tenant = try #require(spikes.first { $0.entity == .tenant })
        #expect(tenant.firstDay == DetectionFixture.may1 + 24 * DetectionFixture.day)
        #expect(tenant.lastDay == DetectionFixture.may1 + 25 * DetectionFixture.day)
        #expect(tenant.expectedNanos == 2 * 1_000 * Self.cent)
        #expect(tenant.actualNanos == 2 * 3_000 * Self.cent)
        #expect(tenant.impactNanos == 4_000 * Self.cent)
        #expect(tenant.impactPercent == 200)
        #expect(tenant.severity == .high)
        // Over by day 31: resolved by the detector, yet it opened an incident (HIGH).
        #expect(tenant.status == .resolved && tenant.resolvedBy == Anomaly.detectorActor)
        #expect(tenant.incidentID != nil)
        // Drivers: the injected model, feature and user carry all of the change.
        let model = try #require(tenant.drivers.first { $0.dimension == .model })
        #expect(model.value == "m-big" && model.sharePPM == 1_000_000 && model.changeNanos == 4_000 * Self.cent)
        #expect(tenant.drivers.first { $0.dimension == .feature }?.value == "chat")
        #expect(tenant.drivers.first { $0.dimension == .user }?.value == "u1")
        #expect(!tenant.drivers.contains { $0.value == "m1" || $0.value == "search" })
    }

    @Test("episodes: re-running updates the ongoing anomaly, never duplicates it, and resolves it when the spike ends")
    func episodesAcrossReruns() async throws {
        let f = try DetectionFixture()
        try f.append(f.steady("t1", days: 0..<26) + f.spike("t1", days: 24..<26))
        f.setNow(day: 26)
        let first = try await f.detect()
        let spike = try #require(try await f.anomalies(AnomalyFilter(tenantID: "t1", type: .absoluteSpike, level: .tenant)).first)
        #expect(first.tenants[0].changes.created.contains(spike.id))
        #expect(spike.status == .open && spike.days == 2)
        let incident = try #require(spike.incidentID)

        // Same data, same day: an update, nothing new.
        let again = try await f.detect()
        #expect(again.tenants[0].changes.created.isEmpty)
        #expect(again.tenants[0].changes.incidentsOpened.isEmpty)

        // The spike goes on one more day: the same anomaly grows.
        try f.append(f.steady("t1", days: 26..<27) + f.spike("t1", days: 26..<27))
        f.setNow(day: 27)
        _ = try await f.detect()
        var spikes = try await f.anomalies(AnomalyFilter(tenantID: "t1", type: .absoluteSpike, level: .tenant))
        #expect(spikes.count == 1)
        #expect(spikes[0].id == spike.id && spikes[0].days == 3 && spikes[0].status == .open)
        #expect(spikes[0].incidentID == incident)

        // A normal day: the episode has ended.
        try f.append(f.steady("t1", days: 27..<28))
        f.setNow(day: 28)
        let ended = try await f.detect()
        #expect(ended.tenants[0].changes.resolved.contains(spike.id))
        spikes = try await f.anomalies(AnomalyFilter(tenantID: "t1", type: .absoluteSpike, level: .tenant))
        #expect(spikes.count == 1 && spikes[0].status == .resolved && spikes[0].resolvedBy == Anomaly.detectorActor)
        #expect(spikes[0].days == 3)
        // Still one incident for the episode (the feature and user spikes are the tenant spike's entity drivers).
        let incidents = try await f.analytics.incidents(tenantID: "t1", status: nil, principal: f.admin).incidents
        #expect(incidents.map(\.incident.id) == [incident])
        #expect(Set(incidents[0].anomalies.map(\.entity.level)) == [.tenant])
        // Counted once, at tenant level: the largest of the spike and the drift the spike lifted.
        let tenantImpacts = incidents[0].anomalies.filter { $0.entity == .tenant }.map(\.impactNanos)
        #expect(tenantImpacts.contains(3 * 2_000 * Self.cent))
        #expect(incidents[0].impactNanos == tenantImpacts.max())
    }

    @Test("an open episode the rules no longer find (thresholds raised) is resolved; settings are per tenant")
    func unmatchedEpisodeResolves() async throws {
        let f = try DetectionFixture()
        try f.append(f.steady("t1", days: 0..<26) + f.spike("t1", days: 24..<26))
        f.setNow(day: 26)
        _ = try await f.detect()
        #expect(try await f.anomalies(AnomalyFilter(tenantID: "t1", type: .absoluteSpike, resolved: false)).count == 1)
        let settings = try await f.analytics.updateAnomalySettings(
            AnomalySettingsPatch(tenantID: "t1", spikeFactor: 10, driftFactor: 10), principal: f.admin)
        #expect(settings.custom && settings.thresholds.spikeFactorPPM == 10_000_000)
        #expect(try await f.analytics.anomalySettings(tenantID: "t2", principal: f.admin).custom == false)
        _ = try await f.detect()
        #expect(try await f.anomalies(AnomalyFilter(tenantID: "t1", resolved: false)).isEmpty)
        #expect(try await f.anomalies(AnomalyFilter(tenantID: "t1", type: .absoluteSpike, resolved: true)).count == 1)
        await #expect(throws: AnalyticsError.forbidden(reason: "anomaly settings are changed with an admin key")) {
            _ = try await f.analytics.updateAnomalySettings(AnomalySettingsPatch(spikeFactor: 2), principal: f.writer)
        }
        await #expect(throws: AnalyticsError.self) {
            _ = try await f.analytics.updateAnomalySettings(AnomalySettingsPatch(tenantID: "t1", spikeFactor: 0.5), principal: f.admin)
        }
    }

    @Test("severity follows the tenant's bands: a 20 % spike is LOW, 30 % MEDIUM, 50 % HIGH", arguments: [
        (Int64(1_200), AnomalySeverity.low), (1_300, .medium), (1_500, .high),
    ])
    func severityBands(spikeCents: Int64, severity: AnomalySeverity) async throws {
        let f = try DetectionFixture()
        _ = try await f.analytics.updateAnomalySettings(
            AnomalySettingsPatch(tenantID: "t1", spikeFactor: 1.1, driftFactor: 50), principal: f.admin)
        try f.append(f.steady("t1", days: 0..<22) + (20..<22).map { f.record("t1", day: $0, cents: spikeCents - 1_000, model: "m-big") })
        f.setNow(day: 22)
        _ = try await f.detect()
        let all = try await f.anomalies()
        let spike = try #require(all.first { $0.type == .absoluteSpike && $0.entity == .tenant }, "\(all.map { ($0.type, $0.entity) })")
        #expect(spike.severity == severity)
        #expect((spike.incidentID != nil) == (severity == .high))
    }

    @Test("the minimum-spend floor: a tiny tenant's 5x spike is not an anomaly; the same spike above the floor is")
    func floor() async throws {
        let f = try DetectionFixture()
        // 20 cents a day, then 80: below a 1-dollar floor (issue 13: the default floor is 0, so set one).
        try f.append((0..<20).map { f.record("tiny", day: $0, cents: 20) } + (20..<22).map { f.record("tiny", day: $0, cents: 80) })
        f.setNow(day: 22)
        _ = try await f.analytics.updateAnomalySettings(
            AnomalySettingsPatch(tenantID: "tiny", minimumDailyCents: "100"), principal: f.admin)
        _ = try await f.detect(tenant: "tiny")
        #expect(try await f.anomalies(AnomalyFilter(tenantID: "tiny")).isEmpty)
        _ = try await f.analytics.updateAnomalySettings(
            AnomalySettingsPatch(tenantID: "tiny", minimumDailyCents: "50"), principal: f.admin)
        _ = try await f.detect(tenant: "tiny")
        #expect(try await f.anomalies(AnomalyFilter(tenantID: "tiny", type: .absoluteSpike)).map(\.entity) == [.tenant])
    }

    @Test("a 35 % step is a drift from its 6th to its 8th day, not a spike")
    func drift() async throws {
        let f = try DetectionFixture()
        try f.append((0..<20).map { f.record("t1", day: $0, cents: 1_000) } + (20..<28).map { f.record("t1", day: $0, cents: 1_350) })
        f.setNow(day: 28)
        _ = try await f.detect()
        let all = try await f.anomalies(AnomalyFilter(tenantID: "t1", level: .tenant))
        #expect(all.map(\.type) == [.sustainedDrift])
        // Day 25: (1 x 1000 + 6 x 1350) / 7 = 1300 > 1.25 x 1000; day 27: 9450 / 7350 = 1.286; day 28: 9450 / 7700 = 1.227.
        #expect(all[0].firstDay == DetectionFixture.may1 + 25 * DetectionFixture.day)
        #expect(all[0].lastDay == DetectionFixture.may1 + 27 * DetectionFixture.day)
        #expect(all[0].status == .open)
    }

    @Test("budgets: WARNING (MEDIUM, no incident) above limit x warn ratio, EXCEEDED (HIGH, incident) above the limit")
    func budgetRules() async throws {
        let f = try DetectionFixture()
        try f.append(f.steady("t1", days: 0..<28))  // 10 dollars a day
        f.setNow(day: 28)  // May so far: 280 dollars
        let warn = try await f.analytics.createBudget(
            BudgetDraft(tenantID: "t1", level: "tenant", period: "monthly", limitCents: "33000"), principal: f.admin)
        let over = try await f.analytics.createBudget(
            BudgetDraft(tenantID: "t1", level: "feature", featureTag: "chat", period: "monthly", limitCents: "10000"), principal: f.admin)
        _ = try await f.analytics.createBudget(
            BudgetDraft(tenantID: "t1", level: "user", userID: "u2", period: "monthly", limitCents: "100000"), principal: f.admin)
        _ = try await f.detect()
        let warning = try await f.anomalies(AnomalyFilter(tenantID: "t1", type: .budgetWarning))
        #expect(warning.count == 1)
        #expect(warning[0].budgetID == warn.view.budget.id && warning[0].severity == .medium && warning[0].incidentID == nil)
        #expect(warning[0].actualNanos == 28_000 * Self.cent && warning[0].expectedNanos == 26_400 * Self.cent)
        let exceeded = try await f.anomalies(AnomalyFilter(tenantID: "t1", type: .budgetExceeded))
        #expect(exceeded.count == 1)
        #expect(exceeded[0].entity == AnomalyEntity(level: .feature, value: "chat"))
        #expect(exceeded[0].severity == .high && exceeded[0].incidentID != nil && exceeded[0].status == .open)
        // Re-run a day later: the same episodes (same period), no second incident.
        try f.append(f.steady("t1", days: 28..<29))
        f.setNow(day: 29)
        let again = try await f.detect()
        #expect(again.tenants[0].changes.created.isEmpty && again.tenants[0].changes.incidentsOpened.isEmpty)
        // A new month: spend starts from zero, both episodes end.
        f.setNow(day: 31, hours: 1)
        _ = try await f.detect()
        #expect(try await f.anomalies(AnomalyFilter(tenantID: "t1", type: .budgetExceeded))[0].status == .resolved)
        #expect(try await f.anomalies(AnomalyFilter(tenantID: "t1", type: .budgetWarning))[0].status == .resolved)
    }

    @Test("incidents: open -> acknowledged -> resolved; other moves are invalid transitions; audited")
    func incidentLifecycle() async throws {
        let f = try DetectionFixture()
        try f.append(f.steady("t1", days: 0..<26) + f.spike("t1", days: 24..<26))
        f.setNow(day: 26)
        _ = try await f.detect()
        let id = try #require(try await f.analytics.incidents(tenantID: "t1", status: .open, principal: f.admin).incidents.first?.incident.id)
        let view = try await f.analytics.incident(id: id, principal: f.reader).view
        #expect(view.anomalies.allSatisfy { $0.incidentID == id } && view.anomalies.count == 1)
        await #expect(throws: AnalyticsError.self) { _ = try await f.analytics.changeIncident(id: id, to: .acknowledged, principal: f.reader) }
        let acked = try await f.analytics.changeIncident(id: id, to: .acknowledged, principal: f.writer)
        #expect(acked.view.incident.status == .acknowledged && acked.view.incident.acknowledgedBy == "key_writer")
        await #expect(throws: AnalyticsError.self) { _ = try await f.analytics.changeIncident(id: id, to: .acknowledged, principal: f.writer) }
        let resolved = try await f.analytics.changeIncident(id: id, to: .resolved, principal: f.writer)
        #expect(resolved.view.incident.status == .resolved)
        // Resolving the incident resolved its anomaly (the tenant spike; the feature and user spikes are its entity
        // drivers), by the same key.
        #expect(resolved.view.anomalies.count == 1 && resolved.view.anomalies.allSatisfy { $0.status == .resolved && $0.resolvedBy == "key_writer" })
        #expect(resolved.view.statusNote == nil)
        do {
            _ = try await f.analytics.changeIncident(id: id, to: .resolved, principal: f.writer)
            Issue.record("resolving twice must fail")
        } catch let AnalyticsError.invalidTransition(reason) {
            #expect(reason.contains("resolved"))
        }
        let other = Principal(keyID: "k2", tenant: "t2", role: .writer)
        await #expect(throws: AnalyticsError.notFound(reason: "no incident \(id)")) {
            _ = try await f.analytics.changeIncident(id: id, to: .resolved, principal: other)
        }
        let audit = try f.catalog.auditEntries(AuditFilter(tenant: "t1", entityType: "incident"))
        #expect(audit.map(\.action).sorted() == ["acknowledge", "open", "resolve"])
        // Each anomaly resolved with the incident is audited once; resolving one again by hand changes nothing, and
        // detection does not reopen it while the spike still holds.
        let anomaly = try #require(view.anomalies.first { $0.status == .open })
        let manual = try await f.analytics.resolveAnomaly(id: anomaly.id, principal: f.writer)
        #expect(manual.anomaly.status == .resolved && manual.anomaly.resolvedBy == "key_writer")
        _ = try await f.detect()
        #expect(try await f.analytics.anomaly(id: anomaly.id, principal: f.admin).anomaly.status == .resolved)
        #expect(try f.catalog.auditEntries(AuditFilter(tenant: "t1", entityType: "anomaly")).map(\.action) == ["resolve"])
    }

    @Test("usage signals list the anomalies in the window and the budgets' utilisation")
    func usageSignals() async throws {
        let f = try DetectionFixture()
        try f.append(f.steady("t1", days: 0..<26) + f.spike("t1", days: 24..<26))
        f.setNow(day: 26)
        let budget = try await f.analytics.createBudget(
            BudgetDraft(tenantID: "t1", level: "tenant", period: "monthly", limitCents: "100000"), principal: f.admin)
        _ = try await f.detect()
        let inWindow = try await f.analytics.usage(
            UsageRequest(tenantID: "t1", from: DetectionFixture.may1 + 20 * DetectionFixture.day), principal: f.reader)
        #expect(inWindow.signals.anomalies.contains { $0.type == .absoluteSpike && $0.entity == .tenant })
        #expect(inWindow.signals.budgets.map(\.budget.id) == [budget.view.budget.id])
        #expect(inWindow.signals.budgets[0].status.spentNanos == (26 * 1_000 + 2 * 2_000) * Self.cent)
        let before = try await f.analytics.usage(
            UsageRequest(tenantID: "t1", from: DetectionFixture.may1, to: DetectionFixture.may1 + 10 * DetectionFixture.day),
            principal: f.reader)
        #expect(before.signals.anomalies.isEmpty)
    }
}
