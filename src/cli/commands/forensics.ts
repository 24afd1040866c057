/** `wo forensics --since T --until T [paths…]`: the evidence for a window, written to g/reports/wo/forensic_<ts>.json. */
import path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { paint, printJson, rootOf, withRoot } from '../common.js';

/** Add the command under `name`. */
export function register(program: Command, name: string): void {
  withRoot(
    program
      .command(name)
      .description('gather git commits, resets, rollbacks, drift and service failures for a time window; write g/reports/wo/forensic_<ts>.json')
      .argument('[paths...]', 'paths to explain (relative to the root); none: everything in the window')
      .option('--since <T>', 'window start: ISO date (2025-11-13 01:50) or age (2h, 3d)', '24h')
      .option('--until <T>', 'window end: ISO date or age', 'now')
      .option('--json', 'print the report (with "report_file") as JSON'),
  ).action(async (paths: string[], opts: { since: string; until: string; json?: boolean; root?: string }) => {
    const { parseWhen } = await import('../../history/when.js');
    const now = new Date();
    const since = parseWhen(opts.since, now, '--since');
    const until = parseWhen(opts.until, now, '--until');
    if (since > until) throw new UsageError(`--since (${since.toISOString()}) is after --until (${until.toISOString()})`);
    const { runForensics } = await import('../../history/forensics.js');
    const root = rootOf(opts);
    const { file, report } = await runForensics(root, { since, until, paths, now });
    if (opts.json) {
      printJson({ report_file: file, ...report });
      return;
    }
    const f = report.findings;
    const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
    process.stdout.write(`${file}\n`);
    process.stdout.write(`window ${report.time_window.since} → ${report.time_window.until}: ${[
      count(f.git_events.length, 'commit'), count(f.reflog_events.length, 'reset/checkout'), count(f.rollbacks.length, 'rollback'),
      count(f.drift_events.length, 'drift event'), count(f.wo_events.length, 'WO event'), count(f.service_failures.length, 'service failure'),
    ].join(', ')}\n`);
    for (const v of report.verdicts) process.stdout.write(`  ${v.path}: ${v.verdict}\n`);
    for (const n of report.notes) process.stdout.write(paint(`  note: ${n}\n`, 'gray'));
    process.stdout.write(`${paint('likely cause:', 'bold')} ${report.likely_cause}\n`);
    process.stdout.write(paint(`(full evidence in ${path.relative(process.cwd(), file) || file})\n`, 'gray'));
  });
}
