import AsyncHTTPClient
import CompressNIO
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// Records cost records into a Tally server in the background.
///
/// `record(_:)` never blocks and never waits for the network: it puts the record in a bounded in-memory queue and
/// returns. One background task sends the queue in batches to `POST /api/v1/analytics/records` (NDJSON,
/// gzip-compressed, `?on_error=skip` so a bad record never holds back the others): a batch leaves when it holds
/// `batchSize` records, when its oldest record has waited `linger`, or on `flush()`/`shutdown()`.
///
/// - Retries: a batch that meets a connection error, a timeout, a 5xx, 429, 408 or 409 (its `Idempotency-Key` still
///   being answered) is sent again after an exponential backoff with full jitter (a random wait between 0 and
///   `initialBackoff` x 2^(attempt-1), at most `maxBackoff`), or after the server's `Retry-After`, up to
///   `maxAttempts` attempts. Other 4xx answers are not retried: they are reported to `onError` as
///   `TallyClientError.batchRejected`; records the server refused one by one as `.recordsRejected`.
/// - Nothing stored twice: every batch carries its own `Idempotency-Key`, the same on each of its attempts, so a
///   retry of a batch the server stored (its answer lost to a restart or a timeout) is answered from the server's
///   idempotency store; and each record carries a `request_id`, which the server stores once per tenant whatever
///   happens.
/// - Overflow policy, drop-newest: at most `maxQueuedRecords` records are held (waiting or being sent). When that
///   many are held, `record(_:)` refuses the new record: it returns false and counts it in `Statistics.dropped`.
///   The caller is never suspended and the memory stays bounded while the server is away.
/// - `flush()` returns once every record accepted before it was delivered (or given up and reported);
///   `shutdown()` flushes, stops the background task and closes the HTTP client. Call `shutdown()` before the
///   process ends: records still queued are lost otherwise.
public final class TallyClient: Sendable {
    public struct Configuration: Sendable {
        /// The server's base URL, e.g. `http://127.0.0.1:8080`.
        public var baseURL: String
        /// A writer (or admin) key, `tly_...`.
        public var apiKey: String
        /// The tenant of records that name none (a tenant key's own tenant).
        public var tenantID: String?
        /// Records a batch holds at most (at most 1,000: the server lists up to 1,000 refused records per batch).
        public var batchSize = 500
        /// How long the oldest queued record waits for its batch to fill.
        public var linger: Duration = .milliseconds(500)
        /// Records held at most (queued and being sent); more are dropped (see the type's overflow policy).
        public var maxQueuedRecords = 10_000
        /// Send bodies gzip-compressed (`Content-Encoding: gzip`).
        public var compress = true
        /// Attempts per batch before it is given up and reported as `.retriesExhausted`.
        public var maxAttempts = 10
        public var initialBackoff: Duration = .milliseconds(200)
        public var maxBackoff: Duration = .seconds(30)
        /// The longest `Retry-After` honoured; a longer one is waited for this long.
        public var maxRetryAfter: Duration = .seconds(300)
        /// Deadline of one attempt: connecting (AsyncHTTPClient keeps trying to connect until it), the request and the
        /// answer.
        public var requestTimeout: Duration = .seconds(30)
        /// Told of every record the server refused and every batch given up; called on the client's background task.
        public var onError: (@Sendable (TallyClientError) -> Void)?
        public var logger = Logger(label: "tally-client")

        public init(baseURL: String, apiKey: String, tenantID: String? = nil) {
            self.baseURL = baseURL
            self.apiKey = apiKey
            self.tenantID = tenantID
        }
    }

    /// What the client did so far.
    public struct Statistics: Sendable, Equatable {
        /// Records `record(_:)` accepted.
        public var accepted = 0
        /// Records `record(_:)` refused because the queue was full.
        public var dropped = 0
        /// Records held now (queued or being sent).
        public var queued = 0
        /// Records the server stored.
        public var stored = 0
        /// Records the server already held (same tenant and `request_id`).
        public var duplicates = 0
        /// Records the server refused (one by one, or with their whole batch).
        public var rejected = 0
        /// Records given up after `maxAttempts` attempts.
        public var failed = 0
        /// Batches delivered (answered 2xx or refused).
        public var batches = 0
        /// Attempts that were retried.
        public var retries = 0
    }

    private let pipeline: Pipeline
    private let worker: Task<Void, Never>
    private let ownsHTTPClient: Bool
    private let shutDown = Mutex(false)

    /// A client sending with `httpClient` (which the caller shuts down), or with its own.
    public init(configuration: Configuration, httpClient: HTTPClient? = nil) {
        var configuration = configuration
        configuration.batchSize = min(max(1, configuration.batchSize), 1000)
        configuration.maxQueuedRecords = max(1, configuration.maxQueuedRecords)
        configuration.maxAttempts = max(1, configuration.maxAttempts)
        ownsHTTPClient = httpClient == nil
        let http = httpClient ?? HTTPClient(eventLoopGroupProvider: .singleton)
        let pipeline = Pipeline(configuration: configuration, http: http)
        self.pipeline = pipeline
        worker = Task { await pipeline.run() }
    }

    /// Queues `record` for sending; false when the queue is full (the record is dropped and counted) or the client
    /// is shut down.
    @discardableResult
    public func record(_ record: TallyRecord) -> Bool { pipeline.enqueue(record) }

    /// Returns once every record accepted before the call was delivered or given up (and reported).
    public func flush() async { await pipeline.flush() }

    /// Flushes, then stops the background task and closes the HTTP client (when the client made it). Records
    /// offered afterwards are refused. Calling it again waits for the first call's end.
    public func shutdown() async {
        pipeline.close()
        await worker.value
        let first = shutDown.withLock { done in
            defer { done = true }
            return !done
        }
        if first && ownsHTTPClient { try? await pipeline.http.shutdown() }
    }

    public var statistics: Statistics { pipeline.statistics }
}

/// The queue, its background sender and their shared state (one `Mutex`).
final class Pipeline: Sendable {
    struct State {
        var queue: [TallyRecord] = []
        var head = 0
        var inFlight = 0
        var firstQueuedAt: ContinuousClock.Instant?
        /// Records accepted so far (each record's sequence number is the count when it was accepted).
        var acceptedSeq = 0
        /// Records whose batch was delivered or given up (in acceptance order: one sender, first in first out).
        var settled = 0
        var flushTarget = 0
        var flushWaiters: [(target: Int, continuation: CheckedContinuation<Void, Never>)] = []
        var closing = false
        var waiter: CheckedContinuation<Void, Never>?
        var rung = false
        var stats = TallyClient.Statistics()

        var waiting: Int { queue.count - head }
    }

    enum Step {
        case send([TallyRecord])
        case wait(ContinuousClock.Instant?)
        case stop
    }

    let configuration: TallyClient.Configuration
    let http: HTTPClient
    private let state = Mutex(State())
    private let clock = ContinuousClock()
    private let url: String

    init(configuration: TallyClient.Configuration, http: HTTPClient) {
        self.configuration = configuration
        self.http = http
        var base = configuration.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        url = base + "/api/v1/analytics/records?on_error=skip"
    }

    var statistics: TallyClient.Statistics {
        state.withLock { s in
            var stats = s.stats
            stats.queued = s.waiting + s.inFlight
            return stats
        }
    }

    func enqueue(_ record: TallyRecord) -> Bool {
        let now = clock.now
        let (accepted, ring) = state.withLock { s -> (Bool, Bool) in
            if s.closing { return (false, false) }
            guard s.waiting + s.inFlight < configuration.maxQueuedRecords else {
                s.stats.dropped += 1
                return (false, false)
            }
            s.queue.append(record)
            s.acceptedSeq += 1
            s.stats.accepted += 1
            if s.waiting == 1 { s.firstQueuedAt = now }
            return (true, s.waiting == 1 || s.waiting == configuration.batchSize)
        }
        if ring { self.ring() }
        return accepted
    }

    func flush() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = state.withLock { s -> Bool in
                let target = s.acceptedSeq
                if s.settled >= target { return true }
                s.flushWaiters.append((target, c))
                s.flushTarget = max(s.flushTarget, target)
                return false
            }
            if done { c.resume() } else { ring() }
        }
    }

    func close() {
        state.withLock { $0.closing = true }
        ring()
    }

    /// The background sender: one batch at a time, until closed and empty.
    func run() async {
        while true {
            let now = clock.now
            let step = state.withLock { s -> Step in
                if s.waiting > 0 {
                    let due = s.firstQueuedAt.map { $0 + configuration.linger } ?? now
                    if s.waiting >= configuration.batchSize || s.closing || s.flushTarget > s.settled || now >= due {
                        let n = min(configuration.batchSize, s.waiting)
                        let batch = Array(s.queue[s.head..<(s.head + n)])
                        s.head += n
                        s.inFlight = n
                        if s.head == s.queue.count {
                            s.queue.removeAll(keepingCapacity: true)
                            s.head = 0
                        } else if s.head > 4096 {
                            s.queue.removeFirst(s.head)
                            s.head = 0
                        }
                        s.firstQueuedAt = s.waiting > 0 ? now : nil
                        return .send(batch)
                    }
                    return .wait(due)
                }
                return s.closing ? .stop : .wait(nil)
            }
            switch step {
            case .stop:
                return
            case .wait(let deadline):
                await wait(until: deadline)
            case .send(let batch):
                await deliver(batch)
                let ready = state.withLock { s -> [CheckedContinuation<Void, Never>] in
                    s.inFlight = 0
                    s.settled += batch.count
                    let settled = s.settled
                    let ready = s.flushWaiters.filter { $0.target <= settled }.map(\.continuation)
                    s.flushWaiters.removeAll { $0.target <= settled }
                    return ready
                }
                for c in ready { c.resume() }
            }
        }
    }

    /// Sleeps until rung, or until `deadline`.
    private func wait(until deadline: ContinuousClock.Instant?) async {
        let timer = deadline.map { d in
            Task { [clock] in
                do {
                    try await Task.sleep(until: d, clock: clock)
                    self.ring()
                } catch {}
            }
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.rung {
                    s.rung = false
                    return true
                }
                s.waiter = c
                return false
            }
            if now { c.resume() }
        }
        timer?.cancel()
    }

    private func ring() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.rung = true
            return nil
        }
        waiter?.resume()
    }

    // MARK: Delivery

    enum Outcome {
        case delivered(Receipt)
        case refused(status: Int, problemType: String?, detail: String, receipt: Receipt?)
        case retry(failure: String, after: Duration?)
    }

    struct Receipt {
        var inserted = 0
        var duplicates = 0
        /// (line, field, reason) of refused records; lines count from 1.
        var errors: [(line: Int, field: String, reason: String)] = []
        var rejected = 0
    }

    private func deliver(_ batch: [TallyRecord]) async {
        var body = ByteBuffer(bytes: NDJSON.encode(batch, defaultTenant: configuration.tenantID))
        var compressed = false
        if configuration.compress, let zipped = try? body.compress(with: .gzip()) {
            body = zipped
            compressed = true
        }
        let key = "tally-swift-" + UUID().uuidString.lowercased()
        var attempt = 0
        while true {
            attempt += 1
            let outcome = await send(body, compressed: compressed, idempotencyKey: key)
            switch outcome {
            case .delivered(let receipt):
                settle(batch, receipt: receipt, batchRejected: nil)
                return
            case .refused(let status, let type, let detail, let receipt):
                settle(batch, receipt: receipt, batchRejected: receipt == nil ? .batchRejected(status: status, problemType: type, detail: detail, records: batch.count) : nil)
                return
            case .retry(let failure, let after):
                guard attempt < configuration.maxAttempts else {
                    state.withLock { $0.stats.failed += batch.count }
                    configuration.logger.error("tally-client: gave up a batch", metadata: ["records": "\(batch.count)", "attempts": "\(attempt)", "failure": "\(failure)"])
                    configuration.onError?(.retriesExhausted(attempts: attempt, lastFailure: failure, records: batch.count))
                    return
                }
                state.withLock { $0.stats.retries += 1 }
                let delay = after ?? backoff(attempt: attempt)
                configuration.logger.debug("tally-client: retrying a batch", metadata: ["attempt": "\(attempt)", "failure": "\(failure)", "delay": "\(delay)"])
                try? await Task.sleep(for: delay)
            }
        }
    }

    /// Full jitter: a random wait between 0 and `initialBackoff` x 2^(attempt-1), at most `maxBackoff`.
    func backoff(attempt: Int) -> Duration {
        let cap = min(seconds(configuration.maxBackoff), seconds(configuration.initialBackoff) * pow(2, Double(min(attempt - 1, 30))))
        return .nanoseconds(Int64(Double.random(in: 0...cap) * 1e9))
    }

    private func settle(_ batch: [TallyRecord], receipt: Receipt?, batchRejected: TallyClientError?) {
        let refused = (receipt?.errors ?? []).compactMap { e -> RejectedRecord? in
            guard e.line >= 1 && e.line <= batch.count else { return nil }
            return RejectedRecord(requestID: batch[e.line - 1].requestID, field: e.field, reason: e.reason)
        }
        state.withLock { s in
            s.stats.batches += 1
            if let receipt {
                s.stats.stored += receipt.inserted
                s.stats.duplicates += receipt.duplicates
                s.stats.rejected += receipt.rejected
            } else {
                s.stats.rejected += batch.count
            }
        }
        if !refused.isEmpty { configuration.onError?(.recordsRejected(refused)) }
        if let batchRejected {
            configuration.logger.error("tally-client: the server refused a batch", metadata: ["error": "\(batchRejected)"])
            configuration.onError?(batchRejected)
        }
    }

    private func send(_ body: ByteBuffer, compressed: Bool, idempotencyKey: String) async -> Outcome {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer " + configuration.apiKey)
        request.headers.add(name: "Content-Type", value: "application/x-ndjson")
        if compressed { request.headers.add(name: "Content-Encoding", value: "gzip") }
        request.headers.add(name: "Idempotency-Key", value: idempotencyKey)
        request.headers.add(name: "User-Agent", value: "tally-client-swift/1")
        request.body = .bytes(body)
        let status: Int
        let answer: ByteBuffer
        let retryAfter: String?
        do {
            let timeout = TimeAmount.nanoseconds(Int64(seconds(configuration.requestTimeout) * 1e9))
            let response = try await http.execute(request, timeout: timeout)
            status = Int(response.status.code)
            retryAfter = response.headers.first(name: "Retry-After")
            answer = try await response.body.collect(upTo: 4 << 20)
        } catch {
            return .retry(failure: "\(error)", after: nil)
        }
        let document = (try? JSONSerialization.jsonObject(with: Data(answer.readableBytesView))) as? [String: Any]
        switch status {
        case 200..<300:
            return .delivered(Self.receipt(document) ?? Receipt())
        case 408, 409, 429, 500...:
            let after = retryAfter.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }.map { Duration.seconds(max(0, $0)) }
            return .retry(failure: "HTTP \(status) \(document?["detail"] as? String ?? "")", after: after.map { min($0, configuration.maxRetryAfter) })
        default:
            return .refused(status: status, problemType: document?["type"] as? String, detail: document?["detail"] as? String ?? "",
                            receipt: document?["rejected"] == nil ? nil : Self.receipt(document))
        }
    }

    /// The per-record receipt of `POST records` (also inside a 422 `invalid-records` problem).
    static func receipt(_ document: [String: Any]?) -> Receipt? {
        guard let document else { return nil }
        var r = Receipt()
        r.inserted = (document["inserted"] as? Int) ?? 0
        r.duplicates = ((document["duplicates"] as? [String: Any])?["count"] as? Int) ?? 0
        if let rejected = document["rejected"] as? [String: Any] {
            r.rejected = (rejected["count"] as? Int) ?? 0
            for e in (rejected["errors"] as? [[String: Any]]) ?? [] {
                r.errors.append((line: e["line"] as? Int ?? 0, field: e["field"] as? String ?? "", reason: e["reason"] as? String ?? ""))
            }
        }
        return r
    }

    private func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
