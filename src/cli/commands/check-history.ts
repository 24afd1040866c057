/** `check-history <path> [hours]` (also `wo history`): what happened to a path (SPEC §8). */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { printJson, rootOf, withRoot } from '../common.js';

/** Add the command under `name` ('check-history' or 'history'). */
export function register(program: Command, name: string): void {
  withRoot(
    program
      .command(name)
      .description('what happened to a path: healthy, never-existed, vanished (when, how) or broken (why)')
      .argument('<path>', 'the path, relative to the root or absolute inside it')
      .argument('[hours]', 'how many hours of evidence to show (the verdict always uses all of it)', '24')
      .option('--json', 'print {"path","verdict","summary","last_seen"?,"first_missing"?,"cause"?,"evidence":[…]}'),
  ).action(async (p: string, hoursArg: string, opts: { json?: boolean; root?: string }) => {
    const hours = Number(hoursArg);
    if (!/^\d+(\.\d+)?$/.test(hoursArg) || !(hours > 0)) throw new UsageError(`hours must be a positive number, got ${JSON.stringify(hoursArg)}`);
    const { checkHistoryDetailed } = await import('../../history/check.js');
    const { report, hidden } = await checkHistoryDetailed(rootOf(opts), p, { hours });
    if (opts.json) printJson(report);
    else {
      const { renderReport } = await import('../../history/render.js');
      process.stdout.write(renderReport(report, { hours, hidden }));
    }
    if (report.verdict !== 'healthy') process.exitCode = 1;
  });
}
