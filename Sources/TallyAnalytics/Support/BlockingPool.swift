import Synchronization
import TallyStore

#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking work (store appends that wait for fsync, scans, SQLite, export files) on its own threads, off
/// Swift's cooperative pool. It is the one place blocking work of the services runs: `Analytics` owns one and
/// shares it with its record store.
///
/// `Store.append` blocks until its group commit is durable: run on the cooperative pool, two of those would
/// stall every task of the process on a 2-core machine, and a dispatch queue of CPU width would let only two
/// appends share a commit. Workers are started on demand up to `maxThreads` and leave after a few idle seconds.
///
/// Both ways in honour task cancellation: work whose task is cancelled before a worker takes it never runs (the
/// waiter gets `CancellationError` at once). They differ once the work runs: `run` lets the waiter go (the work
/// owns everything it touches, so it may finish alone); `runToEnd` lends the caller's state to the work, so it
/// waits for the work to end and lets it poll the cancellation to stop early.
public final class BlockingPool: @unchecked Sendable {
    // @unchecked: `jobs`, `head`, `idle` and `threads` are only touched with `mutex` held.
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
    ///
    /// Cancelled before a worker takes it, `body` never runs; cancelled while it runs, the caller gets
    /// `CancellationError` at once and `body` finishes alone, its result dropped.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await perform(Job(body: { _ in try body() }, abandonWhileRunning: true)).value
    }

    /// Runs `body` on a worker and waits for it to end, even when the task is cancelled meanwhile: `body` may
    /// borrow the caller's state (a file descriptor, a writer, a progress callback), which must outlive it.
    ///
    /// `body` gets whether the task has been cancelled, to poll between steps and stop early (by throwing
    /// `CancellationError`). Cancelled before a worker takes it, `body` never runs.
    public func runToEnd<T>(_ body: (_ isCancelled: () -> Bool) throws -> T) async throws -> T {
        try await withoutActuallyEscaping(body) { body in
            try await perform(Job(body: body, abandonWhileRunning: false)).value
        }
    }

    private func perform<T>(_ job: Job<T>) async throws -> Lent<T> {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if job.wait(continuation) { submit(job.start) }
            }
        } onCancel: {
            job.cancel()
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

extension BlockingPool {
    /// One piece of work and its waiter, resumed exactly once: by the worker with the result, or by the
    /// cancellation with `CancellationError` (while the work is queued, or while it runs when it may be abandoned).
    ///
    /// `@unchecked Sendable`: every field is read and written with `state`'s lock held; `body` may be a closure
    /// lent by `runToEnd`, which is dropped here before the waiter is resumed, so it never outlives the call.
    private final class Job<T>: @unchecked Sendable {
        private enum Phase { case created, queued, running, done }

        // @unchecked: it lives inside `state`'s lock; `body` is only called after being taken out under the lock.
        private struct State: @unchecked Sendable {
            var phase = Phase.created
            var cancelled = false
            var body: ((_ isCancelled: () -> Bool) throws -> T)?
            var waiter: CheckedContinuation<Lent<T>, any Error>?
        }

        private let state: Mutex<State>
        private let abandonWhileRunning: Bool

        init(body: @escaping (_ isCancelled: () -> Bool) throws -> T, abandonWhileRunning: Bool) {
            state = Mutex(State(body: body))
            self.abandonWhileRunning = abandonWhileRunning
        }

        /// Whether the waiter's task has been cancelled.
        var isCancelled: Bool { state.withLock { $0.cancelled } }

        /// Parks the waiter; false (and the waiter resumed with `CancellationError`) when the task is cancelled already.
        func wait(_ waiter: CheckedContinuation<Lent<T>, any Error>) -> Bool {
            let queued = state.withLock { s -> Bool in
                guard !s.cancelled else {
                    s.phase = .done
                    s.body = nil
                    return false
                }
                s.phase = .queued
                s.waiter = waiter
                return true
            }
            if !queued { waiter.resume(throwing: CancellationError()) }
            return queued
        }

        /// The task's cancellation handler, on whatever thread cancelled it.
        func cancel() {
            let waiter = state.withLock { s -> CheckedContinuation<Lent<T>, any Error>? in
                s.cancelled = true
                guard s.phase == .queued || (s.phase == .running && abandonWhileRunning) else { return nil }
                if s.phase == .queued {
                    s.phase = .done
                    s.body = nil
                }
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume(throwing: CancellationError())
        }

        /// A worker: runs the body unless it was cancelled away, then hands the result to the waiter if it still waits.
        @Sendable func start() {
            let result: Result<Lent<T>, any Error>
            do {
                // Scoped so that a lent body is released before the waiter resumes (`withoutActuallyEscaping` checks).
                let body = state.withLock { s -> ((_ isCancelled: () -> Bool) throws -> T)? in
                    guard s.phase == .queued else { return nil }
                    s.phase = .running
                    defer { s.body = nil }
                    return s.body
                }
                guard let body else { return }
                result = Result { Lent(try body { self.isCancelled }) }
            }
            let waiter = state.withLock { s -> CheckedContinuation<Lent<T>, any Error>? in
                s.phase = .done
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume(with: result)
        }
    }

    /// A result handed from a worker to its waiter.
    ///
    /// `@unchecked Sendable`: `runToEnd` results need not be `Sendable`; the waiter is suspended until the
    /// worker hands the value over and the worker never touches it again, so it is used from one thread at a time.
    private struct Lent<Value>: @unchecked Sendable {
        let value: Value
        init(_ value: Value) { self.value = value }
    }
}
