/// Exact money: `cost_cents` decimals with up to 7 fraction digits <-> integer nano-dollars.
public enum Money {
    /// Nano-dollars in one cent.
    ///
    /// Constants as inlinable computed properties, not stored ones: the per-record parsers and writers inline
    /// them into other modules, where a stored global would cost a lazy-initialisation check per use.
    @inlinable public static var nanosPerCent: Int64 { 10_000_000 }
    /// Largest accepted cost of one record: 1e9 cents (ten million dollars), so sums of billions stay in Int64.
    @inlinable public static var maxNanos: Int64 { 1_000_000_000 * nanosPerCent }

    /// Why a decimal does not parse.
    public enum ParseFailure: Error, Sendable, Equatable {
        case malformed
        case negative
        case tooPrecise
        case tooLarge
    }

    /// Parses a non-negative decimal such as `12.3456789`, `0`, `1e-3` is not accepted (no exponent).
    ///
    /// `@inlinable`: the record parsers in TallyStore call it for every record; inlinable, it compiles into
    /// them as it did when it lived in TallyStore.
    @inlinable
    public static func parseCents(_ b: UnsafeRawBufferPointer) -> Result<Int64, ParseFailure> {
        let n = b.count
        guard n > 0 else { return .failure(.malformed) }
        var i = 0
        if b[0] == 45 {  // '-'
            // "-0" and "-0.000" are zero; anything else negative is an error.
            i = 1
            var allZero = true, any = false
            while i < n {
                let c = b[i]
                if c == 48 { any = true } else if c == 46 { } else if c >= 49 && c <= 57 { allZero = false; any = true } else {
                    return .failure(.malformed)
                }
                i += 1
            }
            return any ? (allZero ? .success(0) : .failure(.negative)) : .failure(.malformed)
        }
        if b[0] == 43 { i = 1 }
        var whole: Int64 = 0
        var digits = 0
        while i < n, b[i] >= 48, b[i] <= 57 {
            guard whole <= maxNanos / nanosPerCent else { return .failure(.tooLarge) }
            whole = whole * 10 + Int64(b[i] - 48)
            digits += 1
            i += 1
        }
        var frac: Int64 = 0
        var fracDigits = 0
        if i < n, b[i] == 46 {
            i += 1
            while i < n, b[i] >= 48, b[i] <= 57 {
                if fracDigits < 7 {
                    frac = frac * 10 + Int64(b[i] - 48)
                } else if b[i] != 48 {
                    return .failure(.tooPrecise)
                }
                fracDigits += 1
                i += 1
            }
            guard fracDigits > 0 else { return .failure(.malformed) }
        }
        guard i == n, digits > 0 || fracDigits > 0 else { return .failure(.malformed) }
        for _ in Swift.min(fracDigits, 7)..<7 { frac *= 10 }
        let (w, o1) = whole.multipliedReportingOverflow(by: nanosPerCent)
        guard !o1, w <= maxNanos - frac else { return .failure(.tooLarge) }
        return .success(w + frac)
    }

    /// Parses a Swift string; see `parseCents(_:)`.
    public static func parseCents(_ s: String) -> Result<Int64, ParseFailure> {
        var s = s
        return s.withUTF8 { parseCents(UnsafeRawBufferPointer($0)) }
    }

    /// Formats nano-dollars as a `cost_cents` decimal with exactly 7 fraction digits, e.g. `12.3400000`.
    public static func formatCents(_ nanos: Int64) -> String {
        TextEncoding.string(capacity: 32) { TextEncoding.cents(nanos, into: $0) }
    }

    /// Formats nano-dollars for people: dollars rounded half away from zero to the cent, with thousands separators,
    /// e.g. `$1,234.57`, `-$0.05`, `$0.00`. Not exact: `formatCents` is.
    public static func formatDollars(_ nanos: Int64) -> String {
        let perCent = nanosPerCent
        let magnitude = nanos.magnitude
        let cents = (magnitude + UInt64(perCent / 2)) / UInt64(perCent)
        let whole = String(cents / 100)
        var grouped = ""
        for (i, c) in whole.enumerated() {
            if i > 0 && (whole.count - i) % 3 == 0 { grouped.append(",") }
            grouped.append(c)
        }
        let fraction = cents % 100
        return (nanos < 0 && cents > 0 ? "-$" : "$") + grouped + (fraction < 10 ? ".0" : ".") + String(fraction)
    }
}
