#!/usr/bin/env python3
"""Soak driver for Torture/soak.sh: concurrent writers (with retries and duplicate batches) and readers against a
loopback `tally serve` for SOAK_SECONDS seconds, then checks that the store holds every acknowledged record exactly once.

Writers post NDJSON batches of new records for tenants soak-0..3 with the admin key. Every batch has an
Idempotency-Key; a failed or timed-out request is retried with the same key and body until it gets an answer.
A share of requests is sent and its connection dropped before the answer (LOST_SHARE), then retried with the same
key; a share of batches is sent a second time on purpose: half with the same key (must be replayed), half without
(every record must come back as a duplicate). The driver keeps the log: each record acknowledged, its cost.
At the end, per tenant, the server's usage totals (records, cost) must equal the log's, and the sum of
`inserted` over all first answers must equal the records sent. Prints one JSON line of figures.
"""
import http.client, json, os, random, sys, threading, time

PORT = int(os.environ["PORT"]); KEY = os.environ["ADMIN_KEY"]; SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
WRITERS = int(os.environ.get("WRITERS", "4")); READERS = int(os.environ.get("READERS", "2"))
BATCH = int(os.environ.get("BATCH", "200")); DUP_SHARE = float(os.environ.get("DUP_SHARE", "0.1"))
LOST_SHARE = float(os.environ.get("LOST_SHARE", "0.05"))
KILLS = int(os.environ.get("KILLS", "0"))   # > 0: the server is SIGKILLed and restarted now and then
TENANTS = [f"soak-{i}" for i in range(4)]
DAY0 = 1746057600  # 2025-05-01T00:00:00Z
# created_at follows a simulated clock that advances ADVANCE seconds per batch sent (over all writers), as a live
# feed's does, so the dedup window (7 days) holds a bounded number of ids; ADVANCE=0 puts every record in 3 days
# (the worst case for memory: every id stays in the window).
ADVANCE = int(os.environ.get("ADVANCE", "120"))
sent_batches = [0]
def sim_now():
    with lock: return DAY0 + sent_batches[0] * ADVANCE
def day(t): return time.strftime("%Y-%m-%d", time.gmtime(t))
lock = threading.Lock()
log = {t: [0, 0] for t in TENANTS}          # records, cost in 1/10 cents (sent as cost_cents with one decimal)
stats = {"batches": 0, "records": 0, "inserted": 0, "duplicates_reported": 0, "replays": 0, "retries": 0, "lost_answers": 0, "unavailable": 0,
         "errors": [], "write_lat": [], "read_lat": [], "reads": 0}
stop = time.monotonic() + SECONDS

def post(conn_box, path, body, headers):
    """POST with retries (same body, same Idempotency-Key) until an HTTP answer; returns (status, headers, json, seconds)."""
    for attempt in range(20):
        try:
            if conn_box[0] is None:
                conn_box[0] = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
            t = time.monotonic()
            conn_box[0].request("POST", path, body=body, headers=headers)
            r = conn_box[0].getresponse(); data = r.read()
            if r.status >= 500 or r.status == 409:       # in use by a concurrent retry, or transient: retry
                with lock: stats["retries"] += 1
                time.sleep(0.05 * (attempt + 1)); continue
            return r.status, dict(r.getheaders()), json.loads(data), time.monotonic() - t
        except (OSError, http.client.HTTPException):
            with lock: stats["retries"] += 1
            conn_box[0] = None; time.sleep(0.05 * (attempt + 1))
    raise RuntimeError("no answer after 20 attempts")

def writer(w):
    rnd = random.Random(w); conn = [None]; n = 0
    headers = {"Authorization": "Bearer " + KEY, "Content-Type": "application/x-ndjson"}
    while time.monotonic() < stop:
        tenant = TENANTS[rnd.randrange(len(TENANTS))]
        with lock:
            base = DAY0 + sent_batches[0] * ADVANCE
            sent_batches[0] += 1
        lines, cost = [], 0
        for i in range(BATCH):
            c = rnd.randrange(1, 1000)   # tenths of a cent
            cost += c
            at = base + rnd.randrange(0, 3600) if ADVANCE else DAY0 + rnd.randrange(0, 3 * 86400)
            lines.append(json.dumps({"tenant_id": tenant, "request_id": f"w{w}-{n}-{i}", "model": "gpt-4o",
                                     "input_tokens": rnd.randrange(1, 5000), "output_tokens": rnd.randrange(1, 500),
                                     "cost_cents": f"{c // 10}.{c % 10}",
                                     "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))}))
        body = ("\n".join(lines) + "\n").encode()
        key = f"soak-{w}-{n}"
        if rnd.random() < LOST_SHARE:   # a request whose answer is lost: sent, then the connection dropped; retried below
            try:
                lost = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
                lost.request("POST", "/api/v1/analytics/records", body=body, headers=dict(headers, **{"Idempotency-Key": key}))
                lost.close()
                with lock: stats["lost_answers"] += 1
            except (OSError, http.client.HTTPException):
                pass
        try:
            status, _, answer, secs = post(conn, "/api/v1/analytics/records", body, dict(headers, **{"Idempotency-Key": key}))
        except RuntimeError as e:
            with lock: stats["errors"].append(f"writer {w} batch {n}: {e}")
            n += 1; continue
        with lock:
            stats["write_lat"].append(secs)
            if status != 200:
                stats["errors"].append(f"writer {w} batch {n}: status {status}: {answer}")
            else:
                stats["batches"] += 1; stats["records"] += BATCH; stats["inserted"] += answer["inserted"]
                log[tenant][0] += BATCH; log[tenant][1] += cost
        if status == 200 and rnd.random() < DUP_SHARE:   # a duplicate batch, as a client that lost the answer would send
            same_key = rnd.random() < 0.5
            h = dict(headers, **({"Idempotency-Key": key} if same_key else {}))
            status2, hdrs, answer2, _ = post(conn, "/api/v1/analytics/records", body, h)
            with lock:
                if same_key:
                    stats["replays"] += 1
                    if status2 != 200 or hdrs.get("Idempotent-Replayed") != "true" or answer2 != answer:
                        stats["errors"].append(f"writer {w} batch {n}: replay answered {status2} {hdrs.get('Idempotent-Replayed')}")
                else:
                    dup = len(answer2.get("duplicates", answer2.get("duplicate_lines", []))) if isinstance(answer2, dict) else -1
                    stats["duplicates_reported"] += answer2.get("inserted", -1) == 0
                    if status2 != 200 or answer2.get("inserted") != 0:
                        stats["errors"].append(f"writer {w} batch {n}: resent batch inserted {answer2.get('inserted')}")
        n += 1

def reader(r):
    rnd = random.Random(1000 + r); conn = None
    while time.monotonic() < stop:
        tenant = TENANTS[rnd.randrange(len(TENANTS))]
        now = sim_now() if ADVANCE else DAY0 + 3 * 86400
        window = f"from={day(now - 3 * 86400)}&to={day(now + 86400)}"
        path = (f"/api/v1/analytics/statistics/usage?tenant_id={tenant}&{window}&resolution=hour"
                if rnd.random() < 0.5 else
                f"/api/v1/analytics/statistics/cost?tenant_id={tenant}&{window}&group_by=model&limit=5")
        try:
            if conn is None: conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
            t = time.monotonic()
            conn.request("GET", path, headers={"Authorization": "Bearer " + KEY})
            resp = conn.getresponse(); resp.read()
            with lock:
                stats["read_lat"].append(time.monotonic() - t); stats["reads"] += 1
                if resp.status != 200: stats["errors"].append(f"reader {r}: status {resp.status} for {path}")
        except (OSError, http.client.HTTPException) as e:
            conn = None
            with lock:
                if KILLS: stats["unavailable"] += 1
                else: stats["errors"].append(f"reader {r}: {e!r}")
            if KILLS: time.sleep(0.1)

def pct(xs, p):
    xs = sorted(xs); return xs[min(len(xs) - 1, int(len(xs) * p))] * 1000 if xs else 0

started = time.monotonic()
threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)] + \
          [threading.Thread(target=reader, args=(r,)) for r in range(READERS)]
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.monotonic() - started

# The check: per tenant, the server's totals equal the log's.
conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
mismatch = []
for t in TENANTS:
    conn.request("GET", f"/api/v1/analytics/statistics/usage?tenant_id={t}&from=2025-05-01&to={day(sim_now() + 2 * 86400)}&resolution=day",
                 headers={"Authorization": "Bearer " + KEY})
    totals = json.loads(conn.getresponse().read())["totals"]
    want_records, want_tenths = log[t]
    got_cost = totals["cost_cents"]
    whole, _, frac = got_cost.partition(".")
    exact = frac[1:].strip("0") == ""
    got_tenths = int(whole) * 10 + (int(frac[0]) if frac else 0)
    if totals["records"] != want_records or not exact or got_tenths != want_tenths:
        mismatch.append(f"{t}: server {totals['records']} records / {got_cost} cents, log {want_records} / {want_tenths / 10} cents")
if stats["inserted"] != stats["records"] and not KILLS:   # a kill between storing and answering: the retry finds duplicates
    mismatch.append(f"first answers inserted {stats['inserted']} of {stats['records']} records sent")
print(json.dumps({
    "seconds": round(elapsed, 1), "simulated_days": round((sim_now() - DAY0) / 86400, 1), "writers": WRITERS, "readers": READERS, "batch": BATCH,
    "batches": stats["batches"], "records": stats["records"], "records_per_s": round(stats["records"] / elapsed),
    "write_p50_ms": round(pct(stats["write_lat"], 0.5), 1), "write_p99_ms": round(pct(stats["write_lat"], 0.99), 1),
    "reads": stats["reads"], "reads_per_s": round(stats["reads"] / elapsed),
    "read_p50_ms": round(pct(stats["read_lat"], 0.5), 1), "read_p99_ms": round(pct(stats["read_lat"], 0.99), 1),
    "replays": stats["replays"], "resent_without_key": stats["duplicates_reported"], "retries": stats["retries"], "lost_answers": stats["lost_answers"],
    "inserted_first_answers": stats["inserted"], "reads_unavailable": stats["unavailable"], "errors": len(stats["errors"]), "mismatches": mismatch, "first_errors": stats["errors"][:5]}))
sys.exit(1 if stats["errors"] or mismatch else 0)
