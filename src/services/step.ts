/** The WO's `services:` step and its compensation: each action recorded like a command, health-checked, undone in reverse. */
import { setTimeout as sleep } from 'node:timers/promises';
import { WoError } from '../errors.js';
import type { ServiceRecord } from '../state/record.js';
import type { ServiceRef } from './argv.js';
import { serviceAction, serviceStatus, type CallResult, type ManagerOptions } from './manager.js';
import { problemOf, serviceName, type ServiceAction, type ServiceSpec, type ServiceStatus } from './status.js';

export interface StepContext {
  manager: ManagerOptions;
  /** The plist's absolute path as admission confined it. */
  plistAbs: (given: string) => string;
  signal: AbortSignal;
  /** Record (and persist) an action before and after it runs: compensation must know what was attempted. */
  record: (r: ServiceRecord) => Promise<void>;
}

/** The manager's view of a spec. */
export function refOf(spec: ServiceSpec, plistAbs: (given: string) => string): ServiceRef {
  return spec.kind === 'launchd' ? { kind: 'launchd', name: spec.label, plistAbs: plistAbs(spec.plist) } : { kind: 'systemd', name: spec.unit };
}

const SETTLE_MS = 1000;
const SETTLE_STEP_MS = 100;

/** Status after an action; a just-loaded service that has neither a pid nor an exit yet is given a moment to settle. */
async function settledStatus(ref: ServiceRef, o: ManagerOptions, signal: AbortSignal): Promise<{ status: ServiceStatus | null; call: CallResult }> {
  const until = Date.now() + SETTLE_MS;
  for (;;) {
    const s = await serviceStatus(ref, o);
    const undecided = s.status && s.status.loaded && !s.status.running && s.status.last_exit === null;
    if (!undecided || Date.now() >= until || signal.aborted) return s;
    await sleep(SETTLE_STEP_MS);
  }
}

/** What is wrong after an action, or null: load/restart want the service up, unload wants it gone. */
export function afterProblem(action: ServiceAction, s: ServiceStatus | null): string | null {
  if (!s) return 'its status could not be read';
  if (action === 'unload') return s.loaded ? 'still loaded' : null;
  const p = problemOf(s);
  if (p === 'not running') return null; // an interval agent between runs: loaded, no failure recorded
  if (p === null) return null;
  return p === 'exited 127' ? `exited 127 (${s.exit_meaning})` : p;
}

function callFailure(c: CallResult): string | null {
  if (c.error) return c.error;
  if (c.exit_code !== 0) return `exit ${c.exit_code}${c.output_tail.trim() ? `: ${c.output_tail.trim().split('\n').slice(-2).join(' | ').slice(0, 300)}` : ''}`;
  return null;
}

/** Why: run the WO's service actions in order; the first failure (call or health) throws SERVICE_FAILED naming it. */
export async function runServices(ctx: StepContext, specs: ServiceSpec[]): Promise<void> {
  for (const [i, spec] of specs.entries()) {
    if (ctx.signal.aborted) return;
    const ref = refOf(spec, ctx.plistAbs);
    const before = await serviceStatus(ref, ctx.manager);
    const rec: ServiceRecord = {
      index: i, kind: spec.kind, name: serviceName(spec), action: spec.action, ...(spec.kind === 'launchd' ? { plist: spec.plist } : {}),
      cmd: '', exit_code: null, timed_out: false, output_tail: '', status_before: before.status, status_after: null, ok: false,
    };
    await ctx.record(rec); // intent first: a crash or failure from here on compensates this one too
    const call = await serviceAction(ref, spec.action, ctx.manager);
    Object.assign(rec, { cmd: call.cmd, exit_code: call.exit_code, timed_out: call.timed_out, output_tail: call.output_tail });
    const failed = callFailure(call);
    const after = await settledStatus(ref, ctx.manager, ctx.signal);
    rec.status_after = after.status;
    const problem = failed ?? afterProblem(spec.action, after.status);
    rec.ok = problem === null;
    if (problem) rec.problem = problem;
    await ctx.record(rec);
    if (problem) {
      throw new WoError('SERVICE_FAILED', `services[${i}]: ${spec.action} of ${spec.kind} ${rec.name} failed: ${problem}`, {
        transient: call.timed_out,
        details: [{ path: `services[${i}]`, message: problem }],
      });
    }
  }
}

/** The compensating action of one recorded action (null: nothing to undo). */
export function compensationOf(r: Pick<ServiceRecord, 'action' | 'status_before'>): ServiceAction | null {
  const wasLoaded = r.status_before?.loaded ?? false;
  if (r.action === 'load') return wasLoaded ? 'restart' : 'unload';
  if (r.action === 'unload') return wasLoaded ? 'load' : null;
  return 'restart';
}

/**
 * Why: undo attempted actions in reverse order, after the files are restored (a re-bootstrap reads the restored
 * plist). Each outcome is written into its record; failures are returned (the caller alerts), never thrown.
 */
export async function compensate(recs: ServiceRecord[], manager: ManagerOptions, plistAbs: (given: string) => string): Promise<string[]> {
  const failures: string[] = [];
  for (const r of [...recs].reverse()) {
    const undo = compensationOf(r);
    if (!undo) continue;
    const spec: ServiceSpec = r.kind === 'launchd' ? { kind: 'launchd', plist: r.plist!, label: r.name, action: undo } : { kind: 'systemd', unit: r.name, action: undo };
    const ref = refOf(spec, plistAbs);
    // A restart of a service that a failed load left unloaded would fail: bootstrap it again instead.
    let action = undo;
    const now = await serviceStatus(ref, manager);
    if (undo === 'unload' && now.status && !now.status.loaded) {
      r.compensation = { action: 'unload', cmd: '(none: already not loaded)', exit_code: null, output_tail: '', status_after: now.status, ok: true };
      continue;
    }
    if (undo === 'restart' && now.status && !now.status.loaded) action = 'load';
    if (action === 'restart' && r.kind === 'launchd' && r.action === 'load') {
      // Loaded before with the old plist: boot out and bootstrap the restored plist.
      await serviceAction(ref, 'unload', manager);
      action = 'load';
    }
    const call = await serviceAction(ref, action, manager);
    const fail = callFailure(call);
    const after = await serviceStatus(ref, manager);
    const problem = fail ?? afterProblem(action, after.status);
    r.compensation = { action, cmd: call.cmd, exit_code: call.exit_code, output_tail: call.output_tail, status_after: after.status, ok: problem === null, ...(problem ? { problem } : {}) };
    if (problem) failures.push(`services[${r.index}] ${r.kind} ${r.name}: undo (${call.cmd}) failed: ${problem}`);
  }
  return failures;
}
