import Synchronization
import TallyAnalytics
import TallyStore

/// Counters and latency histograms of the facade, written as Prometheus text by `GET /metrics`.
///
/// Small shared state under one `Mutex`; no I/O under the lock.
public final class ServerMetrics: Sendable {
    /// Upper bounds of the latency buckets, in seconds.
    static let bounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    struct Histogram {
        var counts = [Int](repeating: 0, count: ServerMetrics.bounds.count)
        var sum = 0.0
        var count = 0

        mutating func observe(_ seconds: Double) {
            if let i = ServerMetrics.bounds.firstIndex(where: { seconds <= $0 }) { counts[i] += 1 }
            sum += seconds
            count += 1
        }
    }

    struct RequestKey: Hashable, Comparable {
        var route: String
        var method: String
        var status: Int

        static func < (a: RequestKey, b: RequestKey) -> Bool {
            (a.route, a.method, a.status) < (b.route, b.method, b.status)
        }
    }

    struct State {
        var requests: [RequestKey: Int] = [:]
        var ingestBatches = 0
        var ingestInserted = 0
        var ingestDuplicates = 0
        var ingestRejected = 0
        var ingestLatency = Histogram()
        var queryLatency: [String: Histogram] = [:]
        var authFailures = 0
        var authFailuresLogged = 0
        var authLoggedAt = -Double.infinity
    }

    let state = Mutex(State())

    /// Empty metrics.
    public init() {}

    func recordRequest(route: String, method: String, status: Int) {
        state.withLock { $0.requests[RequestKey(route: route, method: method, status: status), default: 0] += 1 }
    }

    func recordIngest(_ receipt: IngestReceipt, seconds: Double) {
        state.withLock {
            $0.ingestBatches += 1
            $0.ingestInserted += receipt.inserted
            $0.ingestDuplicates += receipt.duplicateLines.count
            $0.ingestRejected += receipt.rejectedLines
            $0.ingestLatency.observe(seconds)
        }
    }

    /// Counts a request whose API key failed; returns the failures since the last log line when one is due
    /// (at most one line per `logInterval` seconds, so a guessing client cannot flood the log).
    func recordAuthFailure(now: Double, logInterval: Double = 10) -> Int? {
        state.withLock { s in
            s.authFailures += 1
            guard now - s.authLoggedAt >= logInterval else { return nil }
            defer {
                s.authLoggedAt = now
                s.authFailuresLogged = s.authFailures
            }
            return s.authFailures - s.authFailuresLogged
        }
    }

    func recordQuery(endpoint: String, seconds: Double) {
        state.withLock { $0.queryLatency[endpoint, default: Histogram()].observe(seconds) }
    }

    /// The Prometheus text exposition (version 0.0.4) of these metrics and of the store's counts.
    func render(store: StoreMetrics, now: Int64) -> String {
        let s = state.withLock { $0 }
        var out = ""
        func header(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func histogram(_ name: String, _ labels: String, _ h: Histogram) {
            var cumulative = 0
            let sep = labels.isEmpty ? "" : labels + ","
            for (i, bound) in Self.bounds.enumerated() {
                cumulative += h.counts[i]
                out += "\(name)_bucket{\(sep)le=\"\(bound)\"} \(cumulative)\n"
            }
            out += "\(name)_bucket{\(sep)le=\"+Inf\"} \(h.count)\n"
            out += "\(name)_sum\(labels.isEmpty ? "" : "{\(labels)}") \(h.sum)\n"
            out += "\(name)_count\(labels.isEmpty ? "" : "{\(labels)}") \(h.count)\n"
        }

        header("tally_http_requests_total", "counter", "HTTP requests answered, by route, method and status.")
        for (k, n) in s.requests.sorted(by: { $0.key < $1.key }) {
            out += "tally_http_requests_total{route=\"\(escape(k.route))\",method=\"\(k.method)\",status=\"\(k.status)\"} \(n)\n"
        }
        header("tally_http_auth_failures_total", "counter", "Requests refused because their API key was malformed, unknown or revoked.")
        out += "tally_http_auth_failures_total \(s.authFailures)\n"
        header("tally_ingest_batches_total", "counter", "Record batches received by POST records.")
        out += "tally_ingest_batches_total \(s.ingestBatches)\n"
        header("tally_ingest_records_total", "counter", "Records received by POST records, by result.")
        out += "tally_ingest_records_total{result=\"inserted\"} \(s.ingestInserted)\n"
        out += "tally_ingest_records_total{result=\"duplicate\"} \(s.ingestDuplicates)\n"
        out += "tally_ingest_records_total{result=\"rejected\"} \(s.ingestRejected)\n"
        header("tally_ingest_duration_seconds", "histogram", "Time to parse, check and durably store one batch.")
        histogram("tally_ingest_duration_seconds", "", s.ingestLatency)
        header("tally_query_duration_seconds", "histogram", "Time to answer a statistics request, by endpoint.")
        for (endpoint, h) in s.queryLatency.sorted(by: { $0.key < $1.key }) {
            histogram("tally_query_duration_seconds", "endpoint=\"\(endpoint)\"", h)
        }
        header("tally_store_tenants", "gauge", "Tenants with stored records.")
        out += "tally_store_tenants \(store.tenants)\n"
        header("tally_store_rows", "gauge", "Records stored (parts and head).")
        out += "tally_store_rows \(store.rows)\n"
        header("tally_store_head_rows", "gauge", "Records in the in-memory head, not yet sealed into parts.")
        out += "tally_store_head_rows \(store.headRows)\n"
        header("tally_store_parts", "gauge", "Part files listed in the manifest.")
        out += "tally_store_parts \(store.parts)\n"
        header("tally_store_bytes", "gauge", "Bytes on disk, by kind.")
        out += "tally_store_bytes{kind=\"parts\"} \(store.partBytes)\n"
        out += "tally_store_bytes{kind=\"wal\"} \(store.walBytes)\n"
        header("tally_store_seals_total", "counter", "Head seals into parts since the store was opened.")
        out += "tally_store_seals_total \(store.seals)\n"
        header("tally_store_compactions_total", "counter", "Part merges done since the store was opened.")
        out += "tally_store_compactions_total \(store.compactions)\n"
        header("tally_store_quarantined_parts", "gauge", "Parts moved to quarantine after a failed checksum.")
        out += "tally_store_quarantined_parts \(store.quarantined)\n"
        header("tally_store_wal_damaged_ranges", "gauge", "Damaged WAL ranges recorded in quarantine/ (cleared when an operator removes the loss records).")
        out += "tally_store_wal_damaged_ranges \(store.walLosses)\n"
        header("tally_store_wal_lost_batches", "gauge", "Acknowledged batches lost to WAL damage, as recorded in quarantine/ (a lower bound).")
        out += "tally_store_wal_lost_batches \(store.walLostBatches)\n"
        header("tally_store_wal_lost_records", "gauge", "Acknowledged records lost to WAL damage, as recorded in quarantine/ (a lower bound).")
        out += "tally_store_wal_lost_records \(store.walLostRecords)\n"
        header("tally_store_wal_failed", "gauge", "1 while the WAL refuses writes after a failed write or sync.")
        out += "tally_store_wal_failed \(store.walFailed ? 1 : 0)\n"
        header("tally_store_missing_parts", "gauge", "Parts in quarantine (this run or earlier ones): answers that need them say complete: false.")
        out += "tally_store_missing_parts \(store.missingParts)\n"
        header("tally_store_missing_rows", "gauge", "Rows the parts in quarantine held.")
        out += "tally_store_missing_rows \(store.missingRows)\n"
        if let newest = store.newestRecord {
            header("tally_store_newest_record_age_seconds", "gauge", "Seconds since the newest stored created_at (data freshness).")
            out += "tally_store_newest_record_age_seconds \(max(0, now - newest) / 1000)\n"
        }
        return out
    }

    private func escape(_ s: String) -> String {
        s.replacingBackslashesAndQuotes()
    }
}

extension String {
    fileprivate func replacingBackslashesAndQuotes() -> String {
        var out = ""
        for c in self {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }
}
