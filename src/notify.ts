/** Tell a person: run `notify.command` through /bin/sh with the event as JSON on stdin. Never throws. */
import { runContained } from './exec/run.js';
import { redact } from './exec/redact.js';
import type { PlanStep, WoRecord } from './state/record.js';

const TIMEOUT_MS = 10_000;
const GRACE_MS = 1000;
const TAIL = 2048;

/** The daemon's environment minus unset values: notify is the user's own command (notify-send needs the desktop's variables). */
function inherited(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return env;
}

/**
 * Run `command` (SPEC §12 `notify.command`) with `event` as JSON on stdin, bounded by 10 s (its whole tree is
 * killed then, and when it ends). Resolves when it ends; failures are logged (secrets redacted), never thrown.
 */
export async function notify(command: string | null, event: object, opts: { timeoutMs?: number; log?: (msg: string) => void } = {}): Promise<void> {
  if (!command) return;
  const log = opts.log ?? ((msg: string) => process.stderr.write(`wo notify: ${msg}\n`));
  const timeoutMs = opts.timeoutMs ?? TIMEOUT_MS;
  try {
    const r = await runContained('/bin/sh', ['-c', command], { cwd: process.cwd(), env: inherited(), timeoutMs, killGraceMs: GRACE_MS, tailBytes: TAIL, input: JSON.stringify(event) + '\n' });
    const what = JSON.stringify(redact(command));
    if (r.spawnError) log(`could not run ${what}: ${r.spawnError}`);
    else if (r.timedOut) log(`${what} timed out after ${timeoutMs / 1000} s and was killed`);
    else if (r.code !== 0) log(`${what} failed (${r.signal ? `signal ${r.signal}` : `exit ${r.code}`})${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''}`);
  } catch (err) {
    log(`could not run ${JSON.stringify(redact(command))}: ${redact((err as Error).message)}`);
  }
}

/** Why: a held notification says what approving would do, in one line (pure). */
export function planSummary(plan: readonly PlanStep[]): string {
  const files = plan.filter((s) => s.cmd === undefined && s.path !== undefined);
  const changing = files.filter((s) => s.verdict === 'will change');
  const cmds = plan.filter((s) => s.cmd !== undefined);
  const held = cmds.filter((s) => s.policy === 'held');
  const unplanned = plan.filter((s) => s.cmd === undefined && s.path === undefined);
  const parts: string[] = [];
  if (files.length) parts.push(`${changing.length} of ${files.length} file${files.length === 1 ? '' : 's'} will change${changing.length ? ` (${changing.slice(0, 5).map((s) => s.step).join(', ')}${changing.length > 5 ? ', …' : ''})` : ''}`);
  if (cmds.length) parts.push(`${cmds.length} command${cmds.length === 1 ? '' : 's'}${held.length ? `, ${held.length} not allowed by policy (${held.slice(0, 3).map((s) => s.cmd!.slice(0, 60)).join('; ')}${held.length > 3 ? '; …' : ''})` : ''}`);
  for (const s of unplanned) parts.push(s.step);
  return parts.join('; ') || 'nothing to do';
}

/** Why: the `wo_held` event `notify.command` receives: the reasons and the plan (steps and verdicts, no diffs). */
export function heldEvent(rec: WoRecord): object {
  const plan = rec.plan ?? [];
  return {
    event: 'wo_held',
    wo_id: rec.wo_id,
    title: rec.title,
    reasons: rec.hold_reasons,
    plan_summary: planSummary(plan),
    plan: plan.map((s) => ({ step: s.step, verdict: s.verdict, ...(s.path !== undefined ? { path: s.path } : {}), ...(s.cmd !== undefined ? { cmd: s.cmd } : {}), ...(s.policy ? { policy: s.policy } : {}) })),
  };
}
