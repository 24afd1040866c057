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
  /** WO_DRY_RUN=1 in the daemon's environment. */
  dryRunEnv: boolean;
}

export interface Verdict {
  decision: 'run' | 'hold' | 'dry_run';
  hold_reasons: string[];
}

export const APPROVE_REASON = 'policy.autonomy is approve: every WO waits for approval';
/** What `%s` of a `validate` command stands for during analysis: a file inside the root. */
export const VALIDATE_PLACEHOLDER = '.wo-validate-target';

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

/** Why: one pure decision the daemon records; path refusals are not here (lexicalTarget refuses them at every level). */
export function policyVerdict(wo: WorkOrder, ctx: VerdictContext): Verdict {
  if (ctx.autonomy === 'observe' || ctx.dryRunEnv || wo.dry_run) return { decision: 'dry_run', hold_reasons: [] };
  if (ctx.autonomy === 'approve') return { decision: 'hold', hold_reasons: [APPROVE_REASON] };
  if (ctx.autonomy === 'auto') return { decision: 'run', hold_reasons: [] };
  const reasons = commandVerdicts(wo, ctx).flatMap((v) => v.why);
  return reasons.length ? { decision: 'hold', hold_reasons: reasons } : { decision: 'run', hold_reasons: [] };
}
