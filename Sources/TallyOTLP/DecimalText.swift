/// Plain decimal text (no exponent) for the `cost_cents` of a span, from a number or from decimal text.
///
/// Spans carry costs as doubles (`gen_ai.usage.cost`, dollars) or as text; the data contract wants an exact
/// decimal of cents with at most 7 fraction digits. A double is taken by its shortest round-trip text (Swift's
/// `description`: `0.0123` for 0.0123, not its binary expansion 0.01229999...), so the decimal the span's producer
/// wrote is the decimal stored; it is then moved by a power of ten (dollars to cents) as text, exactly, and rounded
/// half up to 7 fraction digits.
enum DecimalText {
    /// `value * 10^shift` as plain decimal text, nil for a negative, infinite or NaN value.
    static func plain(_ value: Double, shift: Int = 0) -> String? {
        guard value.isFinite, value >= 0 else { return nil }
        return plain(value.description, shift: shift)
    }

    /// The decimal `text` (digits, an optional fraction, an optional exponent `e±N`) times `10^shift`, rounded half
    /// up to 7 fraction digits; nil when `text` is not such a non-negative decimal.
    static func plain(_ text: String, shift: Int = 0) -> String? {
        var digits: [UInt8] = []
        var pointAt: Int?
        var exponent = 0
        var bytes = Array(text.utf8)[...]
        if bytes.first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
        var sawDigit = false
        while let c = bytes.first {
            if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                digits.append(c - UInt8(ascii: "0"))
                sawDigit = true
            } else if c == UInt8(ascii: "."), pointAt == nil {
                pointAt = digits.count
            } else if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                guard let e = Int(String(decoding: bytes.dropFirst(), as: UTF8.self)), abs(e) < 400 else { return nil }
                exponent = e
                bytes = []
                break
            } else {
                return nil
            }
            bytes = bytes.dropFirst()
        }
        guard sawDigit else { return nil }
        // value = digits * 10^(exponent + shift - fractionDigits)
        let scale = exponent + shift - (digits.count - (pointAt ?? digits.count))
        var integer: [UInt8]
        var fraction: [UInt8]
        if scale >= 0 {
            integer = digits + [UInt8](repeating: 0, count: scale)
            fraction = []
        } else {
            let f = -scale
            if f >= digits.count {
                integer = [0]
                fraction = [UInt8](repeating: 0, count: f - digits.count) + digits
            } else {
                integer = Array(digits[..<(digits.count - f)])
                fraction = Array(digits[(digits.count - f)...])
            }
        }
        if fraction.count > 7 {
            let roundUp = fraction[7] >= 5
            fraction = Array(fraction[..<7])
            if roundUp {
                var all = integer + fraction
                var i = all.count - 1
                while i >= 0 {
                    if all[i] == 9 { all[i] = 0; i -= 1 } else { all[i] += 1; break }
                }
                if i < 0 { all.insert(1, at: 0) }
                integer = Array(all[..<(all.count - 7)])
                fraction = Array(all[(all.count - 7)...])
            }
        }
        while integer.count > 1 && integer[0] == 0 { integer.removeFirst() }
        while fraction.last == 0 { fraction.removeLast() }
        var out = integer.map { Character(Unicode.Scalar($0 + UInt8(ascii: "0"))) }.reduce(into: "") { $0.append($1) }
        if !fraction.isEmpty {
            out += "."
            for d in fraction { out.append(Character(Unicode.Scalar(d + UInt8(ascii: "0")))) }
        }
        return out
    }
}
