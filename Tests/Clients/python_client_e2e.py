#!/usr/bin/env python3
"""The Python client (clients/python, package tally_client) against a real `tally serve` (issue 14).

Usage: python_client_e2e.py TALLY_BINARY

Imports tally_client from the repository (clients/python/src), creates a data directory with writer and reader keys
of tenant acme, starts `tally serve` on a free port, then:
  1. records 3,000 records from three threads while the server is SIGKILLed and started again, and later stopped
     with SIGTERM and started again, on the same data directory and port: the usage totals (records, tokens, exact
     cost) equal what was recorded, nothing lost, nothing doubled;
  2. records from asyncio code with AsyncTallyClient (awaited flush and shutdown);
  3. the overflow policy: with the server down and max_queued=20, the first 20 records are accepted, the newest
     refused and counted; the 20 are stored once the server is back;
  4. a bad record: reported as RecordsRejected with its request_id and field, not retried, the others stored; a wrong
     key: BatchRejected (401), not retried; a server that stays away: RetriesExhausted after max_attempts;
  5. flush at exit: a process that records and ends without calling shutdown() still delivers its records.
Prints one line per check and "N passed, N failed" at the end.
"""
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from decimal import Decimal

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "clients", "python", "src"))

import tally_client  # noqa: E402
from tally_client import (AsyncTallyClient, BatchRejected, RecordsRejected, RetriesExhausted,  # noqa: E402
                          TallyClient)

PASSED, FAILED = [], []


def check(label, actual, expected):
    if actual == expected:
        PASSED.append(label)
        print(f"ok  {label}: {actual!r}")
    else:
        FAILED.append(label)
        print(f"FAILED {label}: got {actual!r}, expected {expected!r}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create_key(tally, data, *args):
    out = subprocess.run([tally, "keys", "create", "--data", data, *args], check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


def cents(nanos):
    return f"{Decimal(nanos) / Decimal(10_000_000):.7f}"


class Server:
    """`tally serve` on one data directory and port, stopped and started again at will."""

    def __init__(self, tally, work):
        self.tally, self.work = tally, work
        self.data = os.path.join(work, "store")
        self.writer = create_key(tally, self.data, "--tenant", "acme", "--role", "writer")
        self.reader = create_key(tally, self.data, "--tenant", "acme", "--role", "reader")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self):
        log = open(os.path.join(self.work, "serve.log"), "a")
        env = dict(os.environ, SWIFT_BACKTRACE="enable=no")
        self.process = subprocess.Popen([self.tally, "serve", "--data", self.data, "--port", str(self.port),
                                         "--detect-interval", "0"], stdout=log, stderr=log, env=env)
        for _ in range(600):
            try:
                urllib.request.urlopen(self.base + "/api/v1/analytics/health", timeout=1)
                return
            except Exception:
                if self.process.poll() is not None:
                    raise SystemExit("tally serve exited: " + open(os.path.join(self.work, "serve.log")).read())
                time.sleep(0.05)
        raise SystemExit("tally serve did not answer")

    def stop(self, sig=signal.SIGTERM):
        if self.process is None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def totals(self):
        today = datetime.now(timezone.utc).date()
        url = (f"{self.base}/api/v1/analytics/statistics/usage?from={today - timedelta(days=2)}"
               f"&to={today + timedelta(days=2)}&resolution=day")
        request = urllib.request.Request(url, headers={"Authorization": "Bearer " + self.reader})
        with urllib.request.urlopen(request, timeout=30) as response:
            t = json.loads(response.read())["totals"]
        return t["records"], t["input_tokens"], t["cost_cents"]


class Sent:
    """What was recorded (and accepted): the totals the server must end with."""

    def __init__(self):
        self.lock = threading.Lock()
        self.records = self.input = self.nanos = 0

    def add(self, input_tokens, nanos):
        with self.lock:
            self.records += 1
            self.input += input_tokens
            self.nanos += nanos

    def totals(self):
        return self.records, self.input, cents(self.nanos)


def client(server, **options):
    settings = dict(tenant_id="acme", batch_size=50, linger=0.02, initial_backoff=0.05, max_backoff=0.4,
                    max_attempts=400, timeout=5, flush_at_exit=False)
    settings.update(options)
    return TallyClient(server.base, server.writer, **settings)


def record(c, sent, i, prefix, feature="py-client", **extra):
    nanos = 1_234_567 + i * 7919
    ok = c.record("gpt-4o", 100 + i % 7, 10 + i % 3, cost_cents=Decimal(cents(nanos)), feature_tag=feature,
                  user_id=f"u{i % 5}", request_id=f"{prefix}-{i}", **extra)
    if ok:
        sent.add(100 + i % 7, nanos)
    return ok


def restart_in_the_middle(server, sent):
    errors = []
    c = client(server, on_error=errors.append)
    n, threads = 1000, 3
    progress = threading.Barrier(threads + 1)

    def producer(t):
        for i in range(n):
            if not record(c, sent, t * n + i, "restart"):
                raise AssertionError("a record was refused")
            if i in (300, 650):
                progress.wait()  # the main thread restarts the server here
                progress.wait()
            if i % 50 == 0:
                time.sleep(0.002)

    workers = [threading.Thread(target=producer, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for sig in (signal.SIGKILL, signal.SIGTERM):
        progress.wait()
        server.stop(sig)  # batches are on their way: the client retries them
        progress.wait()
        time.sleep(0.3)  # records pile up while the server is away
        server.start()
    for w in workers:
        w.join()
    check("shutdown finished", c.shutdown(timeout=120), True)
    s = c.stats
    print(f"restart: {s}")
    check("restart: accepted, dropped, failed, rejected, queued", (s.accepted, s.dropped, s.failed, s.rejected, s.queued),
          (threads * n, 0, 0, 0, 0))
    check("restart: stored + duplicates = accepted", s.stored + s.duplicates, threads * n)
    check("restart: the client retried while the server was away", s.retries > 0, True)
    check("restart: no error reported", errors, [])
    check("restart: server totals (records, input tokens, cost) = what was recorded", server.totals(), sent.totals())


async def from_asyncio(server, sent):
    async with AsyncTallyClient(server.base, server.writer, tenant_id="acme", batch_size=20, linger=0.05,
                                flush_at_exit=False) as c:
        for i in range(150):
            record(c, sent, i, "asyncio", feature="py-asyncio")
            if i % 40 == 0:
                await asyncio.sleep(0)
        check("asyncio: flush() done", await c.flush(timeout=60), True)
        check("asyncio: stored after flush", c.stats.stored, 150)
    check("asyncio: server totals", server.totals(), sent.totals())


def overflow(server, sent):
    server.stop()
    c = client(server, max_queued=20, batch_size=5)
    accepted = [record(c, sent, i, "overflow") for i in range(50)]
    check("overflow: the first 20 accepted, the 30 newest refused", accepted, [True] * 20 + [False] * 30)
    s = c.stats
    check("overflow: dropped and held", (s.dropped, s.queued), (30, 20))
    server.start()
    check("overflow: flush() done", c.flush(timeout=60), True)
    check("overflow: room again", record(c, sent, 100, "overflow"), True)
    c.shutdown()
    check("overflow: a shut-down client refuses records", c.record("gpt-4o", 1, 1), False)
    check("overflow: stored", c.stats.stored, 21)
    check("overflow: server totals", server.totals(), sent.totals())


def bad_records(server, sent):
    errors = []
    c = client(server, on_error=errors.append, linger=30)  # one batch, sent by flush()
    for i in range(10):
        record(c, sent, i, "bad")
    c.record("", 1, 1, request_id="bad-record")  # no model: refused by the server
    c.record("gpt-4o", -5, 1, request_id="negative-tokens")
    for i in range(10, 20):
        record(c, sent, i, "bad")
    c.flush()
    check("bad record: one RecordsRejected", [type(e) for e in errors], [RecordsRejected])
    refused = sorted((r.request_id, r.field) for r in errors[0].records) if errors else []
    check("bad record: the refused records and fields", refused, [("bad-record", "model"), ("negative-tokens", "input_tokens")])
    check("bad record: stored, rejected, retries", (c.stats.stored, c.stats.rejected, c.stats.retries), (20, 2, 0))
    c.shutdown()
    check("bad record: server totals", server.totals(), sent.totals())

    errors.clear()
    wrong = TallyClient(server.base, "tly_not-a-key", tenant_id="acme", on_error=errors.append, flush_at_exit=False)
    wrong.record("gpt-4o", 1, 1)
    wrong.shutdown()
    check("wrong key: BatchRejected 401, not retried",
          [(type(e), e.status, e.records) for e in errors] + [wrong.stats.retries], [(BatchRejected, 401, 1), 0])

    errors.clear()
    server.stop()
    away = client(server, on_error=errors.append, max_attempts=3)
    away.record("gpt-4o", 1, 1)
    away.shutdown()
    check("server away: RetriesExhausted after 3 attempts",
          [(type(e), e.attempts, e.records) for e in errors] + [away.stats.failed], [(RetriesExhausted, 3, 1), 1])
    server.start()
    check("all are TallyClientError", issubclass(RetriesExhausted, tally_client.TallyClientError), True)


def flush_at_exit(server, sent):
    script = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "from tally_client import TallyClient\n"
        "c = TallyClient(sys.argv[2], sys.argv[3], tenant_id='acme', linger=3600, batch_size=1000)\n"
        "for i in range(5):\n"
        "    c.record('gpt-4o', 10, 1, cost_cents='0.5', request_id=f'exit-{i}')\n"
        "print(c.stats.queued)\n"  # nothing sent yet: the linger is an hour; the interpreter's exit flushes
    )
    out = subprocess.run([sys.executable, "-c", script, os.path.join(ROOT, "clients", "python", "src"), server.base,
                          server.writer], capture_output=True, text=True, timeout=60)
    check("exit: queued before exit", out.stdout.strip(), "5")
    for _ in range(5):
        sent.add(10, 5_000_000)
    check("exit: server totals", server.totals(), sent.totals())


def main(tally):
    work = tempfile.mkdtemp(prefix="tally-py-client-")
    server = Server(tally, work)
    started = time.time()
    try:
        server.start()
        sent = Sent()
        restart_in_the_middle(server, sent)
        asyncio.run(from_asyncio(server, sent))
        overflow(server, sent)
        bad_records(server, sent)
        flush_at_exit(server, sent)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"python client end to end: {time.time() - started:.1f} s")
    print(f"{len(PASSED)} passed, {len(FAILED)} failed")
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(os.path.abspath(sys.argv[1]))
