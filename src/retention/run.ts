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
import { ORPHAN_BACKUP_MIN_DAYS, planRetention, type Deletion, type DeletionKind, type RetentionPlan, type RetentionPolicy } from './plan.js';
import { scanRetention, yieldLoop } from './scan.js';

const DAY_MS = 86_400_000;

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
  /**
   * The daemon's per-id lock: held around the re-check and the deletion, so no attempt of the WO starts (and takes a
   * snapshot into g/backups/<id>/) meanwhile; undefined when the WO runs now (then it is skipped).
   */
  hold?: (id: string) => (() => void) | undefined;
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
async function stillDeletable(root: string, store: StateStore, d: Deletion, finishedAt: Map<string, string | undefined>): Promise<string | undefined> {
  if (d.id === undefined || (d.kind !== 'record' && d.kind !== 'backup' && d.kind !== 'archive' && d.kind !== 'live')) return undefined;
  const got = await store.inspect(d.id);
  if (got.kind === 'absent' && d.kind === 'backup') {
    // No record (yet): a first attempt takes its snapshot before its first record write. Only an old one goes.
    const st = await fsp.lstat(path.join(root, d.rel)).catch(() => undefined);
    return st && Date.now() - st.mtimeMs < ORPHAN_BACKUP_MIN_DAYS * DAY_MS ? 'a backup without a record, written within a day (a first attempt in progress?)' : undefined;
  }
  if (got.kind === 'absent') return d.kind === 'record' ? 'the record is gone already' : undefined;
  if (got.kind === 'foreign') return `g/followup/state/${d.id}.json is not a record of wo's (${got.why})`;
  if (!TERMINAL.has(got.record.status)) return `the WO is ${got.record.status} now`;
  if (finishedAt.has(d.id) && finishedAt.get(d.id) !== got.record.times.finished) return 'the WO finished again since the scan';
  if (d.kind === 'backup') {
    // Written after the WO finished: a new attempt (same id, resubmitted) is taking its snapshot before its record.
    const fin = Date.parse(got.record.times.finished ?? '');
    const st = await fsp.lstat(path.join(root, d.rel)).catch(() => undefined);
    if (st && Number.isFinite(fin) && st.mtimeMs > fin) return 'the backup was written after the WO finished (a new attempt in progress?)';
  }
  finishedAt.set(d.id, got.record.times.finished);
  return undefined;
}

/**
 * Remove a record so that what is removed is exactly a terminal record: move it aside (a hidden name no reader
 * lists), check what was moved, and put it back when it is live after all (a `wo retry` wrote it since the check) —
 * unless a newer record is at the path already. Returns why it was kept, or undefined when it is gone.
 */
async function removeRecord(file: string, finished: string | undefined): Promise<string | undefined> {
  const aside = path.join(path.dirname(file), `.pruning-${path.basename(file)}`);
  try {
    await fsp.rename(file, aside);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'the record is gone already' : String(err);
  }
  let rec: { status?: string; times?: { finished?: string } } | undefined;
  try {
    rec = JSON.parse(await fsp.readFile(aside, 'utf8')) as typeof rec;
  } catch {
    rec = undefined;
  }
  if (rec && TERMINAL.has(rec.status as never) && rec.times?.finished === finished) {
    await fsp.unlink(aside);
    return undefined;
  }
  try {
    await fsp.link(aside, file); // never over a newer record
  } catch {
    /* a newer record is there already */
  }
  await fsp.unlink(aside);
  await fsyncDir(path.dirname(file));
  return rec ? `the WO is ${rec.status} now` : 'the record changed since the scan';
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
        const release = d.id !== undefined && opts.hold ? opts.hold(d.id) : () => {};
        if (!release) {
          result.skipped.push({ rel: d.rel, why: 'the WO runs now' });
          if (d.kind === 'backup') backupFailed.add(d.id!);
          continue;
        }
        const abs = path.join(L.root, d.rel);
        let why: string | undefined;
        try {
          why = await stillDeletable(L.root, store, d, finishedAt);
          if (!why && d.kind === 'record') why = await removeRecord(abs, finishedAt.get(d.id!));
          else if (!why) await fsp.rm(abs, { recursive: d.kind === 'backup', force: true });
        } finally {
          release();
        }
        if (why) {
          result.skipped.push({ rel: d.rel, why });
          if (d.kind === 'backup') backupFailed.add(d.id!);
          continue;
        }
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
