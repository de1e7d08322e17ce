"""A fake OpenAI chat completions provider for the proxy overhead benchmark (HTTP/1.1 keep-alive, fixed answers).

python3 fake_provider.py PORT   -- answers POST /v1/chat/completions, plain or streamed (7 chunks, then [DONE]).
"""
import itertools
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USAGE = {"prompt_tokens": 1234, "completion_tokens": 56, "total_tokens": 1290}
WORDS = ["Hello", " from", " the", " fake", " provider", "."]
COUNTER = itertools.count()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        model = body.get("model", "gpt-4o")
        call_id = "chatcmpl-bench-%d" % next(COUNTER)
        if not body.get("stream"):
            out = json.dumps({"id": call_id, "object": "chat.completion", "created": 1733400000, "model": model,
                              "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(WORDS)}, "finish_reason": "stop"}],
                              "usage": USAGE}, separators=(",", ":")).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            return
        include = (body.get("stream_options") or {}).get("include_usage") is True
        tail = ',"usage":null' if include else ""
        head = '{"id":"%s","object":"chat.completion.chunk","created":1733400000,"model":"%s","choices":' % (call_id, model)
        events = [head + '[{"index":0,"delta":{"content":"%s"},"finish_reason":null}]%s}' % (w, tail) for w in WORDS]
        events.append(head + '[{"index":0,"delta":{},"finish_reason":"stop"}]%s}' % tail)
        if include:
            events.append(head + '[],"usage":%s}' % json.dumps(USAGE, separators=(",", ":")))
        events.append("[DONE]")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for e in events:
            data = ("data: " + e + "\n\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
