import TallyStore
import TallyText

/// An anomaly the synthetic generator planted in its data, so tests and demos know what detection should find.
public struct InjectedAnomaly: Sendable, Hashable, CustomStringConvertible {
    /// What was changed.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// Request volume (hence spend) multiplied by `factor` between `start` and `end`.
        case spike
        /// Tokens per request (hence spend) multiplied by `factor` from `start` on, ramped in over one day.
        case drift
    }

    /// What was changed.
    public var kind: Kind
    /// The tenant whose records were changed.
    public var tenantID: String
    /// First millisecond (UTC) of the anomaly.
    public var start: Int64
    /// End (exclusive) of the anomaly, milliseconds since the epoch.
    public var end: Int64
    /// Multiplier of volume (spike) or tokens (drift).
    public var factor: Double

    /// Creates an anomaly description.
    public init(kind: Kind, tenantID: String, start: Int64, end: Int64, factor: Double) {
        self.kind = kind
        self.tenantID = tenantID
        self.start = start
        self.end = end
        self.factor = factor
    }

    /// One line, e.g. `spike x2.00 (volume) tnt_3fa9c2d1 2025-05-08T00:00:00Z..2025-05-11T00:00:00Z`.
    public var description: String {
        let what = kind == .spike ? "volume" : "tokens"
        let f = Int((factor * 100).rounded())
        return "\(kind.rawValue) x\(f / 100).\(f % 100 < 10 ? "0" : "")\(f % 100) (\(what)) \(tenantID) "
            + "\(Timestamp.formatSeconds(start))..\(Timestamp.formatSeconds(end))"
    }
}
