/// The members of a JSON object located in its bytes, without decoding or re-encoding anything: the proxy edits a
/// provider request or answer in place (adds `stream_options.include_usage`, removes `"usage":null`) so every other
/// byte reaches its destination as the caller wrote it.
struct JSONMembers {
    /// One member: where its key (quotes included) and its value lie in the scanned bytes.
    struct Member {
        var key: Range<Int>
        var value: Range<Int>
    }

    /// Where the object lies (`{` to `}` inclusive).
    let object: Range<Int>
    let members: [Member]

    /// The members of the object that starts at the first non-blank byte at or after `start` in `bytes`; nil when
    /// no well-formed object starts there.
    init?(_ bytes: [UInt8], from start: Int = 0) {
        var i = Self.skipBlank(bytes, start)
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { return nil }
        let open = i
        i += 1
        var found: [Member] = []
        i = Self.skipBlank(bytes, i)
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            object = open..<(i + 1)
            members = []
            return
        }
        while true {
            i = Self.skipBlank(bytes, i)
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\""), let keyEnd = Self.skipString(bytes, i) else { return nil }
            let key = i..<keyEnd
            i = Self.skipBlank(bytes, keyEnd)
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
            i = Self.skipBlank(bytes, i + 1)
            guard let valueEnd = Self.skipValue(bytes, i) else { return nil }
            found.append(Member(key: key, value: i..<valueEnd))
            i = Self.skipBlank(bytes, valueEnd)
            guard i < bytes.count else { return nil }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            guard bytes[i] == UInt8(ascii: "}") else { return nil }
            object = open..<(i + 1)
            members = found
            return
        }
    }

    /// The member whose key is `name` (compared as written: provider keys carry no escapes).
    func member(_ name: String, in bytes: [UInt8]) -> Member? {
        let quoted = Array(("\"" + name + "\"").utf8)
        return members.first { bytes[$0.key].elementsEqual(quoted) }
    }

    /// The bytes of `bytes` without member `index` and the comma that separated it from a neighbour.
    func removing(_ index: Int, from bytes: [UInt8]) -> [UInt8] {
        let cut: Range<Int>
        if index > 0 {
            cut = members[index - 1].value.upperBound..<members[index].value.upperBound
        } else if members.count > 1 {
            cut = members[0].key.lowerBound..<members[1].key.lowerBound
        } else {
            cut = members[0].key.lowerBound..<members[0].value.upperBound
        }
        var out = bytes
        out.removeSubrange(cut)
        return out
    }

    static func skipBlank(_ b: [UInt8], _ start: Int) -> Int {
        var i = start
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        return i
    }

    /// The end of the string that starts (with its quote) at `start`.
    static func skipString(_ b: [UInt8], _ start: Int) -> Int? {
        var i = start + 1
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: "\\"): i += 2
            case UInt8(ascii: "\""): return i + 1
            default: i += 1
            }
        }
        return nil
    }

    /// The end of the value that starts at `start`: a string, object, array, number or literal (nesting counted,
    /// strings skipped, so brackets inside strings do not count).
    static func skipValue(_ b: [UInt8], _ start: Int) -> Int? {
        guard start < b.count else { return nil }
        switch b[start] {
        case UInt8(ascii: "\""):
            return skipString(b, start)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var i = start
            while i < b.count {
                switch b[i] {
                case UInt8(ascii: "\""):
                    guard let end = skipString(b, i) else { return nil }
                    i = end
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default: break
                }
                i += 1
            }
            return nil
        default:
            var i = start
            while i < b.count {
                switch b[i] {
                case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09: return i > start ? i : nil
                default: i += 1
                }
            }
            return i > start ? i : nil
        }
    }
}
