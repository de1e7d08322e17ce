import TallyText

/// The time range a response covers: `from <= created_at < to`, and the bucket width of its series.
public struct Window: Sendable, Equatable {
    /// Inclusive start, ms UTC.
    public var from: Int64
    /// Exclusive end, ms UTC.
    public var to: Int64
    /// Bucket width of the series, if the response has one.
    public var resolution: Resolution?

    /// A window.
    public init(from: Int64, to: Int64, resolution: Resolution? = nil) {
        self.from = from
        self.to = to
        self.resolution = resolution
    }

    /// Number of buckets (nil without a resolution).
    public var buckets: Int64? { resolution.map { (to - from + $0.millis - 1) / $0.millis } }
}
