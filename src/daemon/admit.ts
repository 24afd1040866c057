/** Admission of a claimed file: parse once, then decide — reject, duplicate, conflict, hold, or run. */
import fs from 'node:fs';
import path from 'node:path';
import { identify, seenAs, type Identity } from './decide.js';
import { TERMINAL, type WoRecord } from '../state/record.js';
import { emit, newRecord, setStage, type Job, type Runtime } from './runtime.js';
import { afterCommit, moveUnrecorded, reject, transition } from './journal.js';
import { PROCESSORS } from '../processors/index.js';
import { woTargets } from '../policy/targets.js';
import { pathPolicy, verdictContext } from '../policy/context.js';
import { policyVerdict } from '../policy/verdict.js';
import { holdPlan } from './holdplan.js';
import { brakesAt } from '../policy/brakes.js';

export type Admission = { kind: 'run'; job: Job } | { kind: 'done' };

let seq = 0;

export { reject };

const C = fs.constants;

/**
 * The claimed file's bytes (read synchronously: see fsyncFd in util/fsx.ts). Opened without following a link
 * and without blocking, so a link or a FIFO swapped in after the intake's lstat is refused, never read or
 * waited on; a regular file only, at most `limit` bytes.
 */
function readClaimed(file: string, limit: number): { bytes: Buffer } | { problem: string } {
  let fd: number;
  try {
    fd = fs.openSync(file, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') return { problem: 'the file is a symbolic link (never followed)' };
    throw err;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return { problem: 'the file is not a regular file' };
    if (st.size > limit) return { problem: `the file is ${st.size} bytes, over the limit of ${limit} (limits.wo_bytes)` };
    return { bytes: fs.readFileSync(fd) };
  } finally {
    fs.closeSync(fd);
  }
}

/** Read, parse and admit a claimed file. Never throws for bad input: the file ends somewhere explainable. */
export async function admit(rt: Runtime, file: string, name: string, lane: string, received: string, approved = false): Promise<Admission> {
  const cfg = rt.config();
  const read = readClaimed(file, cfg.limits.wo_bytes);
  if ('problem' in read) {
    await reject(rt, file, name, lane, 'PARSE_ERROR', [{ path: '(file)', message: read.problem }]);
    return { kind: 'done' };
  }
  const { bytes } = read;
  const got = identify(cfg, bytes, name, lane);
  const jobOf = (id: Identity): Job => ({ file, lane, name, bytes, ...id, seq: ++seq, received, targets: [], ...(approved ? { approved } : {}) });
  if (!got.ok) {
    await reject(rt, file, name, lane, got.code, got.errors, got.wo_id, got.identity && jobOf(got.identity));
    return { kind: 'done' };
  }
  const job = jobOf(got.identity);

  // A file wo did not write (or a folder) at the record's path is never overwritten: refuse before any effect.
  const seen = await rt.store.inspect(job.id);
  const prev = seen.kind === 'ok' ? seen.record : undefined;
  if (seen.kind === 'foreign') {
    await reject(rt, file, name, lane, 'CONFLICT', [{ path: 'wo_id', message: `${seen.file} is not a wo record (it ${seen.why}); wo will not overwrite it: move it away or use a new wo_id` }], job.id);
    return { kind: 'done' };
  }
  const again = seenAs(prev, job.sha256);
  if (prev && again === 'duplicate') {
    const dest = await moveUnrecorded(rt, file, { kind: 'duplicate', n: 1 }, { name: 'duplicate', id: job.id });
    emit(rt, prev, 'wo_duplicate', { file: path.basename(dest), sha256: job.sha256 }, 'daemon');
    return { kind: 'done' };
  }
  const live = prev !== undefined && !TERMINAL.has(prev.status) && path.resolve(rt.L.root, prev.file) !== file;
  if (prev && (again === 'conflict' || live)) {
    const why = live ? `a WO with id ${job.id} is ${prev.status} right now` : `a WO with id ${job.id} already ${prev.status} with different content (sha256 ${prev.sha256.slice(0, 12)}…)`;
    await reject(rt, file, name, lane, 'CONFLICT', [{ path: 'wo_id', message: `${why}; use a new wo_id` }], job.id, job);
    return { kind: 'done' };
  }

  // Paths: confined to the root and allowed roots, never into its internals or control files — refused at every autonomy level.
  const judged = PROCESSORS[job.type].judged;
  if (judged) {
    const { targets, refusals } = woTargets(job.wo, pathPolicy(cfg));
    job.targets = targets;
    if (refusals.length) {
      await reject(rt, file, name, lane, 'POLICY_REFUSED', refusals, job.id, job);
      return { kind: 'done' };
    }
  }
  if (judged && !approved) {
    // Lane and owner levels, the lane's breaker and rate limit (policy/brakes.ts) are part of the one decision.
    const brakes = brakesAt(rt.L.run, (m) => rt.log.warn({}, m));
    await brakes.ready;
    const now = rt.now();
    const lanePolicy = Object.hasOwn(cfg.policy.lanes, lane) ? cfg.policy.lanes[lane] : undefined;
    const verdict = policyVerdict(job.wo, verdictContext(cfg, lane, brakes, brakes.rateFull(lane, lanePolicy?.rate, now)));
    if (verdict.decision === 'hold') {
      await hold(rt, job, prev, verdict.hold_reasons);
      return { kind: 'done' };
    }
    if (verdict.decision === 'dry_run') job.wo = { ...job.wo, dry_run: true }; // a lane or owner at `observe`
    else brakes.admitted(lane, now);
  }
  return { kind: 'run', job };
}

/** Put a WO on hold: record first (awaiting_approval, reasons, the plan to approve), then move the file to bridge/hold/. */
async function hold(rt: Runtime, job: Job, prev: WoRecord | undefined, reasons: string[]): Promise<void> {
  const rec = newRecord(rt, job, prev);
  setStage(rt, rec, 'held');
  rec.hold_reasons = reasons;
  Object.assign(rec, await holdPlan(rt, job));
  await transition(rt, rec, 'awaiting_approval', {
    name: 'hold',
    move: { from: job.file, place: { kind: 'hold' } },
    announce: () => emit(rt, rec, 'wo_held', { ok: true, reasons }, 'daemon'),
  });
  await afterCommit(rt, 'held hook', () => rt.hooks.held?.(rec));
}
