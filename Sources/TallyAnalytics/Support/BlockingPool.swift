import TallyStore

/// Runs blocking work (store appends that wait for fsync, scans, SQLite) on its own threads, off Swift's
/// cooperative pool.
///
/// `Store.append` blocks until its group commit is durable: run on the cooperative pool, two of those would
/// stall every task of the process on a 2-core machine, and a dispatch queue of CPU width would let only two
/// appends share a commit. Workers are started on demand up to `maxThreads` and leave after a few idle seconds.
public final class BlockingPool: @unchecked Sendable {
    // @unchecked: `jobs`, `idle` and `threads` are only touched under `lock`.
    private let lock = ConditionLock()
    private var jobs: [@Sendable () -> Void] = []
    private var idle = 0
    private var threads = 0
    /// Most worker threads.
    public let maxThreads: Int
    private let idleSeconds: Double
    private let name: String

    /// A pool of at most `maxThreads` workers named `name`.
    public init(name: String = "tally-blocking", maxThreads: Int = 32, idleSeconds: Double = 5) {
        self.name = name
        self.maxThreads = max(1, maxThreads)
        self.idleSeconds = idleSeconds
    }

    /// Runs `body` on a worker and returns its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit { continuation.resume(with: Result { try body() }) }
        }
    }

    private func submit(_ job: @escaping @Sendable () -> Void) {
        let spawn = lock.withLock { () -> Bool in
            jobs.append(job)
            if idle > 0 { lock.broadcast() }
            // A new worker when the waiting jobs outnumber the idle workers (appends block for a whole commit).
            guard jobs.count > idle && threads < maxThreads else { return false }
            threads += 1
            return true
        }
        if spawn { startThread(name: name) { [self] in work() } }
    }

    private func work() {
        lock.lock()
        while true {
            if !jobs.isEmpty {
                let job = jobs.removeFirst()
                lock.unlock()
                job()
                lock.lock()
                continue
            }
            idle += 1
            let woken = lock.wait(seconds: idleSeconds)
            idle -= 1
            if !woken && jobs.isEmpty {
                threads -= 1
                lock.unlock()
                return
            }
        }
    }
}
