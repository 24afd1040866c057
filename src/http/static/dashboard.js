// @ts-check
/**
 * The wo dashboard (served at `/`, loaded as a module script under a `script-src 'self'` CSP).
 * It holds no data of its own: it reads the token from the URL fragment (`#token=…&wo=ID`), loads one page
 * of /api/wos (filters are server-side query parameters; "Load more" follows `next_cursor`) and /api/status for
 * the totals, then applies each `wos` server-sent event (the summaries of records just written) to the rows it
 * concerns — no refetch of the list per event; a reconnect reloads page 1 once. Every datum is inserted as text
 * (textContent / text nodes), never parsed as HTML.
 */

/**
 * @typedef {{ step: string, path?: string, cmd?: string, verdict: string, diff?: string, policy?: 'allowed'|'held', why?: string[] }} PlanStep
 * @typedef {{ phase: string, cmd: string, name?: string, exit_code: number|null, signal: string|null, timed_out: boolean, duration_ms: number, stdout_tail?: string, stderr_tail?: string }} Command
 * @typedef {{ name: string, expected: string, actual: string, passed: boolean }} Test
 * @typedef {{ path: string, action: string, before_sha256?: string|null, after_sha256?: string|null, mode?: string|null }} FileEffect
 * @typedef {{ action: string, ts: string, by?: { uid: number, channel: string }, reason?: string }} ActionEntry
 * @typedef {{ attempt: number, status: string, error?: { code: string, message: string } }} Attempt
 * @typedef {{
 *   wo_id: string, title?: string, lane?: string, type?: string, priority?: string, owner?: string, status: string,
 *   stage?: string, stage_index?: number, stages_total?: number, attempt?: number, file?: string, sha256?: string,
 *   rolled_back?: boolean, given_up?: boolean, dry_run?: boolean, unrollbackable?: boolean, times?: Record<string, string>,
 *   error?: { code: string, message: string }, warnings?: string[], hold_reasons?: string[], plan?: PlanStep[],
 *   plan_sha256?: string, files?: FileEffect[], commands?: Command[], tests?: Test[], attempts?: Attempt[],
 *   actions?: ActionEntry[], counts?: Record<string, number>, received?: string, prev_status?: string|null
 * }} Wo
 * @typedef {{ status: string, lane: string, q: string }} Filters
 * @typedef {{ kind: string, path: string, why?: string }} Drift
 * @typedef {{ healthy?: boolean|null, checked_at?: string|null, protected?: number, drift?: Drift[], note?: string }} Guardrail
 * @typedef {{ running?: boolean, pid?: number|null, started_at?: string|null, root?: string, paused?: string|null }} DaemonInfo
 * @typedef {{ daemon?: DaemonInfo, guardrail?: Guardrail, counts?: Record<string, number>, total?: number, paused?: { all: boolean, lanes: string[] }, breakers?: { lane: string, since: string, failures: number, window_s: number }[], release?: { current: string, running: string | null } | null, upgrade?: { in_progress?: boolean, step?: string, candidate?: string | null } | null }} Status
 * @typedef {{ ts?: string, event?: string, wo_id?: string, ok?: boolean, lane?: string, [k: string]: unknown }} WoEvent
 * @typedef {'approve'|'reject'|'retry'|'cancel'|'rollback'} Action
 */

const STATUSES = ['queued', 'awaiting_approval', 'running', 'succeeded', 'failed', 'rejected', 'cancelled', 'routed', 'reverted'];
const STAGES = ['received', 'validated', 'held', 'snapshot', 'apply', 'commands', 'post_verify', 'tests', 'commit'];
const MAX_EVENTS = 50;
/** Rows per page of /api/wos. */
const PAGE = 50;

/** Which actions a WO in this status offers (the daemon decides; a refused one shows its 409 message). */
/** @type {Record<string, Action[]>} */
const ACTIONS_BY_STATUS = {
  awaiting_approval: ['approve', 'reject', 'cancel'],
  queued: ['cancel'],
  running: ['cancel'],
  failed: ['retry'],
  rejected: ['retry'],
  cancelled: ['retry'],
  reverted: ['retry'],
  succeeded: ['rollback'],
};
/** @type {Record<Action, string>} */
const ACTION_WORDS = {
  approve: 'Approve',
  reject: 'Reject',
  retry: 'Retry',
  cancel: 'Cancel',
  rollback: 'Roll back',
};
/** @type {Record<Action, string>} */
const ACTION_HELP = {
  approve: 'The WO runs as planned below.',
  reject: 'The WO is not run; its file moves to rejected/.',
  retry: 'The WO is queued again as a new attempt.',
  cancel: 'A running command is killed and its changes rolled back.',
  rollback: 'The files are restored to the snapshot taken before this WO ran.',
};

// ---------------------------------------------------------------------------------------------- state

/** @param {string} hash */
function hashParams(hash) {
  return new URLSearchParams(hash.replace(/^#/, ''));
}
const first = hashParams(location.hash);
let token = first.get('token') || sessionStorage.getItem('wo-token') || '';
if (first.get('token')) sessionStorage.setItem('wo-token', token);

const state = {
  /** @type {Status|null} */ status: null,
  /** @type {Wo[]} the loaded rows (summaries), newest received first */ wos: [],
  /** @type {string|null} the cursor of the next page (null: all loaded) */ next: null,
  /** How many WOs match the filters (the server's total, moved by each update). */ total: 0,
  /** Changed by every page-1 load: an answer to an older load is dropped. */ gen: 0,
  /** @type {Wo[][]|null} updates that arrive while page 1 loads, applied over it */ buffered: null,
  /** @type {Wo[][]|null} updates that arrive while a further page loads */ moreBuffered: null,
  /** A further page is loading. */ more: false,
  /** The event stream sends `wos` updates (else the page reloads page 1 on events, as older servers need). */ feed: false,
  /** @type {Set<string>} every lane seen (the lane filter's options) */ lanes: new Set(),
  /** @type {Wo[]} held WOs, full records (with their plan) */ held: [],
  /** @type {string|null} */ selected: null,
  /** @type {Wo|null} */ detail: null,
  detailKey: '',
  /** @type {(WoEvent & { backlog?: boolean })[]} */ events: [],
  live: false,
  /** The stream is reconnecting by itself (the browser retries): its `ready` will reload page 1, no poll needed. */
  reconnecting: false,
  /** Events before the stream's `ready` message are the backlog (shown, not announced). */
  backlogDone: false,
  /** @type {HTMLElement|null} the element that had focus when the drawer opened */ returnFocus: null,
};

// ---------------------------------------------------------------------------------------------- DOM helpers

/** @param {string} id @returns {HTMLElement} */
function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page lacks #${id}`);
  return el;
}

/**
 * @typedef {string|number|Node|null|undefined|false|ReadonlyArray<unknown>} Kid
 * @typedef {Record<string, string|number|boolean|null|undefined|((ev: any) => void)>} Props
 */
/** Build an element; text is always a text node, never parsed as HTML. @param {string} tag @param {Props|null} [props] @param {...Kid} kids @returns {HTMLElement} */
function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = String(v);
    else if (k === 'text') el.textContent = String(v);
    else if (typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, kids);
  return el;
}
/** @param {Node} el @param {unknown} kid */
function append(el, kid) {
  if (kid === null || kid === undefined || kid === false) return;
  if (Array.isArray(kid)) for (const k of kid) append(el, k);
  else el.appendChild(kid instanceof Node ? kid : document.createTextNode(String(kid)));
}
/** @template {Node} T @param {T} el @returns {T} */
function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}
/** @param {unknown} s @param {number} n */
function short(s, n) {
  const t = s == null ? '' : String(s);
  return t.length > n ? t.slice(0, n) + '…' : t;
}
/** @param {string|null|undefined} iso */
function ago(iso) {
  if (!iso) return '';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (!Number.isFinite(s)) return iso;
  if (s < 60) return `${Math.max(0, s)}s ago`;
  if (s < 3600) return `${Math.round(s / 60)}m ago`;
  if (s < 86400) return `${Math.round(s / 3600)}h ago`;
  return `${Math.round(s / 86400)}d ago`;
}
/** A duration in words a person reads at a glance. @param {number} ms */
function duration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}
let bannerKind = '';
/** Show (or clear) the error line; a load error is cleared by the next good load, an action error stays until the next action. @param {string} msg @param {'load'|'action'} [kind] */
function banner(msg, kind = 'load') {
  if (!msg && kind === 'load' && bannerKind === 'action') return;
  bannerKind = msg ? kind : '';
  const b = $('banner');
  b.textContent = msg;
  b.className = msg ? 'show' : '';
}
/** @param {string} text */
function announce(text) {
  $('announce').textContent = text;
}

// ---------------------------------------------------------------------------------------------- API

/** @param {string} path @param {{ method?: string, body?: unknown }} [opts] @returns {Promise<any>} */
async function api(path, opts = {}) {
  /** @type {Record<string, string>} */
  const headers = { Authorization: `Bearer ${token}` };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, {
    method: opts.method ?? 'GET',
    headers,
    cache: 'no-store',
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error((body && body.error) || `${r.status} ${r.statusText}`);
  return body;
}

/** The filters as the server takes them (a changed filter reloads page 1). @returns {Filters} */
function filters() {
  return { status: fStatus().value, lane: fLane().value, q: fText().value.trim() };
}
/** Only a status filter (or none): the total is a sum of the index's counts. @param {Filters} f */
function countsTotal(f) {
  return !f.lane && !f.q;
}
/** Does a WO match the filters (as the server's query: status, lane, q in the title or the id)? @param {Wo} w @param {Filters} f */
function matches(w, f) {
  if (f.status && w.status !== f.status) return false;
  if (f.lane && w.lane !== f.lane) return false;
  if (f.q && !(String(w.title ?? '').toLowerCase().includes(f.q.toLowerCase()) || w.wo_id.includes(f.q))) return false;
  return true;
}
/** @param {Wo} w */
function receivedOf(w) {
  return w.received ?? w.times?.received ?? '';
}
/** Newest first, ties by id (the server's order). @param {Wo} a @param {Wo} b */
function before(a, b) {
  const ra = receivedOf(a);
  const rb = receivedOf(b);
  return ra !== rb ? ra > rb : a.wo_id > b.wo_id;
}
/** The /api/wos URL of a page with the current filters. @param {string|null} cursor */
function listUrl(cursor) {
  const f = filters();
  const p = new URLSearchParams({ view: 'items', limit: String(PAGE) });
  if (f.status) p.set('status', f.status);
  if (f.lane) p.set('lane', f.lane);
  if (f.q) p.set('q', f.q);
  if (cursor) p.set('cursor', cursor);
  return `/api/wos?${p.toString()}`;
}

/** Load page 1 with the filters (first load, a changed filter, a reconnect); updates meanwhile are applied after. */
async function loadFirst() {
  const gen = ++state.gen;
  state.buffered = [];
  state.moreBuffered = null;
  state.more = false;
  try {
    const page = await api(listUrl(null));
    if (gen !== state.gen) return;
    state.wos = page.items ?? page.wos ?? [];
    state.next = page.next_cursor ?? null;
    state.total = typeof page.total === 'number' ? page.total : state.wos.length;
    for (const w of state.wos) if (w.lane) state.lanes.add(w.lane);
    const buffered = state.buffered ?? [];
    state.buffered = null;
    // What was written while the page was read: rows only (the page's total already counts it, or will at the next status).
    for (const items of buffered) applyItems(items, false);
    totalFromCounts();
    banner('');
    renderLanes();
    renderList();
  } catch (e) {
    if (gen !== state.gen) return;
    state.buffered = null;
    banner(`Cannot load data: ${e instanceof Error ? e.message : String(e)}`);
  }
}
/** The next page ("Load more" or scrolling to the end of the list); rows already shown are not repeated. */
async function loadMore() {
  if (!state.next || state.more || state.buffered) return;
  const gen = state.gen;
  state.more = true;
  state.moreBuffered = [];
  renderMore();
  try {
    const page = await api(listUrl(state.next));
    if (gen !== state.gen) return;
    const have = new Set(state.wos.map((w) => w.wo_id));
    for (const w of page.items ?? page.wos ?? []) {
      if (have.has(w.wo_id)) continue;
      have.add(w.wo_id);
      state.wos.push(w);
      if (w.lane) state.lanes.add(w.lane);
    }
    state.next = page.next_cursor ?? null;
    // Updates received while the page was read may be newer than its rows.
    for (const items of state.moreBuffered ?? []) applyItems(items, false);
    banner('');
    renderLanes();
    renderList();
  } catch (e) {
    if (gen === state.gen) banner(`Cannot load more: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    if (gen === state.gen) {
      state.more = false;
      state.moreBuffered = null;
      renderMore();
    }
  }
}

/**
 * Apply updated WOs (a `wos` event) to the rows they concern: a shown row changes in place (or leaves when it no
 * longer matches), a matching WO not shown is inserted where it sorts (a new one at the top) when within the
 * loaded range, and the total moves by what the status before says. @param {Wo[]} items @param {boolean} count
 */
function applyItems(items, count) {
  if (state.buffered) {
    state.buffered.push(items);
    return;
  }
  if (state.moreBuffered) state.moreBuffered.push(items);
  const f = filters();
  let changed = false;
  let held = false;
  let lanes = false;
  for (const raw of items) {
    if (!raw || typeof raw.wo_id !== 'string') continue;
    const { prev_status: prev, ...w } = raw;
    if (w.lane && !state.lanes.has(w.lane)) {
      state.lanes.add(w.lane);
      lanes = true;
    }
    const i = state.wos.findIndex((x) => x.wo_id === w.wo_id);
    const now = matches(w, f);
    const was = i >= 0 || (typeof prev === 'string' && matches({ ...w, status: prev }, f));
    if (count && was !== now) state.total = Math.max(0, state.total + (now ? 1 : -1));
    if (i >= 0) {
      if (now) state.wos[i] = w;
      else state.wos.splice(i, 1);
      changed = true;
    } else if (now) {
      const last = state.wos[state.wos.length - 1];
      if (!state.next || !last || !before(last, w)) {
        const at = state.wos.findIndex((x) => before(w, x));
        state.wos.splice(at < 0 ? state.wos.length : at, 0, w);
        changed = true;
      }
    }
    if (w.status === 'awaiting_approval' || prev === 'awaiting_approval' || state.held.some((x) => x.wo_id === w.wo_id)) held = true;
    if (w.wo_id === state.selected) soon('detail', loadDetail);
  }
  if (held) soon('held', loadHeld);
  if (lanes) renderLanes();
  if (changed) renderList();
  else if (count) renderShown();
  if (count) statusSoon();
}

/** The totals (per status, and of the list when it is filtered by status only) from /api/status. */
async function loadStatus() {
  try {
    state.status = await api('/api/status');
    totalFromCounts();
    banner('');
    renderHeader();
    renderShown();
  } catch (e) {
    banner(`Cannot load data: ${e instanceof Error ? e.message : String(e)}`);
  }
}
function totalFromCounts() {
  const f = filters();
  const c = state.status?.counts;
  if (!c || !countsTotal(f) || state.buffered) return;
  state.total = f.status ? c[f.status] ?? 0 : Object.values(c).reduce((a, b) => a + (Number(b) || 0), 0);
}
/** The held WOs (full records with their plan) for the approval card. */
async function loadHeld() {
  try {
    const held = await api('/api/wos?status=awaiting_approval&limit=20');
    state.held = held.wos ?? [];
    renderHeld();
  } catch (e) {
    banner(`Cannot load data: ${e instanceof Error ? e.message : String(e)}`);
  }
}
/** The open WO's full record (the drawer). */
async function loadDetail() {
  const sel = state.selected;
  if (!sel) return;
  const detail = await api(`/api/wos/${encodeURIComponent(sel)}`).catch(() => null);
  if (sel !== state.selected) return;
  state.detail = detail;
  renderDrawer();
}

/** @type {Record<string, ReturnType<typeof setTimeout>>} */
const timers = {};
/** Run `fn` once within 250 ms however often it is asked for meanwhile. @param {string} name @param {() => unknown} fn */
function soon(name, fn) {
  if (timers[name]) return;
  timers[name] = setTimeout(() => {
    delete timers[name];
    void fn();
  }, 250);
}
let statusAt = 0;
/** At most one /api/status per second while updates arrive. */
function statusSoon() {
  if (timers.status) return;
  const wait = Math.max(100, 1000 - (Date.now() - statusAt));
  timers.status = setTimeout(() => {
    delete timers.status;
    statusAt = Date.now();
    void loadStatus();
  }, wait);
}
/** Everything once (start, after an action, when no stream is live). */
function refreshAll() {
  void loadStatus();
  void loadHeld();
  void loadDetail();
  return loadFirst();
}

/** Follow /api/events: the backlog first (until `ready`), then live events, each announced, and `wos` updates. */
function connect() {
  const es = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
  es.onopen = () => {
    setLive(true);
    state.reconnecting = false;
    state.events = [];
    state.backlogDone = false;
    // A server without the `ready` marker: everything in the first 2 s counts as backlog.
    setTimeout(() => { state.backlogDone = true; }, 2000);
  };
  // Each (re)connection: page 1 is read once the stream listens, so no write falls between the two.
  es.addEventListener('ready', (m) => {
    state.backlogDone = true;
    readyOnce = true;
    /** @type {{ feed?: boolean }} */
    let info = {};
    try {
      info = JSON.parse(m.data);
    } catch {
      /* an older server */
    }
    state.feed = info.feed === true;
    renderEvents();
    void loadFirst();
    statusSoon();
  });
  es.addEventListener('wos', (m) => {
    try {
      const got = JSON.parse(m.data);
      if (Array.isArray(got?.items)) applyItems(got.items, true);
    } catch {
      /* a torn message: the next reconnect reloads */
    }
  });
  es.onmessage = (m) => {
    /** @type {WoEvent} */
    let ev;
    try {
      ev = JSON.parse(m.data);
    } catch {
      return;
    }
    const backlog = !state.backlogDone;
    state.events.unshift({ ...ev, backlog });
    if (state.events.length > MAX_EVENTS) state.events.length = MAX_EVENTS;
    renderEvents();
    if (backlog) return;
    announce(eventText(ev));
    // Pruned records leave the index (no per-WO update says so; a pass that removed no record changes no row); a
    // server without the feed needs the reload.
    const pruned = ev.event === 'retention_pruned' && Number((/** @type {{ record?: number }} */ (ev.counts ?? {})).record ?? 0) > 0;
    if (!state.feed || pruned) {
      soon('page', loadFirst);
      statusSoon();
      if (state.selected && ev.wo_id === state.selected) soon('detail', loadDetail);
      soon('held', loadHeld);
    }
  };
  es.onerror = () => {
    setLive(false);
    state.reconnecting = es.readyState === EventSource.CONNECTING;
    if (es.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
  };
}
let readyOnce = false;
/** @param {boolean} on */
function setLive(on) {
  state.live = on;
  const p = $('live');
  p.textContent = on ? 'live' : 'reconnecting…';
  p.className = `pill ${on ? 'ok' : 'warn'}`;
}

// ---------------------------------------------------------------------------------------------- actions

/** @type {{ action: Action, id: string } | null} */
let asking = null;
/** Ask for confirmation (and an optional reason) before acting. @param {string} id @param {Action} action */
function confirmAction(id, action) {
  const dlg = /** @type {HTMLDialogElement} */ ($('confirm'));
  asking = { id, action };
  $('confirmTitle').textContent = `${ACTION_WORDS[action]} ${id}?`;
  $('confirmText').textContent = ACTION_HELP[action];
  const reason = /** @type {HTMLTextAreaElement} */ ($('confirmReason'));
  reason.value = '';
  const yes = /** @type {HTMLButtonElement} */ ($('confirmYes'));
  yes.textContent = ACTION_WORDS[action];
  yes.className = `primary ${action}`;
  yes.disabled = false;
  dlg.showModal();
  reason.focus();
}
async function confirmed() {
  const dlg = /** @type {HTMLDialogElement} */ ($('confirm'));
  const yes = /** @type {HTMLButtonElement} */ ($('confirmYes'));
  if (!asking) return;
  const { id, action } = asking;
  const reason = /** @type {HTMLTextAreaElement} */ ($('confirmReason')).value.trim();
  yes.disabled = true;
  try {
    await api(`/api/wos/${encodeURIComponent(id)}/${action}`, { method: 'POST', body: reason ? { reason } : {} });
    banner('', 'action');
    announce(`${ACTION_WORDS[action]} ${id}: done`);
  } catch (e) {
    banner(`${ACTION_WORDS[action]} ${id}: ${e instanceof Error ? e.message : String(e)}`, 'action');
  } finally {
    asking = null;
    dlg.close();
    // The rows follow from the stream; the drawer, the held card and the counts are read now.
    await Promise.all([loadDetail(), loadHeld(), loadStatus()]);
  }
}
/** The buttons a WO offers in its state. @param {Wo} w */
function actionButtons(w) {
  return (ACTIONS_BY_STATUS[w.status] ?? []).map((a) =>
    h('button', { type: 'button', class: a, 'data-action': a, onclick: () => confirmAction(w.wo_id, a) }, ACTION_WORDS[a]),
  );
}

// ---------------------------------------------------------------------------------------------- rendering: page

/** @param {string} s */
function statusEl(s) {
  return h('span', { class: `st st-${s}`, text: s });
}
/** @param {Wo} w */
function progress(w) {
  const total = w.stages_total ?? 0;
  const idx = Math.min(w.stage_index ?? 0, total);
  const inner = h('span');
  inner.style.width = `${total ? Math.round((100 * idx) / total) : 0}%`;
  return h('span', { title: `stage ${idx} of ${total}` }, h('span', { class: 'bar' }, inner), h('span', { class: 'muted', text: `${w.stage ?? ''} ${idx}/${total}` }));
}

/** The guardrail in words: "healthy", "2 components drifted: …". @param {Guardrail} g @returns {{ text: string, cls: string, pill: string, items: string[] }} */
function guardWords(g) {
  if (g.healthy === true) {
    const n = g.protected ?? 0;
    const what = `${n} protected component${n === 1 ? '' : 's'}`;
    return { text: `healthy — ${what} as expected${g.checked_at ? `, checked ${ago(g.checked_at)}` : ''}`, cls: 'ok', pill: 'guardrail healthy', items: [] };
  }
  if (g.healthy === false) {
    const drift = g.drift ?? [];
    const items = drift.map((d) => (d.kind === 'missing' ? `${d.path}: missing` : `${d.path}: ${d.why ?? d.kind}`));
    const n = drift.length;
    const head = n ? `${n} component${n === 1 ? '' : 's'} drifted: ${drift.map((d) => d.path).join(', ')}` : 'drift detected';
    return { text: head, cls: 'bad', pill: `guardrail: ${n || ''} drifted`.replace('  ', ' '), items };
  }
  return { text: g.note ?? 'not checked yet', cls: 'muted', pill: 'guardrail: not checked', items: [] };
}

function renderHeader() {
  const st = state.status ?? {};
  const d = st.daemon ?? {};
  const dp = $('daemon');
  const rel = st.release ? ` · release ${st.release.running ?? st.release.current}` : '';
  const upg = st.upgrade?.in_progress ? ` · upgrading${st.upgrade.candidate ? ` to ${st.upgrade.candidate}` : ''} (${st.upgrade.step})` : '';
  dp.textContent = (d.running ? `daemon running · pid ${d.pid}${d.started_at ? ` · since ${ago(d.started_at)}` : ''}` : 'daemon down') + rel + upg;
  dp.className = `pill ${d.running ? 'ok' : 'bad'}`;
  $('root').textContent = d.root ?? '';

  const pp = $('paused');
  const paused = st.paused;
  const open = (st.breakers ?? []).map((b) => b.lane);
  const pausedWords = paused?.all ? 'paused: all lanes' : paused?.lanes?.length ? `paused: ${paused.lanes.join(', ')}` : d.paused ? `claiming paused: ${d.paused}` : '';
  const words = [pausedWords, open.length ? `breaker open: ${open.join(', ')} (held until wo resume --lane)` : ''].filter(Boolean).join(' · ');
  pp.hidden = !words;
  pp.textContent = words;
  pp.title = words ? 'no new WOs are claimed (wo resume restarts claiming)' : '';

  const g = guardWords(st.guardrail ?? {});
  const gp = $('guard');
  gp.textContent = g.pill;
  gp.className = `pill ${g.cls === 'ok' ? 'ok' : g.cls === 'bad' ? 'bad' : 'warn'}`;
  const gt = $('guardText');
  gt.textContent = g.text;
  gt.className = `guard-text ${g.cls}`;
  const gd = clear($('guardDrift'));
  for (const item of g.items) gd.appendChild(h('li', { text: item }));

  const counts = clear($('counts'));
  const c = st.counts ?? {};
  for (const s of STATUSES) {
    if (!c[s]) continue;
    counts.appendChild(
      h('button', { type: 'button', class: `pill st-${s}`, title: `show only ${s}`, onclick: () => { fStatus().value = s; void loadFirst(); } }, `${s} ${c[s]}`),
    );
  }
  const all = typeof st.total === 'number' ? st.total : Object.values(c).reduce((a, b) => a + (Number(b) || 0), 0);
  if (counts.firstChild) counts.appendChild(h('span', { id: 'allCount', class: 'muted', text: `${all} in all` }));
  else counts.appendChild(h('span', { class: 'muted', text: 'no WOs yet' }));

  // Pause/resume claiming (every lane): shown when the server says whether it is paused.
  const pb = /** @type {HTMLButtonElement} */ ($('pauseBtn'));
  pb.hidden = !paused;
  const anyPaused = !!(paused?.all || paused?.lanes?.length);
  pb.textContent = anyPaused ? 'Resume claiming' : 'Pause claiming';
  pb.dataset.pause = anyPaused ? 'resume' : 'pause';
  pb.title = anyPaused ? 'claim new WOs again (every lane)' : 'stop claiming new WOs (queued and running ones go on)';
}

/** POST /api/pause or /api/resume (every lane), then show the new state. */
async function togglePause() {
  const pb = /** @type {HTMLButtonElement} */ ($('pauseBtn'));
  const what = pb.dataset.pause === 'resume' ? 'resume' : 'pause';
  pb.disabled = true;
  try {
    await api(`/api/${what}`, { method: 'POST', body: {} });
    banner('', 'action');
    announce(what === 'pause' ? 'claiming paused' : 'claiming resumed');
  } catch (e) {
    banner(`${what === 'pause' ? 'Pause' : 'Resume'}: ${e instanceof Error ? e.message : String(e)}`, 'action');
  } finally {
    pb.disabled = false;
    await loadStatus();
  }
}

function renderHeld() {
  const box = clear($('held'));
  $('heldCard').hidden = state.held.length === 0;
  for (const w of state.held) {
    box.appendChild(
      h('div', { class: 'held-wo', 'data-held': w.wo_id },
        h('div', null, h('b', { class: 'mono', text: w.wo_id }), ' ', w.title ?? '', ' ', h('span', { class: 'muted', text: `${w.lane} · ${w.type}` })),
        h('ul', null, (w.hold_reasons ?? []).map((r) => h('li', { text: r }))),
        w.plan?.length ? h('div', { class: 'plan' }, planEl(w.plan)) : h('p', { class: 'muted', text: 'no plan recorded for this WO' }),
        h('div', { class: 'actions' }, actionButtons(w), h('button', { type: 'button', onclick: () => openWo(w.wo_id) }, 'Details')),
      ),
    );
  }
}

function fStatus() {
  return /** @type {HTMLSelectElement} */ ($('fStatus'));
}
function fLane() {
  return /** @type {HTMLSelectElement} */ ($('fLane'));
}
function fText() {
  return /** @type {HTMLInputElement} */ ($('fText'));
}

function renderLanes() {
  const sel = fLane();
  const cur = sel.value;
  const lanes = [...state.lanes].sort();
  if (cur && !lanes.includes(cur)) lanes.push(cur);
  const have = [...sel.options].map((o) => o.value).slice(1);
  if (have.join('\n') === lanes.join('\n')) return;
  clear(sel).appendChild(h('option', { value: '', text: 'all lanes' }));
  for (const l of lanes) sel.appendChild(h('option', { value: l, text: l }));
  sel.value = cur;
}

/** @type {Map<string, { w: Wo|null, sel: boolean, tr: HTMLElement }>} one row element per shown WO, kept while it is shown */
const rowCache = new Map();
/** (Re)fill a row's cells. @param {HTMLElement} tr @param {Wo} w */
function fillRow(tr, w) {
  const received = receivedOf(w);
  tr.className = `wo${w.wo_id === state.selected ? ' sel' : ''}`;
  tr.setAttribute('aria-label', `${w.wo_id} ${w.status}`);
  clear(tr).append(
    h('td', { class: 'mono' }, w.wo_id),
    h('td', null, short(w.title, 100),
      w.error ? h('div', { class: 'err sub', text: `${w.error.code}: ${short(w.error.message, 140)}` }) : null),
    h('td', { class: 'wide', text: w.lane ?? '' }),
    h('td', { class: 'wide', text: w.type ?? '' }),
    h('td', null, statusEl(w.status),
      w.rolled_back ? h('div', { class: 'muted sub', text: 'rolled back' }) : null,
      w.given_up ? h('div', { class: 'muted sub', text: 'given up' }) : null,
      w.dry_run ? h('div', { class: 'muted sub', text: 'dry run' }) : null),
    h('td', { class: 'wide' }, progress(w)),
    h('td', { class: 'wide muted when', title: received, text: ago(received) }),
  );
}
/** Rows are not rebuilt on a timer: their "received … ago" is kept current here. */
function renderAges() {
  for (const td of document.querySelectorAll('#rows td.when')) if (td instanceof HTMLElement) td.textContent = ago(td.title);
}

/** Bring the table in line with the loaded rows: unchanged rows stay as they are, a changed one is refilled in place. */
function renderList() {
  const focused = document.activeElement instanceof HTMLElement && document.activeElement.matches('tr.wo') ? document.activeElement.dataset.id : null;
  const tb = $('rows');
  for (const el of [...tb.children]) if (!(el instanceof HTMLElement && el.matches('tr.wo'))) el.remove();
  const shown = new Set();
  let i = 0;
  for (const w of state.wos) {
    if (shown.has(w.wo_id)) continue;
    shown.add(w.wo_id);
    let c = rowCache.get(w.wo_id);
    if (!c) {
      const id = w.wo_id;
      c = { w: null, sel: false, tr: h('tr', { 'data-id': id, tabindex: 0, onclick: () => openWo(id) }) };
      rowCache.set(id, c);
    }
    // An update replaces the row's object: only changed rows are refilled.
    const sel = w.wo_id === state.selected;
    if (c.w !== w || c.sel !== sel) {
      fillRow(c.tr, w);
      c.w = w;
      c.sel = sel;
    }
    const at = tb.children[i];
    if (at !== c.tr) tb.insertBefore(c.tr, at ?? null);
    i++;
  }
  for (const [id, c] of rowCache) {
    if (shown.has(id)) continue;
    c.tr.remove();
    rowCache.delete(id);
  }
  if (!state.wos.length) {
    const f = filters();
    tb.appendChild(h('tr', null, h('td', { colspan: 7, class: 'muted', text: f.status || f.lane || f.q ? 'nothing matches the filters' : 'no WOs yet' })));
  }
  renderShown();
  renderMore();
  if (focused && document.activeElement !== rowOf(focused)) rowOf(focused)?.focus();
}
function renderShown() {
  $('shown').textContent = `${state.wos.length} of ${Math.max(state.total, state.wos.length)}`;
}
/** The "Load more" button: shown while the server has another page. */
function renderMore() {
  const b = /** @type {HTMLButtonElement} */ ($('more'));
  b.hidden = !state.next;
  b.disabled = state.more;
  b.textContent = state.more ? 'Loading…' : `Load ${PAGE} more`;
}
/** @param {string} id @returns {HTMLElement|null} */
function rowOf(id) {
  return rowCache.get(id)?.tr ?? null;
}

/** @param {WoEvent} ev */
function eventText(ev) {
  return `${ev.event ?? 'event'}${ev.wo_id ? ` ${ev.wo_id}` : ''}${ev.ok === false ? ' (not ok)' : ''}`;
}
function renderEvents() {
  const ul = clear($('events'));
  for (const ev of state.events) {
    ul.appendChild(
      h('li', { class: ev.backlog ? 'backlog' : '' },
        h('span', { class: 'muted', text: `${(ev.ts ?? '').slice(11, 19)} ` }),
        h('span', { class: ev.ok === false ? 'err' : '', text: ev.event ?? '' }),
        ev.wo_id ? ' ' : null,
        ev.wo_id ? h('a', { href: `#wo=${encodeURIComponent(ev.wo_id)}`, class: 'mono', 'data-wo': ev.wo_id, onclick: linkToWo }, ev.wo_id) : null,
      ),
    );
  }
  if (!state.events.length) ul.appendChild(h('li', { class: 'muted', text: state.live ? 'no events yet' : 'waiting for events…' }));
}
/** @param {MouseEvent} e */
function linkToWo(e) {
  const id = e.currentTarget instanceof HTMLElement ? e.currentTarget.dataset.wo : undefined;
  if (!id) return;
  e.preventDefault();
  openWo(id);
}

// ---------------------------------------------------------------------------------------------- rendering: the drawer

/** Unified diff as text, one span per line, coloured by its first character. @param {string} text */
function diffPre(text) {
  const pre = h('pre', { class: 'diff' });
  for (const line of String(text).replace(/\n$/, '').split('\n')) {
    const c = line.startsWith('+++') || line.startsWith('---') ? 'd-file' : line.startsWith('+') ? 'd-add' : line.startsWith('-') ? 'd-del' : line.startsWith('@@') ? 'd-hunk' : '';
    pre.appendChild(h('span', { class: c, text: `${line}\n` }));
  }
  return pre;
}
/** @param {PlanStep[]} plan */
function planEl(plan) {
  return h('div', { class: 'plan-steps' },
    plan.map((p) =>
      h('div', { class: 'plan-step' },
        h('div', { class: 'step' },
          h('b', { text: p.step }), ' ', h('code', { text: p.path ?? p.cmd ?? '' }),
          h('span', { class: 'tag', text: p.verdict }),
          p.policy ? h('span', { class: `tag ${p.policy === 'held' ? 'policy-held' : 'allowed'}`, text: p.policy === 'held' ? 'needs approval' : 'allowed' }) : null),
        p.why?.length ? h('ul', { class: 'muted sub' }, p.why.map((x) => h('li', { text: x }))) : null,
        p.diff ? diffPre(p.diff) : null,
      ),
    ),
  );
}

/** Stage intervals from `times` (as src/daemon/timeline.ts): each stage lasts until the next began, or the end. @param {Wo} w */
function timeline(w) {
  const times = w.times ?? {};
  const marks = STAGES.map((stage) => ({ stage, t: Date.parse(times[stage] ?? '') })).filter((m) => Number.isFinite(m.t));
  const fin = Date.parse(times.finished ?? '');
  const end = Math.max(Number.isFinite(fin) ? fin : Date.now(), ...marks.map((m) => m.t));
  const start = Math.min(Number.isFinite(Date.parse(times.received ?? '')) ? Date.parse(times.received ?? '') : marks[0]?.t ?? end, end);
  const stages = marks.map((m, i) => ({ stage: m.stage, start: m.t, end: Math.max(m.t, marks[i + 1]?.t ?? end) }));
  return { start, end, stages, open: !Number.isFinite(fin) };
}
/** @param {Wo} w */
function timelineEl(w) {
  const tl = timeline(w);
  if (!tl.stages.length) return h('p', { class: 'muted', text: 'no stage times recorded' });
  const span = Math.max(1, tl.end - tl.start);
  const grid = h('div', { class: 'timeline', role: 'table', 'aria-label': 'stage timeline' });
  tl.stages.forEach((s, i) => {
    const bar = h('span', { class: `span${s.stage === 'held' ? ' waiting' : ''}` });
    bar.style.left = `${(100 * (s.start - tl.start)) / span}%`;
    bar.style.width = `${(100 * (s.end - s.start)) / span}%`;
    const last = i === tl.stages.length - 1 && tl.open;
    grid.append(
      h('span', { class: 'mono', role: 'cell', text: s.stage }),
      h('span', { class: 'track', role: 'cell', title: `${new Date(s.start).toISOString()} → ${new Date(s.end).toISOString()}` }, bar),
      h('span', { class: 'dur', role: 'cell', 'data-stage': s.stage, text: duration(s.end - s.start) + (last ? ' …' : '') }),
    );
  });
  grid.append(h('span', { class: 'total', text: 'total' }), h('span'), h('span', { class: 'dur total', text: duration(tl.end - tl.start) + (tl.open ? ' so far' : '') }));
  return grid;
}

/** @param {string|null|undefined} s */
function sha(s) {
  return s ? s.slice(0, 12) : '—';
}

function renderDrawer() {
  const drawer = $('drawer');
  const w = state.detail;
  const id = state.selected;
  if (!id) {
    drawer.hidden = true;
    return;
  }
  drawer.hidden = false;
  const key = JSON.stringify(w);
  if (key === state.detailKey) return; // unchanged: keep the scroll position and focus
  state.detailKey = key;
  const body = $('detail');
  const scroll = body.scrollTop;
  clear(body);
  const title = clear($('drawerTitle'));
  title.append(h('span', { class: 'mono', text: id }), ' ', w ? statusEl(w.status) : '');
  if (!w) {
    body.appendChild(h('p', { class: 'muted', text: 'loading…' }));
    return;
  }
  if (w.title) body.appendChild(h('p', { text: w.title }));
  const buttons = actionButtons(w);
  if (buttons.length) body.appendChild(h('div', { class: 'actions' }, buttons));

  if (w.hold_reasons?.length && w.status === 'awaiting_approval') {
    body.append(h('h3', { text: 'Held because' }), h('ul', null, w.hold_reasons.map((x) => h('li', { text: x }))));
  }
  if (w.error) body.append(h('h3', { text: 'Error' }), h('pre', { class: 'err', text: `${w.error.code}: ${w.error.message}` }));
  if (w.warnings?.length) body.append(h('h3', { text: 'Warnings' }), h('ul', null, w.warnings.map((x) => h('li', { text: x }))));

  body.append(h('h3', { text: 'Stages' }), timelineEl(w));

  const meta = h('dl', { class: 'meta' });
  /** @type {[string, unknown][]} */
  const pairs = [
    ['lane', w.lane], ['type', w.type], ['priority', w.priority], ['owner', w.owner], ['attempt', w.attempt],
    ['stage', `${w.stage ?? ''} (${w.stage_index ?? 0}/${w.stages_total ?? 0})`], ['received', w.times?.received],
    ['finished', w.times?.finished], ['rolled back', w.rolled_back ? 'yes' : null], ['given up', w.given_up ? 'yes' : null],
    ['dry run', w.dry_run ? 'yes' : null], ['not undoable', w.unrollbackable ? 'its commands cannot be rolled back' : null],
    ['file', w.file], ['sha256', w.sha256],
  ];
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === '') continue;
    meta.append(h('dt', { text: k }), h('dd', { class: 'mono', text: String(v) }));
  }
  body.append(h('h3', { text: 'Details' }), meta);

  if (w.plan?.length) {
    const what = w.status === 'awaiting_approval' ? 'Plan (what approval runs)' : w.status === 'succeeded' ? 'Plan (what it changed)' : 'Plan (what it attempted)';
    body.append(h('h3', { text: what }), planEl(w.plan));
  }
  if (w.files?.length) {
    body.append(h('h3', { text: 'Files' }),
      h('ul', { class: 'plain' }, w.files.map((f) =>
        h('li', null, h('b', { text: f.action }), ' ', h('code', { text: f.path }), ' ',
          h('span', { class: 'muted mono', text: `${sha(f.before_sha256)} → ${sha(f.after_sha256)}${f.mode ? ` · ${f.mode}` : ''}` })))));
  }
  if (w.commands?.length) {
    body.append(h('h3', { text: 'Commands' }));
    for (const c of w.commands) {
      const bad = c.exit_code !== 0 || c.timed_out;
      append(body, [
        h('div', { class: 'step' },
          h('span', { class: 'muted', text: `${c.phase} ` }), h('code', { text: c.cmd }), ' ',
          h('span', { class: bad ? 'err' : 'ok', text: `exit ${c.exit_code === null ? '—' : c.exit_code}${c.signal ? ` (${c.signal})` : ''}${c.timed_out ? ' timed out' : ''}` }),
          h('span', { class: 'muted', text: ` · ${duration(c.duration_ms)}` })),
        c.stdout_tail ? h('pre', { text: c.stdout_tail }) : null,
        c.stderr_tail ? h('pre', { class: 'err', text: c.stderr_tail }) : null,
      ]);
    }
  }
  if (w.tests?.length) {
    body.append(h('h3', { text: 'Tests' }),
      h('ul', { class: 'plain' }, w.tests.map((t) =>
        h('li', null, h('span', { class: t.passed ? 'ok' : 'err', text: t.passed ? 'passed ' : 'FAILED ' }), t.name,
          t.passed ? null : h('div', { class: 'mono sub' }, `expected ${JSON.stringify(t.expected)}, got ${JSON.stringify(t.actual)}`)))));
  }
  if (w.actions?.length) {
    body.append(h('h3', { text: 'Actions' }),
      h('ul', { class: 'plain actions-log' }, w.actions.map((a) =>
        h('li', null, h('b', { text: a.action }),
          ` by ${a.by ? `uid ${a.by.uid} via ${a.by.channel}` : 'unknown'} `,
          h('span', { class: 'muted', title: a.ts, text: ago(a.ts) }),
          a.reason ? h('div', { class: 'sub' }, '“', a.reason, '”') : null))));
  }
  if (w.attempts && w.attempts.length > 1) {
    body.append(h('h3', { text: 'Attempts' }),
      h('ul', { class: 'plain' }, w.attempts.map((x) => h('li', { text: `#${x.attempt} ${x.status}${x.error ? ` — ${x.error.code}: ${x.error.message}` : ''}` }))));
  }
  body.scrollTop = scroll;
}

// ---------------------------------------------------------------------------------------------- navigation

/** The fragment for the current view: the token (kept) and the open WO. @param {string|null} id */
function fragment(id) {
  const p = new URLSearchParams();
  if (token) p.set('token', token);
  if (id) p.set('wo', id);
  return `#${p.toString()}`;
}
/** Open a WO's drawer (and make it the page's deep link). @param {string} id */
function openWo(id) {
  if (state.selected !== id) {
    if (!state.selected && document.activeElement instanceof HTMLElement) state.returnFocus = document.activeElement;
    state.selected = id;
    state.detail = state.held.find((w) => w.wo_id === id) ?? null;
    state.detailKey = '';
  }
  history.replaceState(null, '', fragment(id));
  renderList();
  renderDrawer();
  $('drawerTitle').focus();
  void loadDetail();
}
function closeWo() {
  if (!state.selected) return;
  const id = state.selected;
  state.selected = null;
  state.detail = null;
  state.detailKey = '';
  history.replaceState(null, '', fragment(null));
  renderList();
  renderDrawer();
  const back = rowOf(id) ?? state.returnFocus;
  state.returnFocus = null;
  back?.focus();
}

/** Keys: Enter/Space open the focused row, ↑/↓ move between rows, Escape closes the drawer. @param {KeyboardEvent} e */
function onKey(e) {
  const dlg = /** @type {HTMLDialogElement} */ ($('confirm'));
  if (dlg.open) return; // the dialog handles its own keys (Escape cancels it)
  const t = e.target;
  if (e.key === 'Escape' && state.selected) {
    e.preventDefault();
    closeWo();
    return;
  }
  if (!(t instanceof HTMLElement) || !t.matches('tr.wo')) return;
  if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault();
    if (t.dataset.id) openWo(t.dataset.id);
  } else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
    e.preventDefault();
    const next = e.key === 'ArrowDown' ? t.nextElementSibling : t.previousElementSibling;
    if (next instanceof HTMLElement && next.matches('tr.wo')) next.focus();
  }
}

function onHash() {
  const p = hashParams(location.hash);
  const t = p.get('token');
  if (t && t !== token) {
    token = t;
    sessionStorage.setItem('wo-token', t);
  }
  const id = p.get('wo');
  if (id && id !== state.selected) openWo(id);
  else if (!id && state.selected) closeWo();
}

// ---------------------------------------------------------------------------------------------- start

function start() {
  for (const s of STATUSES) fStatus().appendChild(h('option', { value: s, text: s }));
  fStatus().addEventListener('change', () => void loadFirst());
  fLane().addEventListener('change', () => void loadFirst());
  fText().addEventListener('input', () => {
    clearTimeout(timers.text);
    timers.text = setTimeout(() => {
      delete timers.text;
      void loadFirst();
    }, 250);
  });
  $('more').addEventListener('click', () => void loadMore());
  $('pauseBtn').addEventListener('click', () => void togglePause());
  // Scrolling to the end of the list loads the next page.
  if ('IntersectionObserver' in window) {
    new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting) && state.next) void loadMore();
    }, { rootMargin: '200px' }).observe($('more'));
  }
  document.addEventListener('keydown', onKey);
  window.addEventListener('hashchange', onHash);
  $('drawerClose').addEventListener('click', closeWo);
  $('confirmYes').addEventListener('click', () => void confirmed());
  $('confirmNo').addEventListener('click', () => /** @type {HTMLDialogElement} */ ($('confirm')).close());
  $('confirm').addEventListener('close', () => {
    asking = null;
  });
  renderEvents();
  if (!token) {
    banner('No token in the address. Open the URL that "wo dashboard" prints (it ends in #token=…).');
    return;
  }
  const deep = first.get('wo');
  if (deep) openWo(deep);
  // The stream first: its `ready` loads page 1 (so no write falls between the page and the stream).
  connect();
  void loadStatus();
  void loadHeld();
  setTimeout(() => {
    if (!readyOnce) void loadFirst();
  }, 3000);
  setInterval(() => {
    // Without a live stream, poll — unless the browser is reconnecting it (then `ready` reloads page 1 once).
    if (!state.live && !state.reconnecting) void refreshAll();
    renderAges();
  }, 30000);
}

start();
