import Foundation

/// The provider API a proxy upstream speaks: which usage fields its answers carry and how a stream reports them.
public enum ProviderKind: String, Sendable, CaseIterable {
    /// OpenAI's API (chat completions, responses, completions), and the many servers compatible with it.
    case openai
    /// Anthropic's Messages API.
    case anthropic
}

/// What a provider's answer said about one call: the ids and token counts a cost record is made of.
struct ProviderUsage: Sendable, Equatable {
    /// The provider's id of the answer (`chatcmpl-...`, `resp_...`, `msg_...`).
    var id: String?
    var model: String?
    /// Input tokens in all, cached ones included (Anthropic's cache reads and writes added to `input_tokens`).
    var inputTokens: Int64?
    var outputTokens: Int64?
    /// Of `inputTokens`, those read from the provider's prompt cache (OpenAI `cached_tokens`, Anthropic
    /// `cache_read_input_tokens`).
    var cachedInputTokens: Int64?

    /// Whether the answer said enough to write a record.
    var isComplete: Bool { model != nil && inputTokens != nil && outputTokens != nil }

    /// Takes in what one JSON object of an answer says (a whole answer, or one event of a stream): ids and model
    /// where not known yet, token counts wherever present (a later event's count replaces an earlier one: Anthropic's
    /// `message_delta` carries the final output count, after `message_start`'s first).
    mutating func merge(json bytes: some Collection<UInt8>) {
        guard let wire = try? JSONDecoder().decode(WireObject.self, from: Data(bytes)) else { return }
        for part in [wire.message, wire.response, wire.flat] {
            guard let part else { continue }
            if id == nil, let v = part.id { id = v }
            if let v = part.model { model = v }
            if let u = part.usage { merge(u) }
        }
    }

    private mutating func merge(_ u: WireUsage) {
        if let p = u.prompt_tokens { inputTokens = p }
        if let c = u.completion_tokens { outputTokens = c }
        if let c = u.prompt_tokens_details?.cached_tokens ?? u.input_tokens_details?.cached_tokens { cachedInputTokens = c }
        if let i = u.input_tokens {
            // Anthropic counts cache reads and writes apart from `input_tokens`; OpenAI's responses API counts them in.
            let read = u.cache_read_input_tokens ?? 0
            let written = u.cache_creation_input_tokens ?? 0
            inputTokens = i + read + written
            if u.cache_read_input_tokens != nil { cachedInputTokens = read }
        }
        if let o = u.output_tokens { outputTokens = o }
    }

    private struct WireUsage: Decodable {
        struct Details: Decodable { var cached_tokens: Int64? }
        var prompt_tokens: Int64?
        var completion_tokens: Int64?
        var prompt_tokens_details: Details?
        var input_tokens: Int64?
        var output_tokens: Int64?
        var input_tokens_details: Details?
        var cache_creation_input_tokens: Int64?
        var cache_read_input_tokens: Int64?
    }

    private struct WirePart: Decodable {
        var id: String?
        var model: String?
        var usage: WireUsage?
    }

    /// An answer, a chat chunk, or an event wrapping the answer (`message_start.message`, `response.completed.response`).
    private struct WireObject: Decodable {
        var flat: WirePart?
        var message: WirePart?
        var response: WirePart?

        enum Keys: String, CodingKey { case message, response }

        init(from decoder: any Decoder) throws {
            flat = try? WirePart(from: decoder)
            let c = try decoder.container(keyedBy: Keys.self)
            message = try? c.decodeIfPresent(WirePart.self, forKey: .message)
            response = try? c.decodeIfPresent(WirePart.self, forKey: .response)
        }
    }
}

/// The edit of an OpenAI request body that asks for the usage of a stream (`stream_options.include_usage`) when the
/// caller streams without asking for it.
enum IncludeUsage {
    /// The body to send upstream, and whether it was changed (then the proxy strips what the change adds to the
    /// answer: `"usage":null` in every chunk and the final usage-only chunk).
    static func inject(into body: [UInt8]) -> (body: [UInt8], injected: Bool) {
        guard let top = JSONMembers(body), let stream = top.member("stream", in: body),
              body[stream.value].elementsEqual("true".utf8)
        else { return (body, false) }
        guard let options = top.member("stream_options", in: body) else {
            var out = body
            out.insert(contentsOf: Array("\"stream_options\":{\"include_usage\":true},".utf8), at: top.object.lowerBound + 1)
            return (out, true)
        }
        let value = body[options.value]
        if value.elementsEqual("null".utf8) {
            var out = body
            out.replaceSubrange(options.value, with: Array("{\"include_usage\":true}".utf8))
            return (out, true)
        }
        guard let inner = JSONMembers(body, from: options.value.lowerBound) else { return (body, false) }
        if let include = inner.member("include_usage", in: body) {
            if body[include.value].elementsEqual("true".utf8) { return (body, false) }
            var out = body
            out.replaceSubrange(include.value, with: Array("true".utf8))
            return (out, true)
        }
        var out = body
        let text = inner.members.isEmpty ? "\"include_usage\":true" : "\"include_usage\":true,"
        out.insert(contentsOf: Array(text.utf8), at: inner.object.lowerBound + 1)
        return (out, true)
    }
}
