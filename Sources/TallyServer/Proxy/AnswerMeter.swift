import Foundation
import NIOCore

/// Reads a provider's answer as it streams to the caller and takes the usage out of it, in bounded memory.
///
/// A JSON answer is copied (up to `maxKeptBytes`) and read once whole. A server-sent event stream is cut into events
/// (a blank line ends one); only events that mention `usage` are decoded. Without `stripInjectedUsage` every byte goes
/// to the caller the moment it arrives; with it (the proxy added `stream_options.include_usage` the caller did not
/// ask for) each event goes once complete, without the `"usage":null` member OpenAI then adds to every chunk and
/// without the final usage-only chunk, so the caller receives what it would have without the addition.
struct AnswerMeter {
    /// The usage read so far.
    private(set) var usage = ProviderUsage()
    /// Whether the answer was too large (or an event too long) to read whole: the usage may be missing.
    private(set) var overflowed = false
    private let isStream: Bool
    private let isJSON: Bool
    private let strip: Bool
    private let maxKeptBytes: Int
    private var kept: [UInt8] = []
    /// Bytes of the event being read.
    private var event: [UInt8] = []
    /// Length of the current line without its `\r`, so a blank line is found across chunk boundaries.
    private var lineLength = 0
    /// The current event grew past `maxKeptBytes`: it is passed on unread up to its end.
    private var skippingEvent = false

    init(contentType: String?, stripInjectedUsage: Bool, maxKeptBytes: Int = 8 << 20) {
        let media = (contentType ?? "").split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        isStream = media == "text/event-stream"
        isJSON = media == "application/json" || media.hasSuffix("+json")
        strip = stripInjectedUsage && isStream
        self.maxKeptBytes = maxKeptBytes
    }

    /// Whether the bytes the caller gets may differ from the provider's (then no `Content-Length` is passed on).
    var rewrites: Bool { strip }

    /// Takes one chunk of the answer; returns the bytes to send to the caller now.
    mutating func take(_ chunk: ByteBuffer) -> ByteBuffer {
        if isJSON {
            if !overflowed {
                if kept.count + chunk.readableBytes <= maxKeptBytes {
                    kept.append(contentsOf: chunk.readableBytesView)
                } else {
                    overflowed = true
                    kept = []
                }
            }
            return chunk
        }
        guard isStream else { return chunk }
        var out = strip ? ByteBuffer() : chunk
        chunk.withUnsafeReadableBytes { raw in
            var start = 0
            for i in 0..<raw.count {
                let b = raw[i]
                if b == 0x0A {
                    if lineLength == 0 {
                        keep(raw[start...i], into: &out)
                        start = i + 1
                        endEvent(into: &out)
                    }
                    lineLength = 0
                } else if b != 0x0D {
                    lineLength += 1
                }
            }
            if start < raw.count { keep(raw[start...], into: &out) }
        }
        return out
    }

    /// The end of the answer: returns the last bytes to send (an unfinished event held back), and reads a JSON answer.
    mutating func finish() -> ByteBuffer? {
        if isJSON, !overflowed, !kept.isEmpty { usage.merge(json: kept) }
        guard strip, !event.isEmpty else { return nil }
        defer { event = [] }
        return ByteBuffer(bytes: event)
    }

    private mutating func keep(_ bytes: Slice<UnsafeRawBufferPointer>, into out: inout ByteBuffer) {
        if skippingEvent {
            if strip { out.writeBytes(bytes) }
            return
        }
        if event.count + bytes.count > maxKeptBytes {
            overflowed = true
            skippingEvent = true
            if strip {
                out.writeBytes(event)
                out.writeBytes(bytes)
            }
            event = []
            return
        }
        event.append(contentsOf: bytes)
    }

    /// A blank line ended the event in `event`: read it, and (when stripping) send it on, edited or not at all.
    private mutating func endEvent(into out: inout ByteBuffer) {
        defer { event.removeAll(keepingCapacity: true) }
        if skippingEvent { skippingEvent = false; return }
        let (data, dataLines) = Self.data(of: event)
        guard let data, Self.mentionsUsage(data) else {
            if strip { out.writeBytes(event) }
            return
        }
        usage.merge(json: data)
        guard strip else { return }
        // Only a single-line `data:` (how OpenAI writes chunks) is edited; anything else goes on as it came.
        guard dataLines.count == 1, let line = dataLines.first, let object = JSONMembers(data),
              let index = object.members.firstIndex(where: { data[$0.key].elementsEqual("\"usage\"".utf8) })
        else {
            out.writeBytes(event)
            return
        }
        let value = data[object.members[index].value]
        if value.elementsEqual("null".utf8) {
            var edited = event
            edited.replaceSubrange(line, with: object.removing(index, from: data))
            out.writeBytes(edited)
        } else if let choices = object.member("choices", in: data), Self.isEmptyArray(data[choices.value]) {
            return  // the usage-only chunk the caller did not ask for
        } else {
            out.writeBytes(event)
        }
    }

    /// The `data:` of an event (its lines joined by `\n`, as the SSE specification says), and where each data line's
    /// value lies in the event.
    static func data(of event: [UInt8]) -> ([UInt8]?, [Range<Int>]) {
        var lines: [Range<Int>] = []
        var i = 0
        while i < event.count {
            var end = i
            while end < event.count, event[end] != 0x0A { end += 1 }
            var lineEnd = end
            if lineEnd > i, event[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            if lineEnd - i >= 5, event[i..<(i + 5)].elementsEqual("data:".utf8) {
                var v = i + 5
                if v < lineEnd, event[v] == 0x20 { v += 1 }
                lines.append(v..<lineEnd)
            }
            i = end + 1
        }
        guard !lines.isEmpty else { return (nil, []) }
        var data: [UInt8] = []
        for (k, r) in lines.enumerated() {
            if k > 0 { data.append(0x0A) }
            data.append(contentsOf: event[r])
        }
        return (data, lines)
    }

    static func mentionsUsage(_ data: [UInt8]) -> Bool {
        let needle = Array("\"usage\"".utf8)
        guard data.count >= needle.count else { return false }
        for i in 0...(data.count - needle.count) where data[i] == needle[0] {
            if data[i..<(i + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }

    static func isEmptyArray(_ v: ArraySlice<UInt8>) -> Bool {
        let inner = v.filter { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }
        return inner.elementsEqual("[]".utf8)
    }
}
