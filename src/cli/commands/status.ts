/** `wo status [--json] [--watch]`: daemon up/down, guardrail health, counts per status, recent WOs with progress. */
import type { Command } from 'commander';
import { paint, printable, printJson, rootOf, statusColor, withRoot } from '../common.js';
import { buildStatus } from '../../daemon/status.js';
import { UsageError } from '../../errors.js';

type Report = Awaited<ReturnType<typeof buildStatus>>;

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
  const g = r.guardrail as { healthy: boolean | null; checked_at: string | null; drift?: { path: string; code?: string; why?: string }[] };
  const gState = g.healthy === null ? paint('unknown', 'gray') : g.healthy ? paint('healthy', 'green') : paint(`drift (${g.drift?.length ?? 0})`, 'red');
  lines.push(`guardrail ${gState}${g.checked_at ? ` (checked ${g.checked_at})` : ''}`);
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
        const r = await buildStatus(root, { limit });
        if (opts.json) printJson(r);
        else process.stdout.write(renderStatus(r));
        return;
      }
      const tty = process.stdout.isTTY;
      for (;;) {
        const r = await buildStatus(root, { limit });
        if (opts.json) process.stdout.write(JSON.stringify(r) + '\n');
        else process.stdout.write((tty ? '\x1b[H\x1b[2J' : '') + renderStatus(r) + (tty ? '' : '\n'));
        await new Promise((res) => setTimeout(res, 1000));
      }
    });
}
