import Logging
import ServiceLifecycle

/// Runs `pass` now and then every `interval` until graceful shutdown (or cancellation) of the calling service.
///
/// A pass that throws is logged as `failure` at `level` and the next pass runs on schedule: a background job never
/// dies of one bad pass. Graceful shutdown cancels the loop, so a sleeping job stops at once; a pass in progress
/// sees the cancellation at its next suspension point (work already on the blocking pool, such as a catalog
/// transaction, finishes first).
func runPeriodically(
    every interval: Duration, logger: Logger, failure: Logger.Message, level: Logger.Level = .error,
    _ pass: @escaping @Sendable () async throws -> Void
) async {
    await cancelWhenGracefulShutdown {
        while !Task.isCancelled {
            do {
                try await pass()
            } catch where Task.isCancelled {
                return
            } catch {
                logger.log(level: level, failure, metadata: ["error": "\(error)"])
            }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
}
