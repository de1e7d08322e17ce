// Tally console: plain JavaScript over the facade /api/v1/analytics/*. No dependencies, no external requests.
// The API key lives in sessionStorage (this tab only) and is sent as Authorization: Bearer.
// Sections: core helpers · session and rights · window and filters · loading · cards and chart · breakdowns ·
// tenants · budgets · feature tags · anomalies · incidents · webhook · export · monthly report · boot.
'use strict';

// ---------------------------------------------------------------------------------------------------- core helpers

const API = '/api/v1/analytics';
const DAY = 86400000, HOUR = 3600000;
const BREAKDOWNS = [
  ['feature_tag', 'feature', 'Cost by feature'],
  ['user_id', 'user', 'Cost by user'],
  ['model', 'model', 'Cost by model'],
  ['project_id', 'project', 'Cost by project'],
];
const FILTERABLE = { feature_tag: 'feature', user_id: 'user', model: 'model' };
const LIST_LIMIT = 100;
const ANOMALY_GROUPS_PER_PAGE = 5;
const $ = (id) => document.getElementById(id);
const state = { loads: 0, sorts: {}, groups: {}, filters: {}, role: null, anomalyPage: 0, anomalyGroups: [], budgets: [], tenants: [] };

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

function key() { return sessionStorage.getItem('tally.key'); }
function tenant() { return sessionStorage.getItem('tally.tenant') || ''; }

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: 'Bearer ' + key() }, options.headers || {});
  if (options.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    options = Object.assign({}, options, { body: JSON.stringify(options.json) });
  }
  const response = await fetch(API + path, Object.assign({}, options, { headers }));
  if (!response.ok) {
    let detail = response.status + ' ' + response.statusText;
    try {
      const p = await response.json();
      if (p.detail) detail = (p.title ? p.title + ': ' : '') + p.detail;
    } catch (e) { /* not JSON */ }
    throw new ApiError(response.status, detail);
  }
  return response;
}
async function getJSON(path) { return (await api(path)).json(); }

function query(params, tenantID = tenant()) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.append(k, v);
  if (tenantID) q.append('tenant_id', tenantID);
  const s = q.toString();
  return s ? '?' + s : '';
}

// Money: cost_cents is an exact decimal string; shown as dollars.
function dollars(cents, digits = 2) {
  const v = Number(cents) / 100;
  const sign = v < 0 ? '-' : '';
  return sign + '$' + Math.abs(v).toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
// "12.345" dollars -> "1234.5" cents, exactly (string arithmetic: no binary rounding).
function dollarsToCents(text) {
  const s = String(text).trim().replace(/[$,\s]/g, '');
  if (!/^[0-9]+(\.[0-9]{0,9})?$/.test(s)) return null;
  const [whole, frac = ''] = s.split('.');
  const f = frac.padEnd(2, '0');
  const cents = (whole + f.slice(0, 2)).replace(/^0+(?=\d)/, '');
  const rest = f.slice(2).replace(/0+$/, '');
  return rest ? cents + '.' + rest : cents;
}
function centsToDollarsText(cents) {
  return (Number(cents) / 100).toFixed(Number(cents) % 1 === 0 ? 2 : 7).replace(/(\.\d\d\d*?)0+$/, '$1');
}
function count(n) { return Number(n).toLocaleString('en-US'); }
function pct(v) { return v === null || v === undefined ? '–' : (Math.round(v * 10) / 10) + '%'; }

// Times: instants in the browser's time zone, the UTC form on hover. Days (UTC buckets) as the UTC day.
function localTime(isoText) {
  return new Date(isoText).toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}
function timeEl(isoText) {
  if (!isoText) return el('span', { class: 'muted', text: '–' });
  return el('time', { datetime: isoText, title: isoText.replace('.000Z', 'Z') + ' (UTC)', text: localTime(isoText) });
}
function dayText(isoText) {
  return new Date(isoText).toLocaleDateString(undefined, { timeZone: 'UTC', month: 'short', day: 'numeric' });
}
function dayEl(isoText) {
  return el('time', { datetime: isoText, title: isoText.slice(0, 10) + ' (UTC day)', text: dayText(isoText) });
}
function dayRangeEl(firstISO, lastISO) {
  const text = firstISO.slice(0, 10) === lastISO.slice(0, 10) ? dayText(firstISO) : dayText(firstISO) + ' – ' + dayText(lastISO);
  return el('time', { datetime: firstISO, title: firstISO.slice(0, 10) + ' to ' + lastISO.slice(0, 10) + ' (UTC days)', text });
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v; else if (k === 'text') e.textContent = v;
    else if (k === 'onclick') e.addEventListener('click', v); else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== '') e.append(c);
  return e;
}
function button(text, onclick, cls = '') { return el('button', { type: 'button', class: cls, text, onclick }); }
function table(headers, rows, attrs = {}) {
  const bodies = rows.length && rows.every((r) => r.tagName === 'TBODY') ? rows : [el('tbody', {}, ...rows)];
  return el('div', { class: 'scroll' }, el('table', attrs,
    el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', typeof h === 'string' ? { text: h } : h)))), ...bodies));
}
const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function showError(e) {
  if (e instanceof ApiError && e.status === 401) { logout(e.message); return; }
  $('notice').hidden = true;
  $('error').textContent = e.message;
  $('error').hidden = false;
}
function notify(message) {
  $('error').hidden = true;
  $('notice').textContent = message;
  $('notice').hidden = false;
}
// Runs a change against the API: success or the API's problem detail, then the view refreshes.
async function act(what, request) {
  $('error').hidden = true;
  $('notice').hidden = true;
  try {
    await request();
    notify(what);
  } catch (e) {
    showError(e);
    return false;
  }
  await load({ keepMessages: true });
  return true;
}

// -------------------------------------------------------------------------------------------- session and rights

// The role is not told by the API. A writer key is refused statistics; a tenant key's answers name its tenant, an
// admin key's name none unless it named one; then only an admin key may group by tenant.
async function detectRole() {
  let probe;
  try {
    probe = await getJSON('/statistics/usage' + query({ from: iso(Date.now() - HOUR), resolution: 'hour' }));
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) return 'writer';
    throw e;
  }
  state.keyTenant = probe.scope.tenant_id || '';
  if (!probe.scope.tenant_id) return 'admin';
  if (!tenant()) return 'reader';
  try {
    await getJSON('/statistics/cost' + query({ group_by: 'tenant', limit: 1, from: iso(Date.now() - HOUR) }));
    return 'admin';
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) return 'reader';
    throw e;
  }
}
const can = {
  configure: () => state.role === 'admin',            // budgets, feature tags (AccessPolicy: admin keys)
  operate: () => state.role === 'admin' || state.role === 'writer', // incidents, anomalies, webhook
};
const allTenants = () => state.role === 'admin' && !tenant();
// The tenant a change acts on: the key's, the one an admin key named, or the one picked in the controls.
function actTenant() { return tenant() || state.keyTenant || (allTenants() ? $('act-tenant').value : ''); }

// --------------------------------------------------------------------------------------------- window and filters

function utcDay(ms) { return new Date(ms).toISOString().slice(0, 10); }
const iso = (ms) => new Date(ms).toISOString().replace('.000Z', 'Z');

// The window shown: UTC days from..to inclusive (hour resolution: the hours of those days), and the window of the
// same length before it. Defaults: the last 30 days (day) or the last day (hour) ending today.
function windows() {
  const resolution = $('resolution').value;
  const today = Math.floor(Date.now() / DAY) * DAY;
  const toInput = $('end').value ? Date.parse($('end').value + 'T00:00:00Z') : today;
  const to = toInput + DAY;
  const defaultSpan = resolution === 'hour' ? DAY : 30 * DAY;
  let from = $('from').value ? Date.parse($('from').value + 'T00:00:00Z') : to - defaultSpan;
  if (!(from < to)) from = to - defaultSpan;
  const span = to - from;
  return { resolution, from, to, prevFrom: from - span, prevTo: from };
}
function setDefaultRange() {
  const w = windows();
  $('end').value = utcDay(w.to - DAY);
  const span = $('resolution').value === 'hour' ? DAY : 30 * DAY;
  $('from').value = utcDay(w.to - span);
}
function filterParams() {
  const p = {};
  for (const [field, value] of Object.entries(state.filters)) p[field] = value;
  return p;
}
function setFilter(field, value) {
  state.filters[field] = value;
  state.anomalyPage = 0;
  load();
}
function clearFilter(field) {
  delete state.filters[field];
  state.anomalyPage = 0;
  load();
}
function renderChips() {
  const chips = Object.entries(state.filters).map(([field, value]) =>
    el('span', { class: 'chip', 'data-field': field },
      el('span', { text: FILTERABLE[field] + ': ' + (value === '' ? '(none)' : value) }),
      el('button', { type: 'button', class: 'x', title: 'Remove this filter', 'aria-label': 'Remove filter ' + FILTERABLE[field], text: '×',
        onclick: () => clearFilter(field) })));
  $('chips').replaceChildren(...(chips.length ? [el('span', { class: 'muted', text: 'Filtered by' }), ...chips] : []));
}

// ------------------------------------------------------------------------------------------------------ loading

async function load(options = {}) {
  if (!options.keepMessages) { $('error').hidden = true; $('notice').hidden = true; }
  try {
    if (!state.role) state.role = await detectRole();
    $('login').hidden = true;
    $('app').hidden = false;
    $('logout').hidden = false;
    document.body.dataset.role = state.role;
    const shown = tenant() || state.keyTenant;
    $('who').textContent = (shown ? 'tenant ' + shown : state.role === 'admin' ? 'all tenants' : 'this key\'s tenant') + ' · ' + state.role + ' key';
    renderChips();
    renderExportScope();
    if (state.role === 'writer') { await loadWriterView(); return; }
    $('writer-note').hidden = true;
    $('controls').hidden = false;
    $('dashboards').hidden = false;
    $('tools').hidden = false;
    const w = windows();
    const base = { from: iso(w.from), to: iso(w.to) };
    await loadUsage(w);
    if (allTenants()) await loadTenants(base); else $('tenants-panel').hidden = true;
    const breakdowns = await Promise.all(BREAKDOWNS.map(([, groupKey]) =>
      getJSON('/statistics/cost' + query(Object.assign({ group_by: groupKey, limit: 20 }, base, filterParams())))));
    BREAKDOWNS.forEach(([field], i) => { state.groups[field] = breakdowns[i]; });
    renderBreakdowns();
    await Promise.all([loadBudgets(), loadTags(base), loadAnomalies(base), loadIncidents(), loadWebhook()]);
  } catch (e) {
    showError(e);
  } finally {
    document.body.dataset.loads = String(++state.loads); // the browser tests wait on this
  }
}

async function loadWriterView() {
  $('writer-note').hidden = false;
  $('controls').hidden = true;
  $('dashboards').hidden = true;
  $('tools').hidden = true;
  await loadWebhook();
}

// Each panel reports its own refusal (a section the key may not read says so) instead of failing the page.
async function section(host, what, loader) {
  try {
    await loader();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) throw e;
    host.replaceChildren(el('p', { class: 'empty', text: what + ' are not available: ' + e.message }));
  }
}

// ------------------------------------------------------------------------------------------------ cards and chart

// Unfiltered: the usage API (series with signals). Filtered: the cost summary with a series, for both windows.
async function loadUsage(w) {
  const filtered = Object.keys(state.filters).length > 0;
  const path = filtered ? '/statistics/cost' : '/statistics/usage';
  const params = (from, to) => query(Object.assign({ resolution: w.resolution, from: iso(from), to: iso(to) }, filtered ? filterParams() : {}));
  const [usage, previous] = await Promise.all([getJSON(path + params(w.from, w.to)), getJSON(path + params(w.prevFrom, w.prevTo))]);
  state.usage = usage;
  state.previous = previous;
  renderCards(usage, previous);
  renderChart();
}

function renderCards(usage, previous) {
  const t = usage.totals, p = previous.totals;
  const card = (k, v, sub, cls = '') => el('div', { class: 'card' }, el('div', { class: 'k', text: k }), el('div', { class: 'v', text: v }),
    el('div', { class: 'k ' + cls }, sub));
  const noBefore = Number(p.records) === 0;
  const delta = Number(t.cost_cents) - Number(p.cost_cents);
  const change = Number(p.cost_cents) > 0 ? ' (' + pct(delta / Number(p.cost_cents) * 100) + ')' : '';
  const spendSub = noBefore ? 'no data before' : (delta >= 0 ? '+' : '') + dollars(delta) + change + ' vs previous';
  const recordsDelta = Number(t.records) - Number(p.records);
  const peak = usage.series.reduce((best, s) => (best === null || Number(s.cost_cents) > Number(best.cost_cents) ? s : best), null);
  const peakAt = peak && Number(peak.cost_cents) > 0 ? (usage.window.resolution === 'hour' ? timeEl(peak.start) : dayEl(peak.start)) : '';
  $('cards').replaceChildren(
    card('Spend', dollars(t.cost_cents), spendSub, noBefore ? 'muted' : delta > 0 ? 'up' : delta < 0 ? 'down' : ''),
    card('Requests', count(t.records), noBefore ? 'no data before' : (recordsDelta >= 0 ? '+' : '') + count(recordsDelta) + ' vs previous'),
    card('Tokens', count(t.total_tokens), count(t.input_tokens) + ' in / ' + count(t.output_tokens) + ' out'),
    card('Peak ' + usage.window.resolution, peakAt ? dollars(peak.cost_cents) : '–', peakAt));
  const win = usage.window;
  $('usage-window').replaceChildren(win.resolution === 'hour'
    ? el('span', {}, timeEl(win.from), ' – ', timeEl(win.to))
    : el('span', {}, dayEl(win.from), ' – ', dayEl(new Date(Date.parse(win.to) - DAY).toISOString())),
  ` · ${win.buckets} ${win.resolution}s`);
}

// The series as a line with a dot per bucket; the previous window's series (aligned bucket by bucket) dashed.
// Drawn at the container's width in CSS pixels (one viewBox unit = one pixel), so labels keep their size on phones.
function renderChart() {
  const usage = state.usage, previous = state.previous;
  if (!usage) return;
  const host = $('chart');
  const W = Math.max(280, Math.floor(host.clientWidth || 800));
  const narrow = W < 560;
  const H = narrow ? 220 : 260, L = narrow ? 52 : 64, R = 12, T = 12, B = 28, FONT = narrow ? 11 : 12;
  const cur = usage.series.map((p) => Number(p.cost_cents));
  const prev = previous.series.map((p) => Number(p.cost_cents));
  const max = niceCeiling(Math.max(1e-9, ...cur, ...prev));
  const n = Math.max(cur.length, 1);
  const x = (i) => L + (n === 1 ? (W - L - R) / 2 : i * (W - L - R) / (n - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', 'aria-label': 'Cost per ' + usage.window.resolution, id: 'usage-chart' });
  for (let k = 0; k <= 4; k++) {
    const v = max * k / 4;
    root.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#eef0f4' }));
    const label = svg('text', { x: L - 6, y: y(v) + 4, 'font-size': FONT, 'text-anchor': 'end', fill: '#5b6577', class: 'axis' });
    label.textContent = dollars(v, Math.abs(v / 100 - Math.round(v / 100)) < 1e-9 ? 0 : 2); // $0, $2.50, $5, $7.50
    root.append(label);
  }
  const slots = Math.max(2, Math.floor((W - L - R) / (narrow ? 56 : 70)));
  const every = Math.max(1, Math.ceil(n / slots));
  usage.series.forEach((p, i) => {
    if (i % every !== 0) return;
    const t = svg('text', { x: x(i), y: H - 8, 'font-size': FONT, 'text-anchor': 'middle', fill: '#5b6577', class: 'axis' });
    t.textContent = usage.window.resolution === 'hour'
      ? new Date(p.start).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' }) : dayText(p.start);
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
    const when = usage.window.resolution === 'hour' ? localTime(p.start) : p.start.slice(0, 10) + ' (UTC day)';
    title.textContent = `${when}: ${dollars(p.cost_cents)}, ${count(p.records)} requests` +
      (previous.series[i] ? ` (previous: ${dollars(previous.series[i].cost_cents)})` : '') + ` · ${p.start} UTC`;
    dot.append(title);
    root.append(dot);
  });
  host.replaceChildren(root);
}

// The smallest of 1, 2, 2.5, 5 x 10^k (in cents) at or above v, so the axis ticks (quarters) read as round amounts.
function niceCeiling(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

// ----------------------------------------------------------------------------------------------------- breakdowns

const COLUMNS = [
  ['key', 'Key', false], ['records', 'Requests', true], ['total_tokens', 'Tokens', true], ['cost_cents', 'Cost', true], ['share_pct', 'Share', true],
];

function sortedGroups(report, field) {
  const sort = state.sorts[field] || { column: 'cost_cents', desc: true };
  return report.groups.slice().sort((a, b) => {
    const va = sort.column === 'key' ? a.key[field] : Number(a[sort.column] ?? 0);
    const vb = sort.column === 'key' ? b.key[field] : Number(b[sort.column] ?? 0);
    const c = va < vb ? -1 : va > vb ? 1 : 0;
    return sort.desc ? -c : c;
  });
}

function breakdownHead(field) {
  const sort = state.sorts[field] || { column: 'cost_cents', desc: true };
  const head = el('tr');
  for (const [column, label, numeric] of COLUMNS) {
    const th = el('th', { class: column + (numeric ? ' n' : '') + (sort.column === column ? (sort.desc ? ' sorted-desc' : ' sorted-asc') : ''),
      'data-column': column, text: column === 'key' ? field : label, scope: 'col' });
    th.addEventListener('click', () => {
      const same = sort.column === column;
      state.sorts[field] = { column, desc: same ? !sort.desc : column !== 'key' };
      renderBreakdowns();
    });
    head.append(th);
  }
  return head;
}

function breakdownRow(field, g, top) {
  const value = g.key[field];
  const filterable = field in FILTERABLE && !(field in state.filters);
  const row = el('tr', { 'data-key': value, 'data-cost-cents': g.cost_cents, class: filterable ? 'pick' : '',
    title: filterable ? 'Filter everything by this ' + FILTERABLE[field] : null },
  el('td', { class: 'key' }, el('span', { text: value === '' ? '(none)' : value, title: value })),
  el('td', { class: 'n records', text: count(g.records) }),
  el('td', { class: 'n total_tokens', text: count(g.total_tokens) }),
  el('td', { class: 'n cost', text: dollars(g.cost_cents) }),
  el('td', { class: 'share_pct' }, el('div', { class: 'bar' }, el('i', { style: `width:${Math.round((g.share_pct || 0) / top * 100)}%` }),
    el('span', { text: pct(g.share_pct) }))));
  if (filterable) row.addEventListener('click', () => setFilter(field, value));
  return row;
}

function renderBreakdowns() {
  const host = $('breakdowns');
  host.replaceChildren();
  for (const [field, , title] of BREAKDOWNS) {
    const report = state.groups[field];
    if (!report) continue;
    const top = Math.max(1e-9, ...report.groups.map((g) => g.share_pct || 0));
    const body = el('tbody', {}, ...sortedGroups(report, field).map((g) => breakdownRow(field, g, top)));
    const others = Number(report.others.records) > 0
      ? el('p', { class: 'muted', text: `Others: ${count(report.others.records)} requests, ${dollars(report.others.cost_cents)}` }) : '';
    const hint = field in FILTERABLE && !(field in state.filters) ? el('span', { class: 'muted', text: ' · click a row to filter by it' }) : '';
    host.append(el('div', { class: 'panel' }, el('h2', {}, title, hint),
      el('div', { class: 'scroll' }, el('table', { id: 'bd-' + field, class: 'breakdown' }, el('thead', {}, breakdownHead(field)), body)), others));
  }
  const values = new Set();
  for (const field of ['feature_tag', 'user_id']) for (const g of (state.groups[field] || { groups: [] }).groups) values.add(g.key[field]);
  $('entity-values').replaceChildren(...[...values].filter((v) => v).map((v) => el('option', { value: v })));
}

// -------------------------------------------------------------------------------------------------------- tenants

async function loadTenants(base) {
  $('tenants-panel').hidden = false;
  const report = await getJSON('/statistics/cost' + query(Object.assign({ group_by: 'tenant', limit: LIST_LIMIT }, base, filterParams())));
  state.tenants = report.groups.map((g) => g.key.tenant_id);
  const rows = report.groups.map((g) => el('tr', { 'data-key': g.key.tenant_id, 'data-cost-cents': g.cost_cents, class: 'pick',
    title: 'Configure this tenant (budgets, feature tags, webhook)', onclick: () => { $('act-tenant').value = g.key.tenant_id; load(); } },
    el('td', { class: 'key' }, el('span', { text: g.key.tenant_id })), el('td', { class: 'n', text: count(g.records) }),
    el('td', { class: 'n total_tokens', text: count(g.total_tokens) }), el('td', { class: 'n cost', text: dollars(g.cost_cents) }),
    el('td', { class: 'n', text: pct(g.share_pct) })));
  const cut = Number(report.others.records) > 0
    ? el('p', { class: 'muted cut', text: `Showing the first ${report.groups.length} tenants by cost; the others: ${count(report.others.records)} requests, ${dollars(report.others.cost_cents)}.` }) : '';
  $('tenants').replaceChildren(table(['Tenant', { class: 'n', text: 'Requests' }, { class: 'n total_tokens', text: 'Tokens' }, { class: 'n', text: 'Cost' },
    { class: 'n', text: 'Share' }], rows, { id: 'tenant-table', class: 'compact' }), cut);
  const picker = $('act-tenant'), chosen = picker.value;
  picker.replaceChildren(...state.tenants.map((t) => el('option', { value: t, text: t })));
  if (state.tenants.includes(chosen)) picker.value = chosen;
  $('act-tenant-label').hidden = false;
}

// -------------------------------------------------------------------------------------------------------- budgets

async function loadBudgets() {
  await section($('budgets'), 'Budgets', async () => {
    const list = await getJSON('/budgets' + query({}));
    state.budgets = list.budgets || [];
    renderBudgets(state.budgets);
  });
  $('budget-new').hidden = !can.configure();
}

function budgetName(b) { return b.level === 'tenant' ? 'Tenant' : b.level + ' ' + (b.feature_tag || b.user_id); }

function renderBudgets(budgets) {
  const host = $('budgets');
  if (!budgets.length) { host.replaceChildren(el('p', { class: 'empty', text: 'No budgets.' })); return; }
  host.replaceChildren(...budgets.map((b) => {
    const c = b.current;
    const forecast = c.will_exceed ? (c.projected_exceeded_at ? el('span', {}, 'will exceed at ', timeEl(c.projected_exceeded_at)) : 'exceeded') : 'on track';
    const burn = c.burn_rate_cents_per_hour === null ? '' : `, burn ${dollars(c.burn_rate_cents_per_hour)}/h`;
    const actions = can.configure() ? el('span', { class: 'actions' },
      button('Edit', () => editBudget(b), 'small edit'), button('Delete', () => deleteBudget(b), 'small danger delete')) : '';
    return el('div', { class: 'budget', 'data-budget': b.id },
      el('div', { class: 'budget-head' }, el('strong', { text: (allTenants() ? b.tenant_id + ' · ' : '') + budgetName(b) }),
        el('span', { class: 'muted', text: ` · ${b.period} · limit ${dollars(b.limit_cents)} · warn at ${Math.round(b.warn_ratio * 100)}%${b.enforce ? ' · enforced' : ''}` }), actions),
      el('div', { class: 'meter ' + c.state }, el('i', { style: `width:${Math.min(100, c.utilization_pct)}%` })),
      el('div', { class: 'muted' }, `${dollars(c.spent_cents)} spent (${pct(c.utilization_pct)})${burn}, forecast ${dollars(c.projected_spend_cents)} by `,
        timeEl(c.period_end), ': ', forecast));
  }));
}

function openBudgetForm(b) {
  const form = $('budget-form');
  form.hidden = false;
  $('budget-form-title').textContent = b ? 'Edit budget: ' + budgetName(b) : 'New budget' + (actTenant() ? ' for ' + actTenant() : '');
  $('budget-id').value = b ? b.id : '';
  $('budget-level').value = b ? b.level : 'tenant';
  $('budget-entity').value = b ? (b.feature_tag || b.user_id || '') : '';
  $('budget-period').value = b ? b.period : 'monthly';
  $('budget-limit').value = b ? centsToDollarsText(b.limit_cents) : '';
  $('budget-warn').value = b ? Math.round(b.warn_ratio * 100) : 80;
  $('budget-enforce').checked = b ? b.enforce : false;
  for (const id of ['budget-level', 'budget-entity', 'budget-period']) $(id).disabled = !!b; // the API changes limit, warn and enforce only
  showBudgetEntity();
  state.forecastSpend = null;
  updateForecast();
  $('budget-limit').focus();
}
function editBudget(b) { openBudgetForm(b); }
function showBudgetEntity() {
  const level = $('budget-level').value;
  $('budget-entity-label').hidden = level === 'tenant';
  $('budget-entity-label').firstChild.textContent = level === 'user' ? 'User id ' : 'Feature tag ';
}

// The forecast before saving. There is no dry-run API: the console asks the cost summary for the target's spend so far
// in its current UTC period and projects it as the budgets API does (burn rate = spent / hours elapsed; projected =
// burn rate x the period's hours). An edited budget uses the API's own figures for its current period.
async function updateForecast() {
  const out = $('budget-forecast');
  const limit = dollarsToCents($('budget-limit').value);
  const editing = state.budgets.find((b) => b.id === $('budget-id').value);
  let spent, burn, projected, periodEnd;
  if (editing) {
    const c = editing.current;
    spent = Number(c.spent_cents); burn = c.burn_rate_cents_per_hour === null ? null : Number(c.burn_rate_cents_per_hour);
    projected = Number(c.projected_spend_cents); periodEnd = c.period_end;
  } else {
    const p = currentPeriod($('budget-period').value);
    const target = budgetTarget();
    const cacheKey = JSON.stringify([actTenant(), target, p.start]);
    if (!state.forecastSpend || state.forecastSpend.key !== cacheKey) {
      out.textContent = 'Computing the forecast…';
      try {
        const summary = await getJSON('/statistics/cost' + query(Object.assign({ from: iso(p.start), to: iso(p.now) }, target.filter), actTenant()));
        state.forecastSpend = { key: cacheKey, spent: Number(summary.totals.cost_cents) };
      } catch (e) {
        out.textContent = 'No forecast: ' + e.message;
        return;
      }
    }
    spent = state.forecastSpend.spent;
    const hours = (p.now - p.start) / HOUR;
    burn = hours > 0 ? spent / hours : null;
    projected = burn === null ? spent : burn * (p.end - p.start) / HOUR;
    periodEnd = iso(p.end);
  }
  const verdict = limit === null ? 'enter a limit' : projected > Number(limit) ? 'would exceed the limit of ' + dollars(limit)
    : spent > Number(limit) * Number($('budget-warn').value) / 100 ? 'within the limit, above its warning level' : 'within the limit';
  out.dataset.projectedCents = projected.toFixed(7);
  out.dataset.burnCentsPerHour = burn === null ? '' : burn.toFixed(7);
  out.replaceChildren(el('strong', { text: 'Forecast: ' }),
    `${dollars(spent)} spent this period, burn rate ${burn === null ? '–' : dollars(burn) + '/h'}, projected ${dollars(projected)} by `,
    timeEl(periodEnd), ': ', el('span', { class: 'verdict', text: verdict }));
}
function currentPeriod(period) {
  const now = Date.now();
  const d = new Date(now);
  const start = period === 'daily' ? Math.floor(now / DAY) * DAY : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const end = period === 'daily' ? start + DAY : Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return { start, end, now };
}
function budgetTarget() {
  const level = $('budget-level').value, value = $('budget-entity').value.trim();
  if (level === 'feature') return { level, field: 'feature_tag', value, filter: { feature_tag: value } };
  if (level === 'user') return { level, field: 'user_id', value, filter: { user_id: value } };
  return { level, filter: {} };
}

async function saveBudget(event) {
  event.preventDefault();
  const id = $('budget-id').value;
  const limit = dollarsToCents($('budget-limit').value);
  if (limit === null) { showError(new Error('The limit is an amount in dollars, like 500 or 12.50.')); return; }
  const common = { limit_cents: limit, warn_ratio: Number($('budget-warn').value) / 100, enforce: $('budget-enforce').checked };
  let ok;
  if (id) {
    ok = await act('Budget saved.', () => api('/budgets/' + encodeURIComponent(id), { method: 'PATCH', json: common }));
  } else {
    const target = budgetTarget();
    const body = Object.assign({ level: target.level, period: $('budget-period').value }, common);
    if (target.field) body[target.field] = target.value;
    if (actTenant() && state.role === 'admin') body.tenant_id = actTenant();
    ok = await act('Budget created.', () => api('/budgets', { method: 'POST', json: body }));
  }
  if (ok) $('budget-form').hidden = true;
}

async function deleteBudget(b) {
  if (!window.confirm(`Delete the ${b.period} budget "${budgetName(b)}" (limit ${dollars(b.limit_cents)})?`)) return;
  await act('Budget deleted.', () => api('/budgets/' + encodeURIComponent(b.id), { method: 'DELETE' }));
}

// --------------------------------------------------------------------------------------------------- feature tags

async function loadTags(base) {
  const host = $('tags');
  $('tags-panel').hidden = false;
  if (!actTenant()) { host.replaceChildren(el('p', { class: 'empty', text: 'Pick a tenant to see its feature tags.' })); return; }
  await section(host, 'Feature tags', async () => {
    const list = await getJSON('/feature-tags' + query(base, actTenant()));
    renderTags(list);
  });
}

function renderTags(list) {
  const admin = can.configure();
  const registered = list.tags.map((t) => el('tr', { 'data-tag': t.tag },
    el('td', { class: 'key' }, el('span', { text: t.tag, title: t.tag })), el('td', { text: t.owner }),
    el('td', { class: 'desc' }, el('span', { text: t.description, title: t.description })),
    el('td', { class: 'n', text: count(t.spend.records) }), el('td', { class: 'n', text: dollars(t.spend.cost_cents) }),
    el('td', {}, admin ? button('Edit', () => openTagForm(t), 'small edit') : '')));
  const unregistered = list.unregistered.map((t) => el('tr', { 'data-tag': t.tag, class: 'unregistered' },
    el('td', { class: 'key' }, el('span', { text: t.tag, title: t.tag })), el('td', { class: 'muted', text: 'unregistered' }), el('td', {}),
    el('td', { class: 'n', text: count(t.spend.records) }), el('td', { class: 'n', text: dollars(t.spend.cost_cents) }),
    el('td', {}, admin ? button('Register', () => openTagForm({ tag: t.tag }), 'small register') : '')));
  const rows = registered.concat(unregistered);
  $('tags').replaceChildren(rows.length
    ? table(['Tag', 'Owner', 'Description', { class: 'n', text: 'Requests' }, { class: 'n', text: 'Cost' }, ''], rows, { id: 'tag-table', class: 'stack' })
    : el('p', { class: 'empty', text: 'No feature tags in this window.' }),
  admin ? button('Register a tag', () => openTagForm(null), 'write') : '');
}

function openTagForm(t) {
  $('tag-form').hidden = false;
  $('tag-form-title').textContent = t && t.id ? 'Edit feature tag ' + t.tag : 'Register a feature tag' + (actTenant() ? ' for ' + actTenant() : '');
  $('tag-id').value = t && t.id ? t.id : '';
  $('tag-tag').value = t ? t.tag : '';
  $('tag-tag').disabled = !!(t && t.id);
  $('tag-owner').value = t && t.owner ? t.owner : '';
  $('tag-description').value = t && t.description ? t.description : '';
  (t && t.tag ? $('tag-owner') : $('tag-tag')).focus();
}

async function saveTag(event) {
  event.preventDefault();
  const id = $('tag-id').value;
  const fields = { owner: $('tag-owner').value, description: $('tag-description').value };
  const ok = id
    ? await act('Feature tag saved.', () => api('/feature-tags/' + encodeURIComponent(id), { method: 'PATCH', json: fields }))
    : await act('Feature tag registered.', () => api('/feature-tags', { method: 'POST',
      json: Object.assign({ tag: $('tag-tag').value, tenant_id: state.role === 'admin' ? actTenant() : undefined }, fields) }));
  if (ok) $('tag-form').hidden = true;
}

// ------------------------------------------------------------------------------------------------------ anomalies

// Grouped per tenant finding. The API does not link a tenant-level anomaly to the feature and user findings beneath
// it, so a group is the anomalies of one incident (detection files related findings together), or, without an
// incident, the anomalies of one tenant whose days overlap; the tenant-level ones head the group.
function groupAnomalies(list) {
  const groups = new Map();
  const loose = [];
  for (const a of list) {
    if (a.incident_id) {
      if (!groups.has(a.incident_id)) groups.set(a.incident_id, []);
      groups.get(a.incident_id).push(a);
    } else loose.push(a);
  }
  const result = [...groups.entries()].map(([incident, items]) => ({ incident, items }));
  for (const a of loose.sort((x, y) => x.first_day.localeCompare(y.first_day))) {
    const g = result.find((r) => !r.incident && r.items[0].tenant_id === a.tenant_id
      && r.items.some((b) => b.first_day <= a.last_day && a.first_day <= b.last_day));
    if (g) g.items.push(a); else result.push({ incident: null, items: [a] });
  }
  const rank = { tenant: 0, feature: 1, user: 2 };
  for (const g of result) {
    g.items.sort((x, y) => rank[x.entity.level] - rank[y.entity.level] || y.first_day.localeCompare(x.first_day));
    g.first = g.items.reduce((m, a) => (a.first_day < m ? a.first_day : m), g.items[0].first_day);
    g.last = g.items.reduce((m, a) => (a.last_day > m ? a.last_day : m), g.items[0].last_day);
    g.head = g.items.find((a) => a.entity.level === 'tenant') || null;
  }
  return result.sort((x, y) => y.last.localeCompare(x.last) || y.first.localeCompare(x.first));
}

async function loadAnomalies(base) {
  const params = Object.assign({ limit: 1000 }, base);
  const f = state.filters;
  let note = '';
  if (f.feature_tag !== undefined) Object.assign(params, { entity_level: 'feature', entity_value: f.feature_tag });
  else if (f.user_id !== undefined) Object.assign(params, { entity_level: 'user', entity_value: f.user_id });
  if (f.model !== undefined) note = 'not filtered by model (anomalies are found per tenant, feature and user)';
  await section($('anomalies'), 'Anomalies', async () => {
    const list = await getJSON('/statistics/anomalies' + query(params));
    const all = list.anomalies || [];
    if (all.length >= params.limit) note = (note ? note + '; ' : '') + `only the newest ${params.limit} anomalies of the window are shown`;
    state.anomalyGroups = groupAnomalies(all);
    state.anomalyCount = all.length;
    renderAnomalies();
  });
  $('anomalies-note').textContent = note;
}

function anomalyRow(a, head) {
  const kind = { ABSOLUTE_SPIKE: 'spike', SUSTAINED_DRIFT: 'drift', BUDGET_WARNING: 'budget warning', BUDGET_EXCEEDED: 'budget exceeded' }[a.type] || a.type;
  const resolve = can.operate() && a.status === 'open' ? button('Resolve', () => resolveAnomaly(a), 'small resolve') : '';
  return el('tr', { id: 'anomaly-' + a.id, class: head ? 'finding head' : 'finding sub', 'data-status': a.status },
    allTenants() ? el('td', { text: a.tenant_id }) : '',
    el('td', {}, dayRangeEl(a.first_day, a.last_day)),
    el('td', { class: 'sev-' + a.severity, text: a.severity }), el('td', { text: kind, title: a.type }),
    el('td', { class: 'entity' }, el('span', { text: (head ? '' : '↳ ') + a.entity.level + ' ' + a.entity.value, title: a.entity.value })),
    el('td', { class: 'n', text: dollars(a.impact_cents) }), el('td', { class: 'status', text: a.status }),
    el('td', { class: 'incident' }, a.incident_id ? el('a', { href: '#incident-' + a.incident_id, text: a.incident_id }) : ''),
    el('td', {}, resolve));
}

function renderAnomalies() {
  const host = $('anomalies');
  const groups = state.anomalyGroups;
  if (!groups.length) { host.replaceChildren(el('p', { class: 'empty', text: 'No anomalies in this window.' })); return; }
  const pages = Math.ceil(groups.length / ANOMALY_GROUPS_PER_PAGE);
  state.anomalyPage = Math.min(state.anomalyPage, pages - 1);
  const shown = groups.slice(state.anomalyPage * ANOMALY_GROUPS_PER_PAGE, (state.anomalyPage + 1) * ANOMALY_GROUPS_PER_PAGE);
  const columns = (allTenants() ? ['Tenant'] : []).concat(['Days', 'Severity', 'Type', 'Entity', { class: 'n', text: 'Impact' }, 'Status', 'Incident', '']);
  const bodies = shown.map((g) => {
    const title = (g.head ? 'Tenant finding' : 'No tenant-level finding') + (g.incident ? ' · incident ' + g.incident : '') +
      ` · ${g.items.length} finding${g.items.length === 1 ? '' : 's'}`;
    return el('tbody', { class: 'group', 'data-incident': g.incident || '' },
      el('tr', { class: 'group-head' }, el('th', { colspan: columns.length, scope: 'rowgroup' }, dayRangeEl(g.first, g.last), ' · ' + title)),
      ...g.items.map((a) => anomalyRow(a, a.entity.level === 'tenant')));
  });
  const pager = pages > 1 ? el('div', { class: 'pager' },
    el('button', { type: 'button', class: 'small prev', text: '‹ Newer', disabled: state.anomalyPage === 0 ? 'disabled' : null,
      onclick: () => { state.anomalyPage--; renderAnomalies(); } }),
    el('span', { class: 'muted page', text: `page ${state.anomalyPage + 1} of ${pages} · ${groups.length} groups, ${state.anomalyCount} anomalies` }),
    el('button', { type: 'button', class: 'small next', text: 'Older ›', disabled: state.anomalyPage === pages - 1 ? 'disabled' : null,
      onclick: () => { state.anomalyPage++; renderAnomalies(); } })) : '';
  host.replaceChildren(table(columns, bodies, { id: 'anomaly-table', class: 'stack' }), pager);
}

async function resolveAnomaly(a) {
  await act(`Anomaly ${a.id} resolved.`, () => api('/anomalies/' + encodeURIComponent(a.id) + '/resolve', { method: 'POST', json: {} }));
}

// ------------------------------------------------------------------------------------------------------ incidents

async function loadIncidents() {
  let note = '';
  await section($('incidents'), 'Incidents', async () => {
    const list = await getJSON('/incidents' + query({ limit: LIST_LIMIT }));
    const incidents = list.incidents || [];
    if (incidents.length >= LIST_LIMIT) note = `showing the newest ${LIST_LIMIT}; older incidents are not listed`;
    renderIncidents(incidents);
  });
  $('incidents-note').textContent = note;
}

function renderIncidents(list) {
  const host = $('incidents');
  if (!list.length) { host.replaceChildren(el('p', { class: 'empty', text: 'No incidents.' })); return; }
  const rows = list.map((i) => el('tr', { id: 'incident-' + i.id, 'data-status': i.status },
    allTenants() ? el('td', { text: i.tenant_id }) : '',
    el('td', {}, timeEl(i.opened_at)), el('td', { class: 'sev-' + i.severity, text: i.severity }), el('td', { class: 'status' }, el('span', { text: i.status }), ...(i.status_note ? [el('br'), el('small', { class: 'status-note', text: i.status_note })] : [])),
    el('td', { class: 'title' }, el('span', { text: i.title, title: i.title })), el('td', { class: 'n', text: dollars(i.impact_cents) }),
    el('td', { class: 'n', text: String(i.anomaly_count) }), el('td', { class: 'actions' }, ...incidentActions(i))));
  const columns = (allTenants() ? ['Tenant'] : []).concat(['Opened', 'Severity', 'Status', 'Title', { class: 'n', text: 'Impact' },
    { class: 'n', text: 'Anomalies' }, '']);
  host.replaceChildren(table(columns, rows, { id: 'incident-table', class: 'stack' }));
}

function incidentActions(i) {
  if (!can.operate() || i.status === 'resolved') return [];
  const path = '/incidents/' + encodeURIComponent(i.id);
  const ack = i.status === 'open' ? button('Acknowledge', () => act(`Incident ${i.id} acknowledged.`,
    () => api(path + '/acknowledge', { method: 'POST', json: {} })), 'small acknowledge') : '';
  const resolve = button('Resolve', () => act(`Incident ${i.id} resolved.`, () => api(path + '/resolve', { method: 'POST', json: {} })), 'small resolve');
  return [ack, ' ', resolve];
}

// -------------------------------------------------------------------------------------------------------- webhook

async function loadWebhook() {
  const panel = $('webhook-panel'), host = $('webhook');
  panel.hidden = !can.operate();
  if (panel.hidden) return;
  if (state.role === 'admin' && !actTenant()) { host.replaceChildren(el('p', { class: 'empty', text: 'Pick a tenant to configure its webhook.' })); return; }
  try {
    const hook = await getJSON('/webhook' + query({}, actTenant()));
    if (!state.keyTenant && state.role === 'writer') { state.keyTenant = hook.tenant_id; $('who').textContent = `tenant ${hook.tenant_id} · writer key`; }
    host.replaceChildren(el('p', { class: 'webhook-current' }, el('strong', { text: hook.url }),
      el('span', { class: 'muted', text: ` · secret ${hook.secret_set ? 'set' : 'not set'} · signature ${hook.signature} · ` +
        `${hook.deliveries.delivered} delivered, ${hook.deliveries.pending} pending, ${hook.deliveries.failed} failed · updated ` }),
      timeEl(hook.updated_at)));
    $('webhook-url').value = $('webhook-url').value || hook.url;
    $('webhook-delete').hidden = false;
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
    host.replaceChildren(el('p', { class: 'empty webhook-none', text: 'No webhook: incidents are not sent anywhere.' }));
    $('webhook-delete').hidden = true;
  }
}

async function saveWebhook(event) {
  event.preventDefault();
  const body = { url: $('webhook-url').value.trim(), secret: $('webhook-secret').value };
  if (state.role === 'admin') body.tenant_id = actTenant();
  if (await act('Webhook saved.', () => api('/webhook', { method: 'PUT', json: body }))) $('webhook-secret').value = '';
}

async function deleteWebhook() {
  if (!window.confirm('Remove the incident webhook?')) return;
  if (await act('Webhook removed.', () => api('/webhook' + query({}, actTenant()), { method: 'DELETE' }))) $('webhook-url').value = '';
}

// --------------------------------------------------------------------------------------------------------- export

function renderExportScope() {
  const kind = $('export-kind').value;
  $('export-group-label').hidden = kind !== 'cost';
  $('export-resolution-label').hidden = kind === 'records';
  const w = windows();
  const filters = Object.entries(state.filters).map(([f, v]) => `${f}=${v}`).join(', ');
  $('export-scope').textContent = `Window ${utcDay(w.from)} – ${utcDay(w.to - DAY)} (UTC days)` + (filters ? `, filtered by ${filters}` : ', no filters') + '.';
}

// Ask for the export of the window with the filters, poll until ready, download it with the key, save it.
async function runExport(event) {
  if (event) event.preventDefault();
  const w = windows();
  const status = $('export-status');
  const kind = $('export-kind').value, format = $('export-format').value;
  const link = $('export-link');
  link.hidden = true;
  delete status.dataset.exportId;
  try {
    status.textContent = 'export requested…';
    const body = { kind, format, from: iso(w.from), to: iso(w.to) };
    if (Object.keys(state.filters).length) body.filters = filterParams();
    if (kind === 'cost') body.group_by = $('export-group').value;
    if (kind !== 'records' && $('export-resolution').value) body.resolution = $('export-resolution').value;
    if (tenant()) body.tenant_id = tenant();
    let exp = await (await api('/reporting/exports', { method: 'POST', json: body })).json();
    for (let i = 0; i < 600 && (exp.status === 'pending' || exp.status === 'running'); i++) {
      await new Promise((r) => setTimeout(r, 300));
      exp = await getJSON('/reporting/exports/' + exp.id);
      status.textContent = 'export ' + exp.status + '…';
    }
    if (exp.status !== 'ready') throw new Error('export ' + exp.id + ' ' + exp.status + (exp.error ? ': ' + exp.error : ''));
    const response = await fetch(exp.download_url, { headers: { Authorization: 'Bearer ' + key() } });
    if (!response.ok) throw new ApiError(response.status, 'the download failed: ' + response.status);
    const file = await response.blob();
    const name = `${exp.id}-${kind}.${format}`;
    link.href = URL.createObjectURL(file);
    link.download = name;
    link.hidden = false;
    link.textContent = 'download ' + name;
    status.textContent = `export ready: ${count(exp.rows)} rows, ${count(file.size)} bytes`;
    status.dataset.exportId = exp.id;
    status.dataset.bytes = String(file.size);
    status.dataset.kind = kind;
    status.dataset.format = format;
    notify(`Export ${exp.id} ready (${kind}, ${format}).`);
    link.click();
  } catch (e) {
    status.textContent = '';
    showError(e);
  }
}

// -------------------------------------------------------------------------------------------------- monthly report

// A month in progress is compared with the same days of the previous month, not with the whole of it.
async function openReport(event) {
  if (event) event.preventDefault();
  const month = $('report-month').value;
  const host = $('report-summary');
  if (!/^\d{4}-\d{2}$/.test(month)) { showError(new Error('Pick a month.')); return; }
  const reportTenant = tenant() || (allTenants() ? actTenant() : '');
  try {
    const report = await getJSON('/reports/monthly' + query({ month }, reportTenant));
    const html = await (await api('/reports/monthly' + query({ month, format: 'html' }, reportTenant))).blob();
    host.replaceChildren(...reportSummary(report, URL.createObjectURL(html)));
    host.dataset.month = report.month;
    host.dataset.inProgress = String(report.in_progress);
  } catch (e) {
    showError(e);
  }
}

function reportSummary(r, pageURL) {
  const name = (m) => new Date(m + '-01T00:00:00Z').toLocaleDateString(undefined, { timeZone: 'UTC', month: 'long', year: 'numeric' });
  const previousMonth = r.comparison.previous_month;
  let comparison;
  const elapsed = r.daily.filter((d) => Date.parse(d.start) < Date.now()).length;
  if (r.in_progress) {
    const soFar = r.daily.slice(0, elapsed).reduce((s, d) => s + Number(d.cost_cents), 0);
    const before = r.previous_daily.slice(0, elapsed).reduce((s, d) => s + Number(d.cost_cents), 0);
    const change = before > 0 ? ` (${pct((soFar - before) / before * 100)})` : '';
    comparison = before === 0 && Number(r.comparison.previous_totals.records) === 0 ? `no data in ${name(previousMonth)}`
      : `first ${elapsed} days: ${dollars(soFar)} vs ${dollars(before)} in the same days of ${name(previousMonth)}${change}`;
  } else if (Number(r.comparison.previous_totals.records) === 0) {
    comparison = `no data in ${name(previousMonth)}`;
  } else {
    comparison = `${dollars(r.comparison.previous_totals.cost_cents)} in ${name(previousMonth)} (${pct(r.comparison.cost_change_pct)})`;
  }
  return [
    el('h3', {}, name(r.month) + ' ', el('span', { class: r.in_progress ? 'badge progress' : 'badge final', text: r.in_progress ? 'in progress' : 'final' })),
    el('p', { class: 'report-totals' }, el('strong', { class: 'report-cost', text: dollars(r.totals.cost_cents) }),
      (r.in_progress ? ` so far (${elapsed} of ${r.daily.length} days)` : '') +
      ` · ${count(r.totals.records)} requests · ${r.anomalies.length} anomalies, ${r.incidents.length} incidents`),
    el('p', { class: 'muted report-comparison', text: 'Compared: ' + comparison }),
    el('a', { href: pageURL, target: '_blank', rel: 'noopener', class: 'report-page', text: 'Open the printable report' }),
  ];
}

// ----------------------------------------------------------------------------------------------------------- boot

function logout(message) {
  sessionStorage.removeItem('tally.key');
  sessionStorage.removeItem('tally.tenant');
  state.role = null;
  state.filters = {};
  $('app').hidden = true;
  $('login').hidden = false;
  $('logout').hidden = true;
  $('who').textContent = '';
  const err = $('login-error');
  if (message) { err.textContent = message; err.hidden = false; } else { err.hidden = true; }
}

function bindForms() {
  $('budget-new').addEventListener('click', () => openBudgetForm(null));
  $('budget-cancel').addEventListener('click', () => { $('budget-form').hidden = true; });
  $('budget-form').addEventListener('submit', saveBudget);
  $('budget-level').addEventListener('change', () => { showBudgetEntity(); updateForecast(); });
  for (const id of ['budget-entity', 'budget-period']) $(id).addEventListener('change', updateForecast);
  for (const id of ['budget-limit', 'budget-warn']) $(id).addEventListener('input', updateForecast);
  $('tag-form').addEventListener('submit', saveTag);
  $('tag-cancel').addEventListener('click', () => { $('tag-form').hidden = true; });
  $('webhook-form').addEventListener('submit', saveWebhook);
  $('webhook-delete').addEventListener('click', deleteWebhook);
  $('export-form').addEventListener('submit', runExport);
  $('export-kind').addEventListener('change', renderExportScope);
  $('report-form').addEventListener('submit', openReport);
}

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem('tally.key', $('key').value.trim());
    sessionStorage.setItem('tally.tenant', $('tenant').value.trim());
    $('key').value = '';
    $('login-error').hidden = true;
    state.role = null;
    state.keyTenant = '';
    load();
  });
  $('logout').addEventListener('click', () => logout());
  $('refresh').addEventListener('click', () => load());
  $('resolution').addEventListener('change', () => {
    // Day: the 30 days ending on the chosen day; hour: that day's 24 hours.
    const end = Date.parse(($('end').value || utcDay(Date.now())) + 'T00:00:00Z');
    $('from').value = utcDay($('resolution').value === 'hour' ? end : end - 29 * DAY);
    load();
  });
  $('from').addEventListener('change', () => load());
  $('end').addEventListener('change', () => load());
  $('act-tenant').addEventListener('change', () => load());
  bindForms();
  const params = new URLSearchParams(location.hash.slice(1));
  if (params.get('resolution')) $('resolution').value = params.get('resolution');
  if (params.get('end')) $('end').value = params.get('end');
  if (params.get('from')) $('from').value = params.get('from');
  if (!$('from').value) setDefaultRange();
  $('report-month').value = ($('end').value || utcDay(Date.now())).slice(0, 7);
  let resizeTimer = null;
  window.addEventListener('resize', () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(renderChart, 100); });
  if (key()) load();
});
