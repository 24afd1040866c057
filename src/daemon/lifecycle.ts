/** One attempt of a job: a fresh record (attempt, tries, approval carried over), then its processor's run. */
import { TERMINAL, type WoRecord } from '../state/record.js';
import { restoreSnapshot, snapshotOf } from '../snapshot/backup.js';
import { PROCESSORS } from '../processors/index.js';
import type { Outcome, RunControl } from '../processors/types.js';
import { emit, logRollback, newRecord, type Job, type Runtime } from './runtime.js';
import { undoServices } from '../services/undo.js';

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

/** Undo a crashed attempt's file effects from its snapshot (crash recovery), then its service actions in reverse. */
export async function rollbackCrashed(rt: Runtime, rec: WoRecord): Promise<string[]> {
  const manifest = await snapshotOf(rt.L.backups, rec);
  const undo = async () => {
    if (!rec.services?.some((r) => !r.compensation)) return;
    const failed = await undoServices({ config: rt.config(), telemetry: rt.telemetry, now: rt.now, log: (m) => rt.log.warn({}, m) }, rec);
    emit(rt, rec, 'wo_rolled_back', { ok: failed.length === 0, recovery: true, services: rec.services.map((r) => r.compensation?.cmd ?? '(nothing to undo)'), ...(failed.length ? { services_failed: failed } : {}) });
  };
  if (!manifest) {
    await undo();
    return [];
  }
  const restored = await restoreSnapshot(rt.L.backups, manifest);
  await logRollback(rt, rec.wo_id, restored, 'crash recovery: the daemon stopped mid-apply');
  emit(rt, rec, 'wo_rolled_back', { ok: true, paths: restored, code: 'INTERRUPTED', recovery: true });
  await undo();
  return restored;
}
