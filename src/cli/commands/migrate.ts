/** `wo migrate --from DIR [--agents DIR…] [--dry-run] [--json]`: adopt an old shell-script pipeline (issue 14). */
import path from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { printJson, rootOf, withRoot } from '../common.js';

/** Add the command under `name`. */
export function register(program: Command, name: string): void {
  withRoot(
    program
      .command(name)
      .description("import an old setup: its CRITICAL_FILES/CRITICAL_DIRS arrays into guardrail:, its agents pointing into DIR into guardrail.services, its followup state files into records marked imported")
      .requiredOption('--from <DIR>', 'the old setup (e.g. ~/02luka): its scripts, plists/units and g/followup/state/')
      .option('--agents <DIR>', 'also read agents (plists, units) from this folder (repeatable; e.g. ~/Library/LaunchAgents)', (v: string, acc: string[]) => [...acc, v], [] as string[])
      .option('--home <DIR>', '$HOME and ~ in the old scripts (default: $HOME)')
      .option('--dry-run', 'print what would be done; write nothing')
      .option('--json', 'print the plan (and what was done) as JSON')
      .addHelpText('after', '\nNothing is run: the old scripts are parsed, never executed; old agents are not booted out (the commands are printed).\nA wo record is never overwritten; the old wo.config.yaml is kept as wo.config.yaml.bak-<ts>; the report goes to g/reports/wo/migrate_<ts>.md|json.'),
  ).action(async (opts: { from: string; agents: string[]; home?: string; dryRun?: boolean; json?: boolean; root?: string }) => {
    const fs = await import('node:fs');
    const from = path.resolve(opts.from);
    if (!fs.statSync(from, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--from ${opts.from}: not a folder`);
    for (const a of opts.agents) if (!fs.statSync(a, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--agents ${a}: not a folder`);
    const root = rootOf(opts);
    const { planMigration } = await import('../../migrate/plan.js');
    const { applyMigration, renderMarkdown, reportData } = await import('../../migrate/apply.js');
    const plan = await planMigration({ from, root, agents: opts.agents, ...(opts.home ? { home: path.resolve(opts.home) } : {}) });
    if (opts.dryRun) {
      if (opts.json) printJson({ dry_run: true, ...reportData(plan) });
      else process.stdout.write(`(dry run: nothing written)\n${renderMarkdown(plan)}`);
      return;
    }
    const { layout } = await import('../../layout.js');
    const { readRunState } = await import('../../service/runinfo.js');
    const run = await readRunState(layout(root));
    if (run.state === 'running') throw new UsageError(`a daemon is running on ${root} (pid ${run.info.pid}): stop it first (records are written only while it is down), or use --dry-run`);
    const done = await applyMigration(plan);
    if (opts.json) {
      printJson({ dry_run: false, ...reportData(plan), applied: { imported: done.imported, moved_aside: done.moved_aside, config_changed: done.config.changed, added: done.config.added, backup: done.config.backup ? path.relative(root, done.config.backup) : null, report: done.report } });
      return;
    }
    process.stdout.write(renderMarkdown(plan, { imported: done.imported, config_changed: done.config.changed, ...(done.config.backup ? { backup: path.relative(root, done.config.backup) } : {}) }));
    process.stdout.write(`report: ${done.report.md}\n`);
  });
}
