/// RFC 3339 timestamps <-> milliseconds since the epoch (UTC), without Foundation's formatters.
public enum Timestamp {
    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    @inlinable
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The civil date of a day number.
    @inlinable
    public static func civilFromDays(_ z0: Int) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    /// Days in a month of a year.
    @inlinable
    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// How many fraction digits a formatted time has.
    public enum Fraction: Sendable {
        /// Always `.mmm` (records, logs): every time has the same width.
        case milliseconds
        /// `.mmm` only when the time has milliseconds (API answers: `2025-05-01T00:00:00Z`).
        case whenNonZero
        /// Whole seconds, milliseconds dropped (bucket labels).
        case never
    }

    /// Formats as RFC 3339 UTC, `YYYY-MM-DDTHH:MM:SS[.mmm]Z`, with the fraction `fraction` asks for.
    public static func format(_ millis: Int64, fraction: Fraction) -> String {
        TextEncoding.string(capacity: 32) { TextEncoding.timestamp(millis, fraction: fraction, into: $0) }
    }

    /// Formats as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    public static func format(_ millis: Int64) -> String {
        format(millis, fraction: .milliseconds)
    }

    /// Formats as `YYYY-MM-DDTHH:MM:SSZ` (whole seconds, as bucket labels).
    public static func formatSeconds(_ millis: Int64) -> String {
        format(millis, fraction: .never)
    }

    /// Why a timestamp does not parse.
    public enum ParseFailure: Error, Sendable, Equatable {
        case malformed
        case outOfRange
        case subMillisecond
    }

    /// Parses an RFC 3339 date-time (`T` or space separator, `Z` or a numeric offset, up to 9 fraction
    /// digits of which only the first 3 may be non-zero). A bare date `YYYY-MM-DD` is midnight UTC, unless
    /// `allowingBareDate` is false (a record's `created_at` must say its time and offset: a date alone is
    /// too easily a writer's mistake to store as midnight UTC).
    ///
    /// `@inlinable`: the record parsers in TallyStore call it for every record; inlinable, it compiles into
    /// them as it did when it lived in TallyStore.
    @inlinable
    public static func parse(_ b: UnsafeRawBufferPointer, allowingBareDate: Bool = true) -> Result<Int64, ParseFailure> {
        let n = b.count
        @inline(__always) func digit(_ i: Int) -> Int? {
            let c = b[i]
            return c >= 48 && c <= 57 ? Int(c - 48) : nil
        }
        @inline(__always) func num(_ i: Int, _ len: Int) -> Int? {
            var v = 0
            for k in i..<(i + len) { guard let d = digit(k) else { return nil }; v = v * 10 + d }
            return v
        }
        guard n >= 10, b[4] == 45, b[7] == 45,
              let year = num(0, 4), let month = num(5, 2), let day = num(8, 2)
        else { return .failure(.malformed) }
        guard month >= 1, month <= 12, day >= 1, day <= daysInMonth(year: year, month: month) else {
            return .failure(.outOfRange)
        }
        guard year >= 1970, year <= 2200 else { return .failure(.outOfRange) }
        var millis = Int64(daysFromCivil(year: year, month: month, day: day)) * 86_400_000  // ms in a day
        if n == 10 { return allowingBareDate ? .success(millis) : .failure(.malformed) }
        guard n >= 20, b[10] == 84 || b[10] == 116 || b[10] == 32, b[13] == 58, b[16] == 58,
              let hh = num(11, 2), let mm = num(14, 2), let ss = num(17, 2)
        else { return .failure(.malformed) }
        guard hh <= 23, mm <= 59, ss <= 60 else { return .failure(.outOfRange) }
        millis += Int64(hh * 3_600_000 + mm * 60_000 + min(ss, 59) * 1000)
        var i = 19
        if b[i] == 46 {  // '.'
            i += 1
            var frac = 0, digits = 0
            while i < n, let d = digit(i) {
                if digits < 3 { frac = frac * 10 + d } else if d != 0 { return .failure(.subMillisecond) }
                digits += 1
                i += 1
            }
            guard digits >= 1, digits <= 9 else { return .failure(.malformed) }
            while digits < 3 { frac *= 10; digits += 1 }
            millis += Int64(frac)
        }
        guard i < n else { return .failure(.malformed) }
        if b[i] == 90 || b[i] == 122 {  // 'Z'
            i += 1
        } else if b[i] == 43 || b[i] == 45 {  // '+' / '-'
            guard i + 6 == n, b[i + 3] == 58, let oh = num(i + 1, 2), let om = num(i + 4, 2), oh <= 23, om <= 59 else {
                return .failure(.malformed)
            }
            let offset = Int64(oh * 3_600_000 + om * 60_000)
            millis += b[i] == 43 ? -offset : offset
            i += 6
        } else {
            return .failure(.malformed)
        }
        guard i == n else { return .failure(.malformed) }
        return .success(millis)
    }

    /// Parses a Swift string; see `parse(_:)` for the accepted forms.
    public static func parse(_ s: String) -> Result<Int64, ParseFailure> {
        var s = s
        return s.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }
}

/// An RFC 3339 UTC time as API answers and messages write it: whole seconds when it has no milliseconds
/// (`2025-05-01T00:00:00Z`), else with them, as `JSONWriter.time` does.
package func rfc3339(_ millis: Int64) -> String {
    Timestamp.format(millis, fraction: .whenNonZero)
}
