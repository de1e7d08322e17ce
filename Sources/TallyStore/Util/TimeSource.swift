#if canImport(Glibc)
import Glibc
#endif

/// Where Tally reads the time: wall-clock milliseconds (UTC, for records, expiries and "now" windows) and
/// monotonic seconds (latencies, ages, throttles). The one clock of every layer; services take one, so tests
/// pin time everywhere with `TimeSource(wallMillis:monotonicSeconds:)`.
///
/// Not named `Clock`: that is the standard library's protocol, which every module importing this one would
/// then see shadowed.
public struct TimeSource: Sendable {
    /// Milliseconds since the Unix epoch, UTC.
    public var wallMillis: @Sendable () -> Int64
    /// Seconds since an arbitrary fixed start; never goes back.
    public var monotonicSeconds: @Sendable () -> Double

    /// A time source; each reading defaults to the system's.
    public init(
        wallMillis: @escaping @Sendable () -> Int64 = TimeSource.systemWallMillis,
        monotonicSeconds: @escaping @Sendable () -> Double = TimeSource.systemMonotonicSeconds
    ) {
        self.wallMillis = wallMillis
        self.monotonicSeconds = monotonicSeconds
    }

    /// The system's clocks (`CLOCK_REALTIME`, `CLOCK_MONOTONIC`).
    public static let system = TimeSource()

    /// `CLOCK_REALTIME` in milliseconds.
    ///
    /// A static function besides `system`: the store's append path reads it directly, with no closure call.
    @Sendable
    public static func systemWallMillis() -> Int64 {
        var t = timespec()
        clock_gettime(CLOCK_REALTIME, &t)
        return Int64(t.tv_sec) * 1000 + Int64(t.tv_nsec) / 1_000_000
    }

    /// `CLOCK_MONOTONIC` in seconds.
    @Sendable
    public static func systemMonotonicSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
}
