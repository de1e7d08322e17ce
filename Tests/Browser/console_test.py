#!/usr/bin/env python3
"""Browser tests of the web console (/console) in headless Chromium, driven over chromedriver's W3C WebDriver
HTTP API with the standard library only.

Usage: console_test.py TALLY_BINARY OUTPUT_DIR

Builds a data directory with generated records (3 tenants, 60 days ending 2025-06-01), creates keys and a
budget, starts `tally serve` on a free port and chromedriver, then checks that:
  - the console loads with a key and shows the tenant's data;
  - the usage chart has one point per bucket of the usage API's series (day and hour resolutions);
  - the breakdown tables hold the cost API's groups, in order, with the same costs; sorting by a column works;
  - the export button produces a ready export of the window's records;
  - the monthly report lists the month's anomalies and incidents; its HTML page renders with its charts;
  - a bad key shows an error and no data;
  - the browser logged no JavaScript error.
Screenshots of the main views go to OUTPUT_DIR.
"""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

END = "2025-06-01T00:00:00Z"
FAILURES = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        FAILURES.append(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    h = {"Content-Type": "application/json"} if body is not None else {}
    h.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw[:1] in (b"{", b"[") else raw)
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, (json.loads(raw) if raw[:1] in (b"{", b"[") else raw)


def wait_for(predicate, what, timeout=20.0):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # the page may be mid-render
            last = e
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what} (last: {last})")


class Browser:
    """A chromedriver session: just the WebDriver commands these tests use."""

    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        options = {
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000",
                     "--hide-scrollbars", "--no-first-run", "--no-default-browser-check"],
        }
        if chromium:
            options["binary"] = chromium
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options,
                                                  "goog:loggingPrefs": {"browser": "ALL"}}}}
        status, answer = http("POST", self.base + "/session", caps, timeout=60)
        if status != 200:
            raise RuntimeError(f"chromedriver refused the session: {answer}")
        self.session = answer["value"]["sessionId"]

    def cmd(self, method, path, body=None):
        status, answer = http(method, f"{self.base}/session/{self.session}{path}", body if body is not None else ({} if method == "POST" else None))
        if status != 200:
            raise RuntimeError(f"{method} {path}: {answer}")
        return answer["value"] if isinstance(answer, dict) else answer

    def go(self, url):
        self.cmd("POST", "/url", {"url": url})

    def js(self, script, *args):
        return self.cmd("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css):
        element = self.cmd("POST", "/element", {"using": "css selector", "value": css})
        return next(iter(element.values()))

    def click(self, css):
        self.cmd("POST", f"/element/{self.find(css)}/click")

    def type(self, css, text):
        element = self.find(css)
        self.cmd("POST", f"/element/{element}/clear")
        self.cmd("POST", f"/element/{element}/value", {"text": text})

    def size(self, width, height):
        self.cmd("POST", "/window/rect", {"width": width, "height": height})

    def screenshot(self, path):
        with open(path, "wb") as f:
            f.write(base64.b64decode(self.cmd("GET", "/screenshot")))
        print(f"     screenshot {path}", flush=True)

    def full_screenshot(self, path, width):
        height = self.js("return Math.ceil(document.documentElement.scrollHeight)")
        self.size(width, min(max(int(height) + 140, 600), 6000))
        time.sleep(0.3)
        self.screenshot(path)

    def log(self):
        try:
            return self.cmd("POST", "/se/log", {"type": "browser"})
        except RuntimeError:
            return []

    def quit(self):
        try:
            http("DELETE", f"{self.base}/session/{self.session}")
        except Exception:
            pass


def main():
    tally, out = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="tally-browser-")
    data = os.path.join(work, "data")
    processes = []
    browser = None
    try:
        gen = subprocess.Popen([tally, "generate", "--rows", "30000", "--days", "60", "--tenants", "3", "--seed", "7",
                                "--end", END, "--format", "csv", "--out", "-"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        subprocess.run([tally, "import", "--data", data, "--format", "csv", "-"], stdin=gen.stdout, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        gen.wait()
        tenants = subprocess.run([tally, "query", "cost", "--data", data, "--tenant", "*", "--group-by", "tenant", "--format", "csv"],
                                 check=True, capture_output=True, text=True).stdout.strip().splitlines()
        tenant = tenants[1].split(",")[0]
        key = subprocess.run([tally, "keys", "create", "--data", data, "--tenant", tenant, "--role", "reader"],
                             check=True, capture_output=True, text=True).stdout.strip()
        admin = subprocess.run([tally, "keys", "create", "--data", data, "--admin"], check=True, capture_output=True, text=True).stdout.strip()

        port = free_port()
        server = subprocess.Popen([tally, "serve", "--data", data, "--port", str(port)], stdout=subprocess.PIPE,
                                  stderr=open(os.path.join(out, "serve.log"), "w"), text=True)
        processes.append(server)
        api = f"http://127.0.0.1:{port}/api/v1/analytics"
        wait_for(lambda: http("GET", api + "/health")[0] in (200, 503), "the server")
        auth = {"Authorization": "Bearer " + key}
        status, _ = http("POST", api + "/budgets", {"tenant_id": tenant, "level": "tenant", "period": "monthly", "limit_cents": "50000"},
                         {"Authorization": "Bearer " + admin})
        check(status == 201, "a monthly budget is created for the console to show")
        # A small data set: judge its tenant with a 1-dollar daily floor (the default is 5 dollars).
        status, _ = http("PUT", api + "/anomalies/settings", {"tenant_id": tenant, "minimum_daily_cents": "100"},
                         {"Authorization": "Bearer " + admin})
        check(status == 200, f"the tenant's anomaly settings are changed ({status})")
        status, detected = http("POST", api + f"/anomalies/detect?tenant_id={tenant}&from=2025-04-02&to=2025-06-01",
                                {}, {"Authorization": "Bearer " + admin}, timeout=120)
        check(status == 200, f"anomaly detection runs ({status})")

        driver_port = free_port()
        driver = subprocess.Popen(["chromedriver", f"--port={driver_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(driver)
        wait_for(lambda: http("GET", f"http://127.0.0.1:{driver_port}/status")[1]["value"]["ready"], "chromedriver")
        browser = Browser(driver_port)

        # 1. The console loads with a key.
        browser.go(f"http://127.0.0.1:{port}/console#end=2025-05-31")
        wait_for(lambda: browser.js("return document.readyState") == "complete", "the page")
        check(browser.js("return !document.getElementById('login').hidden"), "the console asks for a key first")
        browser.type("#key", key)
        browser.click("#login-form button[type=submit]")
        wait_for(lambda: browser.js("return document.querySelectorAll('#bd-project_id tbody tr').length") > 0, "the console's data")
        check(browser.js("return document.getElementById('app').hidden === false && document.getElementById('login').hidden"),
              "the console shows the data view after a good key")
        check(browser.js("return sessionStorage.getItem('tally.key')") == key and browser.js("return localStorage.length") == 0,
              "the key is kept in sessionStorage only")
        check(tenant in browser.js("return document.getElementById('who').textContent"), "the header names the key's tenant")
        wait_for(lambda: browser.js("return document.querySelectorAll('.budget').length") > 0, "the budgets")

        # 2. The chart has one point per bucket of the API's series; the previous period is drawn too.
        window = {"from": "2025-05-02T00:00:00Z", "to": END}
        status, usage = http("GET", api + f"/statistics/usage?from={window['from']}&to={window['to']}&resolution=day", headers=auth)
        points = browser.js("return Array.from(document.querySelectorAll('#usage-chart circle.pt')).map(c => [c.dataset.start, c.dataset.costCents])")
        check(status == 200 and len(points) == len(usage["series"]) == 30, f"the day chart has {len(points)} points, the API's series {len(usage['series'])}")
        check(points == [[p["start"], p["cost_cents"]] for p in usage["series"]], "each chart point is the API's bucket and cost")
        check(browser.js("return document.querySelectorAll('#usage-chart polyline.prev').length") == 1, "the previous period is drawn")
        spend = browser.js("return document.querySelector('#cards .card .v').textContent")
        check(spend == "${:,.2f}".format(float(usage["totals"]["cost_cents"]) / 100), f"the spend card shows the API's total ({spend})")
        browser.size(1280, 1000)
        browser.full_screenshot(os.path.join(out, "console-desktop.png"), 1280)

        # 3. A breakdown table matches the API, and sorts.
        for field, key_name in [("feature_tag", "feature"), ("model", "model")]:
            status, cost = http("GET", api + f"/statistics/cost?from={window['from']}&to={window['to']}&group_by={key_name}&limit=20", headers=auth)
            rows = browser.js(f"return Array.from(document.querySelectorAll('#bd-{field} tbody tr')).map(r => [r.dataset.key, r.dataset.costCents, r.querySelector('td.cost').textContent])")
            expected = [[g["key"][field], g["cost_cents"], "${:,.2f}".format(float(g["cost_cents"]) / 100)] for g in cost["groups"]]
            check(status == 200 and rows == expected and len(rows) > 1, f"the {field} table holds the cost API's {len(expected)} groups in order")
        browser.click("#bd-model th[data-column=cost_cents]")
        ascending = browser.js("return Array.from(document.querySelectorAll('#bd-model tbody tr')).map(r => Number(r.dataset.costCents))")
        check(ascending == sorted(ascending) and ascending != sorted(ascending, reverse=True), "clicking Cost sorts the model table ascending")
        browser.click("#bd-model th[data-column=key]")
        names = browser.js("return Array.from(document.querySelectorAll('#bd-model tbody tr')).map(r => r.dataset.key)")
        check(names == sorted(names), "clicking the key column sorts by name")

        # 4. Export.
        browser.click("#export")
        wait_for(lambda: browser.js("return document.getElementById('export-status').dataset.exportId"), "the export", timeout=60)
        export_id = browser.js("return document.getElementById('export-status').dataset.exportId")
        status, exported = http("GET", api + "/reporting/exports/" + export_id, headers=auth)
        records = sum(p["records"] for p in usage["series"])
        check(status == 200 and exported["status"] == "ready" and exported["rows"] == records,
              f"the export button made a ready export of the window's {records} records")

        # 5. Hour resolution: 24 points, as the API says.
        browser.js("document.getElementById('resolution').value = 'hour'; document.getElementById('resolution').dispatchEvent(new Event('change'))")
        wait_for(lambda: browser.js("return document.querySelectorAll('#usage-chart circle.pt').length") == 24, "the hour chart")
        status, hourly = http("GET", api + "/statistics/usage?from=2025-05-31T00:00:00Z&to=2025-06-01T00:00:00Z&resolution=hour", headers=auth)
        points = browser.js("return Array.from(document.querySelectorAll('#usage-chart circle.pt')).map(c => c.dataset.costCents)")
        check(points == [p["cost_cents"] for p in hourly["series"]], "the hour chart's 24 points are the API's hourly costs")
        browser.full_screenshot(os.path.join(out, "console-hourly.png"), 1280)

        # 6. Phone width: nothing wider than the screen but the scrollable tables.
        browser.js("document.getElementById('resolution').value = 'day'; document.getElementById('resolution').dispatchEvent(new Event('change'))")
        wait_for(lambda: browser.js("return document.querySelectorAll('#usage-chart circle.pt').length") == 30, "the day chart again")
        browser.size(390, 844)
        time.sleep(0.3)
        overflow = browser.js("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        check(overflow <= 0, f"at a phone width the page does not scroll sideways ({overflow}px)")
        browser.full_screenshot(os.path.join(out, "console-phone.png"), 390)
        browser.size(1280, 1000)

        # 7. The monthly report lists the month's anomalies and their incidents, as the anomaly API does.
        status, report = http("GET", api + "/reports/monthly?month=2025-05", headers=auth)
        status2, listed = http("GET", api + "/statistics/anomalies?from=2025-05-01&to=2025-06-01&limit=500", headers=auth)
        anomaly_ids = sorted(a["id"] for a in listed.get("anomalies", []))
        incident_ids = sorted({a["incident_id"] for a in listed.get("anomalies", []) if a.get("incident_id")})
        check(status == 200 and status2 == 200 and sorted(a["id"] for a in report["anomalies"]) == anomaly_ids and len(anomaly_ids) > 0,
              f"the report lists the month's {len(anomaly_ids)} anomalies")
        check(set(incident_ids) <= {i["id"] for i in report["incidents"]}, f"the report lists their {len(incident_ids)} incidents")

        # 8. The monthly report's printable page renders (saved, then opened from disk: it needs no server).
        status, page = http("GET", api + "/reports/monthly?month=2025-05&format=html", headers=auth)
        report_path = os.path.join(out, "report-2025-05.html")
        with open(report_path, "wb") as f:
            f.write(page)
        browser.go("file://" + report_path)
        wait_for(lambda: browser.js("return document.readyState") == "complete", "the report page")
        check(status == 200 and browser.js("return document.querySelectorAll('svg').length") == 2
              and browser.js("return document.querySelectorAll('rect.day').length") == 31, "the monthly report page shows its two charts")
        browser.full_screenshot(os.path.join(out, "report-2025-05.png"), 1000)
        browser.size(1280, 1000)
        browser.go(f"http://127.0.0.1:{port}/console#end=2025-05-31")
        wait_for(lambda: browser.js("return document.querySelectorAll('#bd-project_id tbody tr').length") > 0, "the console again")

        # 9. A bad key shows an error and no data.
        log_before_bad_key = browser.log()
        browser.click("#logout")
        browser.type("#key", "tly_not-a-real-key")
        browser.click("#login-form button[type=submit]")
        wait_for(lambda: browser.js("return !document.getElementById('login-error').hidden"), "the bad key's error")
        message = browser.js("return document.getElementById('login-error').textContent")
        check("unknown or revoked" in message, f"a bad key shows an error ({message!r})")
        check(browser.js("return document.getElementById('app').hidden"), "a bad key shows no data")
        check(browser.js("return sessionStorage.getItem('tally.key')") is None, "a bad key is forgotten")
        browser.screenshot(os.path.join(out, "console-bad-key.png"))

        # 10. No JavaScript errors: nothing from scripts or console.error; the only failed loads are the bad key's 401s.
        entries = log_before_bad_key + browser.log()
        errors = [e for e in entries if e.get("level") == "SEVERE" and not ("401" in e.get("message", "") and e.get("source") == "network")]
        for e in errors:
            print("     browser:", e.get("source"), e.get("message"), flush=True)
        check(not errors, f"the browser logged no JavaScript error ({len(entries)} log entries)")
    finally:
        if browser:
            browser.quit()
        for p in processes:
            p.send_signal(signal.SIGTERM)
        for p in processes:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)
    if FAILURES:
        print(f"{len(FAILURES)} browser check(s) failed", flush=True)
        sys.exit(1)
    print("all browser checks passed; screenshots in " + out, flush=True)


if __name__ == "__main__":
    main()
