/**
 * The retention executor: scan → plan → delete in bounded batches (yielding between them), each deletion re-checked
 * against the record just before it, each batch's folders fsynced, then `onRecordsPruned` and one telemetry event.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { layout } from '../layout.js';
import { fsyncDir } from '../util/fsx.js';
import { StateStore } from '../state/store.js';
import { TERMINAL } from '../state/record.js';
import type { Telemetry } from '../state/telemetry.js';
import { planRetention, type Deletion, type DeletionKind, type RetentionPlan, type RetentionPolicy } from './plan.js';
import { scanRetention, yieldLoop } from './scan.js';

export interface RetentionOptions {
  root: string;
  policy: RetentionPolicy;
  /** Deletions per batch (the loop yields between batches). */
  batch: number;
  dryRun?: boolean;
  now?: number;
  /** Where the `retention_pruned` event goes (the daemon's stream); absent: no event. */
  telemetry?: Telemetry;
  /** Called after each batch's records are deleted and their folder synced (the index drops them). */
  onRecordsPruned?: (ids: string[]) => void | Promise<void>;
  /** Stops between batches (daemon shutdown). */
  signal?: AbortSignal;
}

export interface RetentionResult {
  dry_run: boolean;
  removed: Deletion[];
  /** Planned deletions not made: the WO changed since the scan (retried, rolled back), or the delete failed. */
  skipped: { rel: string; why: string }[];
  counts: Partial<Record<DeletionKind, number>>;
  protected_live: number;
  kept_for_rollback: number;
  stopped: boolean;
}

/** Re-read the record just before deleting what belongs to it: it must still be terminal and unchanged since the scan. */
async function stillDeletable(store: StateStore, d: Deletion, finishedAt: Map<string, string | undefined>): Promise<string | undefined> {
  if (d.id === undefined || (d.kind !== 'record' && d.kind !== 'backup' && d.kind !== 'archive' && d.kind !== 'live')) return undefined;
  const got = await store.inspect(d.id);
  if (got.kind === 'absent') return d.kind === 'record' ? 'the record is gone already' : undefined;
  if (got.kind === 'foreign') return `g/followup/state/${d.id}.json is not a record of wo's (${got.why})`;
  if (!TERMINAL.has(got.record.status)) return `the WO is ${got.record.status} now`;
  if (finishedAt.has(d.id) && finishedAt.get(d.id) !== got.record.times.finished) return 'the WO finished again since the scan';
  finishedAt.set(d.id, got.record.times.finished);
  return undefined;
}

/** Why: retention must never stall the daemon or lose a live WO; one pass deletes durably, in bounded batches. */
export async function runRetention(opts: RetentionOptions): Promise<RetentionResult & { plan: RetentionPlan }> {
  const L = layout(opts.root);
  const now = opts.now ?? Date.now();
  const { records, files } = await scanRetention(L, opts.policy, now);
  const plan = planRetention({ now, policy: opts.policy, records, files });
  const result: RetentionResult & { plan: RetentionPlan } = {
    dry_run: !!opts.dryRun,
    removed: [],
    skipped: [],
    counts: {},
    protected_live: plan.protectedLive,
    kept_for_rollback: plan.keptForRollback,
    stopped: false,
    plan,
  };
  if (opts.dryRun) {
    result.removed = plan.delete;
    for (const d of plan.delete) result.counts[d.kind] = (result.counts[d.kind] ?? 0) + 1;
    return result;
  }
  const store = new StateStore(L.state);
  const finishedAt = new Map<string, string | undefined>();
  const backupFailed = new Set<string>();
  const batch = Math.max(1, opts.batch);
  for (let i = 0; i < plan.delete.length; i += batch) {
    if (opts.signal?.aborted) {
      result.stopped = true;
      break;
    }
    const dirs = new Set<string>();
    const prunedIds: string[] = [];
    for (const d of plan.delete.slice(i, i + batch)) {
      try {
        if (d.kind === 'record' && backupFailed.has(d.id!)) {
          result.skipped.push({ rel: d.rel, why: 'its backup could not be removed' });
          continue;
        }
        const why = await stillDeletable(store, d, finishedAt);
        if (why) {
          result.skipped.push({ rel: d.rel, why });
          if (d.kind === 'backup') backupFailed.add(d.id!);
          continue;
        }
        const abs = path.join(L.root, d.rel);
        await fsp.rm(abs, { recursive: d.kind === 'backup', force: true });
        dirs.add(path.dirname(abs));
        result.removed.push(d);
        result.counts[d.kind] = (result.counts[d.kind] ?? 0) + 1;
        if (d.kind === 'record') prunedIds.push(d.id!);
      } catch (err) {
        if (d.kind === 'backup' && d.id) backupFailed.add(d.id);
        result.skipped.push({ rel: d.rel, why: (err as NodeJS.ErrnoException).code ?? String(err) });
      }
    }
    for (const dir of dirs) await fsyncDir(dir);
    if (prunedIds.length && opts.onRecordsPruned) await opts.onRecordsPruned(prunedIds);
    await yieldLoop();
  }
  opts.telemetry?.emit('daemon', 'retention_pruned', {
    ok: result.skipped.length === 0,
    removed: result.removed.length,
    counts: result.counts,
    skipped: result.skipped.length,
    protected_live: result.protected_live,
    kept_for_rollback: result.kept_for_rollback,
    ...(result.stopped ? { stopped: true } : {}),
  });
  return result;
}
