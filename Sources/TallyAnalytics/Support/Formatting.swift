/// A percentage rounded to two decimals; nil when the base is zero.
package func percent(_ part: Int64, of whole: Int64) -> Double? {
    guard whole != 0 else { return nil }
    return (Double(part) / Double(whole) * 10_000).rounded() / 100
}
