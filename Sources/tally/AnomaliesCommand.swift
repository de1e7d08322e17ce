import ArgumentParser
import TallyAnalytics
import TallyStore
import TallySynthetic
import TallyText

/// `tally anomalies detect`: runs anomaly detection over a data directory and prints what it found; with the
/// arguments `tally generate` was given, also what was injected and whether each was found.
struct AnomaliesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anomalies", abstract: "Anomaly detection over a data directory.",
        subcommands: [Detect.self])

    struct Detect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "detect",
            abstract: "Runs detection for every tenant and prints the anomalies (recorded in the catalog, as the server does).",
            discussion: """
                --now pins "now" (default: the wall clock): the complete UTC days before it are judged. With --generated, \
                the data is taken to come from `tally generate` with the given --rows, --days, --seed, --tenants and --end, \
                and the injected anomalies are compared with what detection found.
                """)

        @OptionGroup var store: ReadStoreOptionGroup

        @Option(help: "\"Now\", RFC 3339 (default: the wall clock; with --generated, the end of the generated window).")
        var now: String?

        @Option(help: "The minimum daily spend a day needs to count, in cents, for tenants without settings (default: 500).")
        var minimumDailyCents: Int64?

        @Flag(help: "Compare with the anomalies `tally generate` injected (give it the same arguments).")
        var generated = false

        /// With --generated: the arguments given to `tally generate`.
        @OptionGroup var world: SyntheticOptionGroup

        func validate() throws {
            if let cents = minimumDailyCents, cents < 0 || cents > 100_000_000 {
                throw ValidationError("--minimum-daily-cents must be 0 to 100000000")
            }
        }

        @Flag(name: .customLong("allow-partial"), help: "Detect even when quarantined or unreadable parts are missing (they are named on standard error).")
        var allowPartial = false

        func run() async throws {
            let generatorOptions = try world.options()
            let endMillis = generatorOptions.end
            let nowMillis: Int64 = if let now { try parseTimeOption(now, "--now") } else if generated { endMillis } else { TimeSource.systemWallMillis() }
            let s = try store.open()
            defer { try? s.close() }
            // Detection over every tenant: a missing part would look like a drop in spend.
            if !reportMissing(s.missingParts, allowPartial: allowPartial, what: "detection") { throw ExitCode(1) }
            var options = AnalyticsOptions()
            if let cents = minimumDailyCents { options.anomalyThresholds.minimumDailyNanos = cents * Money.nanosPerCent }
            let analytics = Analytics(store: s, catalog: try SQLiteCatalog(directory: try store.directory()), options: options, clock: { nowMillis })
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
}
