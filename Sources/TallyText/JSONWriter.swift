/// A value that writes itself as JSON.
public protocol JSONWritable {
    /// Writes this value (one JSON value) into `json`.
    func write(to json: inout JSONWriter)
}

extension JSONWritable {
    /// This value as UTF-8 JSON bytes.
    public var jsonBytes: [UInt8] {
        var w = JSONWriter()
        write(to: &w)
        return w.bytes
    }
}

/// A small, fast JSON writer that keeps members in the order they are written.
///
/// Responses are built with it rather than `JSONEncoder`: Foundation's encoder on Linux neither keeps member
/// order nor is cheap (an hourly month series spent most of its time there), and money and times have one
/// exact textual form here anyway.
public struct JSONWriter {
    /// The bytes written so far.
    public private(set) var bytes: [UInt8] = []
    /// Whether the next value is the first of its container (or follows a key): no comma before it.
    private var first = true

    /// An empty writer.
    public init(capacity: Int = 1024) {
        bytes.reserveCapacity(capacity)
    }

    private mutating func comma() {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
    }

    // MARK: Containers

    /// Writes `{`, the members `body` writes, and `}`.
    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        comma()
        bytes.append(UInt8(ascii: "{"))
        first = true
        body(&self)
        bytes.append(UInt8(ascii: "}"))
        first = false
    }

    /// Writes `[`, the elements `body` writes, and `]`.
    public mutating func array(_ body: (inout JSONWriter) -> Void) {
        comma()
        bytes.append(UInt8(ascii: "["))
        first = true
        body(&self)
        bytes.append(UInt8(ascii: "]"))
        first = false
    }

    /// Writes an array of `items`.
    public mutating func array<S: Sequence>(_ items: S) where S.Element: JSONWritable {
        array { w in for item in items { item.write(to: &w) } }
    }

    /// Writes a member name; the next value written is its value.
    public mutating func key(_ name: String) {
        comma()
        quoted(name)
        bytes.append(UInt8(ascii: ":"))
        first = true
    }

    // MARK: Values

    /// `null`.
    public mutating func null() {
        comma()
        bytes.append(contentsOf: [0x6E, 0x75, 0x6C, 0x6C])
    }

    /// `true` or `false`.
    public mutating func bool(_ v: Bool) {
        comma()
        let literal: StaticString = v ? "true" : "false"
        literal.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// An integer.
    public mutating func int<I: BinaryInteger>(_ v: I) {
        comma()
        appendDecimal(Int64(v))
    }

    /// A finite number in its shortest exact form; `null` when not finite.
    public mutating func double(_ v: Double) {
        guard v.isFinite else { return null() }
        comma()
        bytes.append(contentsOf: v.description.utf8)
    }

    /// `s` as a JSON string literal (quoted and escaped as `string(_:)` writes it), for text assembled by hand.
    public static func literal(_ s: String) -> String {
        var w = JSONWriter(capacity: s.utf8.count + 2)
        w.string(s)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// A string, escaped.
    public mutating func string(_ s: String) {
        comma()
        quoted(s)
    }

    private mutating func quoted(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        // Most strings (every member name, ids, times) need no escape: copied in one go.
        let plain = s.utf8.withContiguousStorageIfAvailable { utf8 -> Bool in
            guard !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return false }
            bytes.append(contentsOf: utf8)
            return true
        }
        if plain == true {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for c in s.utf8 {
            switch c {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: bytes.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 15)]])
            default: bytes.append(c)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// A `cost_cents` decimal string with 7 fraction digits, from nano-dollars (exact).
    public mutating func cents(_ nanos: Int64) {
        comma()
        appendEncoded(capacity: 32) { p in
            p.storeBytes(of: UInt8(ascii: "\""), as: UInt8.self)
            let n = 1 + TextEncoding.cents(nanos, into: p + 1)
            p.storeBytes(of: UInt8(ascii: "\""), toByteOffset: n, as: UInt8.self)
            return n + 1
        }
    }

    /// An RFC 3339 UTC time string: `2025-05-01T00:00:00Z`, with `.mmm` when it has milliseconds.
    public mutating func time(_ millis: Int64) {
        comma()
        appendEncoded(capacity: 40) { p in
            p.storeBytes(of: UInt8(ascii: "\""), as: UInt8.self)
            let n = 1 + TextEncoding.timestamp(millis, fraction: .whenNonZero, into: p + 1)
            p.storeBytes(of: UInt8(ascii: "\""), toByteOffset: n, as: UInt8.self)
            return n + 1
        }
    }

    /// A value that is already JSON text (e.g. a stored audit snapshot), copied as is; the caller vouches for it.
    public mutating func rawJSON(_ text: String) {
        comma()
        bytes.append(contentsOf: text.utf8)
    }

    /// Any writable value.
    public mutating func value(_ v: some JSONWritable) {
        v.write(to: &self)
    }

    // MARK: Members

    /// `"name": "value"` (or `null`).
    public mutating func field(_ name: String, _ v: String?) {
        key(name)
        if let v { string(v) } else { null() }
    }

    /// `"name": 123` (or `null`).
    public mutating func field<I: BinaryInteger>(_ name: String, _ v: I?) {
        key(name)
        if let v { int(v) } else { null() }
    }

    /// `"name": 1.5` (or `null`).
    public mutating func field(_ name: String, _ v: Double?) {
        key(name)
        if let v { double(v) } else { null() }
    }

    /// `"name": true`.
    public mutating func field(_ name: String, _ v: Bool) {
        key(name)
        bool(v)
    }

    /// `"name": value` (or `null`).
    public mutating func field(_ name: String, _ v: (some JSONWritable)?) {
        key(name)
        if let v { v.write(to: &self) } else { null() }
    }

    /// `"name": [values]`.
    public mutating func field<S: Sequence>(_ name: String, array items: S) where S.Element: JSONWritable {
        key(name)
        array(items)
    }

    /// `"name": [strings]`.
    public mutating func field(_ name: String, strings: [String]) {
        key(name)
        array { w in for v in strings { w.string(v) } }
    }

    /// `"name": [integers]`.
    public mutating func field(_ name: String, integers: [Int]) {
        key(name)
        array { w in for v in integers { w.int(v) } }
    }

    /// `"name": "cost decimal"`.
    public mutating func field(_ name: String, cents nanos: Int64) {
        key(name)
        cents(nanos)
    }

    /// `"name": "RFC 3339 time"` (or `null`).
    public mutating func field(_ name: String, time millis: Int64?) {
        key(name)
        if let millis { time(millis) } else { null() }
    }

    /// `"name": { members }`.
    public mutating func field(_ name: String, object body: (inout JSONWriter) -> Void) {
        key(name)
        object(body)
    }

    // MARK: Bytes

    private mutating func appendDecimal(_ v: Int64) {
        appendEncoded(capacity: 20) { TextEncoding.decimal(v, into: $0) }
    }

    /// Appends what `encode` writes (at most `capacity` bytes) through a stack buffer.
    @inline(__always)
    private mutating func appendEncoded(capacity: Int, _ encode: (UnsafeMutableRawPointer) -> Int) {
        withUnsafeTemporaryAllocation(byteCount: capacity, alignment: 1) { buf in
            let n = encode(buf.baseAddress!)
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buf[..<n]))
        }
    }
}
