#!/usr/bin/env python3
"""OTLP trace ingestion end to end, with the real OpenTelemetry Python SDK and its OTLP/HTTP exporter (issue 14).

Usage: otlp_e2e.py TALLY_BINARY

Creates a data directory with writer, reader and admin keys, starts `tally serve` on a free port (the repository's
price table, an --otlp-mapping file), then:
  1. runs the README's OpenTelemetry example (the python block between the otlp-example markers) as written, with
     only OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_EXPORTER_OTLP_HEADERS set, as the README says;
  2. exports GenAI spans with the SDK to /v1/traces (protobuf), nested in a non-GenAI span and under an agent span,
     with current and older attribute names, a dated response model, a cost on the span, a mapped workflow attribute;
  3. exports more to /api/v1/analytics/v1/traces with gzip;
  4. exports the spans of 2 again (stored once);
  5. exports spans of another tenant with the admin key (the tenant named by tally.tenant_id);
then checks that the usage and cost answers equal what the spans said: records, tokens, and cost priced from the
price table exactly as the spans' models and tokens say (or the span's own cost), per feature, model, user and
workflow, and that /metrics counted the ignored and duplicate spans.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from decimal import ROUND_FLOOR, Decimal

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRICING = os.path.join(ROOT, "Sources", "TallyServer", "Pricing", "pricing.json")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, key):
    request = urllib.request.Request(url, headers={"Authorization": "Bearer " + key})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
        return json.loads(body) if response.headers.get("Content-Type", "").startswith("application/json") else body.decode()


def create_key(tally, data, *args):
    out = subprocess.run([tally, "keys", "create", "--data", data, *args], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def example(path, marker, language):
    """The code block of `language` between <!-- MARKER:start --> and <!-- MARKER:end --> in the file at `path`."""
    text = open(os.path.join(ROOT, path)).read()
    m = re.search(rf"<!-- {marker}:start -->\s*```{language}\n(.*?)```\s*<!-- {marker}:end -->", text, re.S)
    if not m:
        raise SystemExit(f"{path} has no {language} block between <!-- {marker}:start --> and <!-- {marker}:end -->")
    return m.group(1)


class Prices:
    """The price table, and the cost of a call in nano-dollars exactly as Tally computes it (PriceEntry.costNanos)."""

    def __init__(self, path):
        self.models = json.load(open(path))["models"]

    def nanos(self, model, input_tokens, output_tokens):
        entry = self.models[model][-1]
        per_million_in = Decimal(entry["input_per_million_usd"]) * 10**9
        per_million_out = Decimal(entry["output_per_million_usd"]) * 10**9
        total = input_tokens * per_million_in + output_tokens * per_million_out
        return int(((total + 500_000) / 1_000_000).to_integral_value(rounding=ROUND_FLOOR))


class Expected:
    """What the spans said: one entry per record Tally should hold."""

    def __init__(self):
        self.records = []

    def add(self, tenant, model, input_tokens, output_tokens, nanos, feature, user="", workflow=""):
        self.records.append(dict(tenant=tenant, model=model, input=input_tokens, output=output_tokens, nanos=nanos,
                                 feature=feature, user=user, workflow=workflow))

    def of(self, tenant):
        return [r for r in self.records if r["tenant"] == tenant]


def cents(nanos):
    return f"{Decimal(nanos) / Decimal(10_000_000):.7f}"


class Recording(SpanExporter):
    """The OTLP exporter, keeping every span it exported and every result."""

    def __init__(self, exporter):
        self.exporter = exporter
        self.spans = []
        self.results = []

    def export(self, spans):
        result = self.exporter.export(spans)
        self.spans.extend(spans)
        self.results.append(result)
        return result

    def shutdown(self):
        self.exporter.shutdown()


def provider(exporter, **resource):
    p = TracerProvider(resource=Resource.create(resource))
    p.add_span_processor(SimpleSpanProcessor(exporter))
    return p


def chat(tracer, model, input_tokens=None, output_tokens=None, **attributes):
    with tracer.start_as_current_span(f"chat {model}") as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.request.model", model)
        if input_tokens is not None:
            span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
        if output_tokens is not None:
            span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
        for k, v in attributes.items():
            span.set_attribute(k.replace("__", "."), v)


def check(label, actual, expected):
    if actual != expected:
        raise AssertionError(f"{label}: got {actual!r}, expected {expected!r}")
    print(f"ok  {label}: {actual!r}")


def main(tally):
    prices = Prices(PRICING)
    work = tempfile.mkdtemp(prefix="tally-otlp-e2e-")
    data = os.path.join(work, "store")
    server = None
    try:
        writer = create_key(tally, data, "--tenant", "acme", "--role", "writer")
        reader = create_key(tally, data, "--tenant", "acme", "--role", "reader")
        admin = create_key(tally, data, "--admin")
        mapping = os.path.join(work, "mapping.json")
        with open(mapping, "w") as f:
            json.dump({"workflow_id": ["tally.workflow_id", "app.workflow"]}, f)
        port = free_port()
        log = open(os.path.join(work, "serve.log"), "w")
        server = subprocess.Popen([tally, "serve", "--data", data, "--port", str(port), "--pricing", PRICING,
                                   "--detect-interval", "0", "--otlp-mapping", mapping], stdout=log, stderr=log)
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                get(base + "/api/v1/analytics/health", reader)
                break
            except Exception:
                if server.poll() is not None:
                    raise SystemExit("tally serve exited: " + open(os.path.join(work, "serve.log")).read())
                time.sleep(0.1)
        expected = Expected()
        headers = {"Authorization": "Bearer " + writer}
        started = time.time()

        # 1. The README's example, as written, configured by the environment alone.
        env = dict(os.environ, OTEL_EXPORTER_OTLP_ENDPOINT=base, OTEL_EXPORTER_OTLP_HEADERS=f"Authorization=Bearer%20{writer}")
        subprocess.run([sys.executable, "-c", example("README.md", "otlp-example", "python")], env=env, check=True, timeout=120)
        expected.add("acme", "gpt-4o", 1200, 300, prices.nanos("gpt-4o", 1200, 300), "support-bot", user="u-42")

        # 2. GenAI spans under a request span and an agent span, to /v1/traces (protobuf).
        root = Recording(OTLPSpanExporter(endpoint=base + "/v1/traces", headers=headers))
        p = provider(root, **{"service.name": "support-bot", "deployment.environment.name": "staging", "tally.project_id": "web"})
        tracer = p.get_tracer("e2e")
        with tracer.start_as_current_span("POST /chat") as http:
            http.set_attribute("http.request.method", "POST")
            with tracer.start_as_current_span("invoke_agent helper") as agent:
                agent.set_attribute("gen_ai.operation.name", "invoke_agent")
                agent.set_attribute("gen_ai.usage.input_tokens", 4000)
                chat(tracer, "gpt-4o", 1000, 250, user__id="u1", app__workflow="triage")
                chat(tracer, "claude-3-5-sonnet", 3000, 500, user__id="u2", gen_ai__response__model="claude-3-5-sonnet-20241022")
            with tracer.start_as_current_span("chat gpt-4o-mini") as old:
                old.set_attribute("gen_ai.system", "openai")
                old.set_attribute("gen_ai.request.model", "gpt-4o-mini")
                old.set_attribute("gen_ai.usage.prompt_tokens", 777)
                old.set_attribute("gen_ai.usage.completion_tokens", 33)
                old.set_attribute("user.id", "u1")
            chat(tracer, "my-finetune", 50, 5, tally__cost_cents="3.1415926", user__id="u3")
        p.shutdown()
        check("protobuf exports succeeded", set(root.results), {SpanExportResult.SUCCESS})
        expected.add("acme", "gpt-4o", 1000, 250, prices.nanos("gpt-4o", 1000, 250), "support-bot", user="u1", workflow="triage")
        expected.add("acme", "claude-3-5-sonnet", 3000, 500, prices.nanos("claude-3-5-sonnet", 3000, 500), "support-bot", user="u2")
        expected.add("acme", "gpt-4o-mini", 777, 33, prices.nanos("gpt-4o-mini", 777, 33), "support-bot", user="u1")
        expected.add("acme", "my-finetune", 50, 5, 31_415_926, "support-bot", user="u3")
        ignored = 2  # the request span and the agent span

        # 3. Under the API root, gzip-compressed, another feature.
        gz = Recording(OTLPSpanExporter(endpoint=base + "/api/v1/analytics/v1/traces", headers=headers, compression=Compression.Gzip))
        p = provider(gz, **{"service.name": "search-api"})
        tracer = p.get_tracer("e2e")
        for i in range(20):
            chat(tracer, "gemini-1.5-flash", 100 + i, 10 + i, tally__feature_tag="search", user__id=f"s{i % 3}")
            expected.add("acme", "gemini-1.5-flash", 100 + i, 10 + i, prices.nanos("gemini-1.5-flash", 100 + i, 10 + i), "search", user=f"s{i % 3}")
        p.shutdown()
        check("gzip exports under the API root succeeded", set(gz.results), {SpanExportResult.SUCCESS})

        # 4. The spans of 2 sent again, in one batch: accepted, stored once.
        again = OTLPSpanExporter(endpoint=base + "/v1/traces", headers=headers)
        check("re-sent spans accepted", again.export(root.spans), SpanExportResult.SUCCESS)
        duplicates = 4  # the four GenAI spans of 2 (its two other spans are ignored again)
        ignored += 2

        # 5. An admin key's spans go to the tenant they name.
        other = Recording(OTLPSpanExporter(endpoint=base + "/v1/traces", headers={"Authorization": "Bearer " + admin}))
        p = provider(other, **{"service.name": "globex-bot", "tally.tenant_id": "globex"})
        chat(p.get_tracer("e2e"), "gpt-4o", 10, 1)
        p.shutdown()
        expected.add("globex", "gpt-4o", 10, 1, prices.nanos("gpt-4o", 10, 1), "globex-bot")
        print(f"exported {len(expected.records)} records' spans in {time.time() - started:.2f} s")

        # 6. docs/API.md's curl example (OTLP JSON), as written but for the port.
        curl = example("docs/API.md", "otlp-curl-example", "sh").replace("http://127.0.0.1:8080", base)
        answer = subprocess.run(["bash", "-c", curl], env=dict(os.environ, WRITER=writer), check=True, capture_output=True,
                                text=True, timeout=60).stdout
        check("docs/API.md curl example answer", answer.strip(), "{}")
        may31 = get(f"{base}/api/v1/analytics/statistics/usage?from=2025-05-31&to=2025-06-01&resolution=day", reader)["totals"]
        check("curl example record", (may31["records"], may31["input_tokens"], may31["output_tokens"], may31["cost_cents"]),
              (1, 1200, 300, cents(prices.nanos("gpt-4o", 1200, 300))))

        # What the answers say.
        today = datetime.now(timezone.utc).date()
        window = f"from={today - timedelta(days=1)}&to={today + timedelta(days=2)}"
        api = base + "/api/v1/analytics"
        for tenant, key, extra in [("acme", reader, ""), ("globex", admin, "&tenant_id=globex")]:
            mine = expected.of(tenant)
            totals = get(f"{api}/statistics/usage?{window}&resolution=day{extra}", key)["totals"]
            check(f"{tenant} usage records", totals["records"], len(mine))
            check(f"{tenant} usage input_tokens", totals["input_tokens"], sum(r["input"] for r in mine))
            check(f"{tenant} usage output_tokens", totals["output_tokens"], sum(r["output"] for r in mine))
            check(f"{tenant} usage cost_cents", totals["cost_cents"], cents(sum(r["nanos"] for r in mine)))
        mine = expected.of("acme")
        for dims, keys in [("feature,model", ("feature_tag", "model")), ("user", ("user_id",)), ("workflow", ("workflow_id",))]:
            answer = get(f"{api}/statistics/cost?{window}&group_by={dims}&limit=100", reader)
            got = {tuple(g["key"][k] for k in keys): (g["records"], g["cost_cents"]) for g in answer["groups"]}
            want = {}
            for r in mine:
                k = tuple({"feature_tag": r["feature"], "model": r["model"], "user_id": r["user"], "workflow_id": r["workflow"]}[x] for x in keys)
                n, nanos = want.get(k, (0, 0))
                want[k] = (n + 1, nanos + r["nanos"])
            check(f"cost by {dims}", got, {k: (n, cents(nanos)) for k, (n, nanos) in want.items()})
        metrics = get(base + "/metrics", reader)
        counts = dict(re.findall(r'tally_otlp_spans_total\{result="(\w+)"\} (\d+)', metrics))
        check("metrics: stored spans", int(counts["stored"]), len(expected.records) + 1)  # and the curl example's
        check("metrics: duplicate spans", int(counts["duplicate"]), duplicates)
        check("metrics: ignored spans", int(counts["ignored"]), ignored)
        check("metrics: rejected spans", int(counts["rejected"]), 0)
        print("OTLP end to end: all checks passed")
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(os.path.abspath(sys.argv[1]))
