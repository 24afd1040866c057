/** `wo status [--json] [--watch]`: daemon up/down, guardrail health, counts per status, recent WOs with progress. */
import type { Command } from 'commander';
import { paint, printable, printJson, rootOf, statusColor, withRoot } from '../common.js';
import { buildStatus } from '../../daemon/status.js';
import { UsageError } from '../../errors.js';

type Built = Awaited<ReturnType<typeof buildStatus>>;
type Guardrail = { healthy: boolean | null; state: 'healthy' | 'drift' | 'unknown'; checked_at: string | null; drift?: { path: string; code?: string; why?: string }[]; note?: string; last?: unknown };
type Report = Omit<Built, 'guardrail'> & { guardrail: Guardrail };

/** Why: the guardrail's health file is only as fresh as the daemon that writes it; with the daemon down nobody watches, so it is unknown (the last report is kept under `last`). */
export function withGuardrailState(r: Built): Report {
  const g = r.guardrail as Omit<Guardrail, 'state'>;
  if (!r.daemon.running) {
    return { ...r, guardrail: { healthy: null, state: 'unknown', checked_at: g.checked_at ?? null, note: 'the daemon is not running, so nothing watches the protected files', ...(g.healthy !== null ? { last: g } : {}) } };
  }
  return { ...r, guardrail: { ...g, state: g.healthy === null ? 'unknown' : g.healthy ? 'healthy' : 'drift' } };
}

function fmtUptime(s: number | null): string {
  if (s === null) return '';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}h${m}m` : m ? `${m}m${s % 60}s` : `${s}s`;
}

const MAX_NAMED = 10;
function named(items: { name: string; why: string }[]): string[] {
  const lines = items.slice(0, MAX_NAMED).map((x) => `         - ${printable(x.name)}: ${printable(x.why)}`);
  if (items.length > MAX_NAMED) lines.push(`         … and ${items.length - MAX_NAMED} more (wo status --json lists them all)`);
  return lines;
}

/** Render the status report for a terminal. */
export function renderStatus(r: Report): string {
  const d = r.daemon;
  const lines: string[] = [];
  lines.push(
    d.running
      ? `daemon   ${paint('running', 'green')} pid ${d.pid}, up ${fmtUptime(d.uptime_s)}${d.port ? `, http://127.0.0.1:${d.port}/` : ''}${d.paused ? `\n         ${paint('paused', 'yellow')}: ${d.paused}` : ''}`
      : `daemon   ${paint('not running', 'red')}${d.stale_lock ? ' (stale lock from a dead process: the next start takes it over)' : ''} — start it with: npm start (or wo daemon)`,
  );
  lines.push(`root     ${d.root}`);
  if (r.release) lines.push(`release  ${r.release.current}${r.release.previous ? ` (previous ${r.release.previous})` : ''}${r.release.running && r.release.running !== r.release.current ? paint(`, but the daemon runs ${r.release.running}`, 'yellow') : ''}`);
  if (r.upgrade?.in_progress) lines.push(`${paint('upgrade', 'yellow')}  in progress: pid ${r.upgrade.pid}, step ${r.upgrade.step}${r.upgrade.candidate ? `, candidate ${r.upgrade.candidate}` : ''} (since ${r.upgrade.started_at})`);
  else if (r.upgrade?.stale_lock) lines.push(`upgrade  a stale upgrade lock (pid ${r.upgrade.pid ?? '?'} is gone): the next wo upgrade takes it over`);
  const p = r.paused;
  if (p.all || p.lanes.length) {
    const what = p.all ? 'every lane' : `lane${p.lanes.length > 1 ? 's' : ''} ${p.lanes.map(printable).join(', ')}`;
    const who = p.last ? ` (since ${p.last.ts}, uid ${p.last.by.uid} via ${p.last.by.channel}${p.last.reason ? `: ${printable(p.last.reason)}` : ''})` : '';
    lines.push(`${paint('paused', 'yellow')}   claiming for ${what}${who}; new WOs wait in the inbox — wo resume${p.all ? '' : ' --lane L'} to claim again`);
  }
  for (const b of r.breakers ?? []) lines.push(`${paint('breaker', 'red')}  lane ${printable(b.lane)} open since ${b.since} (${b.failures} failures within ${b.window_s} s): its WOs are held — wo resume --lane ${printable(b.lane)} resets it`);
  if (p.problem) lines.push(`${paint('paused?', 'red')}  ${printable(p.problem)}: claiming is not paused`);
  const g = r.guardrail;
  const gState = g.healthy === null ? `${paint('unknown', 'gray')}${g.note ? ` (${g.note})` : ''}` : g.healthy ? paint('healthy', 'green') : paint(`drift (${g.drift?.length ?? 0})`, 'red');
  lines.push(`guardrail ${gState}${g.checked_at ? ` (last checked ${g.checked_at})` : ''}`);
  for (const x of g.drift ?? []) lines.push(`         - ${x.path}: ${x.why ?? x.code ?? 'drift'}`);
  const counts = Object.entries(r.counts).filter(([, n]) => n > 0).map(([s, n]) => `${paint(s, statusColor(s))} ${n}`);
  lines.push(`counts   ${counts.length ? counts.join('  ') : 'no WOs yet'}`);
  if (r.pending.inbox || r.pending.processing) lines.push(`pending  ${r.pending.inbox} in inboxes, ${r.pending.processing} claimed (queued or running)`);
  if (r.unreadable.length) {
    lines.push(`${paint('unreadable', 'red')} ${r.unreadable.length} file(s) in g/followup/state/ are not wo records (left untouched; a WO with such an id is rejected):`);
    lines.push(...named(r.unreadable.map((u) => ({ name: u.file, why: u.why }))));
  }
  if (r.ignored_lanes.length) {
    lines.push(`${paint('ignored', 'yellow')}  ${r.ignored_lanes.length} folder(s) under bridge/inbox/ are not lanes (their WOs are not taken):`);
    lines.push(...named(r.ignored_lanes));
  }
  if (r.wos.length) {
    lines.push('', 'recent WOs:');
    for (const w of r.wos) {
      const bar = `${'#'.repeat(w.stage_index)}${'.'.repeat(Math.max(0, w.stages_total - w.stage_index))}`;
      lines.push(`  ${paint(w.status.padEnd(17), statusColor(w.status))} ${bar} ${w.stage.padEnd(11)} ${w.wo_id}  ${printable(w.title.slice(0, 60))}${w.error ? paint(`  ${w.error.code}`, 'red') : ''}`);
      for (const h of w.hold_reasons ?? []) lines.push(`      held: ${printable(h)}`);
    }
  }
  return lines.join('\n') + '\n';
}

export function register(program: Command, name: string): void {
  withRoot(program.command(name))
    .description('show the daemon (up or down), guardrail health, counts per status and recent WOs')
    .option('--json', 'print the report as JSON')
    .option('--watch', 'refresh every second until interrupted')
    .option('--limit <n>', 'how many recent WOs', '20')
    .action(async (opts: { root?: string; json?: boolean; watch?: boolean; limit: string }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 0) throw new UsageError(`--limit ${opts.limit}: give a whole number`);
      const root = rootOf(opts);
      if (!opts.watch) {
        const r = withGuardrailState(await buildStatus(root, { limit }));
        if (opts.json) printJson(r);
        else process.stdout.write(renderStatus(r));
        return;
      }
      const tty = process.stdout.isTTY;
      for (;;) {
        const r = withGuardrailState(await buildStatus(root, { limit }));
        if (opts.json) process.stdout.write(JSON.stringify(r) + '\n');
        else process.stdout.write((tty ? '\x1b[H\x1b[2J' : '') + renderStatus(r) + (tty ? '' : '\n'));
        await new Promise((res) => setTimeout(res, 1000));
      }
    });
}
