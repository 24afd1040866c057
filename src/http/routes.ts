/** The route table: what each path answers, which methods, and whether it needs the token. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CheckFailed, UsageError } from '../errors.js';
import { STATUSES, type Status, type WoRecord } from '../state/record.js';
import type { StateStore } from '../state/store.js';
import type { Telemetry } from '../state/telemetry.js';
import type { Metrics } from './metrics.js';
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
  telemetry: Telemetry;
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

/** Parse and check the /api/wos query (unknown status or a bad limit ⇒ 400). */
export function parseWoQuery(url: URL): { statuses: Set<Status> | null; lane: string | null; limit: number | null; summary: boolean } {
  const statusText = url.searchParams.get('status');
  let statuses: Set<Status> | null = null;
  if (statusText) {
    const wanted = statusText.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = wanted.filter((s) => !(STATUSES as readonly string[]).includes(s));
    if (bad.length) throw new HttpError(400, `unknown status ${bad.map((b) => JSON.stringify(b)).join(', ')}; expected one of ${STATUSES.join(', ')}`);
    statuses = new Set(wanted as Status[]);
  }
  const lane = url.searchParams.get('lane') || null;
  const limitText = url.searchParams.get('limit');
  let limit: number | null = null;
  if (limitText) {
    if (!/^\d{1,7}$/.test(limitText) || Number(limitText) < 1) throw new HttpError(400, `limit must be a positive integer, got ${JSON.stringify(limitText)}`);
    limit = Number(limitText);
  }
  const view = url.searchParams.get('view') ?? 'full';
  if (view !== 'full' && view !== 'summary') throw new HttpError(400, `view must be full or summary, got ${JSON.stringify(view)}`);
  return { statuses, lane, limit, summary: view === 'summary' };
}

/** The heavy parts of a record (output tails, diffs, per-file rows) left out of list views, with their counts kept. */
export function summarize(r: WoRecord): Omit<WoRecord, 'commands' | 'plan' | 'files' | 'tests' | 'attempts' | 'extra' | 'running_command'> & { counts: Record<string, number> } {
  const { commands, plan, files, tests, attempts, extra: _extra, running_command: _rc, ...rest } = r;
  return {
    ...rest,
    counts: { commands: commands?.length ?? 0, files: files?.length ?? 0, tests: tests?.length ?? 0, tests_failed: tests?.filter((t) => !t.passed).length ?? 0, plan: plan?.length ?? 0, attempts: attempts?.length ?? 0 },
  };
}

/** Filter records (already newest first) by the query. */
export function filterWos(recs: WoRecord[], q: ReturnType<typeof parseWoQuery>): WoRecord[] {
  const out = recs.filter((r) => (!q.statuses || q.statuses.has(r.status)) && (!q.lane || r.lane === q.lane));
  return q.limit === null ? out : out.slice(0, q.limit);
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
        const q = parseWoQuery(url);
        const { records, unreadable } = await deps.store.scan();
        const wos = filterWos(records, q);
        // Files in the state folder that are not wo records are listed apart, never mixed into `wos`.
        sendJson(res, 200, { wos: q.summary ? wos.map(summarize) : wos, unreadable });
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
        track(serveEvents(req, res, deps.telemetry.bus, undefined, recentEvents(deps.telemetry.file, BACKLOG)));
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
