// Tally console: plain JavaScript over the facade /api/v1/analytics/*. No dependencies, no external requests.
// The API key lives in sessionStorage (this tab only) and is sent as Authorization: Bearer.
'use strict';

const API = '/api/v1/analytics';
const DAY = 86400000, HOUR = 3600000;
const BREAKDOWNS = [
  ['feature_tag', 'feature', 'Cost by feature'],
  ['user_id', 'user', 'Cost by user'],
  ['model', 'model', 'Cost by model'],
  ['project_id', 'project', 'Cost by project'],
];
const $ = (id) => document.getElementById(id);
const state = { sorts: {}, groups: {} };

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

function key() { return sessionStorage.getItem('tally.key'); }
function tenant() { return sessionStorage.getItem('tally.tenant') || ''; }

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: 'Bearer ' + key() }, options.headers || {});
  const response = await fetch(API + path, Object.assign({}, options, { headers }));
  if (!response.ok) {
    let detail = response.status + ' ' + response.statusText;
    try { const p = await response.json(); if (p.detail) detail = p.detail; } catch (e) { /* not JSON */ }
    throw new ApiError(response.status, detail);
  }
  return response;
}
async function getJSON(path) { return (await api(path)).json(); }

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.append(k, v);
  if (tenant()) q.append('tenant_id', tenant());
  const s = q.toString();
  return s ? '?' + s : '';
}

// Money: cost_cents is an exact decimal string; shown as dollars.
function dollars(cents, digits = 2) {
  const v = Number(cents) / 100;
  const sign = v < 0 ? '-' : '';
  return sign + '$' + Math.abs(v).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
function count(n) { return Number(n).toLocaleString('en-US'); }
function pct(v) { return v === null || v === undefined ? '–' : (Math.round(v * 10) / 10) + '%'; }
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}
const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

// The window the console shows: the last 30 days (day) or 24 hours (hour) ending at the chosen date, and the
// window of the same length before it.
function windows() {
  const resolution = $('resolution').value;
  const width = resolution === 'hour' ? HOUR : DAY;
  const endInput = $('end').value;
  let to = endInput ? Date.parse(endInput + 'T00:00:00Z') + DAY : Math.floor(Date.now() / width) * width + width;
  const span = resolution === 'hour' ? 24 * HOUR : 30 * DAY;
  const from = to - span;
  return { resolution, from, to, prevFrom: from - span, prevTo: from };
}
const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');

function showError(e) {
  if (e instanceof ApiError && e.status === 401) { logout(e.message); return; }
  $('error').textContent = e.message;
  $('error').hidden = false;
}

async function load() {
  $('error').hidden = true;
  const w = windows();
  const base = { from: iso(w.from), to: iso(w.to) };
  try {
    const [usage, previous] = await Promise.all([
      getJSON('/statistics/usage' + query(Object.assign({ resolution: w.resolution }, base))),
      getJSON('/statistics/usage' + query({ from: iso(w.prevFrom), to: iso(w.prevTo), resolution: w.resolution })),
    ]);
    $('login').hidden = true;
    $('app').hidden = false;
    $('logout').hidden = false;
    $('who').textContent = 'tenant ' + (usage.scope.tenant_id || 'all tenants');
    renderCards(usage);
    renderChart(usage, previous);
    const breakdowns = await Promise.all(BREAKDOWNS.map(([, key]) =>
      getJSON('/statistics/cost' + query(Object.assign({ group_by: key, limit: 20 }, base)))));
    BREAKDOWNS.forEach(([field], i) => { state.groups[field] = breakdowns[i]; });
    renderBreakdowns();
    const budgets = await getJSON('/budgets' + query({}));
    renderBudgets(budgets.budgets || []);
    await loadEvents(base);
  } catch (e) {
    showError(e);
  }
}

async function loadEvents(base) {
  const anomalies = $('anomalies'), incidents = $('incidents');
  try {
    const list = await getJSON('/statistics/anomalies' + query(base));
    renderAnomalies(list.anomalies || []);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) throw e;
    anomalies.replaceChildren(el('p', { class: 'empty', text: 'Anomalies are not available: ' + e.message }));
  }
  try {
    const list = await getJSON('/incidents' + query({}));
    renderIncidents(list.incidents || []);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) throw e;
    incidents.replaceChildren(el('p', { class: 'empty', text: 'Incidents are not available: ' + e.message }));
  }
}

function renderCards(usage) {
  const t = usage.totals, c = usage.signals.change;
  const delta = Number(c.cost_cents_delta);
  const card = (k, v, sub, cls = '') => el('div', { class: 'card' }, el('div', { class: 'k', text: k }), el('div', { class: 'v', text: v }),
    el('div', { class: 'k ' + cls, text: sub }));
  $('cards').replaceChildren(
    card('Spend', dollars(t.cost_cents), (delta >= 0 ? '+' : '') + dollars(c.cost_cents_delta) + ' (' + pct(c.cost_change_pct) + ') vs previous',
      delta > 0 ? 'up' : delta < 0 ? 'down' : ''),
    card('Requests', count(t.records), (c.records_delta >= 0 ? '+' : '') + count(c.records_delta) + ' vs previous'),
    card('Tokens', count(t.total_tokens), count(t.input_tokens) + ' in / ' + count(t.output_tokens) + ' out'),
    card('Peak ' + usage.window.resolution, usage.signals.peak ? dollars(usage.signals.peak.cost_cents) : '–',
      usage.signals.peak ? usage.signals.peak.start : ''));
  $('usage-window').textContent = usage.window.from + ' – ' + usage.window.to + ' · ' + usage.window.buckets + ' ' + usage.window.resolution + 's';
}

// The series as a line with a dot per bucket; the previous window's series (aligned bucket by bucket) dashed.
function renderChart(usage, previous) {
  const W = 800, H = 260, L = 64, R = 12, T = 12, B = 28;
  const cur = usage.series.map((p) => Number(p.cost_cents));
  const prev = previous.series.map((p) => Number(p.cost_cents));
  const max = niceCeiling(Math.max(1e-9, ...cur, ...prev));
  const n = Math.max(cur.length, 1);
  const x = (i) => L + (n === 1 ? (W - L - R) / 2 : i * (W - L - R) / (n - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Cost per ' + usage.window.resolution, id: 'usage-chart' });
  for (let k = 0; k <= 4; k++) {
    const v = max * k / 4;
    root.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#eef0f4' }));
    const label = svg('text', { x: L - 6, y: y(v) + 4, 'font-size': 11, 'text-anchor': 'end', fill: '#5b6577' });
    label.textContent = dollars(v, v < 100 ? 2 : 0);
    root.append(label);
  }
  const every = Math.max(1, Math.ceil(n / 8));
  usage.series.forEach((p, i) => {
    if (i % every !== 0) return;
    const t = svg('text', { x: x(i), y: H - 8, 'font-size': 11, 'text-anchor': 'middle', fill: '#5b6577' });
    t.textContent = usage.window.resolution === 'hour' ? p.start.slice(11, 16) : p.start.slice(5, 10);
    root.append(t);
  });
  if (prev.length) {
    root.append(svg('polyline', { class: 'prev', fill: 'none', stroke: '#f79009', 'stroke-width': 2, 'stroke-dasharray': '5 4',
      points: prev.slice(0, n).map((v, i) => `${x(i)},${y(v)}`).join(' ') }));
  }
  root.append(svg('polyline', { class: 'cur', fill: 'none', stroke: '#3b6fd8', 'stroke-width': 2,
    points: cur.map((v, i) => `${x(i)},${y(v)}`).join(' ') }));
  usage.series.forEach((p, i) => {
    const dot = svg('circle', { class: 'pt', cx: x(i), cy: y(cur[i]), r: 3, fill: '#3b6fd8', 'data-start': p.start, 'data-cost-cents': p.cost_cents });
    const title = svg('title');
    title.textContent = `${p.start}: ${dollars(p.cost_cents)}, ${count(p.records)} requests` +
      (previous.series[i] ? ` (previous: ${dollars(previous.series[i].cost_cents)})` : '');
    dot.append(title);
    root.append(dot);
  });
  $('chart').replaceChildren(root);
}

// The smallest of 1, 2, 2.5, 5 x 10^k (in cents) at or above v, so the axis ticks (quarters) read as round amounts.
function niceCeiling(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const COLUMNS = [
  ['key', 'Key', false], ['records', 'Requests', true], ['total_tokens', 'Tokens', true], ['cost_cents', 'Cost', true], ['share_pct', 'Share', true],
];

function renderBreakdowns() {
  const host = $('breakdowns');
  host.replaceChildren();
  for (const [field, , title] of BREAKDOWNS) {
    const report = state.groups[field];
    if (!report) continue;
    const sort = state.sorts[field] || { column: 'cost_cents', desc: true };
    const groups = report.groups.slice().sort((a, b) => {
      const va = sort.column === 'key' ? a.key[field] : Number(a[sort.column] ?? 0);
      const vb = sort.column === 'key' ? b.key[field] : Number(b[sort.column] ?? 0);
      const c = va < vb ? -1 : va > vb ? 1 : 0;
      return sort.desc ? -c : c;
    });
    const top = Math.max(1e-9, ...report.groups.map((g) => g.share_pct || 0));
    const head = el('tr');
    for (const [column, label, numeric] of COLUMNS) {
      const th = el('th', { class: (numeric ? 'n ' : '') + (sort.column === column ? (sort.desc ? 'sorted-desc' : 'sorted-asc') : ''),
        'data-column': column, text: column === 'key' ? field : label, scope: 'col' });
      th.addEventListener('click', () => {
        const same = sort.column === column;
        state.sorts[field] = { column, desc: same ? !sort.desc : column !== 'key' };
        renderBreakdowns();
      });
      head.append(th);
    }
    const body = el('tbody');
    for (const g of groups) {
      const value = g.key[field];
      body.append(el('tr', { 'data-key': value, 'data-cost-cents': g.cost_cents },
        el('td', { class: 'key', text: value === '' ? '(none)' : value, title: value }),
        el('td', { class: 'n', text: count(g.records) }),
        el('td', { class: 'n', text: count(g.total_tokens) }),
        el('td', { class: 'n cost', text: dollars(g.cost_cents) }),
        el('td', {}, el('div', { class: 'bar' }, el('i', { style: `width:${Math.round((g.share_pct || 0) / top * 100)}%` }),
          el('span', { text: pct(g.share_pct) })))));
    }
    const others = Number(report.others.records) > 0
      ? el('p', { class: 'muted', text: `Others: ${count(report.others.records)} requests, ${dollars(report.others.cost_cents)}` }) : '';
    host.append(el('div', { class: 'panel' }, el('h2', { text: title }),
      el('div', { class: 'scroll' }, el('table', { id: 'bd-' + field, class: 'breakdown' }, el('thead', {}, head), body)), others));
  }
}

function renderBudgets(budgets) {
  const host = $('budgets');
  if (!budgets.length) { host.replaceChildren(el('p', { class: 'empty', text: 'No budgets.' })); return; }
  host.replaceChildren(...budgets.map((b) => {
    const c = b.current;
    const name = b.level === 'tenant' ? 'Tenant' : b.level + ' ' + (b.feature_tag || b.user_id);
    const forecast = c.will_exceed ? (c.projected_exceeded_at ? 'will exceed at ' + c.projected_exceeded_at : 'exceeded') : 'on track';
    return el('div', { class: 'budget', 'data-budget': b.id },
      el('div', {}, el('strong', { text: name }), el('span', { class: 'muted', text: ` · ${b.period} · limit ${dollars(b.limit_cents)}${b.enforce ? ' · enforced' : ''}` })),
      el('div', { class: 'meter ' + c.state }, el('i', { style: `width:${Math.min(100, c.utilization_pct)}%` })),
      el('div', { class: 'muted', text: `${dollars(c.spent_cents)} spent (${pct(c.utilization_pct)}), forecast ${dollars(c.projected_spend_cents)} by ${c.period_end}: ${forecast}` }));
  }));
}

function renderAnomalies(list) {
  const host = $('anomalies');
  if (!list.length) { host.replaceChildren(el('p', { class: 'empty', text: 'No anomalies in this window.' })); return; }
  const rows = list.map((a) => el('tr', { id: 'anomaly-' + a.id },
    el('td', { class: 'sev-' + a.severity, text: a.severity }), el('td', { text: a.type }),
    el('td', { text: a.entity.level + ' ' + a.entity.value }), el('td', { class: 'n', text: dollars(a.impact_cents) }),
    el('td', { text: a.status }),
    el('td', {}, a.incident_id ? el('a', { href: '#incident-' + a.incident_id, text: a.incident_id }) : '')));
  host.replaceChildren(el('div', { class: 'scroll' }, el('table', {}, el('thead', {}, el('tr', {}, ...['Severity', 'Type', 'Entity', 'Impact', 'Status', 'Incident']
    .map((t) => el('th', { text: t })))), el('tbody', {}, ...rows))));
}

function renderIncidents(list) {
  const host = $('incidents');
  if (!list.length) { host.replaceChildren(el('p', { class: 'empty', text: 'No incidents.' })); return; }
  const rows = list.map((i) => el('tr', { id: 'incident-' + i.id },
    el('td', { class: 'sev-' + i.severity, text: i.severity }),
    el('td', {}, el('span', { text: i.status }), ...(i.status_note ? [el('br'), el('small', { class: 'status-note', text: i.status_note })] : [])),
    el('td', { text: i.title }),
    el('td', {}, ...(i.anomalies || []).map((a) => el('a', { href: '#anomaly-' + a.id, text: a.id + ' ' })))));
  host.replaceChildren(el('div', { class: 'scroll' }, el('table', {}, el('thead', {}, el('tr', {}, ...['Severity', 'Status', 'Title', 'Anomalies']
    .map((t) => el('th', { text: t })))), el('tbody', {}, ...rows))));
}

// Export: ask for a records export of the window, poll until ready, download it with the key, save it.
async function exportRecords() {
  const w = windows();
  const status = $('export-status');
  try {
    status.textContent = 'export requested…';
    const body = { kind: 'records', format: 'csv', from: iso(w.from), to: iso(w.to) };
    if (tenant()) body.tenant_id = tenant();
    let exp = await (await api('/reporting/exports', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body) })).json();
    for (let i = 0; i < 600 && (exp.status === 'pending' || exp.status === 'running'); i++) {
      await new Promise((r) => setTimeout(r, 500));
      exp = await getJSON('/reporting/exports/' + exp.id);
      status.textContent = 'export ' + exp.status + '…';
    }
    if (exp.status !== 'ready') throw new Error('export ' + exp.id + ' ' + exp.status + (exp.error ? ': ' + exp.error : ''));
    const file = await (await fetch(exp.download_url, { headers: { Authorization: 'Bearer ' + key() } })).blob();
    const link = $('export-link');
    link.href = URL.createObjectURL(file);
    link.download = exp.id + '.csv';
    link.hidden = false;
    link.textContent = 'download ' + exp.id + '.csv';
    status.textContent = `export ready: ${count(exp.rows)} records, ${count(exp.bytes)} bytes`;
    status.dataset.exportId = exp.id;
    link.click();
  } catch (e) {
    status.textContent = '';
    showError(e);
  }
}

async function openReport() {
  const end = windows().to - 1;
  const month = new Date(end).toISOString().slice(0, 7);
  try {
    const html = await (await api('/reports/monthly' + query({ month, format: 'html' }))).blob();
    window.open(URL.createObjectURL(html), '_blank');
  } catch (e) {
    showError(e);
  }
}

function logout(message) {
  sessionStorage.removeItem('tally.key');
  sessionStorage.removeItem('tally.tenant');
  $('app').hidden = true;
  $('login').hidden = false;
  $('logout').hidden = true;
  $('who').textContent = '';
  const err = $('login-error');
  if (message) { err.textContent = message; err.hidden = false; } else { err.hidden = true; }
}

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem('tally.key', $('key').value.trim());
    sessionStorage.setItem('tally.tenant', $('tenant').value.trim());
    $('key').value = '';
    $('login-error').hidden = true;
    load();
  });
  $('logout').addEventListener('click', () => logout());
  $('refresh').addEventListener('click', load);
  $('resolution').addEventListener('change', load);
  $('end').addEventListener('change', load);
  $('export').addEventListener('click', exportRecords);
  $('report').addEventListener('click', openReport);
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get('end')) $('end').value = params.get('end');
  if (params.get('resolution')) $('resolution').value = params.get('resolution');
  if (key()) load();
});
