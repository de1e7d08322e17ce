import TallyQuery
import TallyStore
import TallyText

/// The width of the buckets of a series: UTC hours or UTC days.
public enum Resolution: String, Sendable, Hashable, CaseIterable {
    case hour
    case day

    /// The query bucket of this resolution.
    public var bucket: Query.Bucket {
        switch self {
        case .hour: .hour
        case .day: .day
        }
    }

    /// Bucket width in milliseconds.
    public var millis: Int64 { bucket.millis }
}
