// The live dashboard served at `GET /`. One self-contained document: inline CSS and JS, no CDN, no
// web fonts, so it works offline and behind strict proxies. The page polls `status` and `dead-letters`
// every 2 s (charts are sampled then) and listens to `events` (SSE) for live runs and failures; it
// builds every node with textContent, never innerHTML, so worker names, errors and payloads cannot
// inject markup. URLs are relative to the page, so the handler can be mounted under a base path.
//
// The CSS and the page's script are TS template literals: they must contain no backtick, no dollar-brace
// sequence and no backslash (the script uses string concatenation, and '\u' escapes are not needed).

const CSS = `
:root {
  color-scheme: light dark;
  --bg: #f4f6f8; --panel: #ffffff; --text: #16191d; --muted: #5c6773; --border: #d9dee4; --head: #f8f9fb;
  --ok: #1a7f37; --ok-bg: #dcf5e3; --bad: #c4262e; --bad-bg: #ffe9e8; --bad-row: #fff4f3;
  --warn: #8a5a00; --warn-bg: #fff1c2; --warn-row: #fffaeb; --run: #0a5fc4; --run-bg: #dcecff;
  --idle-bg: #eceff3; --cpu: #0a6fd6; --mem: #7c4fd6; --focus: #0a6fd6;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1217; --panel: #171b21; --text: #e6e9ed; --muted: #9aa4af; --border: #2d333b; --head: #1c2128;
    --ok: #4ac26b; --ok-bg: #12361f; --bad: #ff7b72; --bad-bg: #4a1719; --bad-row: #2a1416;
    --warn: #e3b341; --warn-bg: #3d2e00; --warn-row: #261f0c; --run: #6cb6ff; --run-bg: #122d4a;
    --idle-bg: #262c34; --cpu: #58a6ff; --mem: #b392f0; --focus: #58a6ff;
  }
}
* { box-sizing: border-box; }
html, body { margin: 0; }
body {
  background: var(--bg); color: var(--text);
  font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-variant-numeric: tabular-nums;
}
header {
  display: flex; align-items: center; gap: 16px; flex-wrap: wrap;
  padding: 10px 16px; background: var(--panel); border-bottom: 1px solid var(--border);
}
h1 { font-size: 20px; margin: 0; display: flex; align-items: center; gap: 8px; letter-spacing: -0.01em; }
h1 svg { width: 22px; height: 22px; }
h2 { font-size: 15px; margin: 0; }
.stats { display: flex; gap: 6px; flex-wrap: wrap; }
.stat {
  display: inline-flex; align-items: baseline; gap: 5px; padding: 3px 10px;
  border: 1px solid var(--border); border-radius: 999px; color: var(--muted); font-size: 13px;
}
.stat b { color: var(--text); font-size: 15px; }
.stat.bad { border-color: var(--bad); background: var(--bad-bg); color: var(--bad); }
.stat.bad b, .stat.warn b { color: inherit; }
.stat.warn { border-color: var(--warn); background: var(--warn-bg); color: var(--warn); }
.conn { margin-left: auto; color: var(--muted); font-size: 13px; display: flex; align-items: center; gap: 6px; }
.dot { width: 9px; height: 9px; border-radius: 50%; background: var(--muted); display: inline-block; flex: none; }
.dot.ok { background: var(--ok); }
.dot.warn { background: var(--warn); }
.dot.bad { background: var(--bad); }
main { padding: 14px 16px 24px; display: grid; gap: 14px; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); }
section {
  background: var(--panel); border: 1px solid var(--border); border-radius: 8px; overflow: hidden; min-width: 0;
}
section.wide { grid-column: 1 / -1; }
@media (max-width: 1100px) { main { grid-template-columns: minmax(0, 1fr); } }
.section-head {
  display: flex; align-items: center; gap: 10px; padding: 9px 14px; border-bottom: 1px solid var(--border);
}
.section-head .hint { color: var(--muted); font-size: 12px; margin-left: auto; }
.attention {
  grid-column: 1 / -1; border: 1px solid var(--bad); background: var(--bad-bg); color: var(--text);
  border-radius: 8px; padding: 9px 14px; display: flex; gap: 8px 18px; flex-wrap: wrap; align-items: center;
}
.attention[hidden] { display: none; }
.attention strong { color: var(--bad); }
.attention .item { display: inline-flex; gap: 6px; align-items: baseline; }
.scroll { overflow: auto; }
.scroll.limit { max-height: 360px; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 7px 8px; border-bottom: 1px solid var(--border); vertical-align: middle; }
th {
  position: sticky; top: 0; background: var(--head); z-index: 1;
  font-size: 11px; font-weight: 600; text-transform: uppercase; letter-spacing: 0.04em; color: var(--muted);
  white-space: nowrap;
}
tbody tr:last-child td { border-bottom: 0; }
td.num, th.num { text-align: right; }
.name { font-weight: 600; white-space: nowrap; }
.muted { color: var(--muted); }
.small { font-size: 12px; }
.nowrap { white-space: nowrap; }
.mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
.clip { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.clip2 { overflow: hidden; display: -webkit-box; -webkit-box-orient: vertical; -webkit-line-clamp: 2; overflow-wrap: anywhere; }
td.flex { width: 100%; max-width: 0; }
.i-pause {
  display: inline-block; width: 8px; height: 9px; border-left: 3px solid currentColor; border-right: 3px solid currentColor;
}
tr.disabled td { background: var(--warn-row); }
tr.disabled td:first-child { box-shadow: inset 4px 0 0 var(--warn); }
tr.failing td { background: var(--bad-row); }
tr.failing td:first-child { box-shadow: inset 4px 0 0 var(--bad); }
td.name.clip { max-width: 180px; }
tr.flash td { animation: flash 1.6s ease-out; }
@keyframes flash { from { background: var(--bad-bg); } }
.badge {
  display: inline-flex; align-items: center; gap: 4px; padding: 1px 8px; border-radius: 999px;
  font-size: 12px; font-weight: 600; white-space: nowrap; border: 1px solid transparent; line-height: 18px;
}
.badge + .badge { margin-left: 4px; }
.b-ok { background: var(--ok-bg); color: var(--ok); }
.b-bad { background: var(--bad-bg); color: var(--bad); border-color: var(--bad); }
.b-warn { background: var(--warn-bg); color: var(--warn); border-color: var(--warn); }
.b-run { background: var(--run-bg); color: var(--run); }
.b-idle { background: var(--idle-bg); color: var(--muted); }
.b-plain { color: var(--muted); border-color: var(--border); }
.pulse { width: 7px; height: 7px; border-radius: 50%; background: currentColor; animation: pulse 1.2s infinite; }
@keyframes pulse { 50% { opacity: 0.25; } }
@media (prefers-reduced-motion: reduce) { .pulse, tr.flash td { animation: none; } }
.err { color: var(--bad); }
.chart { display: flex; align-items: center; gap: 8px; }
.chart svg { display: block; flex: none; }
.chart .val { font-size: 12px; white-space: nowrap; }
td[data-col="cpu"] .val { min-width: 34px; }
td[data-col="mem"] .val { min-width: 62px; }
.chart { gap: 6px; }
button {
  font: inherit; font-size: 13px; font-weight: 600; padding: 3px 12px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--border); background: var(--panel); color: var(--text);
}
button:hover:not(:disabled) { border-color: var(--run); color: var(--run); }
button:focus-visible { outline: 2px solid var(--focus); outline-offset: 1px; }
button:disabled { opacity: 0.6; cursor: progress; }
button.link { border: 0; padding: 0; background: none; color: var(--muted); font-weight: 400; font-size: 12px; text-decoration: underline; }
.filter { margin-left: 10px; color: var(--text); cursor: pointer; white-space: nowrap; }
.filter input { vertical-align: -2px; margin: 0 3px 0 0; }
.empty { padding: 18px 14px; color: var(--muted); }
.empty[hidden] { display: none; }
.notices { display: grid; gap: 6px; padding: 8px 14px; border-bottom: 1px solid var(--border); }
.notices:empty { display: none; }
.notice { padding: 6px 10px; border-radius: 6px; font-size: 13px; display: flex; gap: 8px; align-items: baseline; }
.notice.ok { background: var(--ok-bg); color: var(--ok); }
.notice.bad { background: var(--bad-bg); color: var(--bad); }
.notice.info { background: var(--run-bg); color: var(--run); }
.notice time { margin-left: auto; opacity: 0.8; font-size: 12px; }
footer { padding: 0 16px 18px; color: var(--muted); font-size: 12px; }
`;

const SCRIPT = `
'use strict';
(() => {
  const POLL_MS = 2000;
  const WINDOW_MS = 5 * 60 * 1000;
  const MAX_RUNS = 300;
  const SHOWN_RUNS = 40;
  const TOKEN_KEY = 'corral.token';
  const base = location.pathname.endsWith('/') ? location.pathname : location.pathname + '/';
  const url = (path) => base + path;

  const state = {
    status: undefined,
    deadLetters: [],
    reachable: undefined,
    lastUpdate: 0,
    live: 'connecting',
    series: new Map(),
    lastSampled: new Map(),
    runs: new Map(),
    replaying: new Set(),
    flashUntil: new Map(),
    eventSeq: 0,
  };

  // ------------------------------------------------------------------ helpers
  const $ = (id) => document.getElementById(id);
  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const key of Object.keys(props)) {
        const value = props[key];
        if (value === undefined || value === null || value === false) continue;
        if (key === 'class') node.className = value;
        else if (key === 'text') node.textContent = value;
        else if (key === 'title') node.title = value;
        else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
        else node.setAttribute(key, value === true ? '' : String(value));
      }
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const SVG_NS = 'http://www.w3.org/2000/svg';
  function s(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const key of Object.keys(attrs)) node.setAttribute(key, String(attrs[key]));
    return node;
  }
  const badge = (kind, text, title, pulse) =>
    h('span', { class: 'badge b-' + kind, title }, pulse ? h('span', { class: 'pulse', 'aria-hidden': 'true' }) : null, text);
  const pad = (n) => String(n).padStart(2, '0');
  const toMs = (t) => (t === undefined || t === null ? undefined : typeof t === 'number' ? t : Date.parse(t));
  function clock(t) {
    const ms = toMs(t);
    if (ms === undefined || Number.isNaN(ms)) return '—';
    const d = new Date(ms);
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  }
  function span(ms) {
    const sec = Math.round(Math.abs(ms) / 1000);
    if (sec < 60) return sec + 's';
    const min = Math.floor(sec / 60);
    if (min < 60) return min + 'm ' + pad(sec % 60) + 's';
    const hrs = Math.floor(min / 60);
    if (hrs < 48) return hrs + 'h ' + pad(min % 60) + 'm';
    return Math.floor(hrs / 24) + 'd';
  }
  // Relative times live in spans updated once a second (see tickTimes), so rows need no rebuild.
  const agoSpan = (t, prefix, cls) =>
    h('span', { class: 'ago' + (cls ? ' ' + cls : ''), 'data-t': toMs(t), 'data-prefix': prefix || '' }, (prefix || '') + ago(t));
  function tickTimes() {
    for (const node of document.querySelectorAll('.ago')) {
      const text = node.dataset.prefix + ago(Number(node.dataset.t));
      if (node.textContent !== text) node.textContent = text;
    }
    for (const node of document.querySelectorAll('.until')) {
      const text = until(Number(node.dataset.t));
      if (node.textContent !== text) node.textContent = text;
    }
  }
  function ago(t) {
    const ms = toMs(t);
    if (ms === undefined || Number.isNaN(ms)) return '';
    const diff = Date.now() - ms;
    return diff < 1500 ? 'just now' : span(diff) + ' ago';
  }
  function until(t) {
    const ms = toMs(t);
    if (ms === undefined || Number.isNaN(ms)) return '';
    const diff = ms - Date.now();
    return diff <= 500 ? 'due now' : 'in ' + span(diff);
  }
  function duration(ms) {
    if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
    if (ms < 1000) return Math.round(ms) + ' ms';
    if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + ' s';
    return span(ms);
  }
  function mib(bytes) {
    const m = bytes / 1048576;
    return (m >= 100 ? Math.round(m) : m.toFixed(1)) + ' MiB';
  }
  function preview(value) {
    if (value === undefined) return '—';
    let text;
    try { text = JSON.stringify(value); } catch { text = String(value); }
    if (text === undefined) text = String(value);
    return text.length > 80 ? text.slice(0, 79) + '…' : text;
  }

  // Keeps one row element per key and rebuilds a row only when its signature changes, so rows under
  // the pointer (a Replay button mid-click) are not replaced by a refresh that changed nothing.
  function syncRows(tbody, items, keyOf, sigOf, build) {
    const existing = new Map();
    for (const tr of Array.from(tbody.children)) existing.set(tr.dataset.key, tr);
    const seen = new Set();
    let prev = null;
    for (const item of items) {
      const key = keyOf(item);
      seen.add(key);
      let tr = existing.get(key);
      if (!tr) {
        tr = document.createElement('tr');
        tr.dataset.key = key;
      }
      const sig = sigOf(item);
      if (tr.dataset.sig !== sig) {
        tr.replaceChildren();
        tr.className = '';
        build(tr, item);
        tr.dataset.sig = sig;
      }
      const next = prev ? prev.nextSibling : tbody.firstChild;
      if (next !== tr) tbody.insertBefore(tr, next);
      prev = tr;
    }
    for (const [key, tr] of existing) if (!seen.has(key)) tr.remove();
  }

  // ------------------------------------------------------------------ model
  const workers = () => (state.status ? state.status.workerStates || {} : {});
  const isFailing = (w) => w.failures > 0 || w.breaker === 'open';
  const isDisabled = (w) => w.enabled === false;
  // The contract names it executionMode; accept 'mode' as well.
  const modeOf = (w) => w.executionMode || w.mode;

  function sample() {
    const now = Date.now();
    const ws = workers();
    for (const name of Object.keys(ws)) {
      const w = ws[name];
      const r = w.resources;
      if (w.isolation === 'inline' && !r) continue;
      let series = state.series.get(name);
      if (!series) {
        if (!r && !w.running) continue;
        series = [];
        state.series.set(name, series);
      }
      const fresh = r && r.sampledAt !== state.lastSampled.get(name);
      if (r) state.lastSampled.set(name, r.sampledAt);
      if (r && (fresh || w.running)) series.push({ t: now, cpu: r.cpuPercent, mem: r.memoryBytes });
      else series.push({ t: now, cpu: 0, mem: null });
      while (series.length > 0 && series[0].t < now - WINDOW_MS) series.shift();
    }
  }

  function upsertRun(runId, patch) {
    const run = state.runs.get(runId) || { runId, seen: Date.now() };
    Object.assign(run, patch);
    state.runs.delete(runId);
    state.runs.set(runId, run);
    while (state.runs.size > MAX_RUNS) state.runs.delete(state.runs.keys().next().value);
    return run;
  }

  function absorbHistory() {
    const ws = workers();
    for (const name of Object.keys(ws)) {
      for (const rec of ws[name].history || []) {
        const old = state.runs.get(rec.runId);
        if (old && old.final && old.endedAt === toMs(rec.endedAt)) continue;
        const run = old || { runId: rec.runId, seen: Date.now() };
        Object.assign(run, {
          name,
          startedAt: toMs(rec.startedAt),
          endedAt: toMs(rec.endedAt),
          outcome: rec.outcome,
          reason: rec.reason,
          attempts: rec.attempts,
          durationMs: rec.durationMs,
          final: true,
        });
        state.runs.set(rec.runId, run);
      }
    }
    // History can outnumber the cap; keep the latest.
    if (state.runs.size > MAX_RUNS) {
      const sorted = sortedRuns();
      for (const run of sorted.slice(MAX_RUNS)) state.runs.delete(run.runId);
    }
  }

  const runTime = (run) => run.endedAt || run.updatedAt || run.startedAt || run.seen;
  const sortedRuns = () => Array.from(state.runs.values()).sort((a, b) => runTime(b) - runTime(a));

  // ------------------------------------------------------------------ network
  async function getJson(path) {
    const res = await fetch(url(path), { cache: 'no-store', headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(path + ': HTTP ' + res.status);
    return res.json();
  }

  let refreshing = false;
  let again = false;
  let againSample = false;
  let skipped = 0;
  async function refresh(withSample) {
    if (refreshing) {
      again = true;
      againSample = againSample || withSample;
      return;
    }
    refreshing = true;
    const seq = state.eventSeq;
    try {
      const [status, letters] = await Promise.all([getJson('status'), getJson('dead-letters')]);
      // An event that arrived while this status was in flight may be newer than it: fetch again
      // rather than step back (a few times at most, so a stream of events cannot starve the page).
      if (seq !== state.eventSeq && state.status && skipped < 3) {
        skipped++;
        again = true;
      } else {
        skipped = 0;
        state.status = status;
        state.deadLetters = Array.isArray(letters) ? letters : [];
        state.reachable = true;
        state.lastUpdate = Date.now();
        absorbHistory();
      }
      // Charts are sampled on the 2 s poll only; the status used is the latest either way.
      if (withSample) sample();
    } catch (error) {
      state.reachable = false;
      state.fetchError = String(error && error.message ? error.message : error);
    } finally {
      refreshing = false;
    }
    render();
    if (again) {
      const sampleNext = againSample;
      again = false;
      againSample = false;
      void refresh(sampleNext);
    }
  }

  let soon;
  function refreshSoon() {
    clearTimeout(soon);
    soon = setTimeout(() => void refresh(false), 150);
  }

  async function poll() {
    await refresh(true);
    setTimeout(() => void poll(), POLL_MS);
  }

  function patchWorker(name, patch) {
    const w = workers()[name];
    if (w) Object.assign(w, patch);
  }

  function listen() {
    if (!('EventSource' in window)) {
      state.live = 'unsupported';
      return;
    }
    const es = new EventSource(url('events'));
    es.onopen = () => {
      state.live = 'live';
      render();
      refreshSoon();
    };
    es.onerror = () => {
      state.live = es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting';
      render();
    };
    const on = (name, fn) =>
      es.addEventListener(name, (event) => {
        let data = {};
        try { data = JSON.parse(event.data || '{}'); } catch {}
        state.live = 'live';
        state.eventSeq++;
        fn(data || {});
        render();
        refreshSoon();
      });
    on('worker:start', (d) => {
      upsertRun(d.runId, { name: d.name, outcome: 'running', attempts: d.attempt, updatedAt: Date.now(), final: false });
      const w = workers()[d.name];
      if (w) patchWorker(d.name, { running: true, runningCount: Math.max(1, w.runningCount || 0) });
    });
    on('worker:success', (d) => {
      upsertRun(d.runId, {
        name: d.name, outcome: 'succeeded', attempts: d.attempt, durationMs: d.durationMs,
        endedAt: Date.now(), reason: undefined, error: undefined, final: false,
      });
      patchWorker(d.name, { failures: 0 });
    });
    on('worker:failure', (d) => {
      const message = d.error && d.error.message ? d.error.message : d.reason;
      upsertRun(d.runId, {
        name: d.name, outcome: d.willRetry ? 'retrying' : 'failed', attempts: d.attempt, reason: d.reason,
        error: message, updatedAt: Date.now(), endedAt: d.willRetry ? undefined : Date.now(), final: false,
      });
      const w = workers()[d.name];
      if (w && !d.willRetry) {
        patchWorker(d.name, { failures: (w.failures || 0) + 1, lastError: message, lastFailureReason: d.reason });
      }
      if (!d.willRetry) state.flashUntil.set(d.name, Date.now() + 1600);
    });
    on('worker:disabled', (d) => patchWorker(d.name, { enabled: false, breaker: 'open' }));
    on('worker:enabled', (d) => patchWorker(d.name, { enabled: true, failures: 0 }));
    on('worker:dead-letter', () => {});
    on('orchestrator:started', () => {});
    on('orchestrator:stopped', () => {});
  }

  // ------------------------------------------------------------------ replay
  function askToken(reason) {
    let token = sessionStorage.getItem(TOKEN_KEY);
    if (token) return token;
    token = window.prompt((reason ? reason + ' ' : '') + 'Token for ' + location.host + ' (kept for this tab only):');
    if (!token) return undefined;
    token = token.trim();
    sessionStorage.setItem(TOKEN_KEY, token);
    renderTokenState();
    return token;
  }

  function notice(kind, text) {
    const list = $('notices');
    list.prepend(h('div', { class: 'notice ' + kind, role: kind === 'bad' ? 'alert' : 'status' },
      h('span', { text }), h('time', { text: clock(Date.now()) })));
    while (list.children.length > 4) list.lastChild.remove();
  }

  async function replay(letter) {
    const token = askToken();
    if (!token) {
      notice('info', 'Replay of ' + letter.name + ' cancelled: no token given.');
      return;
    }
    state.replaying.add(letter.id);
    render();
    try {
      const res = await fetch(url('dead-letters/' + encodeURIComponent(letter.id) + '/replay'), {
        method: 'POST',
        headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json', accept: 'application/json' },
        body: '{}',
      });
      let body;
      try { body = await res.json(); } catch { body = undefined; }
      const message = body && body.error && body.error.message ? body.error.message : 'HTTP ' + res.status;
      if (res.ok) {
        const result = body && 'result' in body ? body.result : body;
        notice('ok', '✓ Replay of ' + letter.name + ' succeeded' + (result === undefined ? '.' : ': ' + preview(result)));
      } else if (res.status === 401 || res.status === 403) {
        sessionStorage.removeItem(TOKEN_KEY);
        renderTokenState();
        notice('bad', '✗ Token refused (' + res.status + '): ' + message + '. Click Replay again to enter it.');
      } else {
        notice('bad', '✗ Replay of ' + letter.name + ' failed: ' + message);
      }
    } catch (error) {
      notice('bad', '✗ Replay of ' + letter.name + ' failed: ' + String(error && error.message ? error.message : error));
    } finally {
      state.replaying.delete(letter.id);
      await refresh(false);
    }
  }

  function renderTokenState() {
    $('forget').hidden = !sessionStorage.getItem(TOKEN_KEY);
  }

  // ------------------------------------------------------------------ charts
  function sparkline(points, key, color, maxFloor) {
    const W = 100;
    const H = 30;
    const svg = s('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'data-points': points.length });
    svg.append(s('rect', { x: 0.5, y: 0.5, width: W - 1, height: H - 1, rx: 3, fill: 'none', stroke: 'var(--border)' }));
    if (points.length === 0) return svg;
    const now = Date.now();
    const t0 = Math.max(points[0].t, now - WINDOW_MS);
    const span = Math.max(now - t0, POLL_MS * 2);
    let max = maxFloor;
    for (const p of points) if (p[key] !== null && p[key] > max) max = p[key];
    if (max <= 0) max = 1;
    const x = (t) => 2 + ((t - (now - span)) / span) * (W - 4);
    const y = (v) => H - 3 - (v / max) * (H - 6);
    let segment = [];
    const segments = [];
    for (const p of points) {
      if (p[key] === null) {
        if (segment.length) segments.push(segment);
        segment = [];
      } else segment.push([x(p.t), y(p[key])]);
    }
    if (segment.length) segments.push(segment);
    for (const seg of segments) {
      const line = seg.map((p, i) => (i ? 'L' : 'M') + p[0].toFixed(1) + ' ' + p[1].toFixed(1)).join(' ');
      const first = seg[0];
      const last = seg[seg.length - 1];
      const area = line + ' L' + last[0].toFixed(1) + ' ' + (H - 3) + ' L' + first[0].toFixed(1) + ' ' + (H - 3) + ' Z';
      svg.append(s('path', { d: area, fill: color, 'fill-opacity': 0.16, stroke: 'none' }));
      svg.append(s('path', { d: line, fill: 'none', stroke: color, 'stroke-width': 1.6, 'stroke-linejoin': 'round' }));
    }
    const tail = segments.length ? segments[segments.length - 1] : undefined;
    if (tail) {
      const end = tail[tail.length - 1];
      svg.append(s('circle', { cx: end[0].toFixed(1), cy: end[1].toFixed(1), r: 2.2, fill: color }));
    }
    return svg;
  }

  function chartCell(name, w, key) {
    const series = state.series.get(name) || [];
    if (series.length === 0) {
      return h('td', { 'data-col': key }, h('span', { class: 'muted small', text: 'no sample yet' }));
    }
    const last = series[series.length - 1];
    const values = series.map((p) => p[key]).filter((v) => v !== null);
    const peak = values.length ? Math.max(...values) : 0;
    const isCpu = key === 'cpu';
    const fmt = (v) => (isCpu ? Math.round(v) + '%' : mib(v));
    const current = last[key] === null ? 'idle' : fmt(last[key]);
    const label = (isCpu ? 'CPU' : 'Memory') + ' over the last ' + span(Date.now() - series[0].t) + ': now ' + current + ', peak ' + fmt(peak);
    const svg = sparkline(series, key, isCpu ? 'var(--cpu)' : 'var(--mem)', isCpu ? 100 : 0);
    svg.setAttribute('aria-label', label);
    return h('td', { 'data-col': key, title: label },
      h('div', { class: 'chart' }, svg, h('span', { class: 'val' + (last[key] === null ? ' muted' : ''), text: current })));
  }

  // ------------------------------------------------------------------ render
  function stateCell(w) {
    const cell = h('td', { 'data-col': 'state', class: 'nowrap' });
    if (isDisabled(w)) {
      const paused = badge('warn', 'disabled', 'No scheduled runs; triggers are refused.');
      paused.prepend(h('span', { class: 'i-pause', 'aria-hidden': 'true' }));
      cell.append(paused);
    }
    else if (w.running) cell.append(badge('run', 'running' + (w.runningCount > 1 ? ' ×' + w.runningCount : ''), undefined, true));
    else cell.append(badge('idle', 'idle'));
    if (isFailing(w)) {
      cell.append(badge('bad', '✗ failing' + (w.failures > 0 ? ' ×' + w.failures : ''), w.failures + ' failed run(s) in a row'));
    }
    if (w.queued > 0) cell.append(badge('plain', w.queued + ' queued'));
    return cell;
  }

  function breakerCell(w) {
    const b = w.breaker || 'closed';
    if (b === 'open') return h('td', { 'data-col': 'breaker' }, badge('bad', '✗ open', 'Circuit breaker open: runs are refused'));
    if (b === 'half-open') return h('td', { 'data-col': 'breaker' }, badge('warn', 'half-open', 'The next run is a trial'));
    return h('td', { 'data-col': 'breaker' }, h('span', { class: 'muted', text: 'closed' }));
  }

  function nextRunText(w) {
    if (isDisabled(w)) return { text: '—', title: 'disabled' };
    if (w.nextRunAt) return { at: toMs(w.nextRunAt), title: new Date(toMs(w.nextRunAt)).toLocaleString() };
    if (modeOf(w) === 'triggered') return { text: 'on demand', title: 'runs when triggered' };
    if (modeOf(w) === 'continuous') return { text: w.running ? 'running' : 'next: after this run', title: 'continuous' };
    return { text: '—', title: '' };
  }

  function renderWorkers() {
    const ws = workers();
    const names = Object.keys(ws);
    const now = Date.now();
    syncRows(
      $('workers-body'),
      names,
      (name) => name,
      (name) => {
        const w = ws[name];
        const series = state.series.get(name);
        return JSON.stringify([w.enabled, w.running, w.runningCount, w.queued, w.failures, w.breaker, w.totals,
          w.lastError, w.lastFailureReason, w.lastRun, nextRunText(w), modeOf(w), w.isolation,
          series ? series.length + ':' + series[series.length - 1].t : 0, (state.flashUntil.get(name) || 0) > now]);
      },
      (tr, name) => {
        const w = ws[name];
        const failing = isFailing(w);
        const disabled = isDisabled(w);
        tr.dataset.worker = name;
        tr.dataset.state = disabled ? 'disabled' : w.running ? 'running' : 'idle';
        tr.dataset.failing = failing ? 'true' : 'false';
        if (failing) tr.classList.add('failing');
        if (disabled) tr.classList.add('disabled');
        if ((state.flashUntil.get(name) || 0) > now) tr.classList.add('flash');
        const t = w.totals || {};
        const extra = [];
        if (t.retries) extra.push(t.retries + ' retries');
        if (t.timeouts) extra.push(t.timeouts + ' timeouts');
        if (t.crashes) extra.push(t.crashes + ' crashes');
        const next = nextRunText(w);
        const errText = w.lastError ? (w.lastFailureReason ? w.lastFailureReason + ': ' : '') + w.lastError : '';
        tr.append(
          h('td', { class: 'name', 'data-col': 'name' }, name,
            w.lastRun ? h('div', { class: 'muted small', style: 'font-weight:400' }, agoSpan(w.lastRun, 'last run ')) : null),
          h('td', { class: 'nowrap' }, h('div', { 'data-col': 'mode', text: modeOf(w) || '—' }),
            h('div', { 'data-col': 'isolation', class: 'muted small', text: w.isolation || '—' })),
          stateCell(w),
          breakerCell(w),
          h('td', { 'data-col': 'runs', class: 'num nowrap', title: extra.join(', ') || undefined },
            h('span', { style: 'color:var(--ok)', text: '✓ ' + (t.succeeded || 0) }),
            ' ',
            h('span', { class: t.failed ? 'err' : 'muted', text: '✗ ' + (t.failed || 0) }),
            extra.length ? h('div', { class: 'muted small', text: extra.join(' · ') }) : null),
          ...(w.isolation === 'inline' && !state.series.has(name)
            ? [h('td', { colspan: 2, 'data-col': 'resources', class: 'muted small nowrap', title: 'An inline worker runs in the host: it has no CPU or memory of its own to sample.', text: 'inline: not sampled' })]
            : [chartCell(name, w, 'cpu'), chartCell(name, w, 'mem')]),
          h('td', { 'data-col': 'error', class: 'flex', title: errText || undefined },
            errText ? h('div', { class: 'clip2 small ' + (failing ? 'err' : 'muted'), text: errText }) : h('span', { class: 'muted', text: '—' }),
            errText && !failing ? h('div', { class: 'muted small', text: 'recovered since' }) : null),
          h('td', { 'data-col': 'next', class: 'nowrap', title: next.title || undefined },
            next.at === undefined ? next.text : h('span', { class: 'until', 'data-t': next.at }, until(next.at))),
        );
      },
    );
    $('workers-empty').hidden = names.length > 0;
  }

  const OUTCOME = {
    succeeded: ['ok', '✓ succeeded'],
    failed: ['bad', '✗ failed'],
    retrying: ['warn', '↻ retrying'],
    running: ['run', 'running'],
    aborted: ['idle', '⊘ aborted'],
  };

  function renderRuns() {
    const onlyProblems = $('only-problems').checked;
    const problem = (run) => run.outcome === 'failed' || run.outcome === 'retrying' || run.outcome === 'aborted';
    const runs = sortedRuns()
      .filter((run) => !onlyProblems || problem(run))
      .slice(0, SHOWN_RUNS);
    syncRows(
      $('runs-body'),
      runs,
      (run) => run.runId,
      (run) => JSON.stringify([run.outcome, run.reason, run.attempts, run.durationMs, run.error, runTime(run), run.name]),
      (tr, run) => {
        tr.dataset.runId = run.runId;
        tr.dataset.outcome = run.outcome;
        const o = OUTCOME[run.outcome] || ['plain', run.outcome];
        const failed = run.outcome === 'failed';
        const parts = [];
        if (run.attempts > 1) parts.push(run.outcome === 'running' ? 'attempt ' + run.attempts : run.attempts + ' attempts');
        const why = [run.reason, run.error && run.error !== run.reason ? run.error : undefined].filter(Boolean).join(': ');
        if (why && run.outcome !== 'succeeded') parts.push(run.outcome === 'running' ? 'after ' + why : why);
        const detail = parts.join(' · ');
        if (failed) tr.classList.add('failing');
        tr.append(
          h('td', { class: 'nowrap', title: new Date(runTime(run)).toLocaleString(), text: clock(runTime(run)) }),
          h('td', { class: 'name clip', title: run.name, text: run.name || '?' }),
          h('td', {}, badge(o[0], o[1], undefined, run.outcome === 'running')),
          h('td', { class: 'num nowrap', text: run.outcome === 'running' ? '—' : duration(run.durationMs) }),
          h('td', { class: 'flex', title: detail || undefined }, h('div', { class: 'clip ' + (failed ? 'err' : 'muted'), text: detail })),
        );
      },
    );
    $('runs-empty').hidden = runs.length > 0;
  }

  function renderDeadLetters() {
    const letters = state.deadLetters.slice().sort((a, b) => (toMs(b.failedAt) || 0) - (toMs(a.failedAt) || 0));
    syncRows(
      $('dl-body'),
      letters,
      (d) => d.id,
      (d) => JSON.stringify([d.name, d.reason, d.attempts, d.error, d.failedAt, state.replaying.has(d.id)]),
      (tr, d) => {
        tr.dataset.deadLetter = d.id;
        const busy = state.replaying.has(d.id);
        const payload = preview(d.payload);
        tr.append(
          h('td', { class: 'nowrap', title: new Date(toMs(d.failedAt)).toLocaleString() }, clock(d.failedAt),
            h('div', { class: 'muted small' }, agoSpan(d.failedAt))),
          h('td', { class: 'name' }, d.name,
            h('div', { class: 'muted small mono', text: String(d.id).slice(0, 8), title: 'dead letter ' + d.id })),
          h('td', { class: 'nowrap' }, badge('bad', d.reason || 'error'), h('div', { class: 'muted small', text: d.attempts + ' attempt' + (d.attempts === 1 ? '' : 's') })),
          h('td', { class: 'flex', title: d.error || undefined }, h('div', { class: 'clip2 err', text: d.error || '' }),
            h('div', { class: 'clip muted mono', title: payload, text: 'payload ' + payload })),
          h('td', { class: 'num' }, h('button', {
            type: 'button', 'data-action': 'replay', disabled: busy, onclick: () => void replay(d),
            title: 'Run it again with the same payload (needs the token)',
          }, busy ? 'Replaying…' : 'Replay')),
        );
      },
    );
    $('dl-empty').hidden = letters.length > 0;
    $('dl-count').textContent = letters.length ? '(' + letters.length + ')' : '';
  }

  function renderHeader() {
    const st = state.status;
    const ws = workers();
    const list = Object.keys(ws).map((n) => ws[n]);
    const failing = list.filter(isFailing).length;
    const disabled = list.filter(isDisabled).length;
    const orch = st ? st.state : 'loading';
    const pill = $('orch-state');
    pill.className = 'badge ' + (state.reachable === false ? 'b-bad' : orch === 'running' ? 'b-ok' : orch === 'stopping' ? 'b-warn' : 'b-idle');
    pill.textContent = state.reachable === false ? 'unreachable' : orch;
    const stats = $('stats');
    stats.replaceChildren(
      h('span', { class: 'stat' }, h('b', { text: st ? st.workers : '–' }), 'workers'),
      h('span', { class: 'stat' }, h('b', { text: st ? st.running : '–' }), 'running'),
      h('span', { class: 'stat' }, h('b', { text: st ? st.queued : '–' }), 'queued'),
      h('span', { class: 'stat' + (failing ? ' bad' : '') }, h('b', { text: failing }), 'failing'),
      h('span', { class: 'stat' + (disabled ? ' warn' : '') }, h('b', { text: disabled }), 'disabled'),
      h('span', { class: 'stat' + (state.deadLetters.length ? ' bad' : '') }, h('b', { text: state.deadLetters.length }), 'dead letters'),
    );
    const conn = $('conn');
    conn.dataset.live = state.live;
    const liveKind = state.live === 'live' ? 'ok' : state.live === 'reconnecting' || state.live === 'connecting' ? 'warn' : 'bad';
    const liveText = state.live === 'live' ? 'live' : state.live === 'connecting' ? 'connecting…' : state.live === 'reconnecting' ? 'reconnecting…' : 'no live events';
    conn.replaceChildren(
      h('span', { class: 'dot ' + liveKind, 'aria-hidden': 'true' }),
      h('span', { text: liveText }),
      h('span', { text: '·' }),
      state.reachable === false
        ? h('span', { class: 'err', text: 'status unreachable (' + (state.fetchError || '') + ')' })
        : h('span', { text: state.lastUpdate ? 'updated ' + clock(state.lastUpdate) : 'loading…' }),
    );
    document.title = (failing || disabled ? '⚠ ' : '') + 'corral — ' + (failing ? failing + ' failing' : orch);
  }

  function renderAttention() {
    const ws = workers();
    const box = $('attention');
    const items = [];
    for (const name of Object.keys(ws)) {
      const w = ws[name];
      if (!isFailing(w) && !isDisabled(w)) continue;
      const what = [];
      if (isFailing(w)) what.push(w.failures > 0 ? 'failing ×' + w.failures : 'failing');
      if (isDisabled(w)) what.push(w.breaker === 'open' ? 'disabled (breaker open)' : 'disabled');
      const why = w.lastError && isFailing(w) ? ' — ' + (w.lastFailureReason ? w.lastFailureReason + ': ' : '') + w.lastError : '';
      items.push(h('span', { class: 'item' }, h('b', { text: name }), h('span', { text: what.join(', ') + why })));
    }
    box.hidden = items.length === 0;
    box.replaceChildren(h('strong', { text: '⚠ Needs attention' }), ...items);
  }

  function render() {
    renderHeader();
    renderAttention();
    renderWorkers();
    renderRuns();
    renderDeadLetters();
    tickTimes();
  }

  // ------------------------------------------------------------------ start
  $('forget').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    renderTokenState();
    notice('info', 'Token forgotten for this tab.');
  });
  $('only-problems').addEventListener('change', renderRuns);
  renderTokenState();
  render();
  listen();
  void poll();
  setInterval(render, 1000);
})();
`;

const LOGO =
  '<svg viewBox="0 0 24 24" aria-hidden="true"><g fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round">' +
  '<path d="M4 5v15M10 5v15M16 5v15M22 5v15" /><path d="M1 9h23M1 16h23" /></g></svg>';

const BODY = `
<header>
  <h1>${LOGO}corral</h1>
  <span id="orch-state" class="badge b-idle">loading</span>
  <div id="stats" class="stats"></div>
  <div id="conn" class="conn" role="status" aria-live="polite"></div>
</header>
<main>
  <div id="attention" class="attention" role="alert" hidden></div>
  <section class="wide" aria-labelledby="workers-title">
    <div class="section-head"><h2 id="workers-title">Workers</h2>
      <span class="hint">CPU and memory: last 5 min, sampled every 2 s (isolated workers only)</span></div>
    <div class="scroll">
      <table id="workers">
        <thead><tr>
          <th>Worker</th><th>Mode / isolation</th><th>State</th><th>Breaker</th><th class="num" title="Runs succeeded / failed">Runs</th>
          <th>CPU</th><th>Memory</th><th>Last error</th><th>Next run</th>
        </tr></thead>
        <tbody id="workers-body"></tbody>
      </table>
    </div>
    <div id="workers-empty" class="empty" hidden>No workers registered.</div>
  </section>
  <section aria-labelledby="runs-title">
    <div class="section-head"><h2 id="runs-title">Recent runs</h2>
      <span class="hint">newest first, live
        <label class="filter"><input id="only-problems" type="checkbox"> failures only</label></span></div>
    <div class="scroll limit">
      <table id="runs">
        <thead><tr><th>Time</th><th>Worker</th><th>Outcome</th><th class="num">Duration</th><th>Detail</th></tr></thead>
        <tbody id="runs-body"></tbody>
      </table>
    </div>
    <div id="runs-empty" class="empty" hidden>No runs to show yet.</div>
  </section>
  <section aria-labelledby="dl-title">
    <div class="section-head"><h2 id="dl-title">Dead letters <span id="dl-count" class="muted"></span></h2>
      <span class="hint">requested runs that failed every attempt
        <button id="forget" type="button" class="link" hidden>forget token</button></span></div>
    <div id="notices" class="notices" aria-live="polite"></div>
    <div class="scroll limit">
      <table id="dead-letters">
        <thead><tr><th>Failed</th><th>Worker</th><th>Reason</th><th>Error and payload</th><th></th></tr></thead>
        <tbody id="dl-body"></tbody>
      </table>
    </div>
    <div id="dl-empty" class="empty" hidden>No dead letters: every requested run succeeded or is still being retried.</div>
  </section>
</main>
<footer>corral dashboard · replay needs the API token (asked once, kept in this tab's session storage)</footer>
`;

/** The dashboard page served at `GET /`: one self-contained HTML document (no CDN, works offline). */
export function dashboardHtml(): string {
  return (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<title>corral</title><link rel="icon" href="data:,">' +
    `<style>${CSS}</style></head><body>${BODY}<script>${SCRIPT}</script></body></html>`
  );
}
