import Logging
import Synchronization
import TallyAnalytics
import TallyStore
import TallyText

/// Writes the proxy's cost records without ever holding up the call they describe.
///
/// `submit` returns at once; the record is stored in the background. When the store fails (an I/O error, a full
/// disk, a closed store) or too many records are already being stored (`maxInFlight`: overload), the record goes to
/// the spool (`RecordSpool`: appended and synced), which `drain` (the proxy spool job of `tally serve`, every few
/// seconds) stores once the store takes writes again. A record the store refuses as invalid goes to the spool's
/// `rejected.ndjson`. Should the spool itself fail, the record waits in memory (at most `maxHeld`) for the next drain.
public final class ProxyRecorder: Sendable {
    /// Stores one NDJSON record line for a principal; `Analytics.ingest` outside tests.
    public typealias Sink = @Sendable (_ line: [UInt8], _ principal: Principal) async throws -> IngestReceipt

    let analytics: Analytics
    /// The spool.
    public let spool: RecordSpool
    let sink: Sink
    let logger: Logger
    let maxInFlight: Int
    let maxHeld: Int
    private let inFlight = Atomic<Int>(0)
    private let held = Mutex<[[UInt8]]>([])
    private let tally = Mutex(Counts())

    /// What became of the submitted records.
    public struct Counts: Sendable, Equatable {
        /// Stored at once.
        public var stored = 0
        /// Already stored (the same `request_id` of the tenant).
        public var duplicates = 0
        /// Written to the spool (the store failed, or was busy).
        public var spooled = 0
        /// Refused by the store as invalid, kept in `rejected.ndjson`.
        public var rejected = 0
        /// Kept in memory because the spool failed too.
        public var held = 0
    }

    /// A recorder storing through `sink` (default: `analytics.ingest`), spooling to `spool`.
    public init(analytics: Analytics, spool: RecordSpool, logger: Logger, maxInFlight: Int = 256, maxHeld: Int = 100_000,
                sink: Sink? = nil) {
        self.analytics = analytics
        self.spool = spool
        self.logger = logger
        self.maxInFlight = maxInFlight
        self.maxHeld = maxHeld
        self.sink = sink ?? { line, principal in
            try await analytics.ingest(line, format: .ndjson, principal: principal, skipInvalid: false)
        }
    }

    /// The counts so far.
    public var counts: Counts { tally.withLock { $0 } }

    /// Records being stored or spooled now.
    public var busy: Int { inFlight.load(ordering: .acquiring) }

    /// Waits until no record is being stored or spooled, at most `seconds`; true when none is (`tally serve` waits
    /// before it closes the store, so a record in flight reaches the store or the spool).
    @discardableResult
    public func settle(seconds: Double = 10) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while busy > 0 {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    /// Stores `line` in the background (never waits).
    func submit(_ line: [UInt8], principal: Principal) {
        let overloaded = inFlight.add(1, ordering: .acquiringAndReleasing).newValue > maxInFlight
        Task {
            defer { inFlight.subtract(1, ordering: .acquiringAndReleasing) }
            if overloaded {
                await keep(line, reason: "overloaded")
                return
            }
            do {
                let receipt = try await sink(line, principal)
                if receipt.stored && receipt.inserted == 1 {
                    tally.withLock { $0.stored += 1 }
                } else if receipt.stored && !receipt.duplicateLines.isEmpty {
                    tally.withLock { $0.duplicates += 1 }
                } else {
                    let reason = receipt.errors.first.map { "\($0.field ?? "record"): \($0.reason)" } ?? "refused"
                    logger.warning("proxy record refused by the store; kept in the spool's rejected.ndjson",
                                   metadata: ["reason": "\(reason)"])
                    do {
                        try await analytics.blocking { [spool] in try spool.reject(line) }
                        tally.withLock { $0.rejected += 1 }
                    } catch {
                        hold(line)
                    }
                }
            } catch {
                logger.warning("proxy record not stored; spooled for retry", metadata: ["error": "\(error)"])
                await keep(line, reason: "store failed")
            }
        }
    }

    /// Writes `line` to the spool, or holds it in memory when the spool fails too.
    private func keep(_ line: [UInt8], reason: String) async {
        do {
            try await analytics.blocking { [spool] in try spool.append(line) }
            tally.withLock { $0.spooled += 1 }
        } catch {
            logger.error("proxy spool write failed; the record waits in memory", metadata: ["error": "\(error)", "why": "\(reason)"])
            hold(line)
        }
    }

    private func hold(_ line: [UInt8]) {
        let kept = held.withLock { h -> Bool in
            guard h.count < maxHeld else { return false }
            h.append(line)
            return true
        }
        if kept {
            tally.withLock { $0.held += 1 }
        } else {
            logger.critical("proxy record dropped: the store, the spool and the memory reserve are all exhausted")
        }
    }

    /// One pass of the spool job: records held in memory to the spool, then the spool to the store.
    public func drain() async throws -> SpoolDrainReport {
        let waiting = held.withLock { h -> [[UInt8]] in defer { h = [] }; return h }
        for (i, line) in waiting.enumerated() {
            do {
                try await analytics.blocking { [spool] in try spool.append(line) }
            } catch {
                held.withLock { $0.insert(contentsOf: waiting[i...], at: 0) }
                throw error
            }
        }
        return try await analytics.drainSpool(spool)
    }

    /// The NDJSON record of one proxied call: the tenant and attribution, the provider's model and token counts,
    /// `created_at` now; no `cost_cents`, so the store prices it from the price table like any record without one.
    static func recordLine(tenant: String, requestID: String, attribution: [(field: String, value: String)],
                           usage: ProviderUsage, createdAt: Int64) -> [UInt8] {
        var json = JSONWriter(capacity: 256)
        json.object { w in
            w.field("tenant_id", tenant)
            w.field("request_id", requestID)
            for (field, value) in attribution { w.field(field, value) }
            w.field("model", usage.model ?? "")
            w.field("input_tokens", usage.inputTokens ?? 0)
            w.field("output_tokens", usage.outputTokens ?? 0)
            w.field("created_at", time: createdAt)
        }
        return json.bytes
    }
}
