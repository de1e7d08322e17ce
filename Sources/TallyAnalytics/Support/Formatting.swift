import TallyStore

/// Formats a time as RFC 3339 UTC: whole seconds when it has no milliseconds (`2025-05-01T00:00:00Z`).
func rfc3339(_ millis: Int64) -> String {
    millis % 1000 == 0 ? Timestamp.formatSeconds(millis) : Timestamp.format(millis)
}

/// A percentage rounded to two decimals; nil when the base is zero.
package func percent(_ part: Int64, of whole: Int64) -> Double? {
    guard whole != 0 else { return nil }
    return (Double(part) / Double(whole) * 10_000).rounded() / 100
}
