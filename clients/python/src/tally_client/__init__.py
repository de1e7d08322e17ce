"""Records LLM cost records into a Tally server in the background (standard library only).

    from tally_client import TallyClient

    tally = TallyClient("http://127.0.0.1:8080", api_key="tly_...", tenant_id="acme")
    tally.record(model="gpt-4o", input_tokens=1200, output_tokens=300, feature_tag="chat", user_id="u-42")
    ...
    tally.shutdown()  # flushes; also done at interpreter exit

`record()` never blocks on the network: it puts the record in a bounded in-memory queue and returns. A background
thread sends the queue in batches to ``POST /api/v1/analytics/records`` (NDJSON, gzip-compressed,
``?on_error=skip`` so a bad record never holds back the others). A batch leaves when it holds ``batch_size``
records, when its oldest record has waited ``linger`` seconds, or on ``flush()`` / ``shutdown()``.

Retries: a batch that meets a connection error, a timeout, a 5xx, 429, 408 or 409 (its Idempotency-Key still being
answered) is sent again after an exponential backoff with full jitter (a random wait between 0 and
``initial_backoff * 2**(attempt-1)``, at most ``max_backoff``), or after the server's ``Retry-After``, up to
``max_attempts`` attempts. Other 4xx answers are never retried. Every batch carries its own ``Idempotency-Key``, the
same on each of its attempts, and every record a ``request_id``: a retried batch is stored once.

Overflow policy, drop-newest: at most ``max_queued`` records are held (waiting or being sent); when that many are
held, ``record()`` refuses the new one: it returns False and counts it in ``stats.dropped``. The caller is never
blocked and memory stays bounded while the server is away.

Errors are typed (``RecordsRejected``, ``BatchRejected``, ``RetriesExhausted``, all ``TallyClientError``) and given
to ``on_error`` (called on the background thread); without one they are logged.

From asyncio code use ``AsyncTallyClient``: the same ``record()`` (it never blocks the event loop) and awaitable
``flush()`` / ``shutdown()``.
"""
import asyncio
import atexit
import dataclasses
import gzip
import json
import logging
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from datetime import datetime, timezone
from decimal import Decimal

__all__ = [
    "TallyClient", "AsyncTallyClient", "Statistics", "RejectedRecord",
    "TallyClientError", "RecordsRejected", "BatchRejected", "RetriesExhausted",
]
__version__ = "0.1.0"

log = logging.getLogger("tally_client")


class TallyClientError(Exception):
    """Something went wrong with records the client accepted."""


@dataclasses.dataclass(frozen=True)
class RejectedRecord:
    request_id: str
    field: str
    reason: str


class RecordsRejected(TallyClientError):
    """The server stored the batch but refused these records (``records``: RejectedRecord); not retried."""

    def __init__(self, records):
        self.records = list(records)
        super().__init__("the server refused %d record(s): %s" % (
            len(self.records), "; ".join(f"{r.request_id}: {r.field}: {r.reason}" for r in self.records[:5])))


class BatchRejected(TallyClientError):
    """The server refused a whole batch (a 4xx other than 408, 409 and 429: a bad key, a body too large, ...)."""

    def __init__(self, status, problem_type, detail, records):
        self.status, self.problem_type, self.detail, self.records = status, problem_type, detail, records
        super().__init__(f"HTTP {status} {problem_type or ''}: {detail} ({records} record(s) not stored)")


class RetriesExhausted(TallyClientError):
    """A batch could not be delivered after ``attempts`` attempts; its ``records`` records were not stored."""

    def __init__(self, attempts, last_failure, records):
        self.attempts, self.last_failure, self.records = attempts, last_failure, records
        super().__init__(f"gave up after {attempts} attempts ({last_failure}); {records} record(s) not stored")


@dataclasses.dataclass
class Statistics:
    accepted: int = 0    # records record() accepted
    dropped: int = 0     # records record() refused because the queue was full
    queued: int = 0      # records held now (waiting or being sent)
    stored: int = 0      # records the server stored
    duplicates: int = 0  # records the server already held (same tenant and request_id)
    rejected: int = 0    # records the server refused (one by one or with their batch)
    failed: int = 0      # records given up after max_attempts
    batches: int = 0     # batches delivered (answered 2xx or refused)
    retries: int = 0     # attempts that were retried


_RETRIED = {408, 409, 429}


def _timestamp(value):
    """RFC 3339 with milliseconds, UTC, of a datetime (naive means UTC), a POSIX time, or a string as given."""
    if value is None:
        value = datetime.now(timezone.utc)
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, timezone.utc)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return str(value)


def _cents(value):
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return str(value)


class TallyClient:
    """A background recorder of cost records; safe to share between threads."""

    def __init__(self, base_url, api_key, tenant_id=None, *, batch_size=500, linger=0.5, max_queued=10_000,
                 compress=True, max_attempts=10, initial_backoff=0.2, max_backoff=30.0, max_retry_after=300.0,
                 timeout=30.0, on_error=None, flush_at_exit=True, exit_timeout=10.0):
        self.url = base_url.rstrip("/") + "/api/v1/analytics/records?on_error=skip"
        self.api_key = api_key
        self.tenant_id = tenant_id
        self.batch_size = max(1, min(int(batch_size), 1000))
        self.linger = float(linger)
        self.max_queued = max(1, int(max_queued))
        self.compress = compress
        self.max_attempts = max(1, int(max_attempts))
        self.initial_backoff = float(initial_backoff)
        self.max_backoff = float(max_backoff)
        self.max_retry_after = float(max_retry_after)
        self.timeout = float(timeout)
        self.on_error = on_error
        self._cond = threading.Condition()
        self._queue = deque()  # (request_id, NDJSON line bytes)
        self._in_flight = 0
        self._first_at = None
        self._accepted_seq = 0
        self._settled = 0
        self._flush_target = 0
        self._closing = False
        self._stats = Statistics()
        self._thread = threading.Thread(target=self._run, name="tally-client", daemon=True)
        self._thread.start()
        self._exit_timeout = exit_timeout
        self._atexit = flush_at_exit
        if flush_at_exit:
            atexit.register(self._at_exit)

    # --- the caller's side -----------------------------------------------------------------------------------------

    def record(self, model, input_tokens, output_tokens, *, cost_cents=None, feature_tag=None, user_id=None,
               project_id=None, environment=None, workflow_id=None, skill_id=None, tenant_id=None, request_id=None,
               created_at=None):
        """Queues one cost record; False when the queue is full (dropped, counted in stats.dropped) or the client is
        shut down. ``cost_cents``: exact cents (Decimal, str or int); None lets the server price it. ``created_at``:
        a datetime, a POSIX time or an RFC 3339 string; now by default. ``request_id``: a fresh UUID by default."""
        request_id = request_id or str(uuid.uuid4())
        r = {"tenant_id": tenant_id or self.tenant_id}
        for name, value in (("project_id", project_id), ("environment", environment), ("feature_tag", feature_tag),
                            ("user_id", user_id), ("workflow_id", workflow_id), ("skill_id", skill_id)):
            if value is not None:
                r[name] = value
        r.update(request_id=request_id, model=model, input_tokens=input_tokens, output_tokens=output_tokens)
        if cost_cents is not None:
            r["cost_cents"] = _cents(cost_cents)
        r["created_at"] = _timestamp(created_at)
        line = (json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        with self._cond:
            if self._closing:
                return False
            if len(self._queue) + self._in_flight >= self.max_queued:
                self._stats.dropped += 1
                return False
            self._queue.append((request_id, line))
            self._accepted_seq += 1
            self._stats.accepted += 1
            if len(self._queue) == 1:
                self._first_at = time.monotonic()
            if len(self._queue) in (1, self.batch_size):
                self._cond.notify_all()
        return True

    def flush(self, timeout=None):
        """Waits until every record accepted before the call was delivered or given up (and reported); False when
        ``timeout`` seconds passed first."""
        with self._cond:
            target = self._accepted_seq
            self._flush_target = max(self._flush_target, target)
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._settled >= target, timeout)

    def shutdown(self, timeout=None):
        """Flushes, then stops the background thread; records offered afterwards are refused. False when
        ``timeout`` seconds passed first (what was still queued is then lost)."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._atexit:
            atexit.unregister(self._at_exit)
            self._atexit = False
        self._thread.join(timeout)
        return not self._thread.is_alive()

    close = shutdown

    @property
    def stats(self):
        """A copy of what the client did so far."""
        with self._cond:
            s = dataclasses.replace(self._stats)
            s.queued = len(self._queue) + self._in_flight
            return s

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()

    def _at_exit(self):
        if not self.shutdown(self._exit_timeout):
            log.warning("tally_client: %d record(s) not sent at exit", self.stats.queued)

    # --- the background thread -------------------------------------------------------------------------------------

    def _run(self):
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    if self._queue:
                        due = self._first_at + self.linger
                        if (len(self._queue) >= self.batch_size or self._closing or self._flush_target > self._settled
                                or now >= due):
                            n = min(self.batch_size, len(self._queue))
                            batch = [self._queue.popleft() for _ in range(n)]
                            self._in_flight = n
                            self._first_at = now if self._queue else None
                            break
                        self._cond.wait(due - now)
                    elif self._closing:
                        return
                    else:
                        self._cond.wait()
            try:
                self._deliver(batch)
            except Exception:  # a bug here must not stop the sender; the batch is counted as failed
                log.exception("tally_client: delivering a batch failed")
                with self._cond:
                    self._stats.failed += len(batch)
            with self._cond:
                self._in_flight = 0
                self._settled += len(batch)
                self._cond.notify_all()

    def _report(self, error):
        if self.on_error is None:
            log.error("tally_client: %s", error)
            return
        try:
            self.on_error(error)
        except Exception:
            log.exception("tally_client: on_error raised")

    def backoff(self, attempt):
        """Full jitter: a random wait between 0 and initial_backoff * 2**(attempt-1), at most max_backoff."""
        return random.uniform(0, min(self.max_backoff, self.initial_backoff * 2 ** min(attempt - 1, 30)))

    def _deliver(self, batch):
        body = b"".join(line for _, line in batch)
        headers = {"Authorization": "Bearer " + self.api_key, "Content-Type": "application/x-ndjson",
                   "Idempotency-Key": "tally-py-" + uuid.uuid4().hex, "User-Agent": "tally-client-python/" + __version__}
        if self.compress:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        attempt = 0
        while True:
            attempt += 1
            status, document, retry_after, failure = self._send(body, headers)
            if status is not None and 200 <= status < 300:
                self._settle(batch, document or {}, None)
                return
            if status is not None and status < 500 and status not in _RETRIED:
                document = document or {}
                whole = None if "rejected" in document else BatchRejected(
                    status, document.get("type"), document.get("detail", ""), len(batch))
                self._settle(batch, document if whole is None else None, whole)
                return
            if attempt >= self.max_attempts:
                with self._cond:
                    self._stats.failed += len(batch)
                self._report(RetriesExhausted(attempt, failure, len(batch)))
                return
            with self._cond:
                self._stats.retries += 1
            delay = self.backoff(attempt) if retry_after is None else min(retry_after, self.max_retry_after)
            log.debug("tally_client: attempt %d failed (%s); retrying in %.2f s", attempt, failure, delay)
            time.sleep(delay)

    def _send(self, body, headers):
        """(status, JSON document or None, Retry-After seconds or None, what failed)."""
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return response.status, _json(response.read()), None, ""
        except urllib.error.HTTPError as e:
            try:
                text = e.read()
            except Exception:
                text = b""
            document = _json(text)
            retry_after = None
            try:
                retry_after = max(0.0, float(e.headers.get("Retry-After", "")))
            except (TypeError, ValueError):
                pass
            detail = (document or {}).get("detail", "") if isinstance(document, dict) else ""
            return e.code, document if isinstance(document, dict) else None, retry_after, f"HTTP {e.code} {detail}"
        except Exception as e:  # connection refused or reset, timeout, a cut answer
            return None, None, None, f"{type(e).__name__}: {e}"

    def _settle(self, batch, receipt, whole):
        refused = []
        if receipt:
            for e in receipt.get("rejected", {}).get("errors", []):
                line = e.get("line", 0)
                if 1 <= line <= len(batch):
                    refused.append(RejectedRecord(batch[line - 1][0], e.get("field", ""), e.get("reason", "")))
        with self._cond:
            self._stats.batches += 1
            if receipt:
                self._stats.stored += receipt.get("inserted", 0)
                self._stats.duplicates += receipt.get("duplicates", {}).get("count", 0)
                self._stats.rejected += receipt.get("rejected", {}).get("count", 0)
            else:
                self._stats.rejected += len(batch)
        if refused:
            self._report(RecordsRejected(refused))
        if whole is not None:
            self._report(whole)


def _json(data):
    try:
        return json.loads(data)
    except Exception:
        return None


class AsyncTallyClient:
    """The client for asyncio code: ``record()`` never blocks the event loop (it only queues); ``flush()`` and
    ``shutdown()`` are awaitable and wait on a worker thread. Also an async context manager."""

    def __init__(self, *args, **kwargs):
        self.client = TallyClient(*args, **kwargs)

    def record(self, *args, **kwargs):
        return self.client.record(*args, **kwargs)

    async def flush(self, timeout=None):
        return await asyncio.get_running_loop().run_in_executor(None, self.client.flush, timeout)

    async def shutdown(self, timeout=None):
        return await asyncio.get_running_loop().run_in_executor(None, self.client.shutdown, timeout)

    close = shutdown

    @property
    def stats(self):
        return self.client.stats

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.shutdown()
