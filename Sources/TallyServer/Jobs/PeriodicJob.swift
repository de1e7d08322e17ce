import Logging
import ServiceLifecycle
import TallyAnalytics

/// Runs `pass` now and then every `interval` until graceful shutdown (or cancellation) of the calling service.
///
/// With a `lease`, each pass first takes or renews it and runs only when this node holds it (one node of a deployment
/// runs the job; `JobLease`); taking it over from another node is logged, and graceful shutdown releases it.
///
/// A pass that throws is logged as `failure` at `level` and the next pass runs on schedule: a background job never
/// dies of one bad pass. Graceful shutdown cancels the loop, so a sleeping job stops at once; a pass in progress
/// sees the cancellation at its next suspension point (work already on the blocking pool, such as a catalog
/// transaction, finishes first).
func runPeriodically(
    every interval: Duration, lease: JobLease? = nil, logger: Logger, failure: Logger.Message, level: Logger.Level = .error,
    _ pass: @escaping @Sendable () async throws -> Void
) async {
    await cancelWhenGracefulShutdown {
        var holding = false
        while !Task.isCancelled {
            do {
                if let lease {
                    let held = try await lease.take()
                    if held != holding {
                        logger.info("job lease \(held ? "taken: this node runs the job" : "lost: another node runs the job")",
                                    metadata: ["lease": "\(lease.name)"])
                        holding = held
                    }
                }
                if lease == nil || holding { try await pass() }
            } catch where Task.isCancelled {
                return
            } catch {
                logger.log(level: level, failure, metadata: ["error": "\(error)"])
            }
            do { try await Task.sleep(for: interval) } catch { return }
        }
    }
    if let lease { await lease.release() }
}

/// A background job of `tally serve` as a service: `pass` at start and then every `interval` (`runPeriodically`),
/// until graceful shutdown. Each job is a domain function; the server only schedules it.
public struct PeriodicJob: Service {
    /// What the job does, for logs and listings.
    public let name: String
    let interval: Duration
    /// Taken before each pass: one node of a deployment runs the job (nil: every node runs it, e.g. its own spool).
    let lease: JobLease?
    let logger: Logger
    let failure: Logger.Message
    let level: Logger.Level
    let pass: @Sendable () async throws -> Void

    /// Runs passes until graceful shutdown.
    public func run() async {
        await runPeriodically(every: interval, lease: lease, logger: logger, failure: failure, level: level, pass)
    }

    /// Anomaly detection over every tenant (`Analytics.detectAllTenants`), every `interval`
    /// (`tally serve --detect-interval`); each pass logs what it created, resolved and opened.
    public static func anomalyDetection(analytics: Analytics, interval: Duration, lease: JobLease? = nil, logger: Logger) -> PeriodicJob {
        PeriodicJob(name: "anomaly detection", interval: interval, lease: lease, logger: logger, failure: "anomaly detection failed", level: .error) {
            let report = try await analytics.detectAllTenants()
            let created = report.tenants.reduce(0) { $0 + $1.changes.created.count }
            let resolved = report.tenants.reduce(0) { $0 + $1.changes.resolved.count }
            let incidents = report.tenants.reduce(0) { $0 + $1.changes.incidentsOpened.count }
            logger.info("anomaly detection ran", metadata: [
                "tenants": "\(report.tenants.count)", "created": "\(created)", "resolved": "\(resolved)",
                "incidents_opened": "\(incidents)",
            ])
        }
    }

    /// Deletes the files of expired exports and fails exports an earlier process left unfinished
    /// (`Analytics.sweepExports`), every `interval` (a minute in `tally serve`).
    public static func exportSweep(analytics: Analytics, interval: Duration, lease: JobLease? = nil, logger: Logger) -> PeriodicJob {
        PeriodicJob(name: "export sweep", interval: interval, lease: lease, logger: logger, failure: "export sweep failed", level: .warning) {
            _ = try await analytics.blocking { try analytics.sweepExports(now: analytics.now) }
        }
    }

    /// Deletes policy reservations released or expired longer ago than the retention (`Analytics.purgeReservations`),
    /// every `interval` (an hour in `tally serve`), so the table stays small while no new reservation purges it.
    public static func reservationPurge(analytics: Analytics, interval: Duration, lease: JobLease? = nil, logger: Logger) -> PeriodicJob {
        PeriodicJob(name: "reservation purge", interval: interval, lease: lease, logger: logger, failure: "reservation purge failed", level: .warning) {
            _ = try await analytics.blocking { try analytics.purgeReservations(now: analytics.now) }
        }
    }

    /// Stores the proxy's spooled records (`ProxyRecorder.drain`) every `interval`; a pass that finds the store still
    /// failing leaves them for the next one.
    public static func proxySpool(recorder: ProxyRecorder, interval: Duration, logger: Logger) -> PeriodicJob {
        // Every node drains its own spool: no lease.
        PeriodicJob(name: "proxy spool", interval: interval, lease: nil, logger: logger, failure: "proxy spool drain failed", level: .warning) {
            let report = try await recorder.drain()
            if report.read > 0 {
                logger.info("proxy spool drained", metadata: [
                    "read": "\(report.read)", "inserted": "\(report.inserted)", "duplicates": "\(report.duplicates)",
                    "rejected": "\(report.rejected)",
                ])
            }
        }
    }
}
