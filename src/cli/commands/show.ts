/** `wo show <id> [--json]`: one WO's state record, readable. */
import type { Command } from 'commander';
import { paint, printable, printJson, rootOf, statusColor, withRoot } from '../common.js';
import { layout } from '../../layout.js';
import { StateStore } from '../../state/store.js';
import { CheckFailed } from '../../errors.js';
import { STAGES, type WoRecord } from '../../state/record.js';
import { timelineOf } from '../../daemon/timeline.js';

/** Milliseconds as `12 ms`, `1.4 s`, `3m04s`, `2h05m`. */
export function fmtDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Why: a stage timeline with durations reads like a CI run page; the ISO times stay in `--json` (pure but for `now`). */
export function renderTimeline(r: WoRecord, now = Date.now()): string[] {
  const tl = timelineOf(r, now);
  const ongoing = r.times.finished === undefined;
  const out = [`timeline ${r.times.received ?? new Date(tl.start).toISOString()}, ${ongoing ? 'so far' : 'total'} ${fmtDuration(tl.end - tl.start)}`];
  const width = Math.max(12, ...tl.stages.map((s) => s.stage.length + 1));
  tl.stages.forEach((s, i) => {
    const last = i === tl.stages.length - 1;
    const dur = fmtDuration(s.end - s.start);
    const note = last && ongoing ? (r.status === 'awaiting_approval' ? ' (waiting for approval)' : ` (${r.status})`) : '';
    out.push(`  ${s.stage.padEnd(width)} +${fmtDuration(s.start - tl.start).padEnd(8)} ${dur}${note}`);
    for (const c of tl.commands.filter((c) => c.stage === s.stage)) out.push(`      ${printable(c.name ?? c.cmd).slice(0, 60)}  ${fmtDuration(c.end - c.start)}`);
  });
  // Times that are not stages (approved, started, finished, reverted): as offsets from the start.
  for (const [k, v] of Object.entries(r.times)) {
    if ((STAGES as readonly string[]).includes(k) || Number.isNaN(Date.parse(v))) continue;
    out.push(`  ${k.padEnd(width)} +${fmtDuration(Date.parse(v) - tl.start)}`);
  }
  return out;
}

/** A diff line with its control characters (but tabs) made visible, so file content cannot drive the terminal. */
function visible(line: string): string {
  // eslint-disable-next-line no-control-regex
  return line.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Why: the operator reads what approving runs (held), what changed (succeeded) or what was attempted (failed). */
export function renderPlan(r: WoRecord): string[] {
  if (!r.plan?.length) return [];
  const title =
    r.status === 'awaiting_approval' ? 'plan (what approving runs):'
    : r.dry_run ? 'plan (dry run):'
    : r.status === 'succeeded' || r.status === 'reverted' ? 'plan (what it changed):'
    : `plan (what it attempted${r.rolled_back ? `; rolled back to ${r.rolled_back_to ?? 'its snapshot'}` : ''}):`;
  const out = ['', title];
  for (const s of r.plan) {
    const verdict = s.verdict === 'will change' ? paint(s.verdict, 'yellow') : s.verdict === 'unknown' ? paint(s.verdict, 'gray') : s.verdict;
    const policy = s.policy === 'held' ? `  ${paint('[held by policy]', 'red')}` : s.policy === 'allowed' ? `  ${paint('[allowed]', 'green')}` : '';
    out.push(`  ${verdict}: ${printable(s.step)}${policy}`);
    for (const w of s.why ?? []) out.push(`      ${paint('why', 'gray')} ${printable(w)}`);
    if (s.diff) out.push(...s.diff.trimEnd().split('\n').map((l) => `      ${visible(l)}`));
  }
  return out;
}

/** Render a record for a terminal: header, files, commands, tests, plan, error. */
export function renderRecord(r: WoRecord): string {
  const out: string[] = [];
  out.push(`${paint(r.wo_id, 'bold')}  ${printable(r.title)}`);
  out.push(`status   ${paint(r.status, statusColor(r.status))}${r.dry_run ? ' (dry run)' : ''}${r.rolled_back ? ' (rolled back)' : ''}${r.given_up ? ' (given up)' : ''}`);
  out.push(`stage    ${r.stage} (${r.stage_index}/${r.stages_total})   attempt ${r.attempt}   lane ${r.lane}   type ${r.type}   priority ${r.priority}`);
  out.push(`file     ${r.file}`);
  out.push(...renderTimeline(r));
  if (r.error) out.push(`error    ${paint(r.error.code, 'red')}: ${r.error.message}`);
  for (const h of r.hold_reasons ?? []) out.push(`held     ${h}`);
  if (r.rolled_back && r.rolled_back_to) out.push(`rollback to ${r.rolled_back_to}`);
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
  if (r.services?.length) {
    out.push('', 'services:');
    for (const sv of r.services) {
      const st = sv.status_after;
      const after = st ? `loaded ${st.loaded ? 'yes' : 'no'}, running ${st.running ? 'yes' : 'no'}, last exit ${st.last_exit ?? '-'}` : 'status unknown';
      out.push(`  ${sv.ok ? paint('ok  ', 'green') : paint('FAIL', 'red')} ${sv.action} ${sv.kind} ${sv.name}: ${sv.cmd || '(not run)'}  → ${after}${sv.problem ? ` — ${sv.problem}` : ''}`);
      const u = sv.compensation;
      if (u) out.push(`       undo ${u.action}: ${u.cmd} → ${u.ok ? paint('ok', 'green') : paint(`FAILED: ${u.problem ?? ''}`, 'red')}`);
    }
  }
  if (r.tests.length) {
    out.push('', 'tests:');
    for (const t of r.tests) out.push(`  ${t.passed ? paint('pass', 'green') : paint('FAIL', 'red')} ${t.name}${t.passed ? '' : `: expected ${JSON.stringify(t.expected)}, got ${JSON.stringify(t.actual)}`}`);
  }
  out.push(...renderPlan(r));
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
