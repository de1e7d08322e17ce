#if canImport(Glibc)
import Glibc
#endif

/// Finds where one unit of input ends (a CSV record, an NDJSON line, a JSON array element) across chunk
/// boundaries, without parsing it. The streaming parser uses it to complete a record that started in an
/// earlier chunk and to skip an oversized one; the whole-body parser uses it to find array elements.
///
/// Its notion of a unit's extent is the tokenizers' notion: a CSV record ends at the first line feed
/// outside quotes, every `"` toggling (valid RFC 4180 quoting and doubled quotes keep that parity);
/// a JSON value ends where its brackets balance outside strings.
struct UnitScanner: Sendable {
    enum Mode: UInt8, Sendable {
        case line, csv, jsonValue
    }

    let mode: Mode
    /// Line feeds seen so far in the unit.
    private(set) var newlines = 0
    private var inQuotes = false
    private var escape = false
    private var depth = 0
    private var started = false
    private var scalar = false

    init(_ mode: Mode) { self.mode = mode }

    init(for format: InputFormat) {
        switch format {
        case .csv: mode = .csv
        case .ndjson: mode = .line
        case .json: mode = .jsonValue
        }
    }

    /// True when the unit's extent includes a terminating line feed that is not part of its size.
    var endsWithLineFeed: Bool { mode != .jsonValue }

    /// Scans `p[from...]`. Returns the index just past the unit (past its line feed for lines and CSV
    /// records; past the closing bracket or quote for JSON, or at the byte that ends a JSON scalar),
    /// or nil when `p` ends first; the state then carries over to the next call.
    mutating func scan(_ p: UnsafeRawBufferPointer, from: Int) -> Int? {
        let n = p.count
        var i = from
        switch mode {
        case .line:
            guard i < n, let base = p.baseAddress,
                  let hit = memchr(base + i, 0x0A, n - i)
            else { return nil }
            newlines += 1
            return UnsafeRawPointer(hit) - base + 1
        case .csv:
            var q = inQuotes
            defer { inQuotes = q }
            while i < n {
                let c = p[i]
                if c == 0x22 {
                    q.toggle()
                } else if c == 0x0A {
                    newlines += 1
                    if !q { return i + 1 }
                }
                i += 1
            }
            return nil
        case .jsonValue:
            if !started {
                guard i < n else { return nil }
                started = true
                switch p[i] {
                case 0x7B, 0x5B: depth = 1
                case 0x22: inQuotes = true
                default: scalar = true
                }
                i += 1
            }
            while i < n {
                let c = p[i]
                if scalar {
                    if JSONLexer.isSpace(c) || c == 0x2C || c == 0x5D || c == 0x7D { return i }
                } else if inQuotes {
                    if escape {
                        escape = false
                    } else if c == 0x5C {
                        escape = true
                    } else if c == 0x22 {
                        inQuotes = false
                        if depth == 0 { return i + 1 }
                    } else if c == 0x0A {
                        newlines += 1
                    }
                } else {
                    switch c {
                    case 0x22: inQuotes = true
                    case 0x7B, 0x5B: depth += 1
                    case 0x7D, 0x5D:
                        depth -= 1
                        if depth == 0 { return i + 1 }
                    case 0x0A: newlines += 1
                    default: break
                    }
                }
                i += 1
            }
            return nil
        }
    }
}

/// Number of line feeds in `p`.
func countLineFeeds(_ p: UnsafeRawBufferPointer) -> Int {
    guard var cur = p.baseAddress else { return 0 }
    let end = cur + p.count
    var n = 0
    while cur < end, let hit = memchr(cur, 0x0A, end - cur) {
        n += 1
        cur = UnsafeRawPointer(hit) + 1
    }
    return n
}
