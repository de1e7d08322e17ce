/// The time range a response covers: `from <= created_at < to`, and the bucket width of its series.
public struct Window: Sendable, Equatable, Encodable {
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

    enum CodingKeys: String, CodingKey {
        case from, to, resolution, buckets
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rfc3339(from), forKey: .from)
        try c.encode(rfc3339(to), forKey: .to)
        if let resolution {
            try c.encode(resolution, forKey: .resolution)
            try c.encodeIfPresent(buckets, forKey: .buckets)
        }
    }
}
