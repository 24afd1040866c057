/** One attempt of a job: a fresh record (attempt, tries, approval carried over), then its processor's run. */
import { TERMINAL, type WoRecord } from '../state/record.js';
import { restoreSnapshot, snapshotOf } from '../snapshot/backup.js';
import { PROCESSORS } from '../processors/index.js';
import type { Outcome, RunControl } from '../processors/types.js';
import { emit, logRollback, newRecord, type Job, type Runtime } from './runtime.js';

export type { AbortWhy, Outcome, RunControl } from '../processors/types.js';

/** Run one attempt of a job to a terminal state (or back to queued for a retry / restart). */
export async function runJob(rt: Runtime, job: Job, ctl: RunControl): Promise<Outcome> {
  const prev = await rt.store.read(job.id);
  const rec: WoRecord = newRecord(rt, job, prev);
  const sameSubmission = prev && prev.sha256 === job.sha256 && !TERMINAL.has(prev.status);
  rec.tries = (sameSubmission ? (prev.tries ?? 0) : 0) + 1;
  if (job.approved || (sameSubmission && prev.approved)) rec.approved = true;
  return PROCESSORS[job.type].run(rt, job, rec, ctl);
}

/** Undo a crashed attempt's file effects from its snapshot (crash recovery). */
export async function rollbackCrashed(rt: Runtime, rec: WoRecord): Promise<string[]> {
  const manifest = await snapshotOf(rt.L.backups, rec);
  if (!manifest) return [];
  const restored = await restoreSnapshot(rt.L.backups, manifest);
  await logRollback(rt, rec.wo_id, restored, 'crash recovery: the daemon stopped mid-apply');
  emit(rt, rec, 'wo_rolled_back', { ok: true, paths: restored, code: 'INTERRUPTED', recovery: true });
  return restored;
}
