// @ts-check
// The live dashboard served at `GET /` (README, "HTTP API, metrics and dashboard"). It polls `status` and
// `dead-letters` every 2 s (charts are sampled then) and listens to `events` (SSE) for live runs and
// failures; in cluster mode (`status.cluster`) it also lists the hosts, and shows the host of each run
// (the events' `host` field). Every node is built with textContent, never innerHTML, so worker names,
// errors and payloads cannot inject markup; the Content-Security-Policy allows this file and the
// stylesheet only. URLs are relative to the page, so the handler can be mounted under a base path.

/**
 * @typedef {{ runs?: number, succeeded?: number, failed?: number, retries?: number, timeouts?: number, crashes?: number }} Totals
 * @typedef {{ runId: string, startedAt?: string | number, endedAt?: string | number, outcome?: string,
 *   reason?: string, attempts?: number, durationMs?: number }} HistoryRecord
 * @typedef {{ enabled?: boolean, running?: boolean, runningCount?: number, queued?: number, failures?: number,
 *   breaker?: string, totals?: Totals, lastRun?: string, lastError?: string, lastFailureReason?: string,
 *   nextRunAt?: string, executionMode?: string, mode?: string, isolation?: string,
 *   resources?: { cpuPercent: number, memoryBytes: number, sampledAt: string }, history?: HistoryRecord[] }} WorkerState
 * @typedef {{ id: string, execute: boolean, workers: string[], running: number, lastSeenAt: string }} ClusterHost
 * @typedef {{ name: string, self: string, redis: string, hosts: ClusterHost[] }} Cluster
 * @typedef {{ state: string, workers: number, running: number, queued: number,
 *   workerStates: Record<string, WorkerState>, cluster?: Cluster }} Status
 * @typedef {{ id: string, name: string, reason?: string, error?: string, attempts: number, failedAt: string,
 *   payload?: unknown, payloadError?: string }} DeadLetter
 * @typedef {{ t: number, cpu: number, mem: number | null }} Point
 * @typedef {{ runId: string, seen: number, name?: string, host?: string, outcome?: string, reason?: string,
 *   error?: string, attempts?: number, durationMs?: number, startedAt?: number, endedAt?: number,
 *   updatedAt?: number, final?: boolean }} Run
 * @typedef {Record<string, any>} EventData
 * @typedef {Node | string | number | null | undefined | false} Child
 */

(() => {
  const POLL_MS = 2000;
  const WINDOW_MS = 5 * 60 * 1000;
  const MAX_RUNS = 300;
  const SHOWN_RUNS = 40;
  const SHOWN_DEAD_LETTERS = 100;
  const TOKEN_KEY = 'corral.token';
  const base = location.pathname.endsWith('/') ? location.pathname : `${location.pathname}/`;
  /** @param {string} path */
  const url = (path) => base + path;

  const state = {
    /** @type {Status | undefined} */
    status: undefined,
    /** @type {DeadLetter[]} the newest ones, at most SHOWN_DEAD_LETTERS */
    deadLetters: [],
    /** How many dead letters there are in all. */
    deadLetterTotal: 0,
    /** @type {Map<string, string>} payload previews by payloadKey(), fetched once per entry */
    payloads: new Map(),
    /** @type {boolean | undefined} */
    reachable: undefined,
    /** @type {string | undefined} */
    fetchError: undefined,
    lastUpdate: 0,
    live: 'connecting',
    /** @type {Map<string, Point[]>} */
    series: new Map(),
    /** @type {Map<string, string>} */
    lastSampled: new Map(),
    /** @type {Map<string, Run>} */
    runs: new Map(),
    /** @type {Set<string>} */
    replaying: new Set(),
    /** @type {Map<string, number>} */
    flashUntil: new Map(),
    eventSeq: 0,
  };

  // ------------------------------------------------------------------ helpers
  /**
   * The element with this id (the page's static markup has them all).
   * @param {string} id
   * @returns {HTMLElement}
   */
  const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
  /**
   * @param {string} tag
   * @param {Record<string, unknown> | null} props
   * @param {...(Child | Child[])} children
   * @returns {HTMLElement}
   */
  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const key of Object.keys(props)) {
        const value = props[key];
        if (value === undefined || value === null || value === false) continue;
        if (key === 'class') node.className = String(value);
        else if (key === 'text') node.textContent = String(value);
        else if (key === 'title') node.title = String(value);
        else if (key.startsWith('on'))
          node.addEventListener(key.slice(2), /** @type {EventListener} */ (value));
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
  /**
   * @param {string} tag
   * @param {Record<string, string | number>} attrs
   * @returns {SVGElement}
   */
  function s(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const key of Object.keys(attrs)) node.setAttribute(key, String(attrs[key]));
    return node;
  }
  /**
   * @param {string} kind
   * @param {string} text
   * @param {string} [title]
   * @param {boolean} [pulse]
   */
  const badge = (kind, text, title, pulse) =>
    h(
      'span',
      { class: `badge b-${kind}`, title },
      pulse ? h('span', { class: 'pulse', 'aria-hidden': 'true' }) : null,
      text,
    );
  /** @param {number} n */
  const pad = (n) => String(n).padStart(2, '0');
  /**
   * @param {string | number | null | undefined} t
   * @returns {number | undefined}
   */
  const toMs = (t) => (t === undefined || t === null ? undefined : typeof t === 'number' ? t : Date.parse(t));
  /** @param {string | number | undefined} t */
  function clock(t) {
    const ms = toMs(t);
    if (ms === undefined || Number.isNaN(ms)) return '—';
    const d = new Date(ms);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  }
  /** @param {number} ms */
  function span(ms) {
    const sec = Math.round(Math.abs(ms) / 1000);
    if (sec < 60) return `${sec}s`;
    const min = Math.floor(sec / 60);
    if (min < 60) return `${min}m ${pad(sec % 60)}s`;
    const hrs = Math.floor(min / 60);
    if (hrs < 48) return `${hrs}h ${pad(min % 60)}m`;
    return `${Math.floor(hrs / 24)}d`;
  }
  // Relative times live in spans updated once a second (see tickTimes), so rows need no rebuild.
  /**
   * @param {string | number} t
   * @param {string} [prefix]
   * @param {string} [cls]
   */
  const agoSpan = (t, prefix, cls) =>
    h(
      'span',
      { class: `ago${cls ? ` ${cls}` : ''}`, 'data-t': toMs(t), 'data-prefix': prefix || '' },
      (prefix || '') + ago(t),
    );
  function tickTimes() {
    for (const node of document.querySelectorAll(/** @type {'span'} */ ('.ago'))) {
      const text = node.dataset.prefix + ago(Number(node.dataset.t));
      if (node.textContent !== text) node.textContent = text;
    }
    for (const node of document.querySelectorAll(/** @type {'span'} */ ('.until'))) {
      const text = until(Number(node.dataset.t));
      if (node.textContent !== text) node.textContent = text;
    }
  }
  /** @param {string | number | undefined} t */
  function ago(t) {
    const ms = toMs(t);
    if (ms === undefined || Number.isNaN(ms)) return '';
    const diff = Date.now() - ms;
    return diff < 1500 ? 'just now' : `${span(diff)} ago`;
  }
  /** @param {string | number | undefined} t */
  function until(t) {
    const ms = toMs(t);
    if (ms === undefined || Number.isNaN(ms)) return '';
    const diff = ms - Date.now();
    return diff <= 500 ? 'due now' : `in ${span(diff)}`;
  }
  /** @param {number | undefined} ms */
  function duration(ms) {
    if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
    return span(ms);
  }
  /** @param {number} bytes */
  function mib(bytes) {
    const m = bytes / 1048576;
    return `${m >= 100 ? Math.round(m) : m.toFixed(1)} MiB`;
  }
  /** @param {unknown} value */
  function preview(value) {
    if (value === undefined) return '—';
    let text;
    try {
      text = JSON.stringify(value);
    } catch {
      text = String(value);
    }
    if (text === undefined) text = String(value);
    return text.length > 80 ? `${text.slice(0, 79)}…` : text;
  }

  // Keeps one row element per key and rebuilds a row only when its signature changes, so rows under
  // the pointer (a Replay button mid-click) are not replaced by a refresh that changed nothing.
  /**
   * @template T
   * @param {HTMLElement} tbody
   * @param {T[]} items
   * @param {(item: T) => string} keyOf
   * @param {(item: T) => string} sigOf
   * @param {(tr: HTMLTableRowElement, item: T) => void} build
   */
  function syncRows(tbody, items, keyOf, sigOf, build) {
    /** @type {Map<string | undefined, HTMLTableRowElement>} */
    const existing = new Map();
    for (const tr of Array.from(/** @type {HTMLCollectionOf<HTMLTableRowElement>} */ (tbody.children))) {
      existing.set(tr.dataset.key, tr);
    }
    const seen = new Set();
    /** @type {HTMLTableRowElement | null} */
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
      /** @type {ChildNode | null} */
      const next = prev ? prev.nextSibling : tbody.firstChild;
      if (next !== tr) tbody.insertBefore(tr, next);
      prev = tr;
    }
    for (const [key, tr] of existing) if (!seen.has(key)) tr.remove();
  }

  // ------------------------------------------------------------------ model
  /** @returns {Record<string, WorkerState>} */
  const workers = () => (state.status ? state.status.workerStates || {} : {});
  /**
   * The worker of that name, if the status has one: an own key only, so that a name such as
   * "constructor" or "toString" never finds what every object inherits.
   * @param {string} name
   * @returns {WorkerState | undefined}
   */
  const workerOf = (name) => {
    const ws = workers();
    return Object.hasOwn(ws, name) ? ws[name] : undefined;
  };
  /**
   * The cluster this host belongs to (cluster mode only: a single host's status has none).
   * @returns {Cluster | undefined}
   */
  const clusterOf = () => state.status?.cluster || undefined;
  /** @param {Cluster | undefined} cl */
  const hostsOf = (cl) => (cl && Array.isArray(cl.hosts) ? cl.hosts : []);
  /** @param {WorkerState} w */
  const isFailing = (w) => (w.failures || 0) > 0 || w.breaker === 'open';
  /** @param {WorkerState} w */
  const isDisabled = (w) => w.enabled === false;
  // The contract names it executionMode; accept 'mode' as well.
  /** @param {WorkerState} w */
  const modeOf = (w) => w.executionMode || w.mode;

  function sample() {
    const now = Date.now();
    const ws = workers();
    for (const [name, w] of Object.entries(ws)) {
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
      while (series.length > 0 && /** @type {Point} */ (series[0]).t < now - WINDOW_MS) series.shift();
    }
  }

  /**
   * @param {string} runId
   * @param {Partial<Run>} patch
   */
  function upsertRun(runId, patch) {
    const run = state.runs.get(runId) || { runId, seen: Date.now() };
    Object.assign(run, patch);
    state.runs.delete(runId);
    state.runs.set(runId, run);
    for (const key of state.runs.keys()) {
      if (state.runs.size <= MAX_RUNS) break;
      state.runs.delete(key);
    }
    return run;
  }

  function absorbHistory() {
    const ws = workers();
    for (const [name, w] of Object.entries(ws)) {
      for (const rec of w.history || []) {
        const old = state.runs.get(rec.runId);
        if (old?.final && old.endedAt === toMs(rec.endedAt)) continue;
        /** @type {Run} */
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

  /** @param {Run} run */
  const runTime = (run) => run.endedAt || run.updatedAt || run.startedAt || run.seen;
  const sortedRuns = () => Array.from(state.runs.values()).sort((a, b) => runTime(b) - runTime(a));

  // ------------------------------------------------------------------ network
  /**
   * @param {string} path
   * @returns {Promise<any>}
   */
  async function getJson(path) {
    const res = await fetch(url(path), { cache: 'no-store', headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return res.json();
  }

  let refreshing = false;
  let again = false;
  let againSample = false;
  let skipped = 0;
  /** @param {unknown} error */
  const messageOf = (error) => String(error instanceof Error ? error.message : error);

  /** @param {boolean} withSample */
  async function refresh(withSample) {
    if (refreshing) {
      again = true;
      againSample = againSample || withSample;
      return;
    }
    refreshing = true;
    const seq = state.eventSeq;
    try {
      // The list comes without payloads (they can be large); each payload is fetched once, below.
      const [status, letters] = await Promise.all([
        getJson('status'),
        getJson(`dead-letters?order=desc&limit=${SHOWN_DEAD_LETTERS}`),
      ]);
      // An event that arrived while this status was in flight may be newer than it: fetch again
      // rather than step back (a few times at most, so a stream of events cannot starve the page).
      if (seq !== state.eventSeq && state.status && skipped < 3) {
        skipped++;
        again = true;
      } else {
        skipped = 0;
        state.status = status;
        state.deadLetters = Array.isArray(letters?.deadLetters) ? letters.deadLetters : [];
        state.deadLetterTotal = typeof letters?.total === 'number' ? letters.total : state.deadLetters.length;
        loadPayloads();
        state.reachable = true;
        state.lastUpdate = Date.now();
        absorbHistory();
      }
      // Charts are sampled on the 2 s poll only; the status used is the latest either way.
      if (withSample) sample();
    } catch (error) {
      state.reachable = false;
      state.fetchError = messageOf(error);
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

  /**
   * An entry's payload is fetched again only when the entry changed (a failed replay updates it).
   * @param {DeadLetter} d
   */
  const payloadKey = (d) => `${d.id} ${d.failedAt}`;

  /** Fetches the payload preview of each listed dead letter not fetched yet (GET dead-letters/:id). */
  function loadPayloads() {
    const wanted = new Set(state.deadLetters.map(payloadKey));
    for (const key of state.payloads.keys()) if (!wanted.has(key)) state.payloads.delete(key);
    for (const d of state.deadLetters) {
      const key = payloadKey(d);
      if (state.payloads.has(key)) continue;
      state.payloads.set(key, '…');
      getJson(`dead-letters/${encodeURIComponent(d.id)}`).then(
        (/** @type {DeadLetter} */ entry) => {
          const text = entry.payloadError === undefined ? preview(entry.payload) : `(${entry.payloadError})`;
          if (state.payloads.has(key)) state.payloads.set(key, text);
          renderDeadLetters();
        },
        () => state.payloads.delete(key), // gone meanwhile (replayed, removed): the next poll says so
      );
    }
  }

  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let soon;
  function refreshSoon() {
    clearTimeout(soon);
    soon = setTimeout(() => void refresh(false), 150);
  }

  async function poll() {
    await refresh(true);
    setTimeout(() => void poll(), POLL_MS);
  }

  /**
   * @param {string} name
   * @param {Partial<WorkerState>} patch
   */
  function patchWorker(name, patch) {
    const w = workerOf(name);
    if (w) Object.assign(w, patch);
  }

  /**
   * Cluster mode: the host where the event's attempt ran (the latest attempt's host wins). A patch
   * without the key when the event has none, so that it never erases a host already known.
   * @param {EventData} d
   * @returns {{ host?: string }}
   */
  const hostOf = (d) => (typeof d.host === 'string' && d.host ? { host: d.host } : {});

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
    /**
     * @param {string} name
     * @param {(data: EventData) => void} fn
     */
    const on = (name, fn) =>
      es.addEventListener(name, (event) => {
        /** @type {EventData} */
        let data = {};
        try {
          data = JSON.parse(event.data || '{}');
        } catch {
          // a malformed event is skipped; the next poll brings the state anyway
        }
        state.live = 'live';
        state.eventSeq++;
        fn(data || {});
        render();
        refreshSoon();
      });
    on('worker:start', (d) => {
      upsertRun(d.runId, {
        ...hostOf(d),
        name: d.name,
        outcome: 'running',
        attempts: d.attempt,
        updatedAt: Date.now(),
        final: false,
      });
      const w = workerOf(d.name);
      if (w) patchWorker(d.name, { running: true, runningCount: Math.max(1, w.runningCount || 0) });
    });
    on('worker:success', (d) => {
      upsertRun(d.runId, {
        ...hostOf(d),
        name: d.name,
        outcome: 'succeeded',
        attempts: d.attempt,
        durationMs: d.durationMs,
        endedAt: Date.now(),
        reason: undefined,
        error: undefined,
        final: false,
      });
      patchWorker(d.name, { failures: 0 });
    });
    on('worker:failure', (d) => {
      const message = d.error?.message ? d.error.message : d.reason;
      upsertRun(d.runId, {
        ...hostOf(d),
        name: d.name,
        outcome: d.willRetry ? 'retrying' : 'failed',
        attempts: d.attempt,
        reason: d.reason,
        error: message,
        updatedAt: Date.now(),
        endedAt: d.willRetry ? undefined : Date.now(),
        final: false,
      });
      const w = workerOf(d.name);
      if (w && !d.willRetry) {
        patchWorker(d.name, {
          failures: (w.failures || 0) + 1,
          lastError: message,
          lastFailureReason: d.reason,
        });
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
  /**
   * @param {string} [reason]
   * @returns {string | undefined}
   */
  function askToken(reason) {
    let token = sessionStorage.getItem(TOKEN_KEY);
    if (token) return token;
    token = window.prompt(
      `${reason ? `${reason} ` : ''}Token for ${location.host} (kept for this tab only):`,
    );
    if (!token) return undefined;
    token = token.trim();
    sessionStorage.setItem(TOKEN_KEY, token);
    renderTokenState();
    return token;
  }

  /**
   * @param {string} kind
   * @param {string} text
   */
  function notice(kind, text) {
    const list = $('notices');
    list.prepend(
      h(
        'div',
        { class: `notice ${kind}`, role: kind === 'bad' ? 'alert' : 'status' },
        h('span', { text }),
        h('time', { text: clock(Date.now()) }),
      ),
    );
    while (list.children.length > 4) list.lastElementChild?.remove();
  }

  /** @param {DeadLetter} letter */
  async function replay(letter) {
    const token = askToken();
    if (!token) {
      notice('info', `Replay of ${letter.name} cancelled: no token given.`);
      return;
    }
    state.replaying.add(letter.id);
    render();
    try {
      const res = await fetch(url(`dead-letters/${encodeURIComponent(letter.id)}/replay`), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        body: '{}',
      });
      let body;
      try {
        body = await res.json();
      } catch {
        body = undefined;
      }
      const message = body?.error?.message ? body.error.message : `HTTP ${res.status}`;
      if (res.ok) {
        const result = body && 'result' in body ? body.result : body;
        notice(
          'ok',
          `✓ Replay of ${letter.name} succeeded${result === undefined ? '.' : `: ${preview(result)}`}`,
        );
      } else if (res.status === 401 || res.status === 403) {
        sessionStorage.removeItem(TOKEN_KEY);
        renderTokenState();
        notice('bad', `✗ Token refused (${res.status}): ${message}. Click Replay again to enter it.`);
      } else {
        notice('bad', `✗ Replay of ${letter.name} failed: ${message}`);
      }
    } catch (error) {
      notice('bad', `✗ Replay of ${letter.name} failed: ${messageOf(error)}`);
    } finally {
      state.replaying.delete(letter.id);
      await refresh(false);
    }
  }

  function renderTokenState() {
    $('forget').hidden = !sessionStorage.getItem(TOKEN_KEY);
  }

  // ------------------------------------------------------------------ charts
  /**
   * @param {Point[]} points
   * @param {'cpu' | 'mem'} key
   * @param {string} color
   * @param {number} maxFloor
   */
  function sparkline(points, key, color, maxFloor) {
    const W = 100;
    const H = 30;
    const svg = s('svg', {
      width: W,
      height: H,
      viewBox: `0 0 ${W} ${H}`,
      role: 'img',
      'data-points': points.length,
    });
    svg.append(
      s('rect', {
        x: 0.5,
        y: 0.5,
        width: W - 1,
        height: H - 1,
        rx: 3,
        fill: 'none',
        stroke: 'var(--border)',
      }),
    );
    if (points.length === 0) return svg;
    const now = Date.now();
    const t0 = Math.max(/** @type {Point} */ (points[0]).t, now - WINDOW_MS);
    const span = Math.max(now - t0, POLL_MS * 2);
    let max = maxFloor;
    for (const p of points) {
      const v = p[key];
      if (v !== null && v > max) max = v;
    }
    if (max <= 0) max = 1;
    /** @param {number} t */
    const x = (t) => 2 + ((t - (now - span)) / span) * (W - 4);
    /** @param {number} v */
    const y = (v) => H - 3 - (v / max) * (H - 6);
    /** @type {[number, number][]} */
    let segment = [];
    /** @type {[number, number][][]} */
    const segments = [];
    for (const p of points) {
      const v = p[key];
      if (v === null) {
        if (segment.length) segments.push(segment);
        segment = [];
      } else segment.push([x(p.t), y(v)]);
    }
    if (segment.length) segments.push(segment);
    for (const seg of segments) {
      const line = seg.map((p, i) => `${(i ? 'L' : 'M') + p[0].toFixed(1)} ${p[1].toFixed(1)}`).join(' ');
      const first = /** @type {[number, number]} */ (seg[0]);
      const last = /** @type {[number, number]} */ (seg[seg.length - 1]);
      const area = `${line} L${last[0].toFixed(1)} ${H - 3} L${first[0].toFixed(1)} ${H - 3} Z`;
      svg.append(s('path', { d: area, fill: color, 'fill-opacity': 0.16, stroke: 'none' }));
      svg.append(
        s('path', { d: line, fill: 'none', stroke: color, 'stroke-width': 1.6, 'stroke-linejoin': 'round' }),
      );
    }
    const tail = segments.length ? segments[segments.length - 1] : undefined;
    if (tail) {
      const end = /** @type {[number, number]} */ (tail[tail.length - 1]);
      svg.append(s('circle', { cx: end[0].toFixed(1), cy: end[1].toFixed(1), r: 2.2, fill: color }));
    }
    return svg;
  }

  /**
   * @param {string} name
   * @param {'cpu' | 'mem'} key
   */
  function chartCell(name, key) {
    const series = state.series.get(name) || [];
    const first = series[0];
    const last = series[series.length - 1];
    if (first === undefined || last === undefined) {
      return h('td', { 'data-col': key }, h('span', { class: 'muted small', text: 'no sample yet' }));
    }
    /** @type {number[]} */
    const values = [];
    for (const p of series) {
      const v = p[key];
      if (v !== null) values.push(v);
    }
    const peak = values.length ? Math.max(...values) : 0;
    const isCpu = key === 'cpu';
    /** @param {number} v */
    const fmt = (v) => (isCpu ? `${Math.round(v)}%` : mib(v));
    const now = last[key];
    const current = now === null ? 'idle' : fmt(now);
    const label =
      (isCpu ? 'CPU' : 'Memory') +
      ' over the last ' +
      span(Date.now() - first.t) +
      ': now ' +
      current +
      ', peak ' +
      fmt(peak);
    const svg = sparkline(series, key, isCpu ? 'var(--cpu)' : 'var(--mem)', isCpu ? 100 : 0);
    svg.setAttribute('aria-label', label);
    return h(
      'td',
      { 'data-col': key, title: label },
      h(
        'div',
        { class: 'chart' },
        svg,
        h('span', { class: `val${now === null ? ' muted' : ''}`, text: current }),
      ),
    );
  }

  // ------------------------------------------------------------------ render
  /** @param {WorkerState} w */
  function stateCell(w) {
    const cell = h('td', { 'data-col': 'state', class: 'nowrap' });
    if (isDisabled(w)) {
      const paused = badge('warn', 'disabled', 'No scheduled runs; triggers are refused.');
      paused.prepend(h('span', { class: 'i-pause', 'aria-hidden': 'true' }));
      cell.append(paused);
    } else if (w.running)
      cell.append(
        badge('run', `running${(w.runningCount || 0) > 1 ? ` ×${w.runningCount}` : ''}`, undefined, true),
      );
    else cell.append(badge('idle', 'idle'));
    if (isFailing(w)) {
      cell.append(
        badge(
          'bad',
          `✗ failing${(w.failures || 0) > 0 ? ` ×${w.failures}` : ''}`,
          `${w.failures || 0} failed run(s) in a row`,
        ),
      );
    }
    if ((w.queued || 0) > 0) cell.append(badge('plain', `${w.queued} queued`));
    return cell;
  }

  /** @param {WorkerState} w */
  function breakerCell(w) {
    const b = w.breaker || 'closed';
    if (b === 'open')
      return h(
        'td',
        { 'data-col': 'breaker' },
        badge('bad', '✗ open', 'Circuit breaker open: runs are refused'),
      );
    if (b === 'half-open')
      return h('td', { 'data-col': 'breaker' }, badge('warn', 'half-open', 'The next run is a trial'));
    return h('td', { 'data-col': 'breaker' }, h('span', { class: 'muted', text: 'closed' }));
  }

  /**
   * @param {WorkerState} w
   * @returns {{ text?: string, at?: number, title: string }}
   */
  function nextRunText(w) {
    if (isDisabled(w)) return { text: '—', title: 'disabled' };
    const at = toMs(w.nextRunAt);
    if (at !== undefined) return { at, title: new Date(at).toLocaleString() };
    if (modeOf(w) === 'triggered') return { text: 'on demand', title: 'runs when triggered' };
    if (modeOf(w) === 'continuous')
      return { text: w.running ? 'running' : 'next: after this run', title: 'continuous' };
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
        return JSON.stringify([
          w.enabled,
          w.running,
          w.runningCount,
          w.queued,
          w.failures,
          w.breaker,
          w.totals,
          w.lastError,
          w.lastFailureReason,
          w.lastRun,
          nextRunText(w),
          modeOf(w),
          w.isolation,
          series ? `${series.length}:${series[series.length - 1]?.t}` : 0,
          (state.flashUntil.get(name) || 0) > now,
        ]);
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
        if (t.retries) extra.push(`${t.retries} retries`);
        if (t.timeouts) extra.push(`${t.timeouts} timeouts`);
        if (t.crashes) extra.push(`${t.crashes} crashes`);
        const next = nextRunText(w);
        const errText = w.lastError
          ? (w.lastFailureReason ? `${w.lastFailureReason}: ` : '') + w.lastError
          : '';
        tr.append(
          h(
            'td',
            { class: 'name', 'data-col': 'name' },
            name,
            w.lastRun ? h('div', { class: 'muted small normal' }, agoSpan(w.lastRun, 'last run ')) : null,
          ),
          h(
            'td',
            { class: 'nowrap' },
            h('div', { 'data-col': 'mode', text: modeOf(w) || '—' }),
            h('div', { 'data-col': 'isolation', class: 'muted small', text: w.isolation || '—' }),
          ),
          stateCell(w),
          breakerCell(w),
          h(
            'td',
            { 'data-col': 'runs', class: 'num nowrap', title: extra.join(', ') || undefined },
            h('span', { class: 'ok-text', text: `✓ ${t.succeeded || 0}` }),
            ' ',
            h('span', { class: t.failed ? 'err' : 'muted', text: `✗ ${t.failed || 0}` }),
            extra.length ? h('div', { class: 'muted small', text: extra.join(' · ') }) : null,
          ),
          ...(w.isolation === 'inline' && !state.series.has(name)
            ? [
                h('td', {
                  colspan: 2,
                  'data-col': 'resources',
                  class: 'muted small nowrap',
                  title: 'An inline worker runs in the host: it has no CPU or memory of its own to sample.',
                  text: 'inline: not sampled',
                }),
              ]
            : [chartCell(name, 'cpu'), chartCell(name, 'mem')]),
          h(
            'td',
            { 'data-col': 'error', class: 'flex', title: errText || undefined },
            errText
              ? h('div', { class: `clip2 small ${failing ? 'err' : 'muted'}`, text: errText })
              : h('span', { class: 'muted', text: '—' }),
            errText && !failing ? h('div', { class: 'muted small', text: 'recovered since' }) : null,
          ),
          h(
            'td',
            { 'data-col': 'next', class: 'nowrap', title: next.title || undefined },
            next.at === undefined
              ? next.text
              : h('span', { class: 'until', 'data-t': next.at }, until(next.at)),
          ),
        );
      },
    );
    $('workers-empty').hidden = names.length > 0;
  }

  /** @type {Record<string, [string, string]>} */
  const OUTCOME = {
    succeeded: ['ok', '✓ succeeded'],
    failed: ['bad', '✗ failed'],
    retrying: ['warn', '↻ retrying'],
    running: ['run', 'running'],
    aborted: ['idle', '⊘ aborted'],
  };

  function renderRuns() {
    const onlyProblems = /** @type {HTMLInputElement} */ ($('only-problems')).checked;
    /** @param {Run} run */
    const problem = (run) =>
      run.outcome === 'failed' || run.outcome === 'retrying' || run.outcome === 'aborted';
    const runs = sortedRuns()
      .filter((run) => !onlyProblems || problem(run))
      .slice(0, SHOWN_RUNS);
    // The Host column is there in cluster mode only; its rows are rebuilt when that changes.
    const withHost = clusterOf() !== undefined;
    $('runs-host').hidden = !withHost;
    syncRows(
      $('runs-body'),
      runs,
      (run) => run.runId,
      (run) =>
        JSON.stringify([
          run.outcome,
          run.reason,
          run.attempts,
          run.durationMs,
          run.error,
          runTime(run),
          run.name,
          withHost && (run.host || ''),
        ]),
      (tr, run) => {
        tr.dataset.runId = run.runId;
        if (run.host) tr.dataset.host = run.host;
        const outcome = run.outcome || 'unknown';
        tr.dataset.outcome = outcome;
        const o = (Object.hasOwn(OUTCOME, outcome) && OUTCOME[outcome]) || ['plain', outcome];
        const failed = run.outcome === 'failed';
        const parts = [];
        if ((run.attempts || 0) > 1)
          parts.push(run.outcome === 'running' ? `attempt ${run.attempts}` : `${run.attempts} attempts`);
        const why = [run.reason, run.error && run.error !== run.reason ? run.error : undefined]
          .filter(Boolean)
          .join(': ');
        if (why && run.outcome !== 'succeeded') parts.push(run.outcome === 'running' ? `after ${why}` : why);
        const detail = parts.join(' · ');
        if (failed) tr.classList.add('failing');
        tr.append(
          h('td', {
            class: 'nowrap',
            title: new Date(runTime(run)).toLocaleString(),
            text: clock(runTime(run)),
          }),
          h('td', { class: 'name clip', title: run.name, text: run.name || '?' }),
          ...(withHost
            ? [
                h('td', {
                  'data-col': 'host',
                  class: 'clip host',
                  title: run.host || 'host not known (runs read from the history carry none)',
                  text: run.host || '',
                }),
              ]
            : []),
          h('td', {}, badge(o[0], o[1], undefined, run.outcome === 'running')),
          h('td', { class: 'num nowrap', text: run.outcome === 'running' ? '—' : duration(run.durationMs) }),
          h(
            'td',
            { class: 'flex', title: detail || undefined },
            h('div', { class: `clip ${failed ? 'err' : 'muted'}`, text: detail }),
          ),
        );
      },
    );
    $('runs-empty').hidden = runs.length > 0;
  }

  // Cluster mode only: one row per live host, as this host last read them from Redis.
  function renderHosts() {
    const cl = clusterOf();
    const section = $('hosts-section');
    section.hidden = cl === undefined;
    if (cl === undefined) {
      $('hosts-body').replaceChildren();
      return;
    }
    const hosts = hostsOf(cl);
    syncRows(
      $('hosts-body'),
      hosts,
      (host) => host.id,
      (host) =>
        JSON.stringify([host.execute, host.workers, host.running, host.lastSeenAt, host.id === cl.self]),
      (tr, host) => {
        const self = host.id === cl.self;
        const names = Array.isArray(host.workers) ? host.workers : [];
        const running = host.running || 0;
        tr.dataset.host = host.id;
        tr.dataset.role = host.execute ? 'executes' : 'submits';
        if (self) tr.dataset.self = 'true';
        tr.append(
          h(
            'td',
            { class: 'name', 'data-col': 'host' },
            host.id,
            self ? ' ' : null,
            self ? badge('plain', 'this host', 'The host that serves this page') : null,
          ),
          h(
            'td',
            { 'data-col': 'role', class: 'nowrap' },
            host.execute
              ? h('span', { text: 'executes', title: 'Runs the workers listed here' })
              : badge(
                  'idle',
                  'submits only',
                  'execute: false — it queues, observes and serves; it runs nothing',
                ),
          ),
          h(
            'td',
            {
              'data-col': 'workers',
              'data-count': names.length,
              class: 'flex',
              title: names.length
                ? `${names.length} worker${names.length === 1 ? '' : 's'}: ${names.join(', ')}`
                : undefined,
            },
            !host.execute
              ? h('span', { class: 'muted', text: '—' })
              : names.length === 0
                ? h('span', { class: 'muted', text: 'none registered' })
                : h(
                    'div',
                    { class: 'clip' },
                    h('b', { class: 'count', text: names.length }),
                    h('span', { text: names.join(', ') }),
                  ),
          ),
          h(
            'td',
            { 'data-col': 'running', class: 'num nowrap' },
            running > 0
              ? badge('run', String(running), `${running} attempt${running === 1 ? '' : 's'} in flight`, true)
              : h('span', { class: 'muted', text: '0' }),
          ),
          h(
            'td',
            { 'data-col': 'seen', class: 'nowrap', title: new Date(host.lastSeenAt).toLocaleString() },
            agoSpan(host.lastSeenAt),
          ),
        );
      },
    );
    $('hosts-count').textContent = `(${hosts.length})`;
    $('hosts-hint').textContent =
      cl.redis === 'unreachable'
        ? 'as last read, before the connection to Redis was lost'
        : 'the live hosts of the cluster';
  }

  function renderDeadLetters() {
    const letters = state.deadLetters
      .slice()
      .sort((a, b) => (toMs(b.failedAt) || 0) - (toMs(a.failedAt) || 0));
    syncRows(
      $('dl-body'),
      letters,
      (d) => d.id,
      (d) =>
        JSON.stringify([
          d.name,
          d.reason,
          d.attempts,
          d.error,
          d.failedAt,
          state.replaying.has(d.id),
          state.payloads.get(payloadKey(d)),
        ]),
      (tr, d) => {
        tr.dataset.deadLetter = d.id;
        const busy = state.replaying.has(d.id);
        const payload = state.payloads.get(payloadKey(d)) ?? '…';
        tr.append(
          h(
            'td',
            { class: 'nowrap', title: new Date(d.failedAt).toLocaleString() },
            clock(d.failedAt),
            h('div', { class: 'muted small' }, agoSpan(d.failedAt)),
          ),
          h(
            'td',
            { class: 'name' },
            d.name,
            h('div', {
              class: 'muted small mono',
              text: String(d.id).slice(0, 8),
              title: `dead letter ${d.id}`,
            }),
          ),
          h(
            'td',
            { class: 'nowrap' },
            badge('bad', d.reason || 'error'),
            h('div', { class: 'muted small', text: `${d.attempts} attempt${d.attempts === 1 ? '' : 's'}` }),
          ),
          h(
            'td',
            { class: 'flex', title: d.error || undefined },
            h('div', { class: 'clip2 err', text: d.error || '' }),
            h('div', { class: 'clip muted mono', title: payload, text: `payload ${payload}` }),
          ),
          h(
            'td',
            { class: 'num' },
            h(
              'button',
              {
                type: 'button',
                'data-action': 'replay',
                disabled: busy,
                onclick: () => void replay(d),
                title: 'Run it again with the same payload (needs the token)',
              },
              busy ? 'Replaying…' : 'Replay',
            ),
          ),
        );
      },
    );
    $('dl-empty').hidden = letters.length > 0;
    const total = state.deadLetterTotal;
    $('dl-count').textContent =
      total > letters.length ? `(newest ${letters.length} of ${total})` : total ? `(${total})` : '';
  }

  function renderHeader() {
    const st = state.status;
    const ws = workers();
    const list = Object.keys(ws).map((n) => ws[n]);
    const failing = list.filter(isFailing).length;
    const disabled = list.filter(isDisabled).length;
    const orch = st ? st.state : 'loading';
    const pill = $('orch-state');
    pill.className =
      'badge ' +
      (state.reachable === false
        ? 'b-bad'
        : orch === 'running'
          ? 'b-ok'
          : orch === 'stopping'
            ? 'b-warn'
            : 'b-idle');
    pill.textContent = state.reachable === false ? 'unreachable' : orch;
    const cl = clusterOf();
    const redisLost = cl?.redis === 'unreachable';
    const clusterBox = $('cluster');
    clusterBox.hidden = cl === undefined;
    if (cl === undefined) clusterBox.replaceChildren();
    else {
      clusterBox.dataset.redis = cl.redis;
      clusterBox.replaceChildren(
        h('span', { class: 'muted', text: 'cluster' }),
        h('b', { text: cl.name }),
        redisLost
          ? badge(
              'bad',
              '✗ Redis unreachable',
              'This host lost its connection to Redis; it reconnects on its own',
            )
          : badge('ok', 'Redis ready', 'This host is connected to Redis'),
      );
    }
    const stats = $('stats');
    stats.replaceChildren(
      h('span', { class: 'stat' }, h('b', { text: st ? st.workers : '–' }), 'workers'),
      h('span', { class: 'stat' }, h('b', { text: st ? st.running : '–' }), 'running'),
      h('span', { class: 'stat' }, h('b', { text: st ? st.queued : '–' }), 'queued'),
      h('span', { class: `stat${failing ? ' bad' : ''}` }, h('b', { text: failing }), 'failing'),
      h('span', { class: `stat${disabled ? ' warn' : ''}` }, h('b', { text: disabled }), 'disabled'),
      h(
        'span',
        { class: `stat${state.deadLetterTotal ? ' bad' : ''}` },
        h('b', { text: state.deadLetterTotal }),
        'dead letters',
      ),
    );
    const conn = $('conn');
    conn.dataset.live = state.live;
    const liveKind =
      state.live === 'live'
        ? 'ok'
        : state.live === 'reconnecting' || state.live === 'connecting'
          ? 'warn'
          : 'bad';
    const liveText =
      state.live === 'live'
        ? 'live'
        : state.live === 'connecting'
          ? 'connecting…'
          : state.live === 'reconnecting'
            ? 'reconnecting…'
            : 'no live events';
    conn.replaceChildren(
      h('span', { class: `dot ${liveKind}`, 'aria-hidden': 'true' }),
      h('span', { text: liveText }),
      h('span', { text: '·' }),
      state.reachable === false
        ? h('span', { class: 'err', text: `status unreachable (${state.fetchError || ''})` })
        : h('span', { text: state.lastUpdate ? `updated ${clock(state.lastUpdate)}` : 'loading…' }),
    );
    document.title = `${failing || disabled || redisLost ? '⚠ ' : ''}corral — ${
      failing ? `${failing} failing` : redisLost ? 'Redis unreachable' : orch
    }`;
  }

  function renderAttention() {
    const ws = workers();
    const box = $('attention');
    const items = [];
    if (clusterOf()?.redis === 'unreachable') {
      items.push(
        h(
          'span',
          { class: 'item', 'data-attention': 'redis' },
          h('b', { text: 'Redis' }),
          h('span', {
            text: 'unreachable from this host (it reconnects on its own): runs in flight finish, no new run starts here until it is back',
          }),
        ),
      );
    }
    for (const name of Object.keys(ws)) {
      const w = ws[name];
      if (!isFailing(w) && !isDisabled(w)) continue;
      const what = [];
      if (isFailing(w)) what.push((w.failures || 0) > 0 ? `failing ×${w.failures}` : 'failing');
      if (isDisabled(w)) what.push(w.breaker === 'open' ? 'disabled (breaker open)' : 'disabled');
      const why =
        w.lastError && isFailing(w)
          ? ` — ${w.lastFailureReason ? `${w.lastFailureReason}: ` : ''}${w.lastError}`
          : '';
      items.push(
        h('span', { class: 'item' }, h('b', { text: name }), h('span', { text: what.join(', ') + why })),
      );
    }
    box.hidden = items.length === 0;
    box.replaceChildren(h('strong', { text: '⚠ Needs attention' }), ...items);
  }

  function render() {
    renderHeader();
    renderAttention();
    renderWorkers();
    renderHosts();
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
