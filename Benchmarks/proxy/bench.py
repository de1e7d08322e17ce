"""Proxy overhead: the same calls to the fake provider directly and through `tally serve`'s proxy, one at a time over
a kept-alive connection; prints p50/p99 of each and of the difference, plain and streamed (time to the last byte).

python3 bench.py FAKE_PORT TALLY_PORT TALLY_KEY [CALLS]
"""
import http.client
import json
import socket
import sys
import time

fake_port, tally_port, key = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
calls = int(sys.argv[4]) if len(sys.argv) > 4 else 2000


def run(port, path, headers, stream):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers and body are separate writes
    body = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "bench"}], "stream": stream}).encode()
    times = []
    for i in range(calls + 100):
        start = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        elapsed = time.perf_counter() - start
        assert r.status == 200, (r.status, data[:200])
        if i >= 100:  # warm-up
            times.append(elapsed * 1000)
    conn.close()
    times.sort()
    return times


def pct(times, p):
    return times[min(len(times) - 1, int(len(times) * p))]


base = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}
tally = dict(base, **{"X-Tally-Key": key, "X-Tally-Feature": "bench"})
print(f"{calls} calls each, sequential, loopback")
print(f"{'kind':<10}{'direct p50':>12}{'direct p99':>12}{'proxy p50':>12}{'proxy p99':>12}{'overhead p50':>14}{'overhead p99':>14}")
for stream in (False, True):
    direct = run(fake_port, "/v1/chat/completions", base, stream)
    proxied = run(tally_port, "/proxy/openai/v1/chat/completions", tally, stream)
    kind = "stream" if stream else "plain"
    d50, d99, p50, p99 = pct(direct, .5), pct(direct, .99), pct(proxied, .5), pct(proxied, .99)
    print(f"{kind:<10}{d50:>10.3f}ms{d99:>10.3f}ms{p50:>10.3f}ms{p99:>10.3f}ms{p50 - d50:>12.3f}ms{p99 - d99:>12.3f}ms")
