
import Prometheus
import Synchronization
import TallyAnalytics
import TallyOTLP
import TallyOTLP
import TallyStore
import TallyText

/// The facade's metrics in a swift-prometheus registry of its own, rendered by `GET /metrics` together with the
/// process metrics and, when `tally serve` bootstrapped swift-metrics (`TallyMetricsSystem`), Hummingbird's HTTP
/// server metrics (`http_server_*`, from its `MetricsMiddleware`).
///
/// Counters and histograms are recorded as things happen; gauges of the store, the process and spend are set when
/// `/metrics` is read. Spend is labelled by tenant and model with a bounded label set: the `spendTopTenants` tenants
/// that spent the most this month are named, the rest summed as tenant "other".
public final class ServerMetrics: Sendable {
    /// The registry this server's metrics live in.
    public let registry: PrometheusCollectorRegistry
    /// How many tenants spend metrics name (the rest are "other"); 0 leaves spend out.
    public let spendTopTenants: Int

    static let latencyBuckets: [Duration] = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
        .map { Duration.nanoseconds(Int64(($0 * 1e9).rounded())) }

    let ingestBatches: Prometheus.Counter
    let ingestInserted: Prometheus.Counter
    let ingestDuplicates: Prometheus.Counter
    let ingestRejected: Prometheus.Counter
    let ingestLatency: DurationHistogram
    let usageLatency: DurationHistogram
    let costLatency: DurationHistogram
    let authFailures: Prometheus.Counter
    let otlpExports: Prometheus.Counter
    let otlpStored: Prometheus.Counter
    let otlpDuplicate: Prometheus.Counter
    let otlpIgnored: Prometheus.Counter
    let otlpRejected: Prometheus.Counter
    let otlpLatency: DurationHistogram

    struct AuthLog {
        var failures = 0
        var logged = 0
        var loggedAt = -Double.infinity
    }

    let authLog = Mutex(AuthLog())
    /// Store totals (seals, compactions) already added to their counters.
    let storeCounted = Mutex<[ObjectIdentifier: Int]>([:])
    /// CPU seconds already counted in `process_cpu_seconds_total`.
    let processCPU = Mutex<Double>(0)
    /// The spend label sets set at the last scrape, so the ones that left the top are removed, not left stale.
    let spendGauges = Mutex<[String: Prometheus.Gauge]>([:])

    /// Empty metrics in a registry of their own.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), spendTopTenants: Int = 20) {
        self.registry = registry
        self.spendTopTenants = spendTopTenants
        func counter(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Prometheus.Counter {
            registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "tally", metricName: name, unitName: "total", helpText: help),
                                 labels: labels)
        }
        func seconds(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> DurationHistogram {
            registry.makeDurationHistogram(
                descriptor: MetricNameDescriptor(namespace: "tally", metricName: name, unitName: "seconds", helpText: help),
                labels: labels, buckets: Self.latencyBuckets)
        }
        ingestBatches = counter("ingest_batches", "Record batches received by POST records.")
        let records = "Records received by POST records, by result."
        ingestInserted = counter("ingest_records", records, [("result", "inserted")])
        ingestDuplicates = counter("ingest_records", records, [("result", "duplicate")])
        ingestRejected = counter("ingest_records", records, [("result", "rejected")])
        ingestLatency = seconds("ingest_duration", "Time to parse, check and durably store one batch.")
        let query = "Time to answer a statistics request, by endpoint."
        usageLatency = seconds("query_duration", query, [("endpoint", "usage")])
        costLatency = seconds("query_duration", query, [("endpoint", "cost")])
        authFailures = counter("http_auth_failures", "Requests refused because their API key was malformed, unknown or revoked.")
        otlpExports = counter("otlp_exports", "OTLP trace export requests answered 200 (POST /v1/traces).")
        let spans = "Spans received by OTLP trace exports, by result (ignored: not a GenAI model call; duplicate: stored before)."
        otlpStored = counter("otlp_spans", spans, [("result", "stored")])
        otlpDuplicate = counter("otlp_spans", spans, [("result", "duplicate")])
        otlpIgnored = counter("otlp_spans", spans, [("result", "ignored")])
        otlpRejected = counter("otlp_spans", spans, [("result", "rejected")])
        otlpLatency = seconds("otlp_export_duration", "Time to decode, map and durably store one OTLP trace export.")
    }

    func recordIngest(_ receipt: IngestReceipt, seconds: Double) {
        ingestBatches.increment()
        ingestInserted.increment(by: Int64(receipt.inserted))
        ingestDuplicates.increment(by: Int64(receipt.duplicateLines.count))
        ingestRejected.increment(by: Int64(receipt.rejectedLines))
        ingestLatency.record(Self.duration(seconds))
    }

    /// Counts an OTLP trace export and what became of its spans.
    func recordOTLPExport(_ result: TraceExportResult, seconds: Double) {
        otlpExports.increment()
        otlpStored.increment(by: Int64(result.stored))
        otlpDuplicate.increment(by: Int64(result.duplicates))
        otlpIgnored.increment(by: Int64(result.ignored))
        otlpRejected.increment(by: Int64(result.rejected))
        otlpLatency.record(Self.duration(seconds))
    }

    /// Counts a request whose API key failed; returns the failures since the last log line when one is due
    /// (at most one line per `logInterval` seconds, so a guessing client cannot flood the log).
    func recordAuthFailure(now: Double, logInterval: Double = 10) -> Int? {
        authFailures.increment()
        return authLog.withLock { s in
            s.failures += 1
            guard now - s.loggedAt >= logInterval else { return nil }
            defer {
                s.loggedAt = now
                s.logged = s.failures
            }
            return s.failures - s.logged
        }
    }

    enum QueryEndpoint { case usage, cost }

    func recordQuery(_ endpoint: QueryEndpoint, seconds: Double) {
        (endpoint == .usage ? usageLatency : costLatency).record(Self.duration(seconds))
    }

    static func duration(_ seconds: Double) -> Duration { .nanoseconds(Int64((max(0, seconds) * 1e9).rounded())) }

    // MARK: Scrape

    /// Sets the gauges of the store, the process and spend, then renders every metric as Prometheus text
    /// (format 0.0.4): this registry's, then swift-metrics' global one when it is a Prometheus registry.
    func render(analytics: Analytics) async throws -> [UInt8] {
        let store = try await analytics.records.metrics()
        setStoreGauges(store, now: analytics.now)
        ProcessMetrics.update(registry, cpuCounted: processCPU)
        if spendTopTenants > 0 { try await setSpendGauges(analytics) }
        var out = registry.emitToBuffer()
        if let global = TallyMetricsSystem.registry, global !== registry { global.emit(into: &out) }
        return out
    }

    private func counter(_ name: String, _ help: String) -> Prometheus.Counter {
        registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "tally", metricName: name, unitName: "total", helpText: help))
    }

    /// Moves a counter up to a total the store keeps (counted once, whoever scrapes).
    private func advance(_ counter: Prometheus.Counter, to total: Int) {
        let key = ObjectIdentifier(counter)
        let added = storeCounted.withLock { counted in
            defer { counted[key] = max(counted[key] ?? 0, total) }
            return max(0, total - (counted[key] ?? 0))
        }
        if added > 0 { counter.increment(by: Int64(added)) }
    }

    private func gauge(_ name: String, _ unit: String, _ help: String, _ labels: [(String, String)] = []) -> Prometheus.Gauge {
        registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "tally", metricName: name, unitName: unit, helpText: help),
                           labels: labels)
    }

    private func setStoreGauges(_ store: StoreMetrics, now: Int64) {
        gauge("store_tenants", "", "Tenants with stored records.").set(Int64(store.tenants))
        gauge("store_rows", "", "Records stored (parts and head).").set(Int64(store.rows))
        gauge("store_head_rows", "", "Records in the in-memory head, not yet sealed into parts.").set(Int64(store.headRows))
        gauge("store_parts", "", "Part files listed in the manifest.").set(Int64(store.parts))
        let bytes = "Bytes on disk, by kind."
        gauge("store", "bytes", bytes, [("kind", "parts")]).set(Int64(store.partBytes))
        gauge("store", "bytes", bytes, [("kind", "wal")]).set(Int64(store.walBytes))
        advance(counter("store_seals", "Head seals into parts since the store was opened."), to: store.seals)
        advance(counter("store_compactions", "Part merges done since the store was opened."), to: store.compactions)
        gauge("store_quarantined_parts", "", "Parts moved to quarantine after a failed checksum.").set(Int64(store.quarantined))
        gauge("store_wal_damaged_ranges", "", "Damaged WAL ranges recorded in quarantine/ (cleared when an operator removes the loss records).")
            .set(Int64(store.walLosses))
        gauge("store_wal_lost_batches", "", "Acknowledged batches lost to WAL damage, as recorded in quarantine/ (a lower bound).")
            .set(Int64(store.walLostBatches))
        gauge("store_wal_lost_records", "", "Acknowledged records lost to WAL damage, as recorded in quarantine/ (a lower bound).")
            .set(Int64(store.walLostRecords))
        gauge("store_wal_failed", "", "1 while the WAL refuses writes after a failed write or sync.").set(Int64(store.walFailed ? 1 : 0))
        gauge("store_missing_parts", "", "Parts in quarantine (this run or earlier ones): answers that need them say complete: false.")
            .set(Int64(store.missingParts))
        gauge("store_missing_rows", "", "Rows the parts in quarantine held.").set(Int64(store.missingRows))
        gauge("store_newest_record_age", "seconds", "Seconds since the newest stored created_at (data freshness; 0 without records).")
            .set(store.newestRecord.map { max(0, now - $0) / 1000 } ?? 0)
    }

    /// Spend today and this month (UTC) by tenant and model, the top tenants named and the rest as "other".
    private func setSpendGauges(_ analytics: Analytics) async throws {
        let now = analytics.now
        let day = TimeUnit.dayStart(now)
        let month = ReportMonth(containing: now).start
        let monthSlices = try await analytics.spendSlices(from: month, to: now + 1, topTenants: spendTopTenants)
        // Today's slices name this month's top tenants, so the two windows carry the same tenant labels.
        var top: [String] = []
        for s in monthSlices where s.tenant != Analytics.otherTenants && top.last != s.tenant { top.append(s.tenant) }
        let todaySlices = try await analytics.spendSlices(from: day, to: now + 1, naming: top)
        var current: [String: Prometheus.Gauge] = [:]
        for (window, slices) in [("today", todaySlices), ("month", monthSlices)] {
            for s in slices {
                let labels = [("window", window), ("tenant", s.tenant), ("model", s.model)]
                let g = gauge("spend", "dollars", "Spend (USD) by UTC window (today, month), tenant and model; tenants outside the "
                              + "month's top ones are summed as tenant=\"other\".", labels)
                g.set(Double(s.costNanos) / 1e9)
                current[labels.map { $0.1 }.joined(separator: "\u{0}")] = g
            }
        }
        let stale = spendGauges.withLock { previous in
            defer { previous = current }
            return previous.filter { current[$0.key] == nil }.map(\.value)
        }
        for g in stale { registry.unregisterGauge(g) }
    }
}
