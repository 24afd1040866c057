/** The plan a held WO carries (what approval is for): dry-run steps with per-command verdicts, and the targets' digest. */
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { PlanStep, WoRecord } from '../state/record.js';
import type { NamedTarget } from '../policy/targets.js';
import { woTargets } from '../policy/targets.js';
import { pathPolicy } from '../policy/context.js';
import { commandVerdicts } from '../policy/verdict.js';
import { PROCESSORS } from '../processors/index.js';
import { commandSteps } from '../processors/transaction.js';
import { parseWo, type WorkOrder } from '../wo/parse.js';
import { withParent } from '../util/confined.js';
import { sha256 } from '../util/fsx.js';
import type { Job, Runtime } from './runtime.js';

export interface HeldPlan {
  plan: PlanStep[];
  plan_sha256: string;
}

/** The hold reason an approval gives when the targets changed since the plan was shown. */
export const CHANGED_REASON = 'the files changed since it was held; review the new plan and approve again';

/** Why: the plan's command steps show what policy says of each command alone (pure; steps in `commandsOf` order). */
export function withVerdicts(plan: PlanStep[], wo: WorkOrder, ctx: Parameters<typeof commandVerdicts>[1]): PlanStep[] {
  const verdicts = commandVerdicts(wo, ctx);
  const cmdSteps = plan.filter((s) => s.cmd !== undefined).length;
  if (cmdSteps !== verdicts.length) return plan; // not a transaction plan: nothing to line up
  let i = 0;
  return plan.map((s) => {
    if (s.cmd === undefined) return s;
    const v = verdicts[i++]!;
    return { ...s, policy: v.policy, why: v.why };
  });
}

/** One target's current state as a line: absent, a file's mode and sha256, a folder, or why it cannot be read. */
async function stateOf(t: NamedTarget['target']): Promise<string> {
  try {
    const file = await withParent(t, {}, (dir, name) => dir.readFile(name));
    return file ? `file ${file.mode.toString(8)} ${sha256(file.bytes)}` : 'absent';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') return 'folder';
    return `unreadable ${code ?? (err as Error).message}`;
  }
}

/** Why: approval compares this digest of every target's bytes and mode to know whether what it approved still holds. */
export async function targetsDigest(targets: readonly NamedTarget[]): Promise<string> {
  const seen = new Map<string, NamedTarget['target']>();
  for (const { target } of targets) seen.set(target.abs, target);
  const lines: string[] = [];
  for (const abs of [...seen.keys()].sort()) lines.push(`${abs}\0${await stateOf(seen.get(abs)!)}`);
  return crypto.createHash('sha256').update(lines.join('\n')).digest('hex');
}

/** Why: a held WO shows the operator exactly what it would do; a plan that cannot be computed says so, never throws. */
export async function holdPlan(rt: Runtime, job: Job): Promise<HeldPlan> {
  const cfg = rt.config();
  let plan: PlanStep[];
  try {
    plan = await PROCESSORS[job.type].plan(rt, job);
  } catch (err) {
    plan = [{ step: `the plan cannot be computed: ${(err as Error).message}`, verdict: 'unknown' }, ...commandSteps(job.wo)];
  }
  plan = withVerdicts(plan, job.wo, { allowCommands: cfg.policy.allow_commands, root: rt.L.root, allowedRoots: cfg.allowedRoots, allowSelfModify: cfg.allowSelfModify });
  return { plan, plan_sha256: await targetsDigest(job.targets) };
}

/** Why: approval re-plans a held WO from its file in hold/; undefined when the file cannot be read or parsed (admission judges it). */
export async function replanHeld(rt: Runtime, rec: WoRecord): Promise<HeldPlan | undefined> {
  const cfg = rt.config();
  const file = path.resolve(rt.L.root, rec.file);
  const bytes = await fsp.readFile(file).catch(() => undefined);
  if (!bytes) return undefined;
  const parsed = parseWo(bytes, rec.source_name, { ...cfg.limits, lenient: cfg.intake.lenient });
  if (!parsed.ok || !PROCESSORS[parsed.wo.type].judged) return undefined;
  const { targets, refusals } = woTargets(parsed.wo, pathPolicy(cfg));
  if (refusals.length) return undefined;
  const job: Job = { file, lane: rec.lane, name: rec.source_name, sha256: parsed.sha256, bytes, wo: parsed.wo, id: rec.wo_id, type: parsed.wo.type, warnings: parsed.warnings, seq: 0, received: rec.times.received ?? rt.now().toISOString(), targets };
  return holdPlan(rt, job);
}
