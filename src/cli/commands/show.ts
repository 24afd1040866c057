/** `wo show <id> [--json]`: one WO's state record, readable. */
import type { Command } from 'commander';
import { paint, printable, printJson, rootOf, statusColor, withRoot } from '../common.js';
import { layout } from '../../layout.js';
import { StateStore } from '../../state/store.js';
import { CheckFailed } from '../../errors.js';
import type { WoRecord } from '../../state/record.js';

/** Render a record for a terminal: header, files, commands, tests, plan, error. */
export function renderRecord(r: WoRecord): string {
  const out: string[] = [];
  out.push(`${paint(r.wo_id, 'bold')}  ${printable(r.title)}`);
  out.push(`status   ${paint(r.status, statusColor(r.status))}${r.dry_run ? ' (dry run)' : ''}${r.rolled_back ? ' (rolled back)' : ''}${r.given_up ? ' (given up)' : ''}`);
  out.push(`stage    ${r.stage} (${r.stage_index}/${r.stages_total})   attempt ${r.attempt}   lane ${r.lane}   type ${r.type}   priority ${r.priority}`);
  out.push(`file     ${r.file}`);
  for (const [k, v] of Object.entries(r.times)) out.push(`  ${k.padEnd(12)} ${v}`);
  if (r.error) out.push(`error    ${paint(r.error.code, 'red')}: ${r.error.message}`);
  for (const h of r.hold_reasons ?? []) out.push(`held     ${h}`);
  if (r.unrollbackable) out.push('note     exec WO without paths: its command effects cannot be rolled back');
  for (const w of r.warnings ?? []) out.push(`warning  ${w}`);
  if (r.routed_ids?.length) out.push(`routed   ${r.routed_ids.join(', ')}`);
  if (r.files.length) {
    out.push('', 'files:');
    for (const f of r.files) out.push(`  ${f.action.padEnd(6)} ${f.path}  ${f.before_sha256?.slice(0, 12) ?? '(absent)'} → ${f.after_sha256?.slice(0, 12) ?? '(absent)'}${f.mode ? `  ${f.mode}` : ''}`);
  }
  if (r.commands.length) {
    out.push('', 'commands:');
    for (const c of r.commands) {
      const res = c.timed_out ? paint('timed out', 'red') : c.exit_code === 0 ? paint('exit 0', 'green') : paint(c.signal ? `signal ${c.signal}` : `exit ${c.exit_code}`, 'red');
      out.push(`  [${c.phase}] ${c.name ? `${c.name}: ` : ''}${c.cmd}  → ${res} (${c.duration_ms} ms)`);
      for (const [label, t] of [['stdout', c.stdout_tail], ['stderr', c.stderr_tail]] as const) {
        if (t.trim()) out.push(...t.trimEnd().split('\n').slice(-8).map((l) => `      ${label}| ${l}`));
      }
    }
  }
  if (r.tests.length) {
    out.push('', 'tests:');
    for (const t of r.tests) out.push(`  ${t.passed ? paint('pass', 'green') : paint('FAIL', 'red')} ${t.name}${t.passed ? '' : `: expected ${JSON.stringify(t.expected)}, got ${JSON.stringify(t.actual)}`}`);
  }
  if (r.plan?.length) {
    out.push('', 'plan (dry run):');
    for (const s of r.plan) {
      out.push(`  ${s.verdict === 'will change' ? paint(s.verdict, 'yellow') : s.verdict === 'unknown' ? paint(s.verdict, 'gray') : s.verdict}: ${s.step}`);
      if (s.diff) out.push(...s.diff.trimEnd().split('\n').map((l) => `      ${l}`));
    }
  }
  return out.join('\n') + '\n';
}

export function register(program: Command, name: string): void {
  withRoot(program.command(name))
    .description("show one WO's state record: status, stage, files, commands, tests, plan")
    .argument('<id>', 'the wo_id')
    .option('--json', 'print the record as JSON')
    .action(async (id: string, opts: { root?: string; json?: boolean }) => {
      const got = await new StateStore(layout(rootOf(opts)).state).inspect(id);
      if (got.kind === 'absent') throw new CheckFailed(`no WO with id ${printable(id)}`);
      if (got.kind === 'foreign') throw new CheckFailed(`${printable(got.file)} is not a wo record: it ${printable(got.why)} (wo leaves it untouched; move it away if it is not needed)`);
      const rec = got.record;
      if (opts.json) printJson(rec);
      else process.stdout.write(renderRecord(rec));
    });
}
