/** `check-history <path> [hours]` (also `wo history`): what happened to a path (SPEC §8). */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { printJson, rootOf, withRoot } from '../common.js';

/** A bare name with no such path in the root that can only be a service. */
async function namesService(root: string, p: string): Promise<boolean> {
  if (p.includes('/') || fs.existsSync(path.resolve(root, p))) return false;
  const [{ loadConfig }, { looksLikeService }] = await Promise.all([import('../../config/load.js'), import('../../history/service.js')]);
  const cfg = await loadConfig(root).catch(() => undefined);
  return looksLikeService(p, cfg?.guardrail.services ?? []);
}

/** Add the command under `name` ('check-history' or 'history'). */
export function register(program: Command, name: string): void {
  withRoot(
    program
      .command(name)
      .description('what happened to a path: healthy, never-existed, vanished (when, how) or broken (why)')
      .argument('<path>', 'the path, relative to the root or absolute inside it')
      .argument('[hours]', 'how many hours of evidence to show (the verdict always uses all of it)', '24')
      .option('--json', 'print {"path","verdict","summary","last_seen"?,"first_missing"?,"cause"?,"evidence":[…]}')
      .option('--service', 'the argument is a launchd label or systemd unit (also assumed for a bare name that is no path here and is in guardrail.services or a unit name)'),
  ).action(async (p: string, hoursArg: string, opts: { json?: boolean; root?: string; service?: boolean }) => {
    const hours = Number(hoursArg);
    if (!/^\d+(\.\d+)?$/.test(hoursArg) || !(hours > 0)) throw new UsageError(`hours must be a positive number, got ${JSON.stringify(hoursArg)}`);
    if (opts.service || (await namesService(rootOf(opts), p))) {
      const { serviceHistory, renderServiceReport } = await import('../../history/service.js');
      const report = await serviceHistory(rootOf(opts), p, { hours });
      if (opts.json) printJson(report);
      else process.stdout.write(renderServiceReport(report));
      if (report.verdict !== 'healthy') process.exitCode = 1;
      return;
    }
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
