/** The route table: what each path answers, which methods, and whether it needs the token. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CheckFailed, UsageError } from '../errors.js';
import type { WoRecord } from '../state/record.js';
import type { StateStore } from '../state/store.js';
import type { WoIndex } from '../state/index.js';
import { parseQuery, QueryError, type WoQuery } from '../state/index-query.js';
import type { Telemetry } from '../state/telemetry.js';
import type { Metrics } from './metrics.js';
import type { WoFeed } from './feed.js';
import { HttpError } from './guard.js';
import { readBody } from './body.js';
import { BACKLOG, recentEvents, serveEvents } from './sse.js';
import { ASSETS, PAGE_CSP, readAsset } from './page.js';

/** What an action request may carry in its JSON body: a reason (every action), force (rollback). */
export interface ActBody {
  reason?: string;
  force?: boolean;
}

/** The operator actions the API calls (the daemon records channel http and its own uid as who acted). */
export interface Actions {
  approve(id: string, body?: ActBody): Promise<WoRecord>;
  reject(id: string, body?: ActBody): Promise<WoRecord>;
  cancel(id: string, body?: ActBody): Promise<WoRecord>;
  retry?(id: string, body?: ActBody): Promise<WoRecord>;
  rollback?(id: string, body?: ActBody): Promise<WoRecord>;
  /** Pause or resume claiming (every lane, or one); returns the new state. */
  pause?(p: { pause: boolean; lane?: string; reason?: string }): Promise<{ all: boolean; lanes: string[] }>;
}

export interface Readiness {
  ok: boolean;
  checks: { name: string; ok: boolean; detail?: string }[];
  /** Claiming paused by an operator: still ready (the daemon runs; it just does not claim). */
  paused?: { all: boolean; lanes: string[] };
}

/** What the routes need from the daemon. */
export interface RouteDeps {
  store: StateStore;
  /** The daemon's record index (listings read it); without one, a listing runs the same query over a scan. */
  index?: WoIndex;
  telemetry: Telemetry;
  /** Summaries of the records the daemon writes, pushed on the event stream (the dashboard's live rows). */
  feed?: WoFeed;
  actions: Actions;
  readiness: () => Promise<Readiness>;
  status: () => Promise<object>;
  metrics: Metrics;
}

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: string[];
  deps: RouteDeps;
  /** Called by long-lived responses (SSE) so `close()` can end them. */
  track(end: () => void): void;
}

type Handler = (ctx: Ctx) => Promise<void> | void;

export interface Route {
  pattern: RegExp;
  /** Under /api/: needs the bearer token. */
  auth: boolean;
  /** The token may come as `?token=` (EventSource cannot send headers). */
  queryToken?: boolean;
  methods: { GET?: Handler; POST?: Handler };
}

/** Send a JSON body. */
export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value) + '\n';
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** The heavy parts of a record (output tails, diffs, per-file rows) left out of list views, with their counts kept. */
export function summarize(r: WoRecord): Omit<WoRecord, 'commands' | 'plan' | 'files' | 'tests' | 'attempts' | 'extra' | 'running_command'> & { counts: Record<string, number> } {
  const { commands, plan, files, tests, attempts, extra: _extra, running_command: _rc, ...rest } = r;
  return {
    ...rest,
    counts: { commands: commands?.length ?? 0, files: files?.length ?? 0, tests: tests?.length ?? 0, tests_failed: tests?.filter((t) => !t.passed).length ?? 0, plan: plan?.length ?? 0, attempts: attempts?.length ?? 0 },
  };
}

/** Why: `/api/wos` checks its query once — the listing filters (index-query) plus `view`; bad input is a 400. */
export function parseListQuery(url: URL, now = new Date()): { q: WoQuery; view: 'full' | 'summary' | 'items' } {
  const view = url.searchParams.get('view') ?? 'full';
  if (view !== 'full' && view !== 'summary' && view !== 'items') throw new HttpError(400, `view must be full, summary or items, got ${JSON.stringify(view)}`);
  const input: Record<string, string> = {};
  for (const k of ['status', 'lane', 'type', 'owner', 'q', 'since', 'limit', 'cursor']) {
    const v = url.searchParams.get(k);
    if (v !== null) input[k] = v;
  }
  try {
    return { q: parseQuery(input, { now }), view };
  } catch (err) {
    if (err instanceof QueryError) throw new HttpError(400, err.message);
    throw err;
  }
}

/** Why: an action's body is optional JSON; say exactly what is wrong with it (400) rather than ignore it. */
export function parseBody(raw: Buffer, allowed: readonly string[]): Record<string, unknown> {
  const text = raw.toString('utf8').trim();
  if (!text) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'the request body is not JSON (send {"reason": "..."} or nothing)');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'the request body must be a JSON object');
  const o = v as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !allowed.includes(k));
  if (unknown.length) throw new HttpError(400, `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => JSON.stringify(k)).join(', ')}; this request takes ${allowed.map((k) => JSON.stringify(k)).join(', ')}`);
  if (o.reason !== undefined && o.reason !== null && typeof o.reason !== 'string') throw new HttpError(400, '"reason" must be a string');
  if (o.force !== undefined && typeof o.force !== 'boolean') throw new HttpError(400, '"force" must be true or false');
  if (o.lane !== undefined && typeof o.lane !== 'string') throw new HttpError(400, '"lane" must be a string');
  return o;
}

/** Errors of the action layer as HTTP: wrong state ⇒ 409, bad input ⇒ 400. */
async function asHttp<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof CheckFailed) throw new HttpError(409, err.message);
    if (err instanceof UsageError) throw new HttpError(400, err.message);
    throw err;
  }
}

type WoAction = 'approve' | 'reject' | 'retry' | 'cancel' | 'rollback';

async function act(ctx: Ctx): Promise<void> {
  const [id, action] = ctx.params as [string, WoAction];
  const body = parseBody(await readBody(ctx.req), action === 'rollback' ? ['reason', 'force'] : ['reason']);
  await recordOr404(ctx.deps.store, id);
  const run = ctx.deps.actions[action];
  if (!run) throw new HttpError(404, `${action} is not available here`);
  const opts: ActBody = { ...(typeof body.reason === 'string' ? { reason: body.reason } : {}), ...(body.force === true ? { force: true } : {}) };
  sendJson(ctx.res, 200, await asHttp(() => run(id, opts)));
}

/** POST /api/pause and /api/resume: `{"lane"?, "reason"?}` → `{"paused": {all, lanes}}`. */
function pauseRoute(pause: boolean): Handler {
  return async (ctx) => {
    const body = parseBody(await readBody(ctx.req), ['lane', 'reason']);
    const run = ctx.deps.actions.pause;
    if (!run) throw new HttpError(404, 'pausing is not available here');
    const state = await asHttp(() => run({ pause, ...(typeof body.lane === 'string' ? { lane: body.lane } : {}), ...(typeof body.reason === 'string' ? { reason: body.reason } : {}) }));
    sendJson(ctx.res, 200, { paused: { all: state.all, lanes: state.lanes } });
  };
}

/** The record of `id`: 404 when there is none, 409 when a file that is not a wo record sits at its path. */
async function recordOr404(store: StateStore, id: string): Promise<WoRecord> {
  const got = await store.inspect(id);
  if (got.kind === 'absent') throw new HttpError(404, `no WO with id ${JSON.stringify(id)}`);
  if (got.kind === 'foreign') throw new HttpError(409, `${got.file} is not a wo record: it ${got.why} (left untouched)`);
  return got.record;
}

/** The dashboard's files (page.ts), each with the page's CSP. */
async function serveAsset({ res, url }: Ctx): Promise<void> {
  const asset = ASSETS[url.pathname];
  if (!asset) throw new HttpError(404, `no such route: ${url.pathname}`);
  const body = await readAsset(asset.file);
  res.writeHead(200, { 'Content-Type': asset.type, 'Content-Security-Policy': PAGE_CSP, 'X-Frame-Options': 'DENY', 'Content-Length': body.length });
  res.end(body);
}

const ID = '([A-Za-z0-9._-]{1,128})';

/** Every route the server answers. */
export const ROUTES: Route[] = [
  { pattern: /^\/$/, auth: false, methods: { GET: serveAsset } },
  { pattern: /^\/dashboard\.js$/, auth: false, methods: { GET: serveAsset } },
  { pattern: /^\/dashboard\.css$/, auth: false, methods: { GET: serveAsset } },
  { pattern: /^\/healthz$/, auth: false, methods: { GET: ({ res }) => sendJson(res, 200, { ok: true }) } },
  {
    pattern: /^\/readyz$/,
    auth: false,
    methods: {
      GET: async ({ res, deps }) => {
        const r = await deps.readiness();
        const paused = r.paused ? { paused: r.paused } : {};
        if (r.ok) sendJson(res, 200, { ok: true, ready: true, ...paused, checks: r.checks });
        else sendJson(res, 503, { ok: false, ready: false, failing: r.checks.filter((c) => !c.ok), ...paused, checks: r.checks });
      },
    },
  },
  {
    pattern: /^\/metrics$/,
    auth: false,
    methods: {
      GET: async ({ res, deps }) => {
        const { contentType, body } = await deps.metrics.render();
        res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      },
    },
  },
  {
    pattern: /^\/api\/wos$/,
    auth: true,
    methods: {
      GET: async ({ res, url, deps }) => {
        const { q, view } = parseListQuery(url);
        let index = deps.index;
        if (!index) {
          const { WoIndex } = await import('../state/index.js');
          const { records, unreadable } = await deps.store.scan();
          index = WoIndex.fromScan(records, unreadable);
        }
        let page: ReturnType<WoIndex['query']>, unreadable: ReturnType<WoIndex['unreadable']>;
        try {
          page = index.query(q);
          unreadable = index.unreadable();
        } finally {
          if (index !== deps.index) index.close();
        }
        // `wos` (records of this page, full or summarized) keeps older clients working; view=items leaves it out.
        const wos = view === 'items' ? undefined : (await Promise.all(page.items.map((i) => deps.store.read(i.wo_id)))).filter((r): r is WoRecord => r !== undefined);
        // Files in the state folder that are not wo records are listed apart, never mixed into the items.
        sendJson(res, 200, { items: page.items, next_cursor: page.next_cursor, total: page.total, ...(wos ? { wos: view === 'summary' ? wos.map(summarize) : wos } : {}), unreadable });
      },
    },
  },
  {
    pattern: new RegExp(`^/api/wos/${ID}$`),
    auth: true,
    methods: {
      GET: async ({ res, params, deps }) => {
        sendJson(res, 200, await recordOr404(deps.store, params[0]!));
      },
    },
  },
  { pattern: new RegExp(`^/api/wos/${ID}/(approve|reject|retry|cancel|rollback)$`), auth: true, methods: { POST: act } },
  { pattern: /^\/api\/pause$/, auth: true, methods: { POST: pauseRoute(true) } },
  { pattern: /^\/api\/resume$/, auth: true, methods: { POST: pauseRoute(false) } },
  { pattern: /^\/api\/status$/, auth: true, methods: { GET: async ({ res, deps }) => sendJson(res, 200, await deps.status()) } },
  {
    pattern: /^\/api\/events$/,
    auth: true,
    queryToken: true,
    methods: {
      GET: ({ req, res, deps, track }) => {
        if (req.method === 'HEAD') {
          res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8' });
          res.end();
          return;
        }
        // The backlog is read and the live listener added in the same tick: no event is lost or sent twice.
        track(serveEvents(req, res, deps.telemetry.bus, undefined, recentEvents(deps.telemetry.file, BACKLOG), deps.feed?.bus));
      },
    },
  },
];

/** Find the route for a path: the route and its captured params, or undefined. */
export function matchRoute(pathname: string): { route: Route; params: string[] } | undefined {
  for (const route of ROUTES) {
    const m = route.pattern.exec(pathname);
    if (m) return { route, params: m.slice(1).map((p) => p ?? '') };
  }
  return undefined;
}
