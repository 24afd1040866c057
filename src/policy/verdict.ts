/** The policy decision for a whole WO (SPEC §6): run, hold for approval, or only plan (dry run). Pure. */
import type { CommandSpec, WorkOrder } from '../wo/parse.js';
import { analyzeCommand } from './shell.js';

export type Autonomy = 'observe' | 'approve' | 'guarded' | 'auto';

export interface VerdictContext {
  autonomy: Autonomy;
  allowCommands: readonly string[];
  root: string;
  allowedRoots: readonly string[];
  /** `policy.allow_self_modify` (default false): wo.config.yaml and .git/ may be named by commands. */
  allowSelfModify?: boolean;
  /** `policy.allow_services`: labels/units a services: step may act on without approval (guarded). */
  allowServices?: readonly string[];
  /** WO_DRY_RUN=1 in the daemon's environment. */
  dryRunEnv: boolean;
  /** The lane the WO was dropped in (for `policy.lanes.<lane>`). */
  lane?: string;
  /** `policy.lanes`: a lane's level replaces `autonomy` there. */
  lanes?: Readonly<Record<string, { autonomy?: Autonomy | undefined }>>;
  /** `policy.owners`: an owner's level only tightens (the owner field is written by whoever wrote the WO). */
  owners?: Readonly<Record<string, { autonomy?: Autonomy | undefined }>>;
  /** The lane's breaker is open: why (the lane drops to `approve`). */
  breaker?: string | undefined;
  /** The lane's rate limit is reached: why (a WO that would run is held instead). */
  rateFull?: string | undefined;
}

/** The level that applies to a WO and the config key that set it (named in hold reasons). */
export interface Level {
  autonomy: Autonomy;
  rule: string;
}

export interface Verdict {
  decision: 'run' | 'hold' | 'dry_run';
  hold_reasons: string[];
}

export const APPROVE_REASON = 'policy.autonomy is approve: every WO waits for approval';
/** What `%s` of a `validate` command stands for during analysis: a file inside the root. */
export const VALIDATE_PLACEHOLDER = '.wo-validate-target';

/** How restrictive a level is: a higher rank wins where levels combine. */
const RANK: Record<Autonomy, number> = { auto: 0, guarded: 1, approve: 2, observe: 3 };

const own = <T>(rec: Readonly<Record<string, T>> | undefined, key: string | undefined): T | undefined =>
  rec !== undefined && key !== undefined && Object.hasOwn(rec, key) ? rec[key] : undefined;

/**
 * Why: one place decides which level applies. The lane's level replaces the global one (lanes are folders the
 * operator controls); the owner's level only tightens (a WO names its own owner); an open breaker tightens to approve.
 */
export function effectiveLevel(wo: Pick<WorkOrder, 'owner'>, ctx: VerdictContext): Level {
  const laneLevel = own(ctx.lanes, ctx.lane)?.autonomy;
  let level: Level = laneLevel ? { autonomy: laneLevel, rule: `policy.lanes.${ctx.lane}.autonomy` } : { autonomy: ctx.autonomy, rule: 'policy.autonomy' };
  const ownerLevel = own(ctx.owners, wo.owner)?.autonomy;
  if (ownerLevel && RANK[ownerLevel] > RANK[level.autonomy]) level = { autonomy: ownerLevel, rule: `policy.owners.${wo.owner}.autonomy` };
  if (ctx.breaker && RANK[level.autonomy] < RANK.approve) level = { autonomy: 'approve', rule: ctx.breaker };
  return level;
}

/** The hold reason of a WO held because its level is `approve`. */
export function approveReason(level: Level): string {
  return level.rule === 'policy.autonomy' ? APPROVE_REASON : level.rule.startsWith('policy.') ? `${level.rule} is approve: every WO waits for approval` : level.rule;
}

/** Every command a WO would run, with where it comes from (for the reasons). */
export function commandsOf(wo: WorkOrder): { where: string; cmd: CommandSpec }[] {
  const out: { where: string; cmd: CommandSpec }[] = [];
  wo.files.forEach((f, i) => {
    if (f.validate !== undefined) out.push({ where: `files[${i}].validate`, cmd: { kind: 'sh', cmd: f.validate.replaceAll('%s', VALIDATE_PLACEHOLDER) } });
  });
  wo.commands.forEach((cmd, i) => out.push({ where: `commands[${i}]`, cmd }));
  wo.post_verify.forEach((cmd, i) => out.push({ where: `post_verify[${i}]`, cmd }));
  wo.tests.forEach((t, i) => out.push({ where: `tests[${i}]`, cmd: t.command }));
  return out;
}

export interface CommandVerdict {
  /** Where the command comes from, e.g. `commands[0]`, `files[1].validate`, `tests[2]`. */
  where: string;
  policy: 'allowed' | 'held';
  /** Its policy reasons, each prefixed with `where` (empty when allowed). */
  why: string[];
}

/** Why: a held WO's plan shows each command's own verdict, in `commandsOf` order (what guarded mode would decide). */
export function commandVerdicts(wo: WorkOrder, ctx: Omit<VerdictContext, 'autonomy' | 'dryRunEnv'>): CommandVerdict[] {
  return commandsOf(wo).map(({ where, cmd }) => {
    const a = analyzeCommand(cmd, ctx);
    const why = a.reasons.map((r) => `${where}: ${r}`);
    return { where, policy: a.allowed && why.length === 0 ? 'allowed' : 'held', why };
  });
}

/** Why: a services: step is judged like a command: a label/unit not in policy.allow_services is held. */
export function serviceReasons(wo: Pick<WorkOrder, 'services'>, allow: readonly string[]): string[] {
  return (wo.services ?? []).flatMap((s, i) => {
    const name = s.kind === 'launchd' ? s.label : s.unit;
    return allow.includes(name) ? [] : [`services[${i}]: ${s.action} of ${s.kind} ${name}: not in policy.allow_services`];
  });
}

/**
 * Why: one pure decision the daemon records; path refusals are not here (lexicalTarget refuses them at every level).
 * Each hold reason names the rule that decided it.
 */
export function policyVerdict(wo: WorkOrder, ctx: VerdictContext): Verdict {
  // A global `observe` is a master switch, as WO_DRY_RUN=1: no lane level loosens it.
  if (ctx.autonomy === 'observe' || ctx.dryRunEnv || wo.dry_run) return { decision: 'dry_run', hold_reasons: [] };
  const level = effectiveLevel(wo, ctx);
  if (level.autonomy === 'observe') return { decision: 'dry_run', hold_reasons: [] };
  if (level.autonomy === 'approve') return { decision: 'hold', hold_reasons: [approveReason(level)] };
  const reasons: string[] = [];
  if (level.autonomy === 'guarded') {
    const by = level.rule === 'policy.autonomy' ? '' : ` (${level.rule} is guarded)`;
    for (const v of commandVerdicts(wo, ctx)) for (const r of v.why) reasons.push(`${r}${by}`);
    for (const r of serviceReasons(wo, ctx.allowServices ?? [])) reasons.push(`${r}${by}`);
  }
  if (reasons.length) return { decision: 'hold', hold_reasons: reasons };
  if (ctx.rateFull) return { decision: 'hold', hold_reasons: [ctx.rateFull] };
  return { decision: 'run', hold_reasons: [] };
}
