#!/usr/bin/env python3
"""Browser tests of the web console (/console) in headless Chromium, driven over chromedriver's W3C WebDriver
HTTP API with the standard library only.

Usage: console_test.py TALLY_BINARY OUTPUT_DIR

Builds a data directory with generated records (3 tenants, 60 days ending 2025-06-01, and a few of the last hours),
creates reader, writer and admin keys and a budget, starts `tally serve` on a free port and chromedriver (the browser
in the +05:30 time zone), then checks that:
  - the console loads with a key and shows the tenant's data;
  - the usage chart has one point per bucket of the usage API's series (day and hour resolutions);
  - the breakdown tables hold the cost API's groups, in order, with the same costs; sorting by a column works;
  - the export button produces a ready export of the window's records;
  - the monthly report lists the month's anomalies and incidents; its HTML page renders with its charts;
  - reader: no write controls; no clipped table at 1400 px; at 390 px no sideways scroll, every table fits, the
    breakdowns show Cost and Share, the chart's labels are >= 10 CSS px; times local with UTC on hover; the date
    range; "no data before"; a feature row filters everything (chip, cards, tables, anomalies, export), the chip
    removes it; anomalies grouped per incident and paged; the month picker (final and in-progress months);
  - admin (one tenant): the budget forecast before saving, create, edit, delete (checked against the API) and a
    refused change's problem detail; incident acknowledge and resolve; anomaly resolve; feature tag register and
    edit; webhook set and remove; an export of each kind downloaded, non-empty, the API's bytes;
  - admin (all tenants): cost by tenant as the API says, tenant columns, a tenant row picks the tenant to configure;
  - writer: the webhook and a note on what it cannot read;
  - a bad key shows an error and no data;
  - the browser logged no JavaScript error.
Screenshots of the views go to OUTPUT_DIR: NAME-1400.png and NAME-390.png for reader, reader-filtered,
reader-report, admin-budget-form, admin, admin-all-tenants and writer; plus the older console-*.png and report-*.png.
"""
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
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


# ---------------------------------------------------------------------------------------------- console helpers

CLIPPED_JS = """return Array.from(document.querySelectorAll('#app .scroll')).filter(e => e.offsetParent !== null
  && e.scrollWidth > e.clientWidth + 1).map(e => (e.querySelector('table') || {}).id || 'a table')"""
RAW_ISO_JS = """const w = document.createTreeWalker(document.getElementById('app'), NodeFilter.SHOW_TEXT); const bad = [];
while (w.nextNode()) { const n = w.currentNode; if (n.parentElement.closest('[hidden], title')) continue;
  if (/\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d/.test(n.textContent)) bad.push(n.textContent); } return bad"""
CHART_FONT_JS = """const s = document.getElementById('usage-chart'); const scale = s.getBoundingClientRect().width / s.viewBox.baseVal.width;
return Math.min(...Array.from(s.querySelectorAll('text')).map(t => parseFloat(getComputedStyle(t).fontSize) * scale))"""


def loads(browser):
    return int(browser.js("return Number(document.body.dataset.loads || 0)"))


def login(browser, url, key, tenant=""):
    """Signs in afresh (a new tab state) with `key`, naming `tenant` (admin keys), and waits for the data."""
    browser.go(url)
    wait_for(lambda: browser.js("return document.readyState") == "complete", "the page")
    browser.js("sessionStorage.clear(); location.reload()")
    time.sleep(0.2)
    wait_for(lambda: browser.js("return document.readyState === 'complete' && !document.getElementById('login').hidden"), "the login form")
    browser.type("#key", key)
    if tenant:
        browser.type("#tenant", tenant)
    browser.click("#login-form button[type=submit]")
    wait_for(lambda: loads(browser) > 0, "the console's data")


def act(browser, what, action, timeout=30):
    """Runs a browser action that changes something and waits until the console reloaded its view."""
    before = loads(browser)
    browser.js("document.getElementById('error').hidden = true")
    action()
    wait_for(lambda: loads(browser) > before or browser.js("return !document.getElementById('error').hidden"), what, timeout)
    error = browser.js("return document.getElementById('error').hidden ? '' : document.getElementById('error').textContent")
    notice = browser.js("return document.getElementById('notice').hidden ? '' : document.getElementById('notice').textContent")
    return error, notice


def shots(browser, out, name):
    """Full-page screenshots at 1400 and 390 px; ends at 1400 x 1000."""
    for width in (1400, 390):
        browser.size(width, 1000)
        time.sleep(0.4)
        browser.full_screenshot(os.path.join(out, f"{name}-{width}.png"), width)
    browser.size(1400, 1000)
    time.sleep(0.3)


def readable_checks(browser, label):
    """What must hold at both widths: nothing clipped or scrolling sideways; no raw ISO times; UTC on hover."""
    browser.size(1400, 1000)
    time.sleep(0.4)
    clipped = browser.js(CLIPPED_JS)
    check(not clipped, f"{label}: no table is clipped at 1400 px ({clipped})")
    raw = browser.js(RAW_ISO_JS)
    check(not raw, f"{label}: no raw ISO time is shown ({raw[:3]})")
    titles = browser.js("return Array.from(document.querySelectorAll('#app time')).filter(t => t.offsetParent !== null).map(t => t.title)")
    check(len(titles) > 0 and all("UTC" in t for t in titles), f"{label}: the {len(titles)} times shown carry their UTC form on hover")
    local = browser.js("""const t = document.querySelector('#incident-table time'); if (!t) return null;
      return [new Date().getTimezoneOffset(), t.textContent, new Date(t.getAttribute('datetime')).toLocaleString(undefined,
        {year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'Asia/Kolkata'})]""")
    check(local is not None and local[0] == -330 and local[1] == local[2],
          f"{label}: times are shown in the browser's time zone ({local})")
    browser.size(390, 844)
    time.sleep(0.4)
    overflow = browser.js("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
    check(overflow <= 0, f"{label}: at 390 px the page does not scroll sideways ({overflow}px)")
    clipped = browser.js(CLIPPED_JS)
    check(not clipped, f"{label}: at 390 px every table fits its panel ({clipped})")
    hidden = browser.js("""return Array.from(document.querySelectorAll('table.breakdown td.cost, table.breakdown td.share_pct')).filter(c => {
      const r = c.getBoundingClientRect(), p = c.closest('.scroll').getBoundingClientRect();
      return r.width === 0 || r.right > p.right + 1 || r.right > window.innerWidth; }).length""")
    cells = browser.js("return document.querySelectorAll('table.breakdown td.cost').length")
    check(cells > 0 and hidden == 0, f"{label}: at 390 px every breakdown row shows its Cost and Share ({hidden} of {cells * 2} cut)")
    font = browser.js(CHART_FONT_JS)
    check(font >= 10, f"{label}: at 390 px the chart's labels are {font:.1f} CSS px (>= 10)")
    browser.size(1400, 1000)
    time.sleep(0.3)


# ---------------------------------------------------------------------------------------------- console flows

def reader_flows(browser, out, console, api, tenant, key):
    """The reader's console: readable at both widths, the date range, the filter chip, the month picker; no write controls."""
    auth = {"Authorization": "Bearer " + key}
    login(browser, console + "#end=2025-05-31", key)
    check(browser.js("return document.body.dataset.role") == "reader", "a reader key is seen as a reader")
    writes = browser.js("""return Array.from(document.querySelectorAll(`#app button.edit, #app button.delete, #app button.resolve,
      #app button.acknowledge, #app button.register, #budget-new, #webhook-panel`)).filter(b => b.offsetParent !== null).length""")
    check(writes == 0, f"a reader key sees no write controls ({writes})")
    readable_checks(browser, "reader")
    shots(browser, out, "reader")

    # The date range: from and to, as the API counts them.
    act(browser, "the range", lambda: browser.js("""document.getElementById('from').value = '2025-05-10'; document.getElementById('end').value = '2025-05-20';
      document.getElementById('end').dispatchEvent(new Event('change'))"""))
    status, usage = http("GET", api + "/statistics/usage?from=2025-05-10&to=2025-05-21&resolution=day", headers=auth)
    points = browser.js("return Array.from(document.querySelectorAll('#usage-chart circle.pt')).map(c => c.dataset.costCents)")
    check(status == 200 and points == [p["cost_cents"] for p in usage["series"]] and len(points) == 11,
          f"the range 2025-05-10..2025-05-20 charts the API's {len(points)} days")

    # "vs previous" with no data before: the 30 days from the first day of data.
    act(browser, "the first days", lambda: browser.js("""document.getElementById('from').value = '2025-04-02'; document.getElementById('end').value = '2025-05-01';
      document.getElementById('end').dispatchEvent(new Event('change'))"""))
    sub = browser.js("return document.querySelector('#cards .card .k:last-child').textContent")
    check(sub == "no data before", f"the spend card says 'no data before' when the previous window is empty ({sub!r})")
    act(browser, "the default window", lambda: browser.js("""document.getElementById('from').value = '2025-05-02'; document.getElementById('end').value = '2025-05-31';
      document.getElementById('end').dispatchEvent(new Event('change'))"""))
    sub = browser.js("return document.querySelector('#cards .card .k:last-child').textContent")
    check(sub.endswith("vs previous") and "%" in sub, f"with data before it compares ({sub!r})")

    # Click a feature: everything is filtered by it, a chip shows it, removing the chip clears it.
    feature = browser.js("return document.querySelector('#bd-feature_tag tbody tr').dataset.key")
    act(browser, "the feature filter", lambda: browser.click("#bd-feature_tag tbody tr"))
    chip = browser.js("return Array.from(document.querySelectorAll('#chips .chip')).map(c => c.dataset.field + '=' + c.textContent)")
    check(len(chip) == 1 and chip[0].startswith("feature_tag=feature: " + feature), f"a chip names the filter ({chip})")
    status, summary = http("GET", api + f"/statistics/cost?from=2025-05-02&to=2025-06-01&feature_tag={urllib.parse.quote(feature)}", headers=auth)
    spend = browser.js("return document.querySelector('#cards .card .v').textContent")
    check(spend == "${:,.2f}".format(float(summary["totals"]["cost_cents"]) / 100), f"the spend card shows the feature's spend ({spend})")
    models = browser.js("return Array.from(document.querySelectorAll('#bd-model tbody tr')).map(r => r.dataset.costCents)")
    status, cost = http("GET", api + f"/statistics/cost?from=2025-05-02&to=2025-06-01&group_by=model&limit=20&feature_tag={urllib.parse.quote(feature)}", headers=auth)
    check(models == [g["cost_cents"] for g in cost["groups"]], "the model table is filtered by the feature")
    entities = set(browser.js("return Array.from(document.querySelectorAll('#anomaly-table tr.finding td.entity')).map(t => t.textContent.replace('↳ ', ''))"))
    check(entities <= {"feature " + feature}, f"the anomalies are the feature's ({sorted(entities)[:3]})")
    shots(browser, out, "reader-filtered")
    browser.click("#export")
    wait_for(lambda: browser.js("return document.getElementById('export-status').dataset.exportId"), "the filtered export", timeout=60)
    status, exported = http("GET", api + "/reporting/exports/" + browser.js("return document.getElementById('export-status').dataset.exportId"), headers=auth)
    check(status == 200 and exported["request"]["filters"] == {"feature_tag": [feature]} and exported["rows"] == summary["totals"]["records"],
          f"the export takes the filter: {exported.get('rows')} records of {feature}")
    act(browser, "removing the chip", lambda: browser.click("#chips .chip .x"))
    check(browser.js("return document.querySelectorAll('#chips .chip').length") == 0
          and browser.js("return document.querySelectorAll('#bd-feature_tag tbody tr').length") > 1, "removing the chip clears the filter")

    # Anomalies: grouped, with days, paged.
    groups = browser.js("return Array.from(document.querySelectorAll('#anomaly-table tbody.group')).map(g => [g.dataset.incident, g.querySelectorAll('tr.finding').length, g.querySelector('tr.finding').classList.contains('head')])")
    status, listed = http("GET", api + "/statistics/anomalies?from=2025-05-02&to=2025-06-01&limit=1000", headers=auth)
    incidents = {a["incident_id"] for a in listed["anomalies"] if a["incident_id"]}
    with_tenant = {a["incident_id"] for a in listed["anomalies"] if a["incident_id"] and a["entity"]["level"] == "tenant"}
    check(len(groups) > 0 and all(g[2] for g in groups if g[0] in with_tenant) and {g[0] for g in groups if g[0]} <= incidents,
          f"the anomalies are grouped per incident with the tenant finding first ({len(groups)} groups on the page)")
    days = browser.js("return Array.from(document.querySelectorAll('#anomaly-table tr.finding td:first-child time')).map(t => t.title)")
    check(len(days) > 0 and all("UTC day" in d for d in days), "each anomaly shows its days")
    # Paged: the pages together list every anomaly once (more than one page when there are more anomalies than the 5
    # groups a page holds; since issue 13 a tenant's feature and user findings are entity drivers of its tenant
    # anomaly, so this tenant may have few).
    act(browser, "60 days", lambda: browser.js("""document.getElementById('from').value = '2025-04-02'; document.getElementById('end').value = '2025-05-31';
      document.getElementById('end').dispatchEvent(new Event('change'))"""))
    status, listed = http("GET", api + "/statistics/anomalies?from=2025-04-02&to=2025-06-01&limit=1000", headers=auth)
    seen = []
    for page in range(10):
        seen += browser.js("return Array.from(document.querySelectorAll('#anomaly-table tr.finding')).map(r => r.id.slice(8))")
        if browser.js("const b = document.querySelector('#anomalies .pager .next'); return !b || b.disabled"):
            break
        browser.click("#anomalies .pager .next")
    check((page > 0 or len(listed["anomalies"]) <= 5) and sorted(seen) == sorted(a["id"] for a in listed["anomalies"]),
          f"the anomalies are paged: {page + 1} pages list the API's {len(listed['anomalies'])} anomalies once each")
    act(browser, "the default window", lambda: browser.js("""document.getElementById('from').value = '2025-05-02'; document.getElementById('end').value = '2025-05-31';
      document.getElementById('end').dispatchEvent(new Event('change'))"""))

    # The month picker: a past month is final and matches the API; the current month is labelled in progress.
    for month, final in (("2025-05", True), (time.strftime("%Y-%m", time.gmtime()), False)):
        browser.js(f"document.getElementById('report-month').value = '{month}'")
        browser.click("#report")
        wait_for(lambda: browser.js("return document.getElementById('report-summary').dataset.month") == month, f"the {month} report")
        status, report = http("GET", api + f"/reports/monthly?month={month}", headers=auth)
        shown = browser.js("return document.querySelector('#report-summary .report-cost').textContent")
        badge = browser.js("return document.querySelector('#report-summary .badge').textContent")
        comparison = browser.js("return document.querySelector('#report-summary .report-comparison').textContent")
        check(shown == "${:,.2f}".format(float(report["totals"]["cost_cents"]) / 100) and badge == ("final" if final else "in progress")
              and (final or "same days" in comparison or "no data" in comparison),
              f"the month picker opens {month}: {shown}, {badge}, {comparison!r}")
    shots(browser, out, "reader-report")


def admin_flows(browser, out, console, api, tenant, admin):
    """The admin's console, on one tenant: budgets, incidents, anomalies, feature tags, webhook, exports."""
    auth = {"Authorization": "Bearer " + admin}
    login(browser, console + "#end=2025-05-31", admin, tenant)
    check(browser.js("return document.body.dataset.role") == "admin", "an admin key is seen as an admin")
    browser.js("window.confirm = () => true")

    # Budgets: the forecast before saving, then create, edit and delete, each checked against the API.
    browser.click("#budget-new")
    browser.js("const l = document.getElementById('budget-level'); l.value = 'feature'; l.dispatchEvent(new Event('change'))")
    browser.type("#budget-entity", "docs.summarize")
    browser.js("document.getElementById('budget-entity').dispatchEvent(new Event('change'))")
    browser.type("#budget-limit", "1.50")
    wait_for(lambda: browser.js("return document.getElementById('budget-forecast').dataset.projectedCents"), "the forecast")
    wait_for(lambda: "Computing" not in browser.js("return document.getElementById('budget-forecast').textContent"), "the forecast figures")
    forecast = browser.js("return document.getElementById('budget-forecast').textContent")
    projected = float(browser.js("return document.getElementById('budget-forecast').dataset.projectedCents"))
    check("burn rate" in forecast and "projected" in forecast and "would exceed" in forecast,
          f"the forecast is shown before saving ({forecast!r})")
    shots(browser, out, "admin-budget-form")
    error, notice = act(browser, "the budget", lambda: browser.click("#budget-form button[type=submit]"))
    status, listed = http("GET", api + f"/budgets?tenant_id={tenant}", headers=auth)
    made = [b for b in listed["budgets"] if b["level"] == "feature" and b["feature_tag"] == "docs.summarize"]
    check(not error and "created" in notice and len(made) == 1 and float(made[0]["limit_cents"]) == 150,
          f"a budget is created from the console ({notice or error})")
    if made:
        api_projected = float(made[0]["current"]["projected_spend_cents"])
        check(abs(api_projected - projected) <= max(1.0, 0.02 * api_projected),
              f"the forecast before saving ({projected:.2f}) is the API's after ({api_projected:.2f} cents)")
        bid = made[0]["id"]
        browser.click(f".budget[data-budget='{bid}'] button.edit")
        browser.type("#budget-limit", "750")
        error, notice = act(browser, "the edit", lambda: browser.click("#budget-form button[type=submit]"))
        status, one = http("GET", api + f"/budgets/{bid}", headers=auth)
        check(not error and float(one["budget"]["limit_cents"]) == 75000, f"the budget's limit is changed to $750 ({notice or error})")
        error, notice = act(browser, "the delete", lambda: browser.click(f".budget[data-budget='{bid}'] button.delete"))
        status, _ = http("GET", api + f"/budgets/{bid}", headers=auth)
        check(not error and status == 404 and browser.js(f"return document.querySelectorAll(\".budget[data-budget='{bid}']\").length") == 0,
              f"the budget is deleted ({notice or error})")
    # A refused change shows the API's problem detail.
    browser.click("#budget-new")
    browser.type("#budget-limit", "0")
    error, _ = act(browser, "a refused budget", lambda: browser.click("#budget-form button[type=submit]"))
    check("limit" in error.lower(), f"a refused budget shows the API's problem detail ({error!r})")
    browser.click("#budget-cancel")

    # Anomalies: resolve one.
    anomaly = browser.js("const r = document.querySelector('#anomaly-table tr.finding[data-status=open]'); return r ? r.id.slice(8) : null")
    check(anomaly is not None, "an open anomaly is listed with its Resolve button")
    if anomaly:
        error, notice = act(browser, "resolve the anomaly", lambda: browser.click(f"#anomaly-{anomaly} button.resolve"))
        status, one = http("GET", api + f"/anomalies/{anomaly}", headers=auth)
        check(not error and one["anomaly"]["status"] == "resolved", f"the anomaly is resolved ({notice or error})")

    # Incidents: acknowledge, then resolve.
    incident = browser.js("const r = document.querySelector('#incident-table tr[data-status=open]'); return r ? r.id.slice(9) : null")
    check(incident is not None, "an open incident is listed with its actions")
    if incident:
        error, notice = act(browser, "acknowledge", lambda: browser.click(f"#incident-{incident} button.acknowledge"))
        status, one = http("GET", api + f"/incidents/{incident}", headers=auth)
        check(not error and one["status"] == "acknowledged" and browser.js(f"return document.getElementById('incident-{incident}').dataset.status") == "acknowledged",
              f"the incident is acknowledged ({notice or error})")
        error, notice = act(browser, "resolve", lambda: browser.click(f"#incident-{incident} button.resolve"))
        status, one = http("GET", api + f"/incidents/{incident}", headers=auth)
        check(not error and one["status"] == "resolved", f"the incident is resolved ({notice or error})")
        # Resolving an incident resolves its open anomalies (the seed's contract): none of them is left open.
        left = [a["id"] for a in one.get("anomalies", []) if not a.get("resolved", a.get("status") == "resolved")]
        check(not left and one.get("open_anomaly_count", 0) == 0, f"the incident's anomalies are resolved with it (open: {left})")

    # Feature tags: register an unregistered tag seen in the records, then change its owner.
    tag = browser.js("const r = document.querySelector('#tag-table tr.unregistered'); return r ? r.dataset.tag : null")
    check(tag is not None, "the unregistered tags seen in the records are offered for registration")
    if tag:
        browser.click(f"#tag-table tr.unregistered[data-tag='{tag}'] button.register")
        browser.type("#tag-owner", "team-docs")
        browser.type("#tag-description", "Summaries of uploaded documents")
        error, notice = act(browser, "register", lambda: browser.click("#tag-form button[type=submit]"))
        status, tags = http("GET", api + f"/feature-tags?tenant_id={tenant}", headers=auth)
        mine = [t for t in tags["tags"] if t["tag"] == tag]
        check(not error and len(mine) == 1 and mine[0]["owner"] == "team-docs", f"the tag {tag} is registered with its owner ({notice or error})")
        browser.click(f"#tag-table tr[data-tag='{tag}'] button.edit")
        browser.type("#tag-owner", "team-platform")
        error, notice = act(browser, "edit the tag", lambda: browser.click("#tag-form button[type=submit]"))
        status, tags = http("GET", api + f"/feature-tags?tenant_id={tenant}", headers=auth)
        check(not error and [t["owner"] for t in tags["tags"] if t["tag"] == tag] == ["team-platform"], f"the tag's owner is changed ({notice or error})")

    # The incident webhook: set, then remove.
    browser.type("#webhook-url", "https://hooks.example.com/tally")
    browser.type("#webhook-secret", "a-secret-of-24-characters")
    error, notice = act(browser, "the webhook", lambda: browser.click("#webhook-form button[type=submit]"))
    status, hook = http("GET", api + f"/webhook?tenant_id={tenant}", headers=auth)
    check(not error and status == 200 and hook["url"] == "https://hooks.example.com/tally"
          and "hooks.example.com" in browser.js("return document.getElementById('webhook').textContent"), f"the webhook is set ({notice or error})")
    shots(browser, out, "admin")
    error, notice = act(browser, "remove the webhook", lambda: browser.click("#webhook-delete"))
    status, _ = http("GET", api + f"/webhook?tenant_id={tenant}", headers=auth)
    check(not error and status == 404, f"the webhook is removed ({notice or error})")

    # Exports of each kind, downloaded by the console, not empty, the bytes the API wrote.
    for kind, fmt in (("records", "csv"), ("usage", "ndjson"), ("cost", "json")):
        browser.js(f"document.getElementById('export-kind').value = '{kind}'; document.getElementById('export-kind').dispatchEvent(new Event('change'));"
                   f"document.getElementById('export-format').value = '{fmt}'")
        browser.click("#export")
        wait_for(lambda: browser.js("return document.getElementById('export-status').dataset.exportId")
                 and browser.js("return document.getElementById('export-status').dataset.kind") == kind
                 or not browser.js("return document.getElementById('error').hidden"), f"the {kind} export", timeout=60)
        export_id = browser.js("return document.getElementById('export-status').dataset.exportId")
        size = int(browser.js("return Number(document.getElementById('export-status').dataset.bytes || 0)"))
        status, exported = http("GET", api + f"/reporting/exports/{export_id}", headers=auth)
        with urllib.request.urlopen(urllib.request.Request(api + f"/reporting/exports/{export_id}/download", headers=auth), timeout=30) as r:
            body = r.read()
        check(status == 200 and exported["request"]["kind"] == kind and exported["request"]["format"] == fmt
              and size > 0 and size == exported["bytes"] == len(body),
              f"the {kind} {fmt} export is downloaded ({size} bytes, {exported.get('rows')} rows)")
    readable_checks(browser, "admin")


def admin_all_flows(browser, out, console, api, admin):
    """An admin key naming no tenant: cost by tenant, tenant columns."""
    auth = {"Authorization": "Bearer " + admin}
    login(browser, console + "#end=2025-05-31", admin)
    status, report = http("GET", api + "/statistics/cost?from=2025-05-02&to=2025-06-01&group_by=tenant&limit=100", headers=auth)
    rows = browser.js("return Array.from(document.querySelectorAll('#tenant-table tbody tr')).map(r => [r.dataset.key, r.dataset.costCents])")
    check(rows == [[g["key"]["tenant_id"], g["cost_cents"]] for g in report["groups"]] and len(rows) == 3, f"the cost-by-tenant table is the API's {len(rows)} tenants")
    headers = browser.js("return Array.from(document.querySelectorAll('#incident-table th, #anomaly-table thead th')).map(t => t.textContent)")
    check(headers.count("Tenant") == 2, "the incident and anomaly tables have a tenant column")
    last = rows[-1][0]
    act(browser, "picking a tenant", lambda: browser.click("#tenant-table tbody tr:last-child"))
    status, tags = http("GET", api + f"/feature-tags?tenant_id={last}&from=2025-05-02&to=2025-06-01", headers=auth)
    shown = browser.js("return Array.from(document.querySelectorAll('#tag-table tbody tr')).map(r => r.dataset.tag)")
    expected = [t["tag"] for t in tags["tags"]] + [t["tag"] for t in tags["unregistered"]]
    check(browser.js("return document.getElementById('act-tenant').value") == last and shown == expected and len(shown) > 0,
          f"clicking a tenant row picks it for configuration: its {len(shown)} feature tags are shown")
    readable_checks(browser, "admin, all tenants")
    shots(browser, out, "admin-all-tenants")


def writer_flows(browser, out, console, api, tenant, writer):
    """A writer key: told what it cannot read; configures the webhook."""
    login(browser, console + "#end=2025-05-31", writer)
    check(browser.js("return document.body.dataset.role") == "writer" and not browser.js("return document.getElementById('writer-note').hidden")
          and not browser.js("return document.getElementById('webhook-panel').hidden"), "a writer key sees the webhook, and a note on what it cannot read")
    shots(browser, out, "writer")


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
        writer = subprocess.run([tally, "keys", "create", "--data", data, "--tenant", tenant, "--role", "writer"],
                                check=True, capture_output=True, text=True).stdout.strip()

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
        # Spend in the current period, so the budget forecast has something to project.
        now = time.time()
        recent = [{"tenant_id": tenant, "request_id": f"console-test-{i}", "model": "gpt-4o-mini", "feature_tag": "docs.summarize",
                   "input_tokens": 1000, "output_tokens": 100, "cost_cents": "125",
                   "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 3600 * (i + 1)))} for i in range(3)]
        status, _ = http("POST", api + "/records", recent, {"Authorization": "Bearer " + writer})
        check(status in (200, 201, 202), f"records of the last hours are stored ({status})")

        driver_port = free_port()
        # The browser runs in a time zone other than UTC (India, +05:30), so local times differ from the API's UTC ones.
        driver = subprocess.Popen(["chromedriver", f"--port={driver_port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  env=dict(os.environ, TZ="Asia/Kolkata"))
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
        browser.size(1400, 1000)
        console = f"http://127.0.0.1:{port}/console"
        reader_flows(browser, out, console, api, tenant, key)
        admin_flows(browser, out, console, api, tenant, admin)
        admin_all_flows(browser, out, console, api, admin)
        writer_flows(browser, out, console, api, tenant, writer)
        login(browser, console + "#end=2025-05-31", key)
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

        # 10. No JavaScript errors: nothing from scripts or console.error. The API's 4xx answers (the bad key's 401s, the
        # writer's refused statistics, "no webhook", the refused budget) are answers the console shows, not failures.
        entries = log_before_bad_key + browser.log()
        api_answer = re.compile(r"/api/v1/analytics/\S* - Failed to load resource: the server responded with a status of 4\d\d")
        errors = [e for e in entries if e.get("level") == "SEVERE" and not (e.get("source") == "network" and api_answer.search(e.get("message", "")))]
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
