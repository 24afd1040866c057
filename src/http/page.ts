/**
 * The dashboard at `/`: one self-contained page (inline CSS and JS, no CDN) holding no data of its own.
 * It reads the token from its URL fragment, fetches /api/status and /api/wos, and re-fetches on
 * server-sent events. Every datum is inserted as text (textContent / text nodes), never as HTML.
 */
import crypto from 'node:crypto';

const STYLE = String.raw`
:root { color-scheme: light dark; --bg:#f7f7f8; --fg:#1d1f23; --muted:#6b7280; --card:#fff; --line:#e3e5e8;
  --green:#15803d; --red:#b91c1c; --yellow:#a16207; --cyan:#0e7490; --gray:#6b7280; --blue:#1d4ed8; --purple:#7e22ce; }
@media (prefers-color-scheme: dark) { :root { --bg:#15171b; --fg:#e5e7eb; --muted:#9ca3af; --card:#1e2127; --line:#2d3139;
  --green:#4ade80; --red:#f87171; --yellow:#facc15; --cyan:#22d3ee; --gray:#9ca3af; --blue:#93c5fd; --purple:#d8b4fe; } }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; gap:12px; align-items:center; flex-wrap:wrap; padding:10px 16px; border-bottom:1px solid var(--line); background:var(--card); }
header h1 { font-size:18px; margin:0 8px 0 0; }
.pill { border:1px solid var(--line); border-radius:999px; padding:2px 10px; font-size:12px; }
.pill.ok { color:var(--green); border-color:var(--green); } .pill.bad { color:var(--red); border-color:var(--red); }
.pill.warn { color:var(--yellow); border-color:var(--yellow); }
.muted { color:var(--muted); } .mono, pre, code { font-family: ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:12px; }
main { padding:12px 16px; display:grid; grid-template-columns:minmax(0,3fr) minmax(0,2fr); gap:14px; }
@media (max-width:1000px) { main { grid-template-columns: 1fr; } }
section.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 12px; margin-bottom:12px; }
section.card h2 { font-size:14px; margin:0 0 8px; }
.counts { display:flex; gap:6px; flex-wrap:wrap; }
.counts button { cursor:pointer; }
.filters { display:flex; gap:8px; flex-wrap:wrap; margin-bottom:8px; }
select, input, button { font:inherit; padding:4px 8px; border:1px solid var(--line); border-radius:6px; background:var(--card); color:var(--fg); }
button.approve { border-color:var(--green); color:var(--green); } button.reject, button.cancel { border-color:var(--red); color:var(--red); }
button:disabled { opacity:.5; }
table { width:100%; border-collapse:collapse; }
.scroll { overflow-x:auto; }
td.id, td:first-child { word-break:break-all; }
th, td { text-align:left; padding:5px 6px; border-bottom:1px solid var(--line); vertical-align:top; }
td.id { white-space:nowrap; }
th { font-size:12px; color:var(--muted); font-weight:600; }
tbody tr.wo { cursor:pointer; } tbody tr.wo:hover, tbody tr.sel { background:rgba(127,127,127,.12); }
.st { font-weight:600; white-space:nowrap; }
.st-succeeded, .st-routed { color:var(--green); } .st-failed, .st-rejected { color:var(--red); }
.st-awaiting_approval, .st-queued { color:var(--yellow); } .st-running { color:var(--cyan); }
.st-cancelled, .st-reverted { color:var(--gray); }
.bar { width:90px; height:6px; background:var(--line); border-radius:3px; overflow:hidden; display:inline-block; vertical-align:middle; margin-right:6px; }
.bar > span { display:block; height:100%; background:var(--blue); }
.held { border-left:3px solid var(--yellow); padding:6px 10px; margin:6px 0; }
.held ul { margin:4px 0 6px 18px; padding:0; }
dl { display:grid; grid-template-columns:max-content 1fr; gap:2px 12px; margin:0 0 8px; }
dt { color:var(--muted); } dd { margin:0; word-break:break-all; }
pre { background:rgba(127,127,127,.09); padding:6px 8px; border-radius:6px; overflow:auto; max-height:320px; margin:4px 0 8px; white-space:pre-wrap; word-break:break-all; }
.d-add { color:var(--green); } .d-del { color:var(--red); } .d-hunk { color:var(--purple); }
.err { color:var(--red); } .ok { color:var(--green); }
#banner { display:none; margin:10px 16px 0; padding:8px 12px; border:1px solid var(--red); color:var(--red); border-radius:6px; background:var(--card); }
#banner.show { display:block; }
.events li { font-size:12px; } .events { list-style:none; padding:0; margin:0; max-height:240px; overflow:auto; }
h3 { font-size:13px; margin:10px 0 4px; }
`;

const SCRIPT = String.raw`
(function () {
  'use strict';
  var STATUSES = ['queued','awaiting_approval','running','succeeded','failed','rejected','cancelled','routed','reverted'];
  var token = new URLSearchParams(location.hash.replace(/^#/, '')).get('token') || '';
  var state = { status: null, wos: [], selected: null, detail: null, events: [], live: false };
  var $ = function (id) { return document.getElementById(id); };

  /* Build elements from data; text is always a text node, never parsed as HTML. */
  function h(tag, props) {
    var el = document.createElement(tag);
    if (props) Object.keys(props).forEach(function (k) {
      var v = props[k];
      if (v === null || v === undefined || v === false) return;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = String(v);
      else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, String(v));
    });
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function append(el, kid) {
    if (kid === null || kid === undefined || kid === false) return;
    if (Array.isArray(kid)) { kid.forEach(function (k) { append(el, k); }); return; }
    el.appendChild(typeof kid === 'object' ? kid : document.createTextNode(String(kid)));
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }
  function short(s, n) { s = s == null ? '' : String(s); return s.length > n ? s.slice(0, n) + '…' : s; }
  function ago(iso) {
    if (!iso) return '';
    var s = Math.round((Date.now() - Date.parse(iso)) / 1000);
    if (!isFinite(s)) return iso;
    if (s < 60) return s + 's ago'; if (s < 3600) return Math.round(s / 60) + 'm ago';
    if (s < 86400) return Math.round(s / 3600) + 'h ago'; return Math.round(s / 86400) + 'd ago';
  }
  function banner(msg) { var b = $('banner'); b.textContent = msg || ''; b.className = msg ? 'show' : ''; }

  function api(path, opts) {
    opts = opts || {};
    return fetch(path, { method: opts.method || 'GET', headers: { Authorization: 'Bearer ' + token }, cache: 'no-store' })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          if (!r.ok) throw new Error((body && body.error) || (r.status + ' ' + r.statusText));
          return body;
        });
      });
  }

  var pending = null, running = false, again = false;
  function refresh() {
    if (running) { again = true; return Promise.resolve(); }
    running = true;
    var sel = state.selected;
    return Promise.all([api('/api/status'), api('/api/wos?view=summary'), sel ? api('/api/wos/' + encodeURIComponent(sel)).catch(function () { return null; }) : null])
      .then(function (r) { state.status = r[0]; state.wos = r[1].wos || []; if (sel === state.selected) state.detail = r[2]; banner(''); render(); })
      .catch(function (e) { banner('Cannot load data: ' + e.message); })
      .then(function () { running = false; if (again) { again = false; schedule(); } });
  }
  /* At most one refresh per 250 ms however many events arrive (a burst never starves it). */
  function schedule() { if (pending) return; pending = setTimeout(function () { pending = null; refresh(); }, 250); }

  function connect() {
    var es = new EventSource('/api/events?token=' + encodeURIComponent(token));
    es.onopen = function () { setLive(true); schedule(); };
    es.onmessage = function (m) {
      var ev; try { ev = JSON.parse(m.data); } catch (e) { return; }
      state.events.unshift(ev); if (state.events.length > 40) state.events.length = 40;
      renderEvents(); schedule();
    };
    es.onerror = function () {
      setLive(false);
      if (es.readyState === 2) setTimeout(connect, 5000);
    };
  }
  function setLive(on) { state.live = on; var p = $('live'); p.textContent = on ? 'live' : 'reconnecting…'; p.className = 'pill ' + (on ? 'ok' : 'warn'); }

  function act(id, action, btn) {
    btn.disabled = true;
    api('/api/wos/' + encodeURIComponent(id) + '/' + action, { method: 'POST' })
      .then(function () { banner(''); return refresh(); })
      .catch(function (e) { banner(action + ' ' + id + ': ' + e.message); btn.disabled = false; });
  }

  function statusEl(s) { return h('span', { class: 'st st-' + s, text: s }); }
  function progress(w) {
    var total = w.stages_total || 0, idx = Math.min(w.stage_index || 0, total || 0);
    var bar = h('span', { class: 'bar' }, h('span'));
    bar.firstChild.style.width = (total ? Math.round(100 * idx / total) : 0) + '%';
    return h('span', { title: 'stage ' + idx + ' of ' + total }, bar, h('span', { class: 'muted', text: (w.stage || '') + ' ' + idx + '/' + total }));
  }

  function renderHeader() {
    var st = state.status || {}, d = st.daemon || {}, g = st.guardrail || {};
    var dp = $('daemon');
    dp.textContent = d.running ? 'daemon running · pid ' + d.pid + (d.started_at ? ' · since ' + ago(d.started_at) : '') : 'daemon down';
    dp.className = 'pill ' + (d.running ? 'ok' : 'bad');
    var gp = $('guard');
    var healthy = g.healthy;
    gp.textContent = healthy === undefined ? 'guardrail: unknown' : healthy ? 'guardrail healthy' : 'guardrail DRIFT';
    gp.className = 'pill ' + (healthy === undefined ? 'warn' : healthy ? 'ok' : 'bad');
    $('root').textContent = d.root || '';
    var gd = clear($('guardDetail'));
    Object.keys(g).forEach(function (k) {
      if (k === 'healthy') return;
      var v = g[k];
      gd.appendChild(h('dt', { text: k }));
      gd.appendChild(h('dd', { class: 'mono', text: typeof v === 'object' ? JSON.stringify(v) : String(v) }));
    });
    if (!gd.firstChild) gd.appendChild(h('dd', { class: 'muted', text: healthy === false ? 'drift detected' : 'no details' }));
    var counts = clear($('counts')), c = st.counts || {};
    STATUSES.forEach(function (s) {
      if (!c[s]) return;
      counts.appendChild(h('button', { class: 'pill st-' + s, title: 'show only ' + s,
        onclick: function () { $('fStatus').value = s; renderList(); } }, s + ' ' + c[s]));
    });
    if (!counts.firstChild) counts.appendChild(h('span', { class: 'muted', text: 'no WOs yet' }));
  }

  function renderHeld() {
    var held = state.wos.filter(function (w) { return w.status === 'awaiting_approval'; });
    var box = clear($('held'));
    $('heldCard').hidden = held.length === 0;
    held.forEach(function (w) {
      var approve = h('button', { class: 'approve', text: 'Approve', 'data-id': w.wo_id, onclick: function () { act(w.wo_id, 'approve', approve); } });
      var reject = h('button', { class: 'reject', text: 'Reject', 'data-id': w.wo_id, onclick: function () { act(w.wo_id, 'reject', reject); } });
      box.appendChild(h('div', { class: 'held', 'data-held': w.wo_id },
        h('div', null, h('b', { class: 'mono', text: w.wo_id }), ' ', w.title || '', ' ', h('span', { class: 'muted', text: w.lane + ' · ' + w.type })),
        h('ul', null, (w.hold_reasons || []).map(function (r) { return h('li', { text: r }); })),
        approve, ' ', reject));
    });
  }

  function renderLanes() {
    var sel = $('fLane'), cur = sel.value, lanes = {};
    state.wos.forEach(function (w) { if (w.lane) lanes[w.lane] = true; });
    clear(sel).appendChild(h('option', { value: '', text: 'all lanes' }));
    Object.keys(lanes).sort().forEach(function (l) { sel.appendChild(h('option', { value: l, text: l })); });
    sel.value = lanes[cur] ? cur : '';
  }

  function renderList() {
    var fs = $('fStatus').value, fl = $('fLane').value, ft = $('fText').value.trim().toLowerCase();
    var rows = state.wos.filter(function (w) {
      if (fs && w.status !== fs) return false;
      if (fl && w.lane !== fl) return false;
      if (ft) {
        var hay = [w.wo_id, w.title, w.lane, w.type, w.status, w.owner, w.error && w.error.message].join(' ').toLowerCase();
        if (hay.indexOf(ft) < 0) return false;
      }
      return true;
    });
    var tb = clear($('rows'));
    rows.forEach(function (w) {
      tb.appendChild(h('tr', { class: 'wo' + (w.wo_id === state.selected ? ' sel' : ''), 'data-id': w.wo_id,
        onclick: function () { select(w.wo_id); } },
        h('td', { class: 'mono id', text: w.wo_id }),
        h('td', null, short(w.title, 80), w.error ? h('div', { class: 'err', text: w.error.code + ': ' + short(w.error.message, 120) }) : null),
        h('td', { text: w.lane }), h('td', { text: w.type }),
        h('td', null, statusEl(w.status), w.rolled_back ? h('div', { class: 'muted', text: 'rolled back' }) : null,
          w.given_up ? h('div', { class: 'muted', text: 'given up' }) : null, w.dry_run ? h('div', { class: 'muted', text: 'dry run' }) : null),
        h('td', null, progress(w)),
        h('td', { class: 'muted', title: (w.times && w.times.received) || '', text: ago(w.times && w.times.received) })));
    });
    $('shown').textContent = rows.length + ' of ' + state.wos.length;
    if (!rows.length) tb.appendChild(h('tr', null, h('td', { colspan: 7, class: 'muted', text: state.wos.length ? 'nothing matches the filters' : 'no WOs yet' })));
  }

  function select(id) {
    state.selected = id; state.detail = state.wos.filter(function (w) { return w.wo_id === id; })[0] || null;
    renderList(); renderDetail(); refresh();
  }

  function diffPre(text) {
    var pre = h('pre', { class: 'diff' });
    String(text).replace(/\n$/, '').split('\n').forEach(function (line) {
      var c = line[0] === '+' && line.slice(0, 3) !== '+++' ? 'd-add' : line[0] === '-' && line.slice(0, 3) !== '---' ? 'd-del' : line.slice(0, 2) === '@@' ? 'd-hunk' : '';
      pre.appendChild(h('span', { class: c, text: line + '\n' }));
    });
    return pre;
  }
  function sha(s) { return s ? h('span', { class: 'mono', title: s, text: s.slice(0, 12) }) : h('span', { class: 'muted', text: '—' }); }

  function renderDetail() {
    var box = clear($('detail')), w = state.detail;
    if (!w) { box.appendChild(h('p', { class: 'muted', text: state.selected ? 'loading…' : 'Select a WO to see its files, diff, commands and tests.' })); return; }
    var t = w.times || {};
    box.appendChild(h('h2', null, h('span', { class: 'mono', text: w.wo_id }), ' ', statusEl(w.status)));
    if (w.title) box.appendChild(h('p', { text: w.title }));
    var dl = h('dl');
    [['lane', w.lane], ['type', w.type], ['priority', w.priority], ['owner', w.owner], ['attempt', w.attempt],
     ['stage', (w.stage || '') + ' (' + (w.stage_index || 0) + '/' + (w.stages_total || 0) + ')'], ['sha256', w.sha256], ['file', w.file],
     ['rolled back', w.rolled_back ? 'yes' : null], ['given up', w.given_up ? 'yes' : null], ['dry run', w.dry_run ? 'yes' : null]]
      .concat(Object.keys(t).map(function (k) { return [k, t[k]]; }))
      .forEach(function (p) { if (p[1] === undefined || p[1] === null || p[1] === '') return; dl.appendChild(h('dt', { text: p[0] })); dl.appendChild(h('dd', { class: 'mono', text: String(p[1]) })); });
    box.appendChild(dl);
    if (w.status === 'awaiting_approval') {
      var a = h('button', { class: 'approve', text: 'Approve', onclick: function () { act(w.wo_id, 'approve', a); } });
      var r = h('button', { class: 'reject', text: 'Reject', onclick: function () { act(w.wo_id, 'reject', r); } });
      box.appendChild(h('div', { class: 'held' }, h('b', { text: 'Held for approval' }), h('ul', null, (w.hold_reasons || []).map(function (x) { return h('li', { text: x }); })), a, ' ', r));
    } else if (w.status === 'running' || w.status === 'queued') {
      var c = h('button', { class: 'cancel', text: 'Cancel', onclick: function () { act(w.wo_id, 'cancel', c); } });
      box.appendChild(c);
    }
    if (w.error) { box.appendChild(h('h3', { text: 'Error' })); box.appendChild(h('pre', { class: 'err', text: w.error.code + ': ' + w.error.message })); }
    if (w.warnings && w.warnings.length) { box.appendChild(h('h3', { text: 'Warnings' })); box.appendChild(h('ul', null, w.warnings.map(function (x) { return h('li', { text: x }); }))); }
    if (w.files && w.files.length) {
      box.appendChild(h('h3', { text: 'Files' }));
      box.appendChild(h('table', null, h('thead', null, h('tr', null, ['path', 'action', 'before', 'after', 'mode'].map(function (x) { return h('th', { text: x }); }))),
        h('tbody', null, w.files.map(function (f) {
          return h('tr', null, h('td', { class: 'mono', text: f.path }), h('td', { text: f.action }), h('td', null, sha(f.before_sha256)), h('td', null, sha(f.after_sha256)), h('td', { class: 'mono', text: f.mode || '' }));
        }))));
    }
    var plan = (w.plan || []);
    if (plan.length) {
      box.appendChild(h('h3', { text: 'Plan / diff' }));
      plan.forEach(function (p) {
        box.appendChild(h('div', null, h('b', { text: p.step }), ' ', h('span', { class: 'mono', text: p.path || p.cmd || '' }), ' — ', h('i', { text: p.verdict })));
        if (p.diff) box.appendChild(diffPre(p.diff));
      });
    }
    if (w.commands && w.commands.length) {
      box.appendChild(h('h3', { text: 'Commands' }));
      w.commands.forEach(function (c) {
        var bad = c.exit_code !== 0 || c.timed_out;
        box.appendChild(h('div', null, h('span', { class: 'muted', text: c.phase + ' ' }), h('code', { text: c.cmd }), ' ',
          h('span', { class: bad ? 'err' : 'ok', text: 'exit ' + (c.exit_code === null ? '—' : c.exit_code) + (c.signal ? ' (' + c.signal + ')' : '') + (c.timed_out ? ' timed out' : '') }),
          h('span', { class: 'muted', text: ' · ' + c.duration_ms + ' ms' })));
        if (c.stdout_tail) box.appendChild(h('pre', { text: c.stdout_tail }));
        if (c.stderr_tail) box.appendChild(h('pre', { class: 'err', text: c.stderr_tail }));
      });
    }
    if (w.tests && w.tests.length) {
      box.appendChild(h('h3', { text: 'Tests' }));
      box.appendChild(h('table', null, h('thead', null, h('tr', null, ['test', 'expected', 'actual', ''].map(function (x) { return h('th', { text: x }); }))),
        h('tbody', null, w.tests.map(function (x) {
          return h('tr', null, h('td', { text: x.name }), h('td', { class: 'mono', text: x.expected }), h('td', { class: 'mono', text: x.actual }),
            h('td', { class: x.passed ? 'ok' : 'err', text: x.passed ? 'passed' : 'FAILED' }));
        }))));
    }
    if (w.attempts && w.attempts.length > 1) {
      box.appendChild(h('h3', { text: 'Attempts' }));
      box.appendChild(h('ul', null, w.attempts.map(function (x) { return h('li', { text: '#' + x.attempt + ' ' + x.status + (x.error ? ' — ' + x.error.code + ': ' + x.error.message : '') }); })));
    }
  }

  function renderEvents() {
    var ul = clear($('events'));
    state.events.forEach(function (ev) {
      ul.appendChild(h('li', null, h('span', { class: 'muted', text: (ev.ts || '').slice(11, 19) + ' ' }), h('span', { class: ev.ok === false ? 'err' : '', text: ev.event }),
        ev.wo_id ? h('span', { class: 'mono', text: ' ' + ev.wo_id }) : null));
    });
    if (!state.events.length) ul.appendChild(h('li', { class: 'muted', text: 'waiting for events…' }));
  }

  function render() { renderHeader(); renderHeld(); renderLanes(); renderList(); renderDetail(); }

  var fs = $('fStatus');
  STATUSES.forEach(function (s) { fs.appendChild(h('option', { value: s, text: s })); });
  ['fStatus', 'fLane'].forEach(function (id) { $(id).addEventListener('change', renderList); });
  $('fText').addEventListener('input', renderList);
  renderEvents();
  if (!token) { banner('No token in the address. Open the URL that "wo dashboard" prints (it ends in #token=…).'); return; }
  refresh().then(connect);
  setInterval(function () { if (!state.live) schedule(); }, 30000);
})();
`;

const BODY = String.raw`
<header>
  <h1>wo</h1>
  <span id="daemon" class="pill">daemon …</span>
  <span id="guard" class="pill">guardrail …</span>
  <span id="live" class="pill warn">connecting…</span>
  <span id="root" class="muted mono"></span>
</header>
<div id="banner" role="alert"></div>
<main>
  <div>
    <section class="card"><h2>Counts</h2><div id="counts" class="counts"></div></section>
    <section class="card" id="heldCard" hidden><h2>Held for approval</h2><div id="held"></div></section>
    <section class="card">
      <h2>Work orders <span id="shown" class="muted"></span></h2>
      <div class="filters">
        <select id="fStatus" aria-label="status"><option value="">all statuses</option></select>
        <select id="fLane" aria-label="lane"><option value="">all lanes</option></select>
        <input id="fText" type="search" placeholder="filter text (id, title, error…)" aria-label="text filter">
      </div>
      <div class="scroll"><table><thead><tr><th>id</th><th>title</th><th>lane</th><th>type</th><th>status</th><th>progress</th><th>received</th></tr></thead>
      <tbody id="rows"></tbody></table></div>
    </section>
  </div>
  <div>
    <section class="card"><div id="detail"></div></section>
    <section class="card"><h2>Guardrail</h2><dl id="guardDetail"></dl></section>
    <section class="card"><h2>Live events</h2><ul id="events" class="events"></ul></section>
  </div>
</main>
`;

const hash = (s: string) => `'sha256-${crypto.createHash('sha256').update(s, 'utf8').digest('base64')}'`;

/** The page (inline style and script, allowed by their hashes in the CSP below). */
export const PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer"><title>wo dashboard</title><link rel="icon" href="data:,">
<style>${STYLE}</style></head>
<body>${BODY}<script>${SCRIPT}</script></body></html>
`;

/** Content-Security-Policy for the page: nothing but its own inline style/script and same-origin fetches. */
export const PAGE_CSP = [
  "default-src 'none'",
  `script-src ${hash(SCRIPT)}`,
  `style-src ${hash(STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
