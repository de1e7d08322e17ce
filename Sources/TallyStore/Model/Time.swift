/// Milliseconds in an hour and a day; partitions and buckets are UTC.
public enum TimeUnit {
    public static let hourMillis: Int64 = 3_600_000
    public static let dayMillis: Int64 = 86_400_000

    /// Start of the UTC hour that holds `millis`.
    @inlinable
    public static func hourStart(_ millis: Int64) -> Int64 {
        floorDiv(millis, hourMillis) * hourMillis
    }

    /// Start of the UTC day that holds `millis`.
    @inlinable
    public static func dayStart(_ millis: Int64) -> Int64 {
        floorDiv(millis, dayMillis) * dayMillis
    }

    @inlinable
    package static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}
