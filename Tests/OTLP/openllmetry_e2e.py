#!/usr/bin/env python3
"""OpenLLMetry's `opentelemetry-instrumentation-openai` (PyPI, unmodified) into Tally, end to end (issue 14).

Usage: openllmetry_e2e.py TALLY_BINARY

Starts the fake OpenAI provider (Benchmarks/proxy/fake_provider.py) and `tally serve` on free ports; instruments the
official `openai` package with OpenAIInstrumentor over an OpenTelemetry SDK tracer provider whose OTLP/HTTP exporter
sends to Tally's /v1/traces with a writer key; makes plain and streamed chat completion calls to the fake (the calls
go to the provider directly, not through Tally's proxy: the spans are the only way in); then checks that Tally's usage
and cost answers equal the usage the fake returned to the client (records, input and output tokens, cost priced from
the shipped price table), and that the records are attributed to the resource's service.name.
"""
import os
import subprocess
import sys
import tempfile
import shutil
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from otlp_e2e import PRICING, ROOT, Prices, cents, check, create_key, free_port, get  # noqa: E402

from openai import OpenAI  # noqa: E402
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # noqa: E402
from opentelemetry.instrumentation.openai import OpenAIInstrumentor  # noqa: E402
from opentelemetry.sdk.resources import Resource  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter  # noqa: E402

FAKE = os.path.join(ROOT, "Benchmarks", "proxy", "fake_provider.py")


class Recording(SpanExporter):
    """The OTLP exporter, keeping every span it exported and every result."""

    def __init__(self, exporter):
        self.exporter, self.spans, self.results = exporter, [], []

    def export(self, spans):
        result = self.exporter.export(spans)
        self.spans.extend(spans)
        self.results.append(result)
        return result

    def shutdown(self):
        self.exporter.shutdown()


def wait_until_up(url, process, what, log=None):
    for _ in range(300):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except Exception:
            if process.poll() is not None:
                raise SystemExit(f"{what} exited" + (": " + open(log).read() if log else ""))
            time.sleep(0.1)
    raise SystemExit(f"{what} did not answer")


def main(tally):
    prices = Prices(PRICING)
    work = tempfile.mkdtemp(prefix="tally-openllmetry-")
    data = os.path.join(work, "store")
    processes = []
    try:
        writer = create_key(tally, data, "--tenant", "acme", "--role", "writer")
        reader = create_key(tally, data, "--tenant", "acme", "--role", "reader")
        fake_port, port = free_port(), free_port()
        fake = subprocess.Popen([sys.executable, FAKE, str(fake_port)])
        processes.append(fake)
        log = os.path.join(work, "serve.log")
        server = subprocess.Popen([tally, "serve", "--data", data, "--port", str(port), "--pricing", PRICING,
                                   "--detect-interval", "0"], stdout=open(log, "w"), stderr=subprocess.STDOUT)
        processes.append(server)
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"http://127.0.0.1:{fake_port}/", fake, "the fake provider")
        wait_until_up(base + "/api/v1/analytics/health", server, "tally serve", log)

        # The application: OpenLLMetry's instrumentation over the SDK, exporting to Tally.
        exporter = Recording(OTLPSpanExporter(endpoint=base + "/v1/traces", headers={"Authorization": "Bearer " + writer}))
        provider = TracerProvider(resource=Resource.create({"service.name": "openllmetry-bot"}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        OpenAIInstrumentor().instrument(tracer_provider=provider)
        client = OpenAI(base_url=f"http://127.0.0.1:{fake_port}/v1", api_key="sk-fake", max_retries=0)
        calls = []  # (model, input tokens, output tokens) as the client got them
        for model in ["gpt-4o", "gpt-4o-mini", "gpt-4o"]:
            answer = client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hello"}])
            calls.append((model, answer.usage.prompt_tokens, answer.usage.completion_tokens))
        stream = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}],
                                                stream=True, stream_options={"include_usage": True})
        usage = None
        for chunk in stream:
            usage = chunk.usage or usage
        calls.append(("gpt-4o-mini", usage.prompt_tokens, usage.completion_tokens))
        provider.shutdown()
        OpenAIInstrumentor().uninstrument()
        print("span attributes (first):", {k: v for k, v in exporter.spans[0].attributes.items()
                                           if k.startswith("gen_ai.") and "prompt." not in k and "completion." not in k})
        check("spans exported (one per call)", len(exporter.spans), len(calls))
        check("exports succeeded", {r.name for r in exporter.results}, {"SUCCESS"})

        today = datetime.now(timezone.utc).date()
        window = f"from={today - timedelta(days=1)}&to={today + timedelta(days=2)}"
        api = base + "/api/v1/analytics"
        totals = get(f"{api}/statistics/usage?{window}&resolution=day", reader)["totals"]
        check("usage records", totals["records"], len(calls))
        check("usage input_tokens", totals["input_tokens"], sum(c[1] for c in calls))
        check("usage output_tokens", totals["output_tokens"], sum(c[2] for c in calls))
        check("usage cost_cents", totals["cost_cents"], cents(sum(prices.nanos(m, i, o) for m, i, o in calls)))
        answer = get(f"{api}/statistics/cost?{window}&group_by=feature,model&limit=100", reader)
        got = {(g["key"]["feature_tag"], g["key"]["model"]): (g["records"], g["cost_cents"]) for g in answer["groups"]}
        want = {}
        for m, i, o in calls:
            n, nanos = want.get(("openllmetry-bot", m), (0, 0))
            want[("openllmetry-bot", m)] = (n + 1, nanos + prices.nanos(m, i, o))
        check("cost by feature and model", got, {k: (n, cents(nanos)) for k, (n, nanos) in want.items()})
        print("opentelemetry-instrumentation-openai end to end: all checks passed")
    finally:
        for p in reversed(processes):
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(os.path.abspath(sys.argv[1]))
