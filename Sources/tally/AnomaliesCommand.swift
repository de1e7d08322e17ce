import ArgumentParser
import Foundation
import Synchronization
import TallyAnalytics
import TallyStore
import TallySynthetic
import TallyText

/// `tally anomalies detect`: runs anomaly detection over a data directory and prints what it found; with the
/// arguments `tally generate` was given, also what was injected and whether each was found.
struct AnomaliesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anomalies", abstract: "Anomaly detection over a data directory.",
        subcommands: [Detect.self, Evaluate.self])

    struct Detect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "detect",
            abstract: "Runs detection for every tenant and prints the anomalies (recorded in the catalog, as the server does).",
            discussion: """
                --now pins "now" (default: the wall clock): the complete UTC days before it are judged. With --generated, \
                the data is taken to come from `tally generate` with the given --rows, --days, --seed, --tenants and --end, \
                and the injected anomalies are compared with what detection found. With --records clickhouse (and \
                --catalog postgres, or the SQLite catalog of --data) the records are read from the ClickHouse cluster.
                """)

        @OptionGroup var store: ReadStoreOptionGroup

        @OptionGroup var catalogOptions: CatalogOptions

        @OptionGroup var recordOptions: RecordOptions

        @Option(help: "\"Now\", RFC 3339 (default: the wall clock; with --generated, the end of the generated window).")
        var now: String?

        @Option(help: "The minimum daily spend a day needs to count, in cents, for tenants without settings (default: 0).")
        var minimumDailyCents: Int64?

        @Flag(help: "Compare with the anomalies `tally generate` injected (give it the same arguments).")
        var generated = false

        /// With --generated: the arguments given to `tally generate`.
        @OptionGroup var world: SyntheticOptionGroup

        func validate() throws {
            if let cents = minimumDailyCents, cents < 0 || cents > 100_000_000 {
                throw ValidationError("--minimum-daily-cents must be 0 to 100000000")
            }
            try catalogOptions.check(data: store.data)
            try recordOptions.check(data: store.data)
        }

        @Flag(name: .customLong("allow-partial"), help: "Detect even when quarantined or unreadable parts are missing (they are named on standard error).")
        var allowPartial = false

        func run() async throws {
            let generatorOptions = try world.options()
            let endMillis = generatorOptions.end
            let nowMillis: Int64 = if let now { try parseTimeOption(now, "--now") } else if generated { endMillis } else { TimeSource.systemWallMillis() }
            var options = AnalyticsOptions()
            if let cents = minimumDailyCents { options.anomalyThresholds.minimumDailyNanos = cents * Money.nanosPerCent }
            let catalog = try catalogOptions.open(data: store.data)
            let analytics: Analytics
            switch try recordOptions.kind() {
            case .embedded:
                let s = try store.open()
                // Detection over every tenant: a missing part would look like a drop in spend.
                if !reportMissing(s.missingParts, allowPartial: allowPartial, what: "detection") {
                    try? s.close()
                    throw ExitCode(1)
                }
                analytics = Analytics(store: s, catalog: catalog, options: options, clock: { nowMillis })
            case .clickhouse:
                analytics = try recordOptions.clickHouseAnalytics(catalog: catalog, options: options, clock: TimeSource(wallMillis: { nowMillis }))
            }
            defer { try? analytics.close() }
            let started = TimeSource.systemMonotonicSeconds()
            let report = try await analytics.detectAllTenants()
            let seconds = TimeSource.systemMonotonicSeconds() - started
            let all = report.tenants.flatMap(\.anomalies)
            let queries = report.tenants.reduce(0) { $0 + $1.queries }
            print("detection: \(report.tenants.count) tenants, \(queries) store queries, \(fixed(seconds, 2)) s")
            printCounts(all)
            print("")
            print("tenant-level anomalies:")
            printTable(all.filter { $0.entity.level == .tenant })

            guard generated else { return }
            let generator = SyntheticGenerator(generatorOptions)
            print("")
            print("injected vs found:")
            var missed = 0
            for injected in generator.anomalies {
                let found = all.filter { injected.isFound(by: $0) }
                if found.isEmpty { missed += 1 }
                let what = found.map { "\($0.type.rawValue) \($0.severity.rawValue) \(day($0.firstDay))..\(day($0.lastDay)) "
                    + "impact \(percentText($0.impactPercent))" }.joined(separator: "; ")
                print("  \(injected)  ->  " + (found.isEmpty ? "NOT FOUND" : "found: " + what))
            }
            let tenantLevel = all.filter { $0.entity.level == .tenant && !$0.type.isBudget }
            let unexplained = tenantLevel.filter { a in !generator.anomalies.contains { $0.explains(a) } }
            let explainedOther = tenantLevel.filter { a in
                generator.anomalies.contains { $0.explains(a) } && !generator.anomalies.contains { $0.isFound(by: a) }
            }
            let belowTenant = all.filter { $0.entity.level != .tenant && !$0.type.isBudget }
            let belowExplained = belowTenant.filter { a in generator.anomalies.contains { $0.explains(a) } }
            print("")
            print("found \(generator.anomalies.count - missed) of \(generator.anomalies.count) injected anomalies")
            print("tenant level: \(tenantLevel.count) anomalies; \(explainedOther.count) on an injected tenant and its days by the "
                  + "other rule; \(unexplained.count) false positives")
            print("feature and user level: \(belowTenant.count) anomalies, \(belowExplained.count) on an injected tenant and its days, "
                  + "\(belowTenant.count - belowExplained.count) elsewhere")
            if !unexplained.isEmpty {
                print("false positives at tenant level:")
                printTable(unexplained)
            }
        }

        private func printCounts(_ all: [Anomaly]) {
            for level in Budget.Level.allCases {
                let at = all.filter { $0.entity.level == level }
                let byType = AnomalyType.allCases.map { t in "\(t.rawValue) \(at.filter { $0.type == t }.count)" }
                print("  \(level.rawValue): \(at.count) (" + byType.joined(separator: ", ") + ")")
            }
        }

        private func printTable(_ list: [Anomaly]) {
            print("  " + "tenant".rightPad(14) + "type".rightPad(17) + "sev".rightPad(7) + "days".rightPad(24)
                  + "expected $".leftPad(12) + "actual $".leftPad(12) + "impact".leftPad(9) + "  top driver")
            for a in list.sorted(by: { ($0.tenant, $0.firstDay) < ($1.tenant, $1.firstDay) }) {
                let driver = a.drivers.first.map { "\($0.dimension.fieldName)=\($0.value)" } ?? "-"
                print("  " + a.tenant.rightPad(14) + a.type.rawValue.rightPad(17) + a.severity.rawValue.rightPad(7)
                      + "\(day(a.firstDay))..\(day(a.lastDay))".rightPad(24)
                      + fixed(Double(a.expectedNanos) / 1e9, 2).leftPad(12) + fixed(Double(a.actualNanos) / 1e9, 2).leftPad(12)
                      + percentText(a.impactPercent).leftPad(9) + "  " + driver)
            }
        }

        private func day(_ millis: Int64) -> String { String(Timestamp.format(millis).prefix(10)) }

        private func percentText(_ p: Double?) -> String { p.map { "+" + fixed($0, 0) + "%" } ?? "-" }
    }

    struct Evaluate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "evaluate",
            abstract: "Measures detection on generated data: recall, false alarms and time to detection, by rule and tenant size.",
            discussion: """
                For each --seed, generates --rows records over --days days and --tenants tenants (as `tally generate`), \
                with its injected spikes and drifts, into a temporary store and catalog; then runs detection every \
                --step-minutes as the clock passes (each run judges the complete days and the day in progress, and sees \
                only records before its time), from the first day with a week of history to the end. Prints, by rule and tenant size (mean spend \
                per day over the window), the injected anomalies found (a tenant-level anomaly of the rule, tenant and \
                overlapping days), the tenant-level false alarms per 100 tenant-months (episodes no injection explains) \
                and the hours from an injection's start to the first run that reported it. See docs/ANALYTICS.md.
                """)

        @Option(name: .customLong("seed"), help: "Seed of the generated data; repeat for several (figures are also given combined).")
        var seeds: [UInt64] = [7, 11, 23]

        @Option(help: "Length of the window in days.")
        var days: Int = 45

        @Option(help: "Number of tenants.")
        var tenants: Int = 200

        @Option(help: "Number of records per seed.")
        var rows: Int = 1_000_000

        @Option(help: "The minimum daily spend a day needs to count, in cents (default: the detector's).")
        var minimumDailyCents: Int64?

        @Option(help: "Robust standard deviations of its own noise a finding must be (default: the detector's).")
        var noiseZ: Double?

        @Option(help: "Share of an entity's usual days on which the day in progress's request count may look unusual (default: the detector's).")
        var intradayAlpha: Double?

        @Option(help: "Minutes between detection runs (60: hourly; 1440: once a day, complete days only).")
        var stepMinutes: Int = 60

        @Flag(help: "Also list every injected anomaly and every false alarm.")
        var verbose = false

        func validate() throws {
            guard days >= 15 else { throw ValidationError("--days must be at least 15 (a week of history, then the anomalies)") }
            guard tenants >= 2 else { throw ValidationError("--tenants must be at least 2") }
            guard rows >= 1 else { throw ValidationError("--rows must be at least 1") }
            guard stepMinutes >= 10 && stepMinutes <= 1_440 && 1_440 % stepMinutes == 0 else {
                throw ValidationError("--step-minutes must divide a day, from 10 to 1440")
            }
            if let z = noiseZ, !(z >= 0 && z <= 100) { throw ValidationError("--noise-z must be 0 to 100") }
            if let a = intradayAlpha, !(a > 0 && a < 1) { throw ValidationError("--intraday-alpha must be between 0 and 1") }
            if let cents = minimumDailyCents, cents < 0 || cents > 100_000_000 {
                throw ValidationError("--minimum-daily-cents must be 0 to 100000000")
            }
        }

        func run() async throws {
            var parts: [DetectionEvaluation] = []
            for seed in seeds {
                let started = TimeSource.systemMonotonicSeconds()
                let e = try await evaluate(seed: seed)
                let seconds = TimeSource.systemMonotonicSeconds() - started
                parts.append(e)
                print("seed \(seed): \(days) days, \(tenants) tenants, \(rows) rows; \(e.judgedDays) days judged every \(stepMinutes) min, "
                      + "\(e.queries) store queries, "
                      + "\(fixed(seconds, 1)) s")
                print(e.table())
                if verbose { printDetails(e) }
                print("")
            }
            if parts.count > 1 {
                print("seeds \(seeds.map(String.init).joined(separator: ", ")) combined:")
                print(DetectionEvaluation.combined(parts).table())
            }
        }

        private func evaluate(seed: UInt64) async throws -> DetectionEvaluation {
            let generator = SyntheticGenerator(.init(rows: rows, days: days, seed: seed, tenants: tenants))
            let directory = try ScratchDirectory(prefix: "tally-evaluate")
            defer { directory.remove() }
            var o = StoreOptions()
            o.background = false
            o.durability = .buffered
            let store = try Store(path: directory.appending("store"), options: o)
            defer { try? store.close() }
            try generator.generate { batch in _ = try store.append(batch) }
            try store.flush()
            var options = AnalyticsOptions()
            if let cents = minimumDailyCents { options.anomalyThresholds.minimumDailyNanos = cents * Money.nanosPerCent }
            if let noiseZ { options.anomalyNoiseZ = noiseZ }
            if let intradayAlpha { options.anomalyIntradayAlpha = intradayAlpha }
            let clock = EvaluationClock(generator.window.lowerBound)
            let analytics = Analytics(store: store, catalog: try SQLiteCatalog(directory: directory.appending("catalog")),
                                      options: options, clock: { clock.now })
            defer { try? analytics.close() }
            let planted = generator.anomalies.map {
                PlantedAnomaly(tenant: $0.tenantID, type: $0.expectedType, start: $0.start, end: $0.end)
            }
            // The first day with a full week of history (the spike baseline) is the first judged.
            return try await analytics.evaluateDetection(
                planted: planted, window: generator.window, judgeFrom: generator.window.lowerBound + 7 * TimeUnit.dayMillis,
                stepMinutes: stepMinutes, setNow: { clock.set($0) })
        }

        private func printDetails(_ e: DetectionEvaluation) {
            func day(_ millis: Int64) -> String { String(Timestamp.format(millis).prefix(10)) }
            print("injected:")
            for o in e.outcomes {
                let when = o.hoursToDetection.map { "found after \(fixed($0, 1)) h" } ?? "NOT FOUND"
                print("  \(o.planted.type.rawValue) \(o.planted.tenant) \(o.band.rawValue) "
                      + "\(day(o.planted.start))..\(day(o.planted.end - 1)): \(when)")
            }
            print("false alarms:")
            for f in e.falseAlarms {
                // When and how it was raised: from complete days (at midnight) or the day in progress; on a weekend day.
                let r = f.report
                let how = r.reportedAt == TimeUnit.dayStart(r.reportedAt) ? "complete days" : "intraday"
                let weekend = TimeUnit.floorDiv(r.firstDay, TimeUnit.dayMillis) % 7 >= 2 && TimeUnit.floorDiv(r.firstDay, TimeUnit.dayMillis) % 7 <= 3
                print("  \(r.type.rawValue) \(r.severity.rawValue) \(r.tenant) \(f.band.rawValue) "
                      + "\(day(r.firstDay))..\(day(r.lastDay))\(weekend ? " (starts on a weekend)" : ""), raised \(Timestamp.format(r.reportedAt)) "
                      + "from \(how)" + (r.provisional ? " (provisional)" : ""))
            }
        }
    }
}

/// "Now" of an evaluation, moved by hand.
private final class EvaluationClock: Sendable {
    private let value: Mutex<Int64>

    init(_ start: Int64) { value = Mutex(start) }

    var now: Int64 { value.withLock { $0 } }

    func set(_ millis: Int64) { value.withLock { $0 = millis } }
}

/// A directory under /tmp deleted when the evaluation ends.
/// A directory under /tmp of this run's own (mkdtemp), removed by `remove()`.
struct ScratchDirectory {
    let path: String

    init(prefix: String) throws {
        var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw StoreError.io(path: "/tmp/\(prefix).XXXXXX", operation: "mkdtemp", errno: errno)
        }
        path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func appending(_ name: String) -> String { path + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}
