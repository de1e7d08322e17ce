import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization

/// A fake LLM provider on loopback speaking OpenAI's chat completions (`POST /v1/chat/completions`) and Anthropic's
/// messages (`POST /v1/messages`), streaming and not, with fixed usage numbers, so tests know exactly what a record
/// must say. It checks the provider key (`Authorization: Bearer sk-fake`, `x-api-key: sk-ant-fake`) like the real
/// ones (`x-api-key` or a bearer token for Anthropic's), answers models `fail-400` / `fail-500` with the provider's error bodies (and model `slow` after 3 s), and keeps what it received.
///
/// Answers are deterministic: ids come from a hash of the request's `messages`, so a call made directly and the same
/// call made through the proxy get the same bytes. With `stream_options.include_usage` every chunk carries
/// `"usage":null` and a last chunk with empty `choices` carries the usage, as OpenAI's do.
final class FakeProvider: Sendable {
    static let openAIKey = "sk-fake"
    static let anthropicKey = "sk-ant-fake"
    /// OpenAI usage of every answer: prompt, completion, cached prompt tokens.
    static let openAIUsage = (prompt: Int64(1234), completion: Int64(56), cached: Int64(200))
    /// Anthropic usage of every answer: input, cache writes, cache reads, output tokens.
    static let anthropicUsage = (input: Int64(321), cacheWrite: Int64(100), cacheRead: Int64(50), output: Int64(77))
    static let words = ["Hello", " from", " the", " fake", " provider", "."]

    struct Received: Sendable {
        var path: String
        var headers: HTTPFields
        var body: [UInt8]
    }

    private let received = Mutex<[Received]>([])
    /// Requests received so far.
    var requests: [Received] { received.withLock { $0 } }

    /// Runs the fake on a free loopback port for the duration of `body`, which gets its base URL and a client that
    /// calls it directly.
    func run<R: Sendable>(_ body: @Sendable (String, any TestClientProtocol) async throws -> R) async throws -> R {
        let app = Application(router: router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)), logger: quietLogger)
        return try await app.test(.live) { client in try await body("http://127.0.0.1:\(client.port!)", client) }
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("v1/chat/completions") { request, context in try await self.openAI(request, context: context) }
        router.post("v1/messages") { request, context in try await self.anthropic(request, context: context) }
        router.get("v1/models") { request, _ in
            self.keep(request, path: "/v1/models", body: [])
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: #"{"object":"list","data":[{"id":"gpt-4o","object":"model","created":1700000000,"owned_by":"fake"}]}"#)))
        }
        return router
    }

    private func keep(_ request: Request, path: String, body: [UInt8]) {
        received.withLock { $0.append(Received(path: path, headers: request.headers, body: body)) }
    }

    private static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private static func request(_ body: [UInt8]) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
    }

    /// A hash of the `messages` the caller sent, the same for a call made directly and through the proxy.
    private static func id(_ request: [String: Any]) -> String {
        let messages = (try? JSONSerialization.data(withJSONObject: request["messages"] ?? [], options: .sortedKeys)) ?? Data()
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in messages { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return String(h, radix: 16)
    }

    private func openAI(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let bytes = try await Array(buffer: request.body.collect(upTo: 1 << 20))
        keep(request, path: "/v1/chat/completions", body: bytes)
        guard request.headers[.authorization] == "Bearer \(Self.openAIKey)" else {
            return Self.json(.unauthorized, #"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#)
        }
        let r = Self.request(bytes)
        let model = r["model"] as? String ?? "gpt-4o"
        if model == "fail-400" {
            return Self.json(.badRequest, #"{"error":{"message":"The model `fail-400` does not exist.","type":"invalid_request_error","param":"model","code":"model_not_found"}}"#)
        }
        if model == "slow" { try await Task.sleep(for: .seconds(3)) }
        if model == "fail-500" {
            return Self.json(.internalServerError, #"{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}"#)
        }
        let id = "chatcmpl-" + Self.id(r)
        let u = Self.openAIUsage
        let usage = #"{"prompt_tokens":\#(u.prompt),"completion_tokens":\#(u.completion),"total_tokens":\#(u.prompt + u.completion),"prompt_tokens_details":{"cached_tokens":\#(u.cached)}}"#
        guard r["stream"] as? Bool == true else {
            let text = Self.words.joined()
            return Self.json(.ok, #"{"id":"\#(id)","object":"chat.completion","created":1733400000,"model":"\#(model)","choices":[{"index":0,"message":{"role":"assistant","content":"\#(text)","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":\#(usage),"system_fingerprint":"fp_fake"}"#)
        }
        let includeUsage = (r["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true
        let tail = includeUsage ? #","usage":null"# : ""
        let head = #"{"id":"\#(id)","object":"chat.completion.chunk","created":1733400000,"model":"\#(model)","system_fingerprint":"fp_fake","choices":"#
        var events = [#"data: \#(head)[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]\#(tail)}"#]
        for w in Self.words {
            events.append(#"data: \#(head)[{"index":0,"delta":{"content":"\#(w)"},"logprobs":null,"finish_reason":null}]\#(tail)}"#)
        }
        events.append(#"data: \#(head)[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]\#(tail)}"#)
        if includeUsage { events.append(#"data: \#(head)[],"usage":\#(usage)}"#) }
        events.append("data: [DONE]")
        return Self.stream(events.map { $0 + "\n\n" })
    }

    private func anthropic(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let bytes = try await Array(buffer: request.body.collect(upTo: 1 << 20))
        keep(request, path: "/v1/messages", body: bytes)
        // The key as `x-api-key`, or (newer clients) as a bearer token.
        guard request.headers[HTTPField.Name("x-api-key")!] == Self.anthropicKey || request.headers[.authorization] == "Bearer \(Self.anthropicKey)" else {
            return Self.json(.unauthorized, #"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#)
        }
        let r = Self.request(bytes)
        let model = r["model"] as? String ?? "claude-3-5-sonnet"
        if model == "fail-400" {
            return Self.json(.badRequest, #"{"type":"error","error":{"type":"invalid_request_error","message":"model: fail-400 is not a model"}}"#)
        }
        if model == "fail-500" {
            return Self.json(.internalServerError, #"{"type":"error","error":{"type":"api_error","message":"Internal server error"}}"#)
        }
        let id = "msg_" + Self.id(r)
        let u = Self.anthropicUsage
        guard r["stream"] as? Bool == true else {
            return Self.json(.ok, #"{"id":"\#(id)","type":"message","role":"assistant","model":"\#(model)","content":[{"type":"text","text":"\#(Self.words.joined())"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":\#(u.input),"cache_creation_input_tokens":\#(u.cacheWrite),"cache_read_input_tokens":\#(u.cacheRead),"output_tokens":\#(u.output)}}"#)
        }
        var events = [
            "event: message_start\ndata: " + #"{"type":"message_start","message":{"id":"\#(id)","type":"message","role":"assistant","model":"\#(model)","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":\#(u.input),"cache_creation_input_tokens":\#(u.cacheWrite),"cache_read_input_tokens":\#(u.cacheRead),"output_tokens":1}}}"#,
            "event: content_block_start\ndata: " + #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            "event: ping\ndata: " + #"{"type": "ping"}"#,
        ]
        for w in Self.words {
            events.append("event: content_block_delta\ndata: " + #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"\#(w)"}}"#)
        }
        events.append("event: content_block_stop\ndata: " + #"{"type":"content_block_stop","index":0}"#)
        events.append("event: message_delta\ndata: " + #"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":\#(u.output)}}"#)
        events.append("event: message_stop\ndata: " + #"{"type":"message_stop"}"#)
        return Self.stream(events.map { $0 + "\n\n" })
    }

    /// A server-sent event stream written in uneven pieces (an event split across writes, two events in one), so the
    /// proxy meets event boundaries anywhere in a chunk.
    private static func stream(_ events: [String]) -> Response {
        let all = Array(events.joined().utf8)
        return Response(status: .ok, headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache"],
                        body: ResponseBody { writer in
                            var i = 0
                            var step = 7
                            while i < all.count {
                                let n = min(step, all.count - i)
                                try await writer.write(ByteBuffer(bytes: all[i..<(i + n)]))
                                i += n
                                step = step * 3 % 251 + 5
                            }
                            try await writer.finish(nil)
                        })
    }
}
