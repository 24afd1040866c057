/** Operator actions on a WO — approve, reject, retry, cancel, rollback — each with state and telemetry. */
import { undoServices } from '../services/undo.js';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { CheckFailed, UsageError } from '../errors.js';
import { TERMINAL, type OperatorAction, type WoRecord } from '../state/record.js';
import { currentSha256, restoreSnapshot, snapshotOf } from '../snapshot/backup.js';
import { emit, logRollback, newRecord, type Runtime } from './runtime.js';
import { afterCommit, clearIntent, crashPoint, transition, writeIntent } from './journal.js';
import type { Scheduler } from './scheduler.js';

export const ACTIONS = ['approve', 'reject', 'retry', 'cancel', 'rollback'] as const;
export type Action = (typeof ACTIONS)[number];
export type Channel = OperatorAction['by']['channel'];

/** Who acts and why (recorded in the record's `actions`); `force` applies to rollback. */
export interface ActOptions {
  force?: boolean;
  reason?: string;
  by?: OperatorAction['by'];
}

export const MAX_REASON_CHARS = 1000;

/** Why: a reason is free text from a person: one printable line, bounded; empty means none; anything else is a usage error. */
export function cleanReason(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new UsageError(`the reason must be a string, got ${Array.isArray(value) ? 'an array' : typeof value}`);
  const text = value.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  if (text.length > MAX_REASON_CHARS) throw new UsageError(`the reason is ${text.length} characters; at most ${MAX_REASON_CHARS}`);
  return text || undefined;
}

/** The uid this process runs as (-1 where there are no uids). */
export function ownUid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : -1;
}

/** Why: the one place an operator action entry is made, so every channel records the same fields. */
export function actionEntry(action: OperatorAction['action'], now: Date, opts: ActOptions): OperatorAction {
  const reason = cleanReason(opts.reason);
  return { action, ts: now.toISOString(), by: opts.by ?? { uid: ownUid(), channel: 'cli' }, ...(reason ? { reason } : {}) };
}

/** The entry in words for messages: ` (wo reject): reason` or ` (dashboard/API): reason`. */
function said(entry: OperatorAction): string {
  return `${entry.by.channel === 'http' ? ' (dashboard/API)' : ` (wo ${entry.action})`}${entry.reason ? `: ${entry.reason}` : ''}`;
}

export interface ActionEnv {
  rt: Runtime;
  /** Present inside the daemon; absent when the CLI acts with the daemon down (holding the lock). */
  scheduler?: Scheduler;
  /** Inside the daemon: admit a file now (approved skips the policy hold). */
  admit?: (file: string, name: string, lane: string, received: string, approved: boolean) => Promise<void>;
  /** Wait until a running WO has ended (cancel). */
  waitTerminal?: (id: string) => Promise<WoRecord | undefined>;
}

/** A WO's record; a claimed WO still waiting in the queue (no record yet) gets a fresh `queued` one. */
async function currentRecord(env: ActionEnv, id: string): Promise<WoRecord> {
  const rec = await env.rt.store.read(id);
  const queued = env.scheduler?.queued(id);
  if (queued && (!rec || TERMINAL.has(rec.status))) return newRecord(env.rt, queued, rec);
  if (!rec) throw new CheckFailed(`no WO with id ${id} (no g/followup/state/${id}.json)`);
  return rec;
}

function wrongState(rec: WoRecord, action: Action, allowed: string): CheckFailed {
  return new CheckFailed(`cannot ${action} ${rec.wo_id}: it is ${rec.status}; ${action} applies to ${allowed} WOs`);
}

/**
 * A running WO's attempt writes its own record to the end, so a cancel's entry is added once it has ended
 * (read, append, write: nothing else writes that record then).
 */
async function appendAfterEnd(rt: Runtime, id: string, entry: OperatorAction, ended: WoRecord | undefined): Promise<WoRecord> {
  const rec = (await rt.store.read(id)) ?? ended;
  if (!rec) throw new CheckFailed(`no WO with id ${id} (no g/followup/state/${id}.json)`);
  if (!(rec.actions ?? []).some((a) => a.ts === entry.ts && a.action === entry.action)) {
    rec.actions = [...(rec.actions ?? []), entry];
    await rt.store.write(rec);
  }
  return rec;
}

/** Perform an action; returns the record after it. Every action appends who/when/why to the record's `actions`. */
export async function act(env: ActionEnv, action: Action, id: string, opts: ActOptions = {}): Promise<WoRecord> {
  const { rt } = env;
  const entry = actionEntry(action, rt.now(), opts);
  // An attempt that is ending writes its record before it moves its file: act on the settled state.
  if (action !== 'cancel') await env.scheduler?.settled(id);
  const rec = await currentRecord(env, id);
  const abs = path.resolve(rt.L.root, rec.file);
  // In memory until the action's own durable write (a refused action writes nothing).
  rec.actions = [...(rec.actions ?? []), entry];
  switch (action) {
    case 'approve': {
      if (rec.status !== 'awaiting_approval') throw wrongState(rec, action, 'held (awaiting_approval)');
      // Approval is for what runs: re-plan, and if the targets changed since the plan was shown, stay held with the new one.
      const { replanHeld, CHANGED_REASON } = await import('./holdplan.js');
      const fresh = rec.plan_sha256 === undefined ? undefined : await replanHeld(rt, rec);
      if (fresh && fresh.plan_sha256 !== rec.plan_sha256) {
        Object.assign(rec, fresh);
        rec.hold_reasons = [CHANGED_REASON, ...(rec.hold_reasons ?? []).filter((r) => r !== CHANGED_REASON)];
        await transition(rt, rec, 'awaiting_approval', { name: 'replan', announce: () => emit(rt, rec, 'wo_held', { ok: true, reasons: rec.hold_reasons, replanned: true }, 'cli') });
        return rec;
      }
      rec.approved = true;
      rec.times.approved = rt.now().toISOString();
      const { dest, moved } = await transition(rt, rec, 'queued', {
        name: 'approve',
        move: { from: abs, place: { kind: 'processing', lane: rec.lane } },
        announce: () => emit(rt, rec, 'wo_approved', {}, 'cli'),
      });
      if (moved && dest) await env.admit?.(dest, rec.source_name, rec.lane, rec.times.received ?? rt.now().toISOString(), true);
      return (await rt.store.read(id)) ?? rec;
    }
    case 'reject': {
      if (rec.status !== 'awaiting_approval' && rec.status !== 'queued') throw wrongState(rec, action, 'held or queued');
      if (env.scheduler?.has(id) && !env.scheduler.dequeue(id)) throw new CheckFailed(`cannot reject ${id}: it is running now; use wo cancel`);
      const message = `rejected by an operator${said(entry)}`;
      rec.error = { code: 'POLICY_REFUSED', message };
      rec.times.finished = rt.now().toISOString();
      await transition(rt, rec, 'rejected', {
        name: 'operator-reject',
        move: { from: abs, place: { kind: 'rejected' }, sourceName: rec.source_name },
        reason: { code: 'POLICY_REFUSED', errors: [{ path: '(operator)', message }] },
        announce: () => emit(rt, rec, 'wo_rejected', { ok: false, code: 'POLICY_REFUSED', message }, 'cli'),
      });
      await afterCommit(rt, 'terminal hook', () => rt.hooks.terminal?.(rec));
      return rec;
    }
    case 'cancel': {
      if (TERMINAL.has(rec.status)) throw wrongState(rec, action, 'queued, held or running');
      if (env.scheduler?.abort(id, 'cancel')) return appendAfterEnd(rt, id, entry, await env.waitTerminal?.(id));
      env.scheduler?.dequeue(id);
      rec.error = { code: 'CANCELLED', message: `cancelled by an operator before it ran${entry.reason ? `: ${entry.reason}` : ''}` };
      rec.times.finished = rt.now().toISOString();
      await transition(rt, rec, 'cancelled', {
        name: 'operator-cancel',
        move: { from: abs, place: { kind: 'archive', attempt: rec.attempt } },
        announce: () => emit(rt, rec, 'wo_cancelled', { ok: false }, 'cli'),
      });
      await afterCommit(rt, 'terminal hook', () => rt.hooks.terminal?.(rec));
      return rec;
    }
    case 'retry': {
      if (!['failed', 'rejected', 'cancelled', 'reverted'].includes(rec.status)) throw wrongState(rec, action, 'failed, rejected, cancelled or reverted');
      try {
        await fsp.lstat(abs);
      } catch {
        throw new CheckFailed(`cannot retry ${id}: its WO file ${rec.file} is gone (pruned?)`);
      }
      // A retry is a new submission of the same file: policy judges it afresh (no carried-over approval).
      delete rec.approved;
      rec.tries = 0;
      rec.requeued_from = rec.status;
      const { dest, moved } = await transition(rt, rec, 'queued', {
        name: 'retry',
        move: { from: abs, place: { kind: 'processing', lane: rec.lane }, sourceName: rec.source_name, link: true },
      });
      if (moved && dest) await env.admit?.(dest, rec.source_name, rec.lane, rt.now().toISOString(), false);
      return (await rt.store.read(id)) ?? rec;
    }
    case 'rollback': {
      if (rec.status !== 'succeeded' || rec.dry_run) throw wrongState(rec, action, 'succeeded (not dry-run)');
      const manifest = await snapshotOf(rt.L.backups, rec);
      if (!manifest) throw new CheckFailed(`cannot roll back ${id}: its snapshot in g/backups/${id}/ is missing or from another attempt`);
      const doIt = async () => {
        const changed: string[] = [];
        for (const f of rec.files) {
          // Read through the confined walk: a folder swapped for a link counts as changed, never followed.
          const now = await currentSha256(manifest, f.path, rt.L.root).catch((err: Error) => `(${err.message})`);
          if (now !== f.after_sha256) changed.push(f.path);
        }
        if (changed.length && !opts.force) throw new UsageError(`refusing to roll back ${id}: these files changed since it ran: ${changed.join(', ')} (use --force to roll back anyway)`);
        return revert(rt, rec, `wo rollback${opts.force ? ' --force' : ''}${entry.by.channel === 'http' ? ' (dashboard/API)' : ''}${entry.reason ? `: ${entry.reason}` : ''}`, 'cli');
      };
      const paths = manifest.entries.map((e) => e.abs);
      return env.scheduler ? env.scheduler.withPaths(paths, doIt) : doIt();
    }
  }
}

/** The queued WOs (of one lane) with the daemon down, from the record index (rebuilt if stale; this process holds the lock). */
async function queuedOffline(rt: Runtime, lane?: string): Promise<string[]> {
  if (rt.index) return rt.index.queuedIds(lane);
  const { WoIndex } = await import('../state/index.js');
  const { index } = await WoIndex.openWriter(rt.L.index, rt.store);
  try {
    return index.queuedIds(lane);
  } finally {
    index.close();
  }
}

/** What `wo cancel --all` did: the WOs cancelled and those that could not be. */
export interface CancelAllResult {
  cancelled: WoRecord[];
  failed: { wo_id: string; message: string }[];
}

/**
 * Cancel every queued and running WO (of one lane): inside the daemon from the scheduler, with the daemon down
 * the records still `queued` (a `running` one is a crashed attempt: the next start recovers and rolls it back).
 */
export async function cancelAll(env: ActionEnv, opts: ActOptions & { lane?: string }): Promise<CancelAllResult> {
  const inLane = (lane: string) => !opts.lane || lane === opts.lane;
  const ids = env.scheduler
    ? env.scheduler.jobs().filter((j) => inLane(j.lane)).map((j) => j.id)
    : await queuedOffline(env.rt, opts.lane);
  const unique = [...new Set(ids)];
  const out: CancelAllResult = { cancelled: [], failed: [] };
  const results = await Promise.allSettled(unique.map((id) => act(env, 'cancel', id, opts)));
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') out.cancelled.push(r.value);
    else out.failed.push({ wo_id: unique[i]!, message: r.reason instanceof Error ? r.reason.message : String(r.reason) });
  });
  return out;
}

/**
 * Undo a succeeded WO from its snapshot (`wo rollback`, and recovery of an interrupted one). The restore
 * touches files outside bridge/, so an intent is durable first; restoring is idempotent, so recovery simply
 * does it again and then records `reverted`.
 */
export async function revert(rt: Runtime, rec: WoRecord, why: string, agent: 'cli' | 'daemon'): Promise<WoRecord> {
  const manifest = await snapshotOf(rt.L.backups, rec);
  if (!manifest) throw new CheckFailed(`cannot roll back ${rec.wo_id}: its snapshot in g/backups/${rec.wo_id}/ is missing or from another attempt`);
  await writeIntent(rt, { wo_id: rec.wo_id, attempt: rec.attempt, op: 'revert', why, ts: rt.now().toISOString() });
  crashPoint('revert:intent');
  const restored = await restoreSnapshot(rt.L.backups, manifest);
  crashPoint('revert:restore');
  // Its services are undone too, in reverse order, now that their plists are back (failures recorded and alerted).
  if (rec.services?.length) await undoServices({ config: rt.config(), telemetry: rt.telemetry, now: rt.now, log: (m) => rt.log.warn({}, m) }, rec);
  rec.rolled_back = true;
  rec.times.reverted = rt.now().toISOString();
  await transition(rt, rec, 'reverted', { name: 'revert', announce: () => emit(rt, rec, 'wo_rolled_back', { ok: true, paths: restored, operator: agent === 'cli', ...(agent === 'daemon' ? { recovered: true } : {}) }, agent) });
  await clearIntent(rt, rec.wo_id);
  await afterCommit(rt, 'rollback log', () => logRollback(rt, rec.wo_id, restored, why));
  await afterCommit(rt, 'guardrail accept', () => rt.hooks.accepted?.(restored));
  await afterCommit(rt, 'terminal hook', () => rt.hooks.terminal?.(rec));
  return rec;
}
