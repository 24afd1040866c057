/** `wo plan <file>`: what the daemon would do with a WO (decision, hold reasons, file diffs, commands), writing nothing. */
import fsp from 'node:fs/promises';
import type { Command } from 'commander';
import { paint, printJson, printable, rootOf, withRoot } from '../common.js';
import { formatErrors } from '../wo-file.js';
import { UsageError } from '../../errors.js';
import type { PlanReport } from '../../daemon/planonly.js';

const DECISION: Record<PlanReport['decision'], string> = {
  run: 'would run',
  hold: 'would be held for approval',
  dry_run: 'would only be planned (dry run)',
  reject: 'would be rejected',
};

const SEEN: Record<PlanReport['seen'], string> = {
  new: '',
  again: 'a record with this id exists and is not applied: this would be a new attempt',
  duplicate: 'this exact WO already succeeded: the daemon would file it as a duplicate and apply nothing',
  conflict: 'a WO with this id already succeeded with other content: the daemon would reject it (CONFLICT)',
};

/** Why: the human form of a plan, one step a line, diffs indented under their step. */
export function renderPlan(r: PlanReport): string {
  const lines = [`${printable(r.wo_id ?? r.file)} (${r.type ?? 'unknown type'}, lane ${r.lane}): ${paint(DECISION[r.decision], r.decision === 'run' ? 'green' : r.decision === 'reject' ? 'red' : 'yellow')}`];
  if (SEEN[r.seen]) lines.push(`  note: ${SEEN[r.seen]}`);
  for (const w of r.warnings) lines.push(`  ${paint('warning', 'yellow')}: ${w}`);
  for (const h of r.hold_reasons) lines.push(`  hold: ${h}`);
  if (r.plan_error) lines.push(`  ${paint('the plan cannot be computed', 'red')} (${r.plan_error.code}): ${r.plan_error.message} — the daemon would fail it`);
  for (const s of r.steps) {
    const policy = s.policy === undefined ? '' : s.policy === 'allowed' ? `  [${paint('allowed', 'green')}]` : `  [${paint('held', 'yellow')}: ${(s.why ?? []).join('; ')}]`;
    lines.push(`  ${s.verdict.padEnd(11)} ${printable(s.step)}${policy}`);
    if (s.diff) lines.push(...s.diff.replace(/\n$/, '').split('\n').map((l) => `      ${l}`));
  }
  if (!r.steps.length && r.valid) lines.push('  (no steps)');
  return lines.join('\n') + '\n';
}

export function register(program: Command, name: string): void {
  withRoot(program.command(name))
    .description('show what the daemon would do with a WO (decision, hold reasons, diffs, commands) without a daemon and writing nothing')
    .argument('<file>', 'the WO file')
    .option('--lane <lane>', 'plan it as dropped in this lane (default: submit_lane from the config, CLC)')
    .option('--json', 'print the plan as JSON (docs/SPEC.md §9)')
    .action(async (file: string, opts: { root?: string; lane?: string; json?: boolean }) => {
      const root = rootOf(opts);
      const { loadConfig } = await import('../../config/load.js');
      const { planWoFile } = await import('../../daemon/planonly.js');
      const cfg = await loadConfig(root);
      const lane = opts.lane ?? cfg.submit_lane;
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(lane)) throw new UsageError(`--lane ${lane}: a lane is a folder name (letters, digits, . _ -)`);
      const st = await fsp.stat(file).catch(() => undefined);
      if (!st) throw new UsageError(`cannot read ${file}: no such file`);
      if (!st.isFile()) throw new UsageError(`${file} is not a regular file`);
      const r = await planWoFile(root, file, lane, cfg);
      if (opts.json) {
        printJson(r);
        if (!r.valid) process.exitCode = 2;
        return;
      }
      if (!r.valid) throw new UsageError(`${file} is not a valid WO (the daemon would reject it):\n${formatErrors(r.errors)}`);
      process.stdout.write(renderPlan(r));
    });
}
