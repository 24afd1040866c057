/**
 * The CLI → daemon control channel: request files in g/run/control/ (0700, so file permissions are the
 * authentication), answered by reply files. The HTTP API calls the same actions in-process.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import { CheckFailed, HeldOrDown, TimedOut, UsageError } from '../errors.js';
import { readJson, writeJsonAtomic } from '../util/fsx.js';
import type { WoRecord } from '../state/record.js';
import { ACTIONS, MAX_REASON_CHARS, type CancelAllResult } from './actions.js';
import type { PauseState } from './pause.js';
import { LANE_RE } from '../config/schema.js';
import type { RetentionResult } from '../retention/run.js';

/** What the control channel carries: the WO actions, plus pause/resume of claiming and `wo index rebuild`. */
export const CONTROL_ACTIONS = [...ACTIONS, 'pause', 'resume', 'index-rebuild', 'prune'] as const;
export type ControlAction = (typeof CONTROL_ACTIONS)[number];

export interface ControlRequest {
  action: ControlAction;
  /** Every WO action but `cancel` with `all`. */
  wo_id?: string;
  force?: boolean;
  /** Why (stored in the record's `actions`). */
  reason?: string;
  /** The sender's uid (informational: the daemon records the request file's owner). */
  uid?: number;
  /** `cancel --all`: every queued and running WO (of `lane`). */
  all?: boolean;
  /** pause/resume one lane; `cancel --all` of one lane. */
  lane?: string;
  /** prune: one age in days for every file (`--older-than`), else the config's retention. */
  older_than_days?: number;
  /** prune: plan only. */
  dry_run?: boolean;
}

export interface ControlReply {
  ok: boolean;
  record?: WoRecord;
  paused?: PauseState;
  cancelled?: CancelAllResult;
  /** index-rebuild: what the rebuilt index holds. */
  index?: { rows: number; unreadable: number; ms: number };
  /** prune: what retention removed (or would). */
  pruned?: RetentionResult;
  error?: { kind: 'usage' | 'check' | 'other'; message: string };
}

/** The answer a handled request gets (besides ok). */
export type ControlAnswer = Pick<ControlReply, 'record' | 'paused' | 'cancelled' | 'index' | 'pruned'>;

/** The control folder of a run dir. */
export function controlDir(runDir: string): string {
  return path.join(runDir, 'control');
}

const MAX_REQUEST_BYTES = 64 * 1024;
const ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

/** Why: the CLI writes requests, but anything may appear in the folder; say what is wrong in one line. */
export function requestProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'is not a JSON object';
  const v = value as Record<string, unknown>;
  if (!CONTROL_ACTIONS.includes(v.action as ControlAction)) return `has action ${JSON.stringify(v.action) ?? 'undefined'}; expected one of ${CONTROL_ACTIONS.join(', ')}`;
  const needsId = (ACTIONS as readonly string[]).includes(v.action as string) && !(v.action === 'cancel' && v.all === true);
  if (needsId || v.wo_id !== undefined) {
    if (typeof v.wo_id !== 'string' || !ID_RE.test(v.wo_id)) return `has wo_id ${JSON.stringify(v.wo_id) ?? 'undefined'}; expected letters, digits, . _ - (at most 128)`;
  }
  if (v.force !== undefined && typeof v.force !== 'boolean') return 'has a force that is not true or false';
  if (v.all !== undefined && (v.all !== true || v.action !== 'cancel' || v.wo_id !== undefined)) return 'has "all", which only cancel takes, as true, without a wo_id';
  if (v.lane !== undefined && (typeof v.lane !== 'string' || !LANE_RE.test(v.lane) || !(v.action === 'pause' || v.action === 'resume' || v.all === true))) return 'has a lane that is not a lane name or does not apply (pause, resume, cancel --all)';
  if (v.reason !== undefined && (typeof v.reason !== 'string' || v.reason.length > MAX_REASON_CHARS * 4)) return 'has a reason that is not a string (or is far too long)';
  if (v.uid !== undefined && !Number.isSafeInteger(v.uid)) return 'has a uid that is not an integer';
  if (v.older_than_days !== undefined && (v.action !== 'prune' || typeof v.older_than_days !== 'number' || !(v.older_than_days >= 0))) return 'has older_than_days, which only prune takes, as a number ≥ 0';
  if (v.dry_run !== undefined && (v.action !== 'prune' || typeof v.dry_run !== 'boolean')) return 'has dry_run, which only prune takes, as true or false';
  return undefined;
}

type Read = { kind: 'gone' } | { kind: 'ok'; req: ControlRequest; owner: number } | { kind: 'bad'; why: string; file: boolean };

/** Read one request without following links or blocking on a FIFO. */
async function readRequest(file: string): Promise<Read> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | (fs.constants.O_NONBLOCK ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'gone' };
    if (code === 'ELOOP' || code === 'EMLINK') return { kind: 'bad', why: 'is a symbolic link', file: false };
    return { kind: 'bad', why: `cannot be opened (${code ?? 'error'})`, file: true };
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) return { kind: 'bad', why: 'is a folder', file: false };
    if (!st.isFile()) return { kind: 'bad', why: 'is not a regular file', file: false };
    if (st.size > MAX_REQUEST_BYTES) return { kind: 'bad', why: `is ${st.size} bytes, over ${MAX_REQUEST_BYTES}`, file: true };
    let value: unknown;
    try {
      value = JSON.parse(await fh.readFile('utf8'));
    } catch (err) {
      return { kind: 'bad', why: err instanceof SyntaxError ? 'is not JSON' : `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, file: true };
    }
    const why = requestProblem(value);
    return why ? { kind: 'bad', why, file: true } : { kind: 'ok', req: value as ControlRequest, owner: st.uid };
  } catch (err) {
    return { kind: 'bad', why: `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, file: true };
  } finally {
    await fh.close().catch(() => {});
  }
}

/**
 * Daemon side: watch for requests and answer each once; a bad one is answered or moved aside once, logged once.
 * `owner` is the request file's owner uid: who acted (the folder is 0700, so it cannot be claimed falsely).
 */
export function serveControl(runDir: string, handle: (req: ControlRequest, owner: number) => Promise<ControlAnswer>, log: (msg: string) => void): { close(): void; poke(): void } {
  const dir = controlDir(runDir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const inFlight = new Set<string>();
  /** Names that could be neither removed nor moved aside: never looked at again by this daemon. */
  const stuck = new Set<string>();
  const answer = async (n: string, reply: ControlReply) => {
    await writeJsonAtomic(path.join(dir, n.replace(/\.req\.json$/, '.reply.json')), reply).catch(() => {});
  };
  /** Remove a request; one that is not a file (a folder, a link, a FIFO) is renamed aside, never deleted. */
  const dispose = async (n: string, isFile: boolean) => {
    const file = path.join(dir, n);
    if (isFile && (await fsp.unlink(file).then(() => true, (err: NodeJS.ErrnoException) => err.code === 'ENOENT'))) return;
    const aside = path.join(dir, `${n}.refused-${Date.now()}-${crypto.randomBytes(3).toString('hex')}`);
    if (await fsp.rename(file, aside).then(() => true, (err: NodeJS.ErrnoException) => err.code === 'ENOENT')) return;
    stuck.add(n);
  };
  const one = async (n: string) => {
    const got = await readRequest(path.join(dir, n));
    if (got.kind === 'gone') return;
    if (got.kind === 'bad') {
      log(`control request ${JSON.stringify(n)} refused: it ${got.why}${got.file ? '' : ' (moved aside)'}`);
      if (got.file) await answer(n, { ok: false, error: { kind: 'usage', message: `malformed control request: it ${got.why}` } });
      await dispose(n, got.file);
      return;
    }
    let reply: ControlReply;
    try {
      reply = { ok: true, ...(await handle(got.req, got.owner)) };
    } catch (err) {
      const kind = err instanceof UsageError ? 'usage' : err instanceof CheckFailed ? 'check' : 'other';
      reply = { ok: false, error: { kind, message: err instanceof Error ? err.message : String(err) } };
      if (kind === 'other') log(`control request ${JSON.stringify(n)} failed: ${String(err)}`);
    }
    await answer(n, reply);
    await dispose(n, true);
  };
  const scan = async () => {
    let names: string[];
    try {
      names = await fsp.readdir(dir);
    } catch {
      return;
    }
    for (const n of names) {
      if (!n.endsWith('.req.json') || n.startsWith('.') || inFlight.has(n) || stuck.has(n)) continue;
      inFlight.add(n);
      void one(n)
        .catch((err) => {
          stuck.add(n); // said once, not retried every second
          log(`control request ${JSON.stringify(n)} failed: ${String(err)}`);
        })
        .finally(() => inFlight.delete(n));
    }
    for (const n of stuck) if (!names.includes(n)) stuck.delete(n);
  };
  const watcher = fs.watch(dir, () => void scan());
  watcher.on('error', () => {});
  const timer = setInterval(() => void scan(), 1000);
  timer.unref();
  void scan();
  return {
    close: () => {
      watcher.close();
      clearInterval(timer);
    },
    poke: () => void scan(),
  };
}

/** CLI side: send a request and wait for its reply. */
export async function sendControl(runDir: string, req: ControlRequest, timeoutMs: number, alive: () => boolean): Promise<ControlReply> {
  const dir = controlDir(runDir);
  const id = `${Date.now()}-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
  const reqFile = path.join(dir, `${id}.req.json`);
  const replyFile = path.join(dir, `${id}.reply.json`);
  await writeJsonAtomic(reqFile, req);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const reply = await readJson<ControlReply>(replyFile).catch(() => undefined);
      if (reply) return reply;
      if (Date.now() > deadline) throw new TimedOut(`the daemon did not answer within ${Math.round(timeoutMs / 1000)} s`);
      if (!alive()) throw new HeldOrDown('the daemon stopped before answering');
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    await fsp.unlink(replyFile).catch(() => {});
    await fsp.unlink(reqFile).catch(() => {});
  }
}
