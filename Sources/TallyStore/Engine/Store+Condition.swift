import Synchronization

/// What a store's operator must know about its state, beyond counts: health maps it to a status.
public struct StoreCondition: Sendable {
    /// Set while the WAL refuses writes because a write or sync failed (a full disk, an I/O error). Writes resume
    /// by themselves once the log can be reopened (`Store.recoverWAL()`, tried on every append and every second).
    public var walFailure: StoreError?
    /// WAL damage found by replay and still recorded in `quarantine/` (or found by a read-only open): acknowledged
    /// batches that are lost. Stays until an operator removes the loss records (docs/RELIABILITY.md).
    public var walLosses: [WALLoss]

    /// Whether writes are refused.
    public var failed: Bool { walFailure != nil }
    /// Whether acknowledged data is known to be lost.
    public var degraded: Bool { !walLosses.isEmpty }
    /// Acknowledged batches lost to WAL damage (lower bound when a loss is not exact).
    public var lostBatches: Int { walLosses.reduce(0) { $0 + $1.batches } }
    /// Acknowledged records lost to WAL damage (lower bound when a loss is not exact).
    public var lostRecords: Int { walLosses.reduce(0) { $0 + $1.records } }
}

extension Store {
    /// The store's failed and degraded state now: the WAL's failure, and the WAL losses recorded in `quarantine/`
    /// (read afresh, so removing a loss record clears it without a restart).
    public func condition() -> StoreCondition {
        let failure = published.withLock { $0.walFailure }
        var losses = WALLoss.recorded(in: quarantineDirectory)
        for loss in unrecordedLosses where losses[loss.recordName] == nil { losses[loss.recordName] = loss }
        return StoreCondition(walFailure: failure, walLosses: losses.sorted { $0.key < $1.key }.map(\.value))
    }
}
