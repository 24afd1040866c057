/**
 * `wo plan`: a WO's plan exactly as admission and a dry run would compute it (validation, path refusals, the policy
 * decision with its hold reasons, file steps with diffs, commands with their verdicts), with no daemon and no writes:
 * no record, no telemetry, no backup, no lock. The runtime handed to the processors' plan functions has no store and
 * no telemetry: touching them throws, so "writes nothing" is enforced, not just intended.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, type Config } from '../config/load.js';
import { layout } from '../layout.js';
import { PROCESSORS } from '../processors/index.js';
import { commandSteps } from '../processors/transaction.js';
import { woTargets } from '../policy/targets.js';
import { pathPolicy, verdictContext } from '../policy/context.js';
import { checkTarget } from '../policy/paths.js';
import { policyVerdict } from '../policy/verdict.js';
import { brakesAt } from '../policy/brakes.js';
import { StateStore } from '../state/store.js';
import { toWoError } from '../errors.js';
import type { PlanStep } from '../state/record.js';
import { withVerdicts } from './holdplan.js';
import { identify, seenAs, type Seen } from './decide.js';
import type { Job, Runtime } from './runtime.js';

/** The version of the `wo plan --json` document (bumped only on an incompatible change). */
export const PLAN_FORMAT = 1;

/** What the daemon would do with the file: run it, hold it, only dry-run it, or reject it. */
export type PlanDecision = 'run' | 'hold' | 'dry_run' | 'reject';

/** The `wo plan --json` document (docs/SPEC.md §9). */
export interface PlanReport {
  wo_plan: typeof PLAN_FORMAT;
  file: string;
  lane: string;
  valid: boolean;
  wo_id: string | null;
  type: string | null;
  decision: PlanDecision;
  /** Why it would be held (decision `hold`). */
  hold_reasons: string[];
  /** Why it would be rejected (decision `reject`): validation errors or path refusals, `field: message`. */
  errors: { path: string; message: string }[];
  warnings: string[];
  /** The WO is valid but its plan cannot be computed (a patch that does not apply): the daemon would fail it. */
  plan_error: { code: string; message: string } | null;
  /** File steps (with diffs), then every command as `unknown` with its own policy verdict. */
  steps: PlanStep[];
  /** What the state store says of this id (read only): `duplicate`/`conflict` the daemon would not run it. */
  seen: Seen;
}

const forbidden = (what: string): never => {
  throw new Error(`wo plan writes nothing: the plan step tried to use the ${what}`);
};

/** A runtime for plan functions only: config, layout and clock; the store and telemetry throw when touched. */
function planRuntime(root: string, cfg: Config): Runtime {
  const trap = (what: string) => new Proxy({}, { get: () => forbidden(what) }) as never;
  const quiet = { info: () => {}, warn: () => {}, error: () => {} };
  return { L: layout(root), config: () => cfg, store: trap('state store'), telemetry: trap('telemetry'), log: quiet, now: () => new Date(), hooks: {} };
}

function base(file: string, lane: string): PlanReport {
  return { wo_plan: PLAN_FORMAT, file, lane, valid: false, wo_id: null, type: null, decision: 'reject', hold_reasons: [], errors: [], warnings: [], plan_error: null, steps: [], seen: 'new' };
}

/** Why: `wo plan` and the upgrade's shadow run show what the daemon would do with a file, without doing any of it. */
export async function planWoFile(root: string, file: string, lane: string, cfgIn?: Config): Promise<PlanReport> {
  const cfg = cfgIn ?? (await loadConfig(root));
  const rt = planRuntime(root, cfg);
  const out = base(file, lane);
  const st = await fsp.stat(file);
  if (st.size > cfg.limits.wo_bytes) {
    out.errors.push({ path: '(file)', message: `the file is ${st.size} bytes, over the limit of ${cfg.limits.wo_bytes} (limits.wo_bytes)` });
    return out;
  }
  const bytes = await fsp.readFile(file);
  const name = path.basename(file);
  const got = identify(cfg, bytes, name, lane);
  if (!got.ok) return { ...out, wo_id: got.wo_id ?? null, ...(got.identity ? { type: got.identity.type } : {}), errors: got.errors };
  const job: Job = { file: path.resolve(file), lane, name, bytes, ...got.identity, seq: 0, received: new Date().toISOString(), targets: [] };
  // What the state store says of this id (read only): a re-submitted id is a duplicate, a conflict or a new attempt.
  const prev = await new StateStore(rt.L.state).read(job.id).catch(() => undefined);
  Object.assign(out, { wo_id: job.id, type: job.type, warnings: job.warnings, seen: seenAs(prev, job.sha256) });
  const proc = PROCESSORS[job.type];
  if (proc.judged) {
    const { targets, refusals } = woTargets(job.wo, pathPolicy(cfg));
    if (refusals.length) return { ...out, errors: refusals };
    job.targets = targets;
    // The fs checks the transaction makes before any effect (a link or a hard link in a target): a refusal here is a rejection.
    for (const { where, target } of targets) {
      try {
        await checkTarget(target);
      } catch (err) {
        out.errors.push({ path: where, message: toWoError(err).message });
      }
    }
    if (out.errors.length) return out;
  }
  out.valid = true;
  out.decision = 'run';
  if (proc.judged) {
    const brakes = brakesAt(rt.L.run, () => {});
    await brakes.ready; // reads g/run/breaker.json, never writes it (the rate window is the daemon's memory: not modelled)
    const verdict = policyVerdict(job.wo, verdictContext(cfg, lane, brakes));
    out.decision = verdict.decision;
    out.hold_reasons = verdict.hold_reasons;
  }
  let steps: PlanStep[];
  try {
    steps = await proc.plan(rt, job);
  } catch (err) {
    const e = toWoError(err);
    out.plan_error = { code: e.code, message: e.message };
    steps = commandSteps(job.wo);
  }
  out.steps = proc.judged ? withVerdicts(steps, job.wo, { allowCommands: cfg.policy.allow_commands, root: rt.L.root, allowedRoots: cfg.allowedRoots, allowSelfModify: cfg.allowSelfModify }) : steps;
  return out;
}
