/** Admission of a claimed file: parse once, then decide — reject, duplicate, conflict, hold, or run. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { decodeFile, parseWo, type WorkOrder } from '../wo/parse.js';
import { routeId } from '../processors/route.js';
import { sha256 } from '../util/fsx.js';
import { TERMINAL, type WoRecord } from '../state/record.js';
import { emit, newRecord, setStage, type Job, type Runtime } from './runtime.js';
import { afterCommit, moveUnrecorded, transition } from './journal.js';
import type { ErrorCode } from '../errors.js';
import { woTargets } from '../policy/targets.js';
import { pathPolicy } from '../policy/context.js';
import { policyVerdict } from '../policy/verdict.js';

export const ENTRY_LANE = 'ENTRY';

/** A route job's WorkOrder stand-in: the entry file itself. */
function routeWo(name: string, doc: unknown): WorkOrder {
  const wos = (doc as { wos?: unknown })?.wos;
  const title = Array.isArray(wos)
    ? `route: bundle of ${wos.length} WO${wos.length === 1 ? '' : 's'} (${name})`
    : typeof (doc as { title?: unknown })?.title === 'string' ? `route: ${(doc as { title: string }).title}` : `route: ${name}`;
  return {
    wo_id: undefined, title, type: 'route', priority: 'P2', owner: undefined, created_at: undefined, description: undefined, lane: undefined,
    dry_run: false, files: [], patches: [], delete: [], commands: [], idempotent: true, paths: [], post_verify: [], tests: [],
    timeout_s: undefined, retry: undefined, extra: {},
  };
}

export type Admission = { kind: 'run'; job: Job } | { kind: 'done' };

let seq = 0;

/**
 * Reject a file before any side effect: rejected/ + reason.json, and a `rejected` record when it has a usable
 * id and no other live WO owns that id (a conflict leaves the record as it was). Through the journal: record,
 * reason, telemetry, then the move.
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

/** Read, parse and admit a claimed file. Never throws for bad input: the file ends somewhere explainable. */
export async function admit(rt: Runtime, file: string, name: string, lane: string, received: string, approved = false): Promise<Admission> {
  const cfg = rt.config();
  const st = await fsp.stat(file);
  if (st.size > cfg.limits.wo_bytes) {
    await reject(rt, file, name, lane, 'PARSE_ERROR', [{ path: '(file)', message: `the file is ${st.size} bytes, over the limit of ${cfg.limits.wo_bytes} (limits.wo_bytes)` }]);
    return { kind: 'done' };
  }
  const bytes = await fsp.readFile(file);
  let job: Job;
  if (lane === ENTRY_LANE) {
    const digest = sha256(bytes);
    const doc = decodeFile(bytes, name);
    if (!doc.ok) {
      await reject(rt, file, name, lane, 'PARSE_ERROR', [{ path: '(file)', message: doc.message }]);
      return { kind: 'done' };
    }
    const id = routeId(digest);
    job = { file, lane, name, sha256: digest, bytes, wo: routeWo(name, doc.value), id, type: 'route', warnings: [], seq: ++seq, received, doc: doc.value, targets: [] };
  } else {
    const parsed = parseWo(bytes, name, { ...cfg.limits });
    if (!parsed.ok) {
      await reject(rt, file, name, lane, parsed.code, parsed.errors, parsed.wo_id);
      return { kind: 'done' };
    }
    const wo = parsed.wo;
    job = { file, lane, name, sha256: parsed.sha256, bytes, wo, id: wo.wo_id!, type: wo.type, warnings: parsed.warnings, seq: ++seq, received, targets: [], ...(approved ? { approved } : {}) };
    if (wo.type === 'route') {
      await reject(rt, file, name, lane, 'INVALID', [{ path: 'type', message: `route WOs belong in the ${ENTRY_LANE} lane` }], job.id, job);
      return { kind: 'done' };
    }
  }

  // Idempotency: same id + same content as a succeeded WO is a duplicate; different content is a conflict.
  const prev = await rt.store.read(job.id);
  if (prev) {
    const appliedBefore = (prev.status === 'succeeded' && !prev.dry_run) || prev.status === 'routed';
    const live = !TERMINAL.has(prev.status) && path.resolve(rt.L.root, prev.file) !== file;
    if (appliedBefore && prev.sha256 === job.sha256) {
      const n = (prev.attempts?.length ?? 0) + 1;
      const dest = await moveUnrecorded(rt, file, { kind: 'duplicate', n }, { name: 'duplicate', id: job.id });
      emit(rt, prev, 'wo_duplicate', { file: path.basename(dest), sha256: job.sha256 }, 'daemon');
      return { kind: 'done' };
    }
    if (appliedBefore || live) {
      const why = live ? `a WO with id ${job.id} is ${prev.status} right now` : `a WO with id ${job.id} already ${prev.status} with different content (sha256 ${prev.sha256.slice(0, 12)}…)`;
      await reject(rt, file, name, lane, 'CONFLICT', [{ path: 'wo_id', message: `${why}; use a new wo_id` }], job.id, job);
      return { kind: 'done' };
    }
  }

  // Paths: confined to the root and allowed roots, never into its internals or control files — refused at every autonomy level.
  if (job.type !== 'route') {
    const { targets, refusals } = woTargets(job.wo, pathPolicy(cfg));
    job.targets = targets;
    if (refusals.length) {
      await reject(rt, file, name, lane, 'POLICY_REFUSED', refusals, job.id, job);
      return { kind: 'done' };
    }
  }
  if (job.type !== 'route' && !approved) {
    const verdict = policyVerdict(job.wo, { autonomy: cfg.policy.autonomy, allowCommands: cfg.policy.allow_commands, root: rt.L.root, allowedRoots: cfg.allowedRoots, dryRunEnv: cfg.dryRun });
    if (verdict.decision === 'hold') {
      await hold(rt, job, prev, verdict.hold_reasons);
      return { kind: 'done' };
    }
  }
  return { kind: 'run', job };
}

/** Put a WO on hold: record first (awaiting_approval, reasons), then move the file to bridge/hold/. */
async function hold(rt: Runtime, job: Job, prev: WoRecord | undefined, reasons: string[]): Promise<void> {
  const rec = newRecord(rt, job, prev);
  setStage(rt, rec, 'held');
  rec.hold_reasons = reasons;
  await transition(rt, rec, 'awaiting_approval', {
    name: 'hold',
    move: { from: job.file, place: { kind: 'hold' } },
    announce: () => emit(rt, rec, 'wo_held', { ok: true, reasons }, 'daemon'),
  });
  await afterCommit(rt, 'held hook', () => rt.hooks.held?.(rec));
}
