/**
 * The transition journal: the one owner of every durable WO transition and of the names of every place a WO
 * file goes. The rule, for every transition: the record (new status, and the file's destination) is durable
 * first, then the terminal telemetry, then the file move. Recovery scans processing/ and hold/, and a file
 * there whose record names another place is moved where the record says (the one invariant it checks); an
 * event written before the move is found by recovery and never written twice. Transitions whose source
 * recovery does not scan (an operator's rollback of a succeeded WO) leave an intent in g/followup/intents/
 * first. Work after a commit (guardrail re-vault, notify, metrics) runs through `afterCommit`: its failure is
 * logged, never turned into a rollback.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Status, WoRecord } from '../state/record.js';
import type { ErrorCode } from '../errors.js';
import { exists, freePath, fsyncDir, readJson, splitExt, writeJsonAtomic } from '../util/fsx.js';
import { TERMINAL } from '../state/record.js';
import { newRecord, save, type Job, type Runtime } from './runtime.js';

/** Allowed status changes (a same-status transition is a move or a progress write). */
export const TRANSITIONS: Readonly<Record<Status, readonly Status[]>> = {
  queued: ['running', 'awaiting_approval', 'rejected', 'cancelled', 'failed', 'succeeded'],
  awaiting_approval: ['queued', 'rejected', 'cancelled'],
  running: ['succeeded', 'failed', 'cancelled', 'queued', 'routed'],
  succeeded: ['reverted'],
  failed: ['queued'],
  rejected: ['queued'],
  cancelled: ['queued'],
  reverted: ['queued'],
  routed: [],
};

/** Why: a transition the table does not allow is a bug in the daemon, never something to persist. */
export function assertTransition(from: Status, to: Status, id: string): void {
  if (from !== to && !TRANSITIONS[from].includes(to)) throw new Error(`internal: WO ${id} cannot go from ${from} to ${to}`);
}

/** Every place a WO file is moved to by the daemon. */
export type Place =
  | { kind: 'archive'; attempt: number }
  | { kind: 'duplicate'; n: number }
  | { kind: 'hold' }
  | { kind: 'rejected' }
  | { kind: 'processing'; lane: string };

/** Why: one naming function for archive, duplicate, hold, rejected and processing names (SPEC §4). */
export function placeOf(rt: Runtime, place: Place, id: string, file: string, sourceName?: string): { dir: string; name: string } {
  const { ext } = splitExt(path.basename(file));
  const dot = ext ? `.${ext}` : '';
  switch (place.kind) {
    case 'archive':
      return { dir: rt.L.archive, name: `${id}.${place.attempt}${dot}` };
    case 'duplicate':
      return { dir: rt.L.archive, name: `${id}.dup-${place.n}${dot}` };
    case 'hold':
      return { dir: rt.L.hold, name: `${id}${dot}` };
    case 'rejected':
      return { dir: rt.L.rejected, name: sourceName ?? path.basename(file) };
    case 'processing':
      return { dir: path.join(rt.L.processing, place.lane), name: sourceName ?? path.basename(file) };
  }
}

/** Test-only fault injection: `WO_TEST_CRASH_AT=<transition>:<point>` kills the daemon there (kill -9 semantics). */
const CRASH_AT = process.env.WO_TEST_CRASH_AT;
/** Test-only fault injection: `WO_TEST_FAIL_AT=after-commit:<what>` makes that post-commit step throw. */
const FAIL_AT = process.env.WO_TEST_FAIL_AT;
export function crashPoint(point: string): void {
  if (CRASH_AT !== undefined && CRASH_AT === point) process.kill(process.pid, 'SIGKILL');
}

export interface RejectReason {
  code: ErrorCode;
  errors: { path: string; message: string }[];
}

export interface TransitionOptions {
  /** The transition's name (for crash points and messages): hold, approve, reject, cancel, archive, … */
  name: string;
  /**
   * Move the WO file from here to a fresh name at `place`. `link: true` is for a source recovery does not scan
   * (archive/ on retry): the new name is linked before the record is written and the old one unlinked after,
   * so at every instant the file is where the record says (and a crash leaves a claimable copy, not a gap).
   */
  move?: { from: string; place: Place; sourceName?: string; link?: boolean };
  /** For rejected/: the `<name>.reason.json` written beside the file (before the move). */
  reason?: RejectReason;
  /** The telemetry of this transition, written after the record and before the move. */
  announce?: (dest: string | undefined) => void;
}

/** A destination that does not exist yet (`name`, then `stem.1.ext`, …); for rejected/ its `.reason.json` too. */
async function freeDest(dir: string, name: string, withReason: boolean): Promise<string> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return freePath(dir, name, withReason ? (p) => [`${p}.reason.json`] : undefined);
}

/**
 * Why: the one write-ahead rule. Sets the status, names the destination in the record, makes the record
 * durable, writes the reason and the telemetry, then moves the file. Once the record is durable the
 * transition stands: a failure after it (a move refused by the disk) is logged and left for recovery, which
 * moves the file where the record says. Returns the destination and whether the file is there now.
 */
export async function transition(rt: Runtime, rec: WoRecord, to: Status, opts: TransitionOptions): Promise<{ dest?: string; moved: boolean }> {
  assertTransition(rec.status, to, rec.wo_id);
  const before = { status: rec.status, file: rec.file };
  let dest: string | undefined;
  if (opts.move) {
    const { dir, name } = placeOf(rt, opts.move.place, rec.wo_id, opts.move.from, opts.move.sourceName);
    dest = await freeDest(dir, name, opts.reason !== undefined);
  }
  const link = opts.move?.link === true && dest !== undefined;
  if (link) {
    fs.linkSync(opts.move!.from, dest!);
    await fsyncDir(path.dirname(dest!));
    crashPoint(`${opts.name}:link`);
  }
  rec.status = to;
  if (dest) rec.file = path.relative(rt.L.root, dest);
  try {
    await save(rt, rec);
  } catch (err) {
    Object.assign(rec, before); // not durable: the transition did not happen
    if (link) await fsp.unlink(dest!).catch(() => {});
    throw err;
  }
  crashPoint(`${opts.name}:record`);
  try {
    if (dest && opts.reason) await writeReason(rt, dest, opts.reason, rec.wo_id);
    opts.announce?.(dest);
    crashPoint(`${opts.name}:event`);
    if (opts.move && dest) (link ? fs.unlinkSync(opts.move.from) : fs.renameSync(opts.move.from, dest));
    crashPoint(`${opts.name}:move`);
    return { ...(dest ? { dest } : {}), moved: true };
  } catch (err) {
    rt.log.error({ wo_id: rec.wo_id, transition: opts.name, err: String(err) }, 'a transition is recorded but its file move failed; recovery finishes it at the next start');
    return { ...(dest ? { dest } : {}), moved: false };
  }
}

/**
 * Move a file that has no record to change: a duplicate (the record stays as it was), or a file refused with
 * no usable id (rejected/ with its reason). A crash before the move leaves the file in processing/, where
 * recovery admits it again and it ends the same way.
 */
export async function moveUnrecorded(rt: Runtime, file: string, place: Place, opts: { name: string; id?: string; sourceName?: string; reason?: RejectReason }): Promise<string> {
  let { dir, name } = placeOf(rt, place, opts.id ?? '', file, opts.sourceName);
  // The n-th duplicate of an id is `<id>.dup-<n>`: the first n not taken (n counts the duplicates archived so far).
  if (place.kind === 'duplicate') {
    for (let n = place.n; await exists(path.join(dir, name)); n++) name = placeOf(rt, { kind: 'duplicate', n: n + 1 }, opts.id ?? '', file).name;
  }
  const dest = await freeDest(dir, name, opts.reason !== undefined);
  if (opts.reason) await writeReason(rt, dest, opts.reason, opts.id);
  crashPoint(`${opts.name}:record`);
  fs.renameSync(file, dest);
  await Promise.all([fsyncDir(path.dirname(file)), fsyncDir(dir)]).catch(() => {});
  crashPoint(`${opts.name}:move`);
  return dest;
}

async function writeReason(rt: Runtime, dest: string, reason: RejectReason, id: string | undefined): Promise<void> {
  await writeJsonAtomic(`${dest}.reason.json`, { file: path.basename(dest), ...(id ? { wo_id: id } : {}), code: reason.code, errors: reason.errors, ts: rt.now().toISOString() });
}

/** Why: work after a durable commit must never undo it; a failure there is logged and left. */
export async function afterCommit(rt: Runtime, what: string, fn: () => unknown): Promise<void> {
  try {
    if (FAIL_AT === `after-commit:${what}`) throw new Error('injected failure (WO_TEST_FAIL_AT)');
    await fn();
  } catch (err) {
    rt.log.error({ err: String(err), what }, 'post-commit work failed (the transition stands)');
  }
}

/** An operator transition recovery cannot find by scanning processing/ or hold/. */
export interface Intent {
  wo_id: string;
  attempt: number;
  op: 'revert';
  why: string;
  ts: string;
}

function intentFile(rt: Runtime, id: string): string {
  return path.join(rt.L.intents, `${id}.json`);
}

/** Why: write-ahead for effects on files outside bridge/ (a revert restores files before its record says so). */
export async function writeIntent(rt: Runtime, intent: Intent): Promise<void> {
  await fsp.mkdir(rt.L.intents, { recursive: true, mode: 0o700 });
  await writeJsonAtomic(intentFile(rt, intent.wo_id), intent);
}

export async function clearIntent(rt: Runtime, id: string): Promise<void> {
  await fsp.unlink(intentFile(rt, id)).catch(() => {});
  await fsyncDir(rt.L.intents).catch(() => {});
}

/** Every pending intent (recovery). */
export async function pendingIntents(rt: Runtime): Promise<Intent[]> {
  const names = await fsp.readdir(rt.L.intents).catch(() => [] as string[]);
  const out: Intent[] = [];
  for (const n of names) {
    if (!n.endsWith('.json') || n.startsWith('.')) continue;
    const it = await readJson<Intent>(path.join(rt.L.intents, n)).catch(() => undefined);
    if (it && typeof it.wo_id === 'string' && it.op === 'revert') out.push(it);
  }
  return out;
}

/** End an attempt: terminal record, telemetry, then the archive move; hooks only after the commit. */
export async function endAttempt(rt: Runtime, file: string, rec: WoRecord, status: Status, announce: () => void): Promise<WoRecord> {
  rec.running_command = null;
  rec.times.finished = rt.now().toISOString();
  await transition(rt, rec, status, { name: `archive-${status}`, move: { from: file, place: { kind: 'archive', attempt: rec.attempt } }, announce });
  rt.telemetry.sync();
  await afterCommit(rt, 'terminal hook', () => rt.hooks.terminal?.(rec));
  return rec;
}

/**
 * Reject a file before any side effect: rejected/ + reason.json, and a `rejected` record when it has a usable
 * id and no other live WO owns that id (a conflict leaves the record as it was).
 */
export async function reject(rt: Runtime, file: string, name: string, lane: string, code: ErrorCode, errors: { path: string; message: string }[], id?: string, job?: Job): Promise<void> {
  const message = errors.map((e) => `${e.path}: ${e.message}`).join('; ');
  const announce = (dest: string | undefined) =>
    rt.telemetry.emit('daemon', 'wo_rejected', { ok: false, ...(id ? { wo_id: id } : {}), lane, file: path.basename(dest ?? file), code, message: message.slice(0, 2000) });
  const reason = { code, errors };
  const prev = id && job && code !== 'CONFLICT' ? await rt.store.read(id) : undefined;
  // This submission's own live record (queued after approval or recovery) ends rejected; another's is left alone.
  const own = prev && !TERMINAL.has(prev.status) && prev.sha256 === job?.sha256 && prev.status !== 'running';
  if (id && job && code !== 'CONFLICT' && (!prev || TERMINAL.has(prev.status) || own)) {
    const rec = own ? prev : newRecord(rt, job, prev);
    rec.error = { code, message, details: errors };
    rec.times.finished = rt.now().toISOString();
    await transition(rt, rec, 'rejected', { name: 'reject', move: { from: file, place: { kind: 'rejected' }, sourceName: name }, reason, announce });
    await afterCommit(rt, 'terminal hook', () => rt.hooks.terminal?.(rec));
    return;
  }
  const dest = await moveUnrecorded(rt, file, { kind: 'rejected' }, { name: 'reject', ...(id ? { id } : {}), sourceName: name, reason });
  announce(dest);
}
