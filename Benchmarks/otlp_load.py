#!/usr/bin/env python3
"""OTLP spans/s ingested by a running `tally serve` (issue 14): POSTs protobuf ExportTraceServiceRequests of GenAI spans
to /v1/traces from several threads and reports spans/s and request latencies.

Usage: otlp_load.py BASE_URL WRITER_KEY [--requests 200] [--spans 500] [--threads 4] [--gzip] [--ndjson]

--ndjson sends the same records as NDJSON to POST /api/v1/analytics/records instead (the records path the spans go
through after mapping), for the ratio of the two in one run.

Each request holds SPANS chat spans (fresh span ids, so every span is stored: nothing is a duplicate) with the default
mapping's attributes, encoded once per request before the clock starts; the figure is spans stored per wall-clock
second over all threads. Needs opentelemetry-proto (installed with opentelemetry-exporter-otlp-proto-http,
Tests/requirements.txt).
"""
import argparse
import gzip
import json
import os
import statistics
import threading
import time
import urllib.request

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span


def kv(key, value):
    return KeyValue(key=key, value=AnyValue(int_value=value) if isinstance(value, int) else AnyValue(string_value=value))


def ndjson_bytes(spans, compress):
    now = time.time_ns() // 1_000_000
    models = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "gemini-1.5-flash"]
    lines = []
    for i in range(spans):
        created = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now / 1000)) + f".{now % 1000:03d}Z"
        lines.append(json.dumps({"tenant_id": "acme", "request_id": os.urandom(8).hex(), "model": models[i % 4],
                                 "input_tokens": 100 + i, "output_tokens": 10 + i % 50, "user_id": f"u{i % 97}",
                                 "feature_tag": "load-bot", "created_at": created}))
    body = ("\n".join(lines) + "\n").encode()
    return gzip.compress(body) if compress else body


def request_bytes(spans, compress):
    now = time.time_ns()
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.extend([kv("service.name", "load-bot"), kv("deployment.environment.name", "prod")])
    ss = rs.scope_spans.add()
    models = ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "gemini-1.5-flash"]
    for i in range(spans):
        s = ss.spans.add()
        s.trace_id = os.urandom(16)
        s.span_id = os.urandom(8)
        s.name = "chat"
        s.kind = Span.SPAN_KIND_CLIENT
        s.start_time_unix_nano = now - 1_000_000_000
        s.end_time_unix_nano = now
        s.attributes.extend([kv("gen_ai.operation.name", "chat"), kv("gen_ai.provider.name", "openai"),
                             kv("gen_ai.request.model", models[i % 4]), kv("gen_ai.usage.input_tokens", 100 + i),
                             kv("gen_ai.usage.output_tokens", 10 + i % 50), kv("user.id", f"u{i % 97}")])
    body = req.SerializeToString()
    return gzip.compress(body) if compress else body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("key")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--spans", type=int, default=500)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--ndjson", action="store_true")
    a = ap.parse_args()
    make = ndjson_bytes if a.ndjson else request_bytes
    bodies = [make(a.spans, a.gzip) for _ in range(a.requests)]
    url = a.base + ("/api/v1/analytics/records" if a.ndjson else "/v1/traces")
    headers = {"Authorization": "Bearer " + a.key, "Content-Type": "application/x-ndjson" if a.ndjson else "application/x-protobuf"}
    if a.gzip:
        headers["Content-Encoding"] = "gzip"
    latencies, stored, lock = [], [0], threading.Lock()
    queue = list(range(a.requests))

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                i = queue.pop()
            t = time.perf_counter()
            r = urllib.request.urlopen(urllib.request.Request(url, data=bodies[i], headers=headers), timeout=120)
            body = r.read()
            dt = time.perf_counter() - t
            n = json.loads(body)["inserted"] if a.ndjson else int(r.headers["Tally-Spans-Stored"])
            with lock:
                latencies.append(dt)
                stored[0] += n

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    what = "NDJSON records to POST records" if a.ndjson else "OTLP protobuf spans to /v1/traces"
    print(f"{what}: {a.requests} requests x {a.spans}, {a.threads} threads, gzip={a.gzip}: {stored[0]} stored in {elapsed:.2f} s "
          f"= {stored[0] / elapsed:,.0f}/s; request p50 {statistics.median(latencies) * 1000:.1f} ms, "
          f"p99 {latencies[int(len(latencies) * 0.99) - 1] * 1000:.1f} ms; body {len(bodies[0]):,} bytes")


if __name__ == "__main__":
    main()
