import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import TallyAnalytics
import Testing

/// The one pool blocking work runs on: results and errors come back, and cancellation lets the waiter go at once,
/// skips work not yet started, and (for `runToEnd`) waits for borrowed work to stop. The time limit turns a waiter
/// that never comes back into a failure rather than a hung run.
@Suite("blocking pool", .timeLimit(.minutes(1)))
struct BlockingPoolTests {
    struct Boom: Error, Equatable {}

    /// A job that holds the pool's only worker until `release`, and says when it has started.
    final class Gate: Sendable {
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)

        /// Blocks a worker of `pool` until `release` is signalled; returns once the worker holds it.
        func hold(_ pool: BlockingPool) async -> Task<Void, any Error> {
            let task = Task { try await pool.run { [self] in
                started.signal()
                release.wait()
            } }
            await waitStarted()
            return task
        }

        func waitStarted() async {
            await withCheckedContinuation { c in
                DispatchQueue.global().async { [self] in
                    started.wait()
                    c.resume()
                }
            }
        }
    }

    @Test("results and errors come back to the caller")
    func resultsAndErrors() async throws {
        let pool = BlockingPool(maxThreads: 2)
        #expect(try await pool.run { 6 * 7 } == 42)
        await #expect(throws: Boom.self) { try await pool.run { throw Boom() } }
        var borrowed = [1, 2, 3]
        let sum = try await pool.runToEnd { _ in
            borrowed.append(4)
            return borrowed.reduce(0, +)
        }
        #expect(sum == 10)
        #expect(borrowed == [1, 2, 3, 4])
    }

    @Test("a cancelled waiter stops waiting at once; the running work finishes alone")
    func cancelledWaiterLeaves() async throws {
        let pool = BlockingPool(maxThreads: 1)
        let gate = Gate()
        let finished = Atomic(false)
        let waiter = Task {
            try await pool.run {
                gate.started.signal()
                gate.release.wait()
                finished.store(true, ordering: .sequentiallyConsistent)
            }
        }
        await gate.waitStarted()
        waiter.cancel()
        // The work is still blocked on the gate, yet the waiter is already back.
        await #expect(throws: CancellationError.self) { try await waiter.value }
        let finishedValue = finished.load(ordering: .sequentiallyConsistent)
        #expect(!finishedValue)
        gate.release.signal()
        _ = try await pool.run { 0 }  // the one worker is free again once the abandoned work ended
        let finishedLater = finished.load(ordering: .sequentiallyConsistent)
        #expect(finishedLater)
    }

    @Test("work whose task is cancelled before a worker takes it never runs")
    func queuedWorkIsSkipped() async throws {
        let pool = BlockingPool(maxThreads: 1)
        let gate = Gate()
        let blocker = await gate.hold(pool)
        let ran = Atomic(false)
        let queued = Task { try await pool.run { ran.store(true, ordering: .sequentiallyConsistent) } }
        let lent = Task {
            var touched = false
            try await pool.runToEnd { _ in touched = true }
            return touched
        }
        queued.cancel()
        lent.cancel()
        await #expect(throws: CancellationError.self) { try await queued.value }
        await #expect(throws: CancellationError.self) { try await lent.value }
        gate.release.signal()
        try await blocker.value
        _ = try await pool.run { 0 }  // FIFO: the skipped jobs were ahead of this one
        let ranValue = ran.load(ordering: .sequentiallyConsistent)
        #expect(!ranValue)
    }

    @Test("a task cancelled before it calls the pool gets CancellationError and runs nothing")
    func cancelledBeforeCalling() async throws {
        let pool = BlockingPool(maxThreads: 1)
        let ran = Atomic(false)
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await pool.run { ran.store(true, ordering: .sequentiallyConsistent) }
        }
        await #expect(throws: CancellationError.self) { try await task.value }
        _ = try await pool.run { 0 }
        let ranValue = ran.load(ordering: .sequentiallyConsistent)
        #expect(!ranValue)
    }

    @Test("runToEnd waits for borrowed work to end and lets it see the cancellation")
    func runToEndWaitsAndPolls() async throws {
        let pool = BlockingPool(maxThreads: 1)
        let started = DispatchSemaphore(value: 0)
        let steps = Atomic(0)
        let task = Task {
            try await pool.runToEnd { isCancelled in
                started.signal()
                while !isCancelled() {
                    steps.add(1, ordering: .sequentiallyConsistent)
                    usleep(1_000)
                }
                // Still borrowing after the cancellation: the waiter must not be back yet.
                usleep(50_000)
                steps.store(-1, ordering: .sequentiallyConsistent)
                throw CancellationError()
            }
        }
        await withCheckedContinuation { c in
            DispatchQueue.global().async {
                started.wait()
                c.resume()
            }
        }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        let last = steps.load(ordering: .sequentiallyConsistent)
        #expect(last == -1, "returned before the borrowed work ended")
    }
}
