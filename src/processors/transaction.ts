/** apply_patch and exec as a transaction: plan → snapshot → apply → commands → post_verify → tests → commit, or roll back. */
import type { CommandRecord, PlanStep, Status, WoRecord } from '../state/record.js';
import { WoError, toWoError } from '../errors.js';
import path from 'node:path';
import { takeSnapshot, restoreSnapshot, backupDir, type Target, type Manifest } from '../snapshot/backup.js';
import { planFileOps, planSteps, applyFileOp, type FileOp } from './files.js';
import { LiveOutput } from '../exec/live.js';
import { runCommands, runTests, runValidate, type PhaseContext } from './commands.js';
import { commandText, type WorkOrder } from '../wo/parse.js';
import { commandsOf } from '../policy/verdict.js';
import { checkTarget } from '../policy/paths.js';
import { emit, logRollback, save, setStage, type Job, type Runtime } from '../daemon/runtime.js';
import { afterCommit, endAttempt, reject, transition } from '../daemon/journal.js';
import type { AbortWhy, Outcome, RunControl } from './types.js';
import { runServices } from '../services/step.js';
import { managerOptions } from '../services/manager.js';
import { undoServices } from '../services/undo.js';
import { serviceSteps } from '../services/plan.js';

/** fs-check the paths judged at admission (symlinks, hard links): a refusal happens before any side effect. */
async function resolveTargets(job: Job): Promise<Map<string, Target>> {
  const map = new Map<string, Target>();
  for (const { given, target: t } of job.targets) {
    if (map.has(given)) continue;
    await checkTarget(t);
    map.set(given, { abs: t.abs, rel: t.rel, base: t.base });
  }
  return map;
}

/** Every target, deduplicated by absolute path (snapshot, locks). */
function uniqueTargets(map: Map<string, Target>): Target[] {
  const seen = new Map<string, Target>();
  for (const t of map.values()) seen.set(t.abs, t);
  return [...seen.values()];
}

function phaseContext(rt: Runtime, rec: WoRecord, ctl: RunControl): PhaseContext {
  return {
    config: rt.config(),
    woId: rec.wo_id,
    signal: ctl.signal,
    abortReason: ctl.reason,
    live: new LiveOutput(rt.L.run, rec.wo_id),
    record: (r: CommandRecord) => {
      rec.commands.push(r);
    },
    onSpawn: async (pid, procStart, phase, cmd, tree) => {
      rec.running_command = { pid, started_at: rt.now().toISOString(), phase, cmd, index: rec.commands.length, ...(procStart ? { proc_start: procStart } : {}), ...(tree.marker ? { marker: tree.marker } : {}), ...(tree.cgroup ? { cgroup: tree.cgroup } : {}) };
      await save(rt, rec);
    },
  };
}

/** apply_patch and exec: one attempt as a transaction — snapshot, apply, commands, checks, commit or roll back. */
export async function runTransaction(rt: Runtime, job: Job, rec: WoRecord, ctl: RunControl): Promise<Outcome> {
  const cfg = rt.config();
  let targets: Map<string, Target>;
  try {
    targets = await resolveTargets(job);
  } catch (err) {
    const e = toWoError(err);
    await reject(rt, job.file, job.name, job.lane, e.code === 'IO_ERROR' ? 'POLICY_REFUSED' : e.code, e.details.length ? e.details : [{ path: '(paths)', message: e.message }], job.id, job);
    return { rec: (await rt.store.read(job.id)) ?? rec };
  }
  const targetOf = (p: string) => targets.get(p)!;
  let ops: FileOp[] = [];
  let manifest: Manifest | undefined;
  let applied = false;
  let commandsStarted = false;
  try {
    ops = await planFileOps(job.wo, targetOf);
    if (cfg.dryRun || job.wo.dry_run) return { rec: await dryRun(rt, job, rec, ops) };

    const snapTargets = uniqueTargets(targets);
    if (job.type === 'exec' && job.wo.paths === undefined) rec.unrollbackable = true;
    setStage(rt, rec, 'snapshot');
    manifest = await takeSnapshot(rt.L.backups, job.id, rec.attempt, snapTargets, rt.now());
    if (manifest.in_record) rec.snapshot = manifest;
    rec.times.started = rt.now().toISOString();
    setStage(rt, rec, 'apply');
    // write-ahead: durable before the first change
    await transition(rt, rec, 'running', { name: 'start', announce: () => emit(rt, rec, 'wo_started', { title: rec.title }) });
    const pc = phaseContext(rt, rec, ctl);

    applied = true;
    for (const op of ops) {
      if (ctl.signal.aborted) throw abortError(ctl.reason());
      rec.files.push(await applyFileOp(op, (cmd, tmp) => runValidate(pc, cmd, tmp)));
    }
    if (ops.length) emit(rt, rec, 'wo_step', { stage: 'apply', files: rec.files.length });
    if (job.wo.commands.length) {
      setStage(rt, rec, 'commands');
      await save(rt, rec);
      commandsStarted = true;
      await runCommands(pc, 'commands', job.wo.commands);
      rec.running_command = null;
      emit(rt, rec, 'wo_step', { stage: 'commands', commands: job.wo.commands.length });
    }
    if (job.wo.services.length) {
      // After the files (a plist and the script it runs) and commands, before post_verify and tests.
      rec.services = [];
      // The commands stage: a crash from here on is not re-run unless the WO is idempotent (a manager acted).
      setStage(rt, rec, 'commands');
      commandsStarted = true;
      const svc = rec.services;
      await runServices({
        manager: managerOptions(cfg),
        plistAbs: (g) => targetOf(g).abs,
        signal: ctl.signal,
        record: async (r) => {
          if (!svc.includes(r)) svc.push(r);
          await save(rt, rec);
        },
      }, job.wo.services);
      if (ctl.signal.aborted) throw abortError(ctl.reason());
      emit(rt, rec, 'wo_step', { stage: 'services', services: svc.map((r) => `${r.action} ${r.name}`) });
    }
    if (job.wo.post_verify.length) {
      setStage(rt, rec, 'post_verify');
      await runCommands(pc, 'post_verify', job.wo.post_verify);
      rec.running_command = null;
    }
    if (job.wo.tests.length) {
      setStage(rt, rec, 'tests');
      rec.tests = await runTests(pc, job.wo.tests);
      const failed = rec.tests.filter((t) => !t.passed);
      if (failed.length) {
        const f = failed[0]!;
        throw new WoError('TEST_FAILED', `test '${f.name}': expected ${JSON.stringify(f.expected)}, got ${JSON.stringify(f.actual)}${failed.length > 1 ? ` (and ${failed.length - 1} more failed)` : ''}`);
      }
    }
    setStage(rt, rec, 'commit');
    rec.plan = capDiffs(planSteps(ops)); // what changed, with the diffs (the dashboard shows them)
    rec.rolled_back = false;
    delete rec.error;
    await endAttempt(rt, job.file, rec, 'succeeded', () =>
      emit(rt, rec, 'wo_completed', { files: rec.files.length, duration_ms: Date.parse(rec.times.finished!) - Date.parse(rec.times.started!) }),
    );
    // Committed: re-vaulting protected paths must never turn into a rollback of a committed WO.
    await afterCommit(rt, 'guardrail accept', () => rt.hooks.accepted?.(rec.files.map((f) => f.path)));
    return { rec };
  } catch (err) {
    const e = toWoError(err);
    return failJob(rt, job, rec, e, { manifest, applied, commandsStarted, ops, plistAbs: (g) => targets.get(g)?.abs ?? path.resolve(cfg.root, g) });
  } finally {
    await rt.hooks.unlocked?.([...targets.values()].map((t) => t.rel));
  }
}

const MAX_DIFF = 64 * 1024;
/** Keep recorded diffs to a bounded size (a 10 MiB new file must not bloat its state record). */
function capDiffs(steps: PlanStep[]): PlanStep[] {
  return steps.map((st) => (st.diff && st.diff.length > MAX_DIFF ? { ...st, diff: `${st.diff.slice(0, MAX_DIFF)}\n… (diff truncated at ${MAX_DIFF} bytes)\n` } : st));
}

function abortError(why: AbortWhy | undefined): WoError {
  if (why === 'timeout') return new WoError('TIMEOUT', 'the WO ran over its timeout_s');
  if (why === 'shutdown') return new WoError('INTERRUPTED', 'the daemon stopped', { transient: true });
  return new WoError('CANCELLED', 'cancelled');
}

/** Roll back (when anything may have changed) and end the attempt: failed, cancelled, or queued again. */
async function failJob(rt: Runtime, job: Job, rec: WoRecord, e: WoError, st: { manifest: Manifest | undefined; applied: boolean; commandsStarted: boolean; ops: FileOp[]; plistAbs: (given: string) => string }): Promise<Outcome> {
  rec.running_command = null;
  rec.error = { code: e.code, message: e.message, ...(e.details.length ? { details: e.details } : {}) };
  if (st.ops.length) rec.plan = capDiffs(planSteps(st.ops)); // what it attempted, with the diffs
  if (st.applied && st.manifest) {
    try {
      const restored = await restoreSnapshot(rt.L.backups, st.manifest);
      rec.rolled_back = true;
      rec.rolled_back_to = st.manifest.in_record ? 'record' : `${path.relative(rt.L.root, backupDir(rt.L.backups, rec.wo_id))}/`;
      await logRollback(rt, rec.wo_id, restored, `${e.code}: ${e.message}`);
      emit(rt, rec, 'wo_rolled_back', { ok: true, paths: restored, code: e.code });
    } catch (rbErr) {
      rec.rolled_back = false;
      rec.error.message += ` — and the rollback failed: ${(rbErr as Error).message}`;
      emit(rt, rec, 'wo_rolled_back', { ok: false, error: (rbErr as Error).message });
    }
  }
  if (rec.services?.length) {
    // Services are undone in reverse order after the files are back (a re-bootstrap reads the restored plist).
    const failed = await undoServices({ config: rt.config(), telemetry: rt.telemetry, now: rt.now, log: (m) => rt.log.warn({}, m) }, rec, st.plistAbs);
    if (failed.length) {
      rec.error.message += ` — and undoing its services failed: ${failed.join('; ')}`;
      emit(rt, rec, 'wo_rolled_back', { ok: false, services_failed: failed });
    } else {
      emit(rt, rec, 'wo_rolled_back', { ok: true, services: rec.services.map((r) => r.compensation?.cmd ?? '(nothing to undo)') });
    }
  }
  // A restart (shutdown) re-runs the WO unless a non-idempotent command had started.
  if (e.code === 'INTERRUPTED' && !(st.commandsStarted && !job.wo.idempotent)) {
    await transition(rt, rec, 'queued', { name: 'requeue' });
    return { rec };
  }
  const retries = job.wo.retry ?? 0;
  const cfg = rt.config();
  if (e.transient && e.code !== 'INTERRUPTED' && (rec.tries ?? 1) <= retries) {
    await transition(rt, rec, 'queued', { name: 'requeue', announce: () => emit(rt, rec, 'wo_failed', { ok: false, code: e.code, message: e.message, retrying: true, rolled_back: rec.rolled_back }) });
    return { rec, retryInMs: Math.min(60_000, 500 * 2 ** ((rec.tries ?? 1) - 1)) };
  }
  const status: Status = e.code === 'CANCELLED' ? 'cancelled' : 'failed';
  if (e.code === 'INTERRUPTED') rec.given_up = (rec.tries ?? 1) >= cfg.attempts;
  await endAttempt(rt, job.file, rec, status, () =>
    emit(rt, rec, status === 'cancelled' ? 'wo_cancelled' : 'wo_failed', { ok: false, code: e.code, message: e.message.slice(0, 2000), rolled_back: rec.rolled_back }),
  );
  return { rec };
}

/**
 * Why: every command a WO would run, as `unknown` plan steps (never run to plan), in `commandsOf` order —
 * validate commands, commands, post_verify, tests — so per-command policy verdicts line up with them.
 */
export function commandSteps(wo: WorkOrder): PlanStep[] {
  return commandsOf(wo).map(({ where, cmd }): PlanStep => {
    const m = /^files\[(\d+)\]\.validate$/.exec(where);
    if (m) {
      const f = wo.files[Number(m[1])]!;
      return { step: `validate ${f.path}: ${f.validate!}`, cmd: f.validate!, verdict: 'unknown' };
    }
    const text = commandText(cmd);
    if (where.startsWith('tests[')) {
      const t = wo.tests[Number(/\d+/.exec(where)![0])]!;
      return { step: `test '${t.name}': ${text}`, cmd: text, verdict: 'unknown' };
    }
    return { step: `${where.slice(0, where.indexOf('['))}: ${text}`, cmd: text, verdict: 'unknown' };
  });
}

/** Every step of a plan: file changes with their diffs, then each command as `unknown`, then each service action. */
function stepsOf(job: Job, ops: FileOp[]): PlanStep[] {
  return [...planSteps(ops), ...commandSteps(job.wo), ...serviceSteps(job.wo.services)];
}

/** The plan of a transaction WO, computed without changing anything. */
export async function planTransaction(_rt: Runtime, job: Job): Promise<PlanStep[]> {
  const targets = await resolveTargets(job);
  return capDiffs(stepsOf(job, await planFileOps(job.wo, (p) => targets.get(p)!)));
}

/** An honest dry run: every step says will change (with the diff), no change, or unknown (commands). */
async function dryRun(rt: Runtime, job: Job, rec: WoRecord, ops: FileOp[]): Promise<WoRecord> {
  const steps = stepsOf(job, ops);
  rec.plan = capDiffs(steps);
  rec.dry_run = true;
  rec.times.started = rt.now().toISOString();
  setStage(rt, rec, 'commit');
  await endAttempt(rt, job.file, rec, 'succeeded', () => emit(rt, rec, 'wo_completed', { dry_run: true, will_change: steps.filter((s) => s.verdict === 'will change').length }));
  return rec;
}

