/**
 * Pure pieces of the record index (no I/O): a record → its index row, a listing's filters → SQL with a keyset
 * cursor (newest `received` first, ties by wo_id), and the cursor's opaque encoding.
 */
import { STATUSES, type Status, type WoRecord } from './record.js';

/** One row of the `wos` table. */
export interface IndexRow {
  wo_id: string;
  status: string;
  stage: string;
  lane: string;
  type: string;
  priority: string;
  owner: string | null;
  title: string;
  error_code: string | null;
  received: string;
  started: string | null;
  finished: string | null;
  attempt: number;
  duration_ms: number | null;
  /** JSON of `summary` (what listings return). */
  summary: string;
}

/** What a listing returns per WO: the compact view of a record (status.ts `summary` plus owner/started/duration). */
export function summaryOf(r: WoRecord) {
  const started = r.times?.started;
  const finished = r.times?.finished;
  return {
    wo_id: r.wo_id,
    title: r.title,
    lane: r.lane,
    type: r.type,
    priority: r.priority,
    ...(r.owner ? { owner: r.owner } : {}),
    status: r.status,
    stage: r.stage,
    stage_index: r.stage_index,
    stages_total: r.stages_total,
    attempt: r.attempt,
    received: r.times?.received,
    ...(started ? { started } : {}),
    finished,
    ...(started && finished ? { duration_ms: Math.max(0, Date.parse(finished) - Date.parse(started)) } : {}),
    ...(r.error ? { error: r.error } : {}),
    ...(r.hold_reasons ? { hold_reasons: r.hold_reasons } : {}),
    ...(r.dry_run ? { dry_run: true } : {}),
    ...(r.given_up ? { given_up: true } : {}),
  };
}
export type WoSummary = ReturnType<typeof summaryOf>;

/** Why: the one mapping from a record to its index row (daemon updates and rebuilds use it). */
export function rowOf(r: WoRecord): IndexRow {
  const s = summaryOf(r);
  return {
    wo_id: r.wo_id,
    status: r.status,
    stage: r.stage,
    lane: r.lane ?? '',
    type: r.type ?? '',
    priority: r.priority ?? '',
    owner: r.owner ?? null,
    title: r.title ?? '',
    error_code: r.error?.code ?? null,
    received: r.times?.received ?? '',
    started: r.times?.started ?? null,
    finished: r.times?.finished ?? null,
    attempt: r.attempt ?? 0,
    duration_ms: s.duration_ms ?? null,
    summary: JSON.stringify(s),
  };
}

/** A listing's filters, checked. */
export interface WoQuery {
  statuses?: Status[];
  lane?: string;
  type?: string;
  owner?: string;
  /** Substring of the title (case-insensitive) or of the wo_id. */
  q?: string;
  /** ISO time: received at or after. */
  since?: string;
  limit: number;
  cursor?: { received: string; wo_id: string };
}

/** A listing's input is wrong (HTTP 400, CLI usage error). */
export class QueryError extends Error {}

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;

/** Why: the cursor is opaque to clients (base64url of the last row's (received, wo_id)); decoding checks its shape. */
export function encodeCursor(received: string, woId: string): string {
  return Buffer.from(JSON.stringify([received, woId]), 'utf8').toString('base64url');
}

export function decodeCursor(text: string): { received: string; wo_id: string } {
  let v: unknown;
  try {
    if (!/^[A-Za-z0-9_-]{1,2000}$/.test(text)) throw new Error('not base64url');
    v = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new QueryError(`cursor ${JSON.stringify(text.slice(0, 60))} is not a cursor this listing gave out`);
  }
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'string' || typeof v[1] !== 'string') throw new QueryError('cursor is not a cursor this listing gave out');
  return { received: v[0], wo_id: v[1] };
}

const AGE_RE = /^(\d{1,9})\s*([smhdw])$/;
const AGE_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** `since`: an ISO date/time, or an age back from `now` (30m, 2h, 7d, 1w). */
export function parseSince(text: string, now: Date): string {
  const m = AGE_RE.exec(text.trim());
  if (m) return new Date(now.getTime() - Number(m[1]) * AGE_MS[m[2] as keyof typeof AGE_MS]).toISOString();
  const t = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (Number.isNaN(t)) throw new QueryError(`since ${JSON.stringify(text.slice(0, 60))}: give an ISO date/time (2026-01-31 or 2026-01-31T12:00:00Z) or an age (30m, 2h, 7d)`);
  return new Date(t).toISOString();
}

/** Why: the one check of a listing's filters, shared by `wo ls` and `GET /api/wos` (unknown keys are the caller's concern). */
export function parseQuery(input: Record<string, string | undefined>, opts: { now: Date; defaultLimit?: number; maxLimit?: number } = { now: new Date() }): WoQuery {
  const max = opts.maxLimit ?? MAX_LIMIT;
  const out: WoQuery = { limit: opts.defaultLimit ?? DEFAULT_LIMIT };
  const text = (k: string): string | undefined => {
    const v = input[k];
    if (v === undefined || v === '') return undefined;
    if (v.length > 1000) throw new QueryError(`${k} is longer than 1000 characters`);
    return v;
  };
  const status = text('status');
  if (status !== undefined) {
    const wanted = status.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = wanted.filter((s) => !(STATUSES as readonly string[]).includes(s));
    if (bad.length) throw new QueryError(`unknown status ${bad.map((b) => JSON.stringify(b)).join(', ')}; expected one of ${STATUSES.join(', ')}`);
    if (wanted.length) out.statuses = [...new Set(wanted)] as Status[];
  }
  for (const k of ['lane', 'type', 'owner', 'q'] as const) {
    const v = text(k);
    if (v !== undefined) out[k] = v;
  }
  const since = text('since');
  if (since !== undefined) out.since = parseSince(since, opts.now);
  const limit = text('limit');
  if (limit !== undefined) {
    if (!/^\d{1,7}$/.test(limit) || Number(limit) < 1 || Number(limit) > max) throw new QueryError(`limit must be an integer from 1 to ${max}, got ${JSON.stringify(limit)}`);
    out.limit = Number(limit);
  }
  const cursor = text('cursor');
  if (cursor !== undefined) out.cursor = decodeCursor(cursor);
  return out;
}

/** Filters as SQL (shared by the page and its total). */
function where(q: WoQuery, withCursor: boolean): { sql: string; params: unknown[] } {
  const conds: string[] = [];
  const params: unknown[] = [];
  if (q.statuses?.length) {
    conds.push(`status IN (${q.statuses.map(() => '?').join(',')})`);
    params.push(...q.statuses);
  }
  for (const k of ['lane', 'type', 'owner'] as const) {
    if (q[k] !== undefined) {
      conds.push(`${k} = ?`);
      params.push(q[k]);
    }
  }
  if (q.q !== undefined) {
    conds.push('(instr(lower(title), lower(?)) > 0 OR instr(wo_id, ?) > 0)');
    params.push(q.q, q.q);
  }
  if (q.since !== undefined) {
    conds.push('received >= ?');
    params.push(q.since);
  }
  if (withCursor && q.cursor) {
    // A row value: SQLite seeks the (…, received, wo_id) index to it. The equivalent OR form scanned the
    // index from the top, so a page N rows deep cost O(N) (35 ms half-way through a million).
    conds.push('(received, wo_id) < (?, ?)');
    params.push(q.cursor.received, q.cursor.wo_id);
  }
  return { sql: conds.length ? ` WHERE ${conds.join(' AND ')}` : '', params };
}

/** Why: a page is a keyset query (no OFFSET: a deep page costs what the first does); one row more tells if there is a next page. */
export function buildQuery(q: WoQuery): { page: { sql: string; params: unknown[] }; total: { sql: string; params: unknown[] } | null } {
  const w = where(q, true);
  const page = { sql: `SELECT wo_id, received, summary FROM wos${w.sql} ORDER BY received DESC, wo_id DESC LIMIT ?`, params: [...w.params, q.limit + 1] };
  // Unfiltered or by status only: the total comes from the counts table (no scan).
  const onlyStatus = q.lane === undefined && q.type === undefined && q.owner === undefined && q.q === undefined && q.since === undefined;
  if (onlyStatus) return { page, total: null };
  const t = where(q, false);
  return { page, total: { sql: `SELECT count(*) AS n FROM wos${t.sql}`, params: t.params } };
}
