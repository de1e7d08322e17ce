import NIOCore
@testable import TallyServer
import Testing

/// The proxy's byte-level pieces: the `include_usage` edit of a request, the usage read from answers of every kind,
/// and the event stream cut at every possible chunk boundary.
@Suite("Provider proxy: streams and usage")
struct ProxyStreamTests {
    static func inject(_ text: String) -> (String, Bool) {
        let (body, injected) = IncludeUsage.inject(into: Array(text.utf8))
        return (String(decoding: body, as: UTF8.self), injected)
    }

    @Test("include_usage is added where a stream lacks it, and nowhere else", arguments: [
        (#"{"model":"m","stream":true}"#, #"{"stream_options":{"include_usage":true},"model":"m","stream":true}"#, true),
        (#"{"model":"m","stream":true,"stream_options":{}}"#, #"{"model":"m","stream":true,"stream_options":{"include_usage":true}}"#, true),
        (#"{"stream":true,"stream_options":{"x":1}}"#, #"{"stream":true,"stream_options":{"include_usage":true,"x":1}}"#, true),
        (#"{"stream":true,"stream_options":{"include_usage":false}}"#, #"{"stream":true,"stream_options":{"include_usage":true}}"#, true),
        (#"{"stream":true,"stream_options":null}"#, #"{"stream":true,"stream_options":{"include_usage":true}}"#, true),
        (#"{"stream":true,"stream_options":{"include_usage":true}}"#, #"{"stream":true,"stream_options":{"include_usage":true}}"#, false),
        (#"{"model":"m","stream":false}"#, #"{"model":"m","stream":false}"#, false),
        (#"{"model":"m","messages":[{"content":"\"stream\":true"}]}"#, #"{"model":"m","messages":[{"content":"\"stream\":true"}]}"#, false),
        (#" { "stream" : true } "#, #" {"stream_options":{"include_usage":true}, "stream" : true } "#, true),
        ("not json", "not json", false),
    ])
    func includeUsage(input: String, expected: String, injected: Bool) {
        let (out, did) = Self.inject(input)
        #expect(out == expected)
        #expect(did == injected)
    }

    @Test("usage from every answer kind", arguments: [
        (#"{"id":"chatcmpl-1","model":"gpt-4o","usage":{"prompt_tokens":10,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":4}}}"#,
         "chatcmpl-1", "gpt-4o", Int64(10), Int64(3), Int64?(4)),
        (#"{"id":"resp_1","model":"gpt-4.1","usage":{"input_tokens":20,"output_tokens":5,"input_tokens_details":{"cached_tokens":0}}}"#,
         "resp_1", "gpt-4.1", 20, 5, 0),
        (#"{"type":"response.completed","response":{"id":"resp_2","model":"gpt-4.1","usage":{"input_tokens":7,"output_tokens":2}}}"#,
         "resp_2", "gpt-4.1", 7, 2, nil),
        (#"{"id":"msg_1","model":"claude","usage":{"input_tokens":5,"cache_creation_input_tokens":2,"cache_read_input_tokens":3,"output_tokens":9}}"#,
         "msg_1", "claude", 10, 9, 3),
    ])
    func usage(answer: String, id: String, model: String, input: Int64, output: Int64, cached: Int64?) {
        var u = ProviderUsage()
        u.merge(json: Array(answer.utf8))
        #expect(u == ProviderUsage(id: id, model: model, inputTokens: input, outputTokens: output, cachedInputTokens: cached))
    }

    static let openAIChunks = [
        #"data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hi"}}],"usage":null}"#,
        #"data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}"#,
        #"data: {"id":"c1","model":"gpt-4o","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":2}}"#,
        "data: [DONE]",
    ]
    static let openAIPlain = [
        #"data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Hi"}}]}"#,
        #"data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        "data: [DONE]",
    ]

    /// Feeds `stream` to a meter in two chunks cut at `cut`; returns what the caller gets and the usage.
    static func meter(_ stream: [UInt8], cut: Int, strip: Bool) -> ([UInt8], ProviderUsage) {
        var m = AnswerMeter(contentType: "text/event-stream; charset=utf-8", stripInjectedUsage: strip)
        var out: [UInt8] = []
        for part in [stream[..<cut], stream[cut...]] {
            let b = m.take(ByteBuffer(bytes: part))
            out += b.readableBytesView
        }
        if let rest = m.finish() { out += rest.readableBytesView }
        return (out, m.usage)
    }

    @Test("an injected stream, cut anywhere: the caller gets the stream without usage, byte for byte; the usage is read",
          arguments: ["\n\n", "\r\n\r\n"])
    func strippedAtEveryCut(separator: String) {
        let stream = Array(Self.openAIChunks.map { $0 + separator }.joined().utf8)
        let expected = Array(Self.openAIPlain.map { $0 + separator }.joined().utf8)
        for cut in 0...stream.count {
            let (out, usage) = Self.meter(stream, cut: cut, strip: true)
            #expect(out == expected, "cut at \(cut)")
            #expect(usage.inputTokens == 11 && usage.outputTokens == 2 && usage.model == "gpt-4o" && usage.id == "c1", "cut at \(cut)")
        }
    }

    @Test("a stream not injected passes byte for byte, cut anywhere; Anthropic's usage comes from message_start and message_delta")
    func passedAtEveryCut() {
        let events = [
            "event: message_start\ndata: " + #"{"type":"message_start","message":{"id":"msg_9","model":"claude","usage":{"input_tokens":8,"cache_read_input_tokens":2,"output_tokens":1}}}"#,
            "event: content_block_delta\ndata: " + #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"usage"}}"#,
            "event: message_delta\ndata: " + #"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":30}}"#,
            "event: message_stop\ndata: " + #"{"type":"message_stop"}"#,
        ]
        let stream = Array(events.map { $0 + "\n\n" }.joined().utf8)
        for cut in 0...stream.count {
            let (out, usage) = Self.meter(stream, cut: cut, strip: false)
            #expect(out == stream, "cut at \(cut)")
            #expect(usage == ProviderUsage(id: "msg_9", model: "claude", inputTokens: 10, outputTokens: 30, cachedInputTokens: 2), "cut at \(cut)")
        }
    }

    @Test("a JSON answer passes unchanged and is read once whole; one over the copy limit passes unread")
    func jsonAnswer() {
        let answer = Array(#"{"id":"x","model":"m","usage":{"prompt_tokens":1,"completion_tokens":2}}"#.utf8)
        var m = AnswerMeter(contentType: "application/json", stripInjectedUsage: true)
        #expect(!m.rewrites)
        #expect(Array(m.take(ByteBuffer(bytes: answer[..<10])).readableBytesView) == Array(answer[..<10]))
        #expect(Array(m.take(ByteBuffer(bytes: answer[10...])).readableBytesView) == Array(answer[10...]))
        #expect(m.finish() == nil)
        #expect(m.usage.isComplete && m.usage.outputTokens == 2)
        var small = AnswerMeter(contentType: "application/json", stripInjectedUsage: false, maxKeptBytes: 16)
        _ = small.take(ByteBuffer(bytes: answer))
        _ = small.finish()
        #expect(small.overflowed && !small.usage.isComplete)
    }
}
