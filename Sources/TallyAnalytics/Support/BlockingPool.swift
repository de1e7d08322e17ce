import TallyStore

#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work (store appends that wait for fsync, scans, SQLite) on its own threads, off Swift's
/// cooperative pool.
///
/// `Store.append` blocks until its group commit is durable: run on the cooperative pool, two of those would
/// stall every task of the process on a 2-core machine, and a dispatch queue of CPU width would let only two
/// appends share a commit. Workers are started on demand up to `maxThreads` and leave after a few idle seconds.
public final class BlockingPool: @unchecked Sendable {
    // @unchecked: `jobs`, `idle` and `threads` are only touched with `mutex` held.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    private var jobs: [@Sendable () -> Void] = []
    private var head = 0
    private var idle = 0
    private var threads = 0
    /// Most worker threads.
    public let maxThreads: Int
    private let idleSeconds: Int
    private let name: String

    /// A pool of at most `maxThreads` workers named `name`; idle workers leave after `idleSeconds`.
    public init(name: String = "tally-blocking", maxThreads: Int = 32, idleSeconds: Int = 5) {
        self.name = name
        self.maxThreads = max(1, maxThreads)
        self.idleSeconds = max(1, idleSeconds)
        mutex = .allocate(capacity: 1)
        cond = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }

    deinit {
        // Workers hold a strong reference while they run, so none is left here.
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        cond.deallocate()
    }

    /// Runs `body` on a worker and returns its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit { continuation.resume(with: Result { try body() }) }
        }
    }

    private func submit(_ job: @escaping @Sendable () -> Void) {
        pthread_mutex_lock(mutex)
        jobs.append(job)
        let waiting = jobs.count - head
        // One idle worker is enough for one job; start another when the waiting jobs outnumber the idle ones.
        if idle > 0 { pthread_cond_signal(cond) }
        let spawn = waiting > idle && threads < maxThreads
        if spawn { threads += 1 }
        pthread_mutex_unlock(mutex)
        if spawn { startThread(name: name) { [self] in work() } }
    }

    private func work() {
        pthread_mutex_lock(mutex)
        while true {
            if head < jobs.count {
                let job = jobs[head]
                head += 1
                if head == jobs.count {
                    jobs.removeAll(keepingCapacity: true)
                    head = 0
                }
                pthread_mutex_unlock(mutex)
                job()
                pthread_mutex_lock(mutex)
                continue
            }
            idle += 1
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            var deadline = timespec(tv_sec: now.tv_sec + idleSeconds, tv_nsec: now.tv_nsec)
            let rc = pthread_cond_timedwait(cond, mutex, &deadline)
            idle -= 1
            if rc == ETIMEDOUT && head >= jobs.count {
                threads -= 1
                pthread_mutex_unlock(mutex)
                return
            }
        }
    }
}
