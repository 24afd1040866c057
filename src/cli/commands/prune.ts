/** `wo prune [--older-than D]`: apply retention (the config's, or one age) through the same planner as the daemon. */
import type { Command } from 'commander';
import { printJson, rootOf, withRoot } from '../common.js';
import { CheckFailed, UsageError } from '../../errors.js';
import { loadConfig } from '../../config/load.js';
import { configPolicy, oneAgePolicy } from '../../retention/plan.js';

/** Parse `30d`, `12h`, `45m`, `2w` into milliseconds. */
export function parseAge(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([mhdw])$/.exec(text.trim());
  if (!m) throw new UsageError(`--older-than ${text}: give an age such as 30d, 12h, 45m or 2w`);
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit;
}

export function register(program: Command, name: string): void {
  withRoot(program.command(name))
    .description('apply retention: remove old records of finished WOs, archived and rejected files, backups, rotated telemetry and logs')
    .option('--older-than <age>', 'one age for every file (30d, 12h, 45m, 2w) instead of the config\'s retention; records are kept')
    .option('--dry-run', 'list what would be removed, remove nothing')
    .option('--json', 'print what was removed as JSON')
    .option('--timeout <s>', 'seconds to wait for the daemon when it runs (it prunes then)', '600')
    .addHelpText('after', '\nWithout --older-than: the config\'s retention.* ages (docs/retention.md). A WO that is not terminal is never pruned,\nnor the record of a WO whose backup is kept (wo rollback needs both).')
    .action(async (opts: { root?: string; olderThan?: string; dryRun?: boolean; json?: boolean; timeout: string }) => {
      const root = rootOf(opts);
      const age = opts.olderThan !== undefined ? parseAge(opts.olderThan) : undefined;
      const config = await loadConfig(root);
      const policy = age !== undefined ? oneAgePolicy(age / 86_400_000) : configPolicy(config.retention);
      // While the daemon runs, it prunes (one writer: its per-id locks and its record index see every deletion).
      const { sendOrRun } = await import('./act.js');
      const { value: res, running } = await sendOrRun(
        root,
        { action: 'prune', ...(age !== undefined ? { older_than_days: age / 86_400_000 } : {}), dry_run: !!opts.dryRun },
        opts.timeout,
        async () => (await import('../../retention/run.js')).runRetention({ root, policy, batch: config.retention.batch, dryRun: !!opts.dryRun }),
        (r) => {
          if (!r.pruned) throw new CheckFailed('the daemon did not say what it pruned');
          return r.pruned;
        },
      );
      const rel = res.removed.map((d) => d.rel);
      if (opts.json) printJson({ dry_run: !!opts.dryRun, via: running ? 'daemon' : 'offline', removed: rel, counts: res.counts, skipped: res.skipped, protected_live: res.protected_live, kept_for_rollback: res.kept_for_rollback });
      else {
        for (const p of rel) process.stdout.write(`${opts.dryRun ? 'would remove' : 'removed'} ${p}\n`);
        for (const s of res.skipped) process.stdout.write(`kept ${s.rel}: ${s.why}\n`);
        const what = opts.olderThan !== undefined ? `older than ${opts.olderThan}` : 'by retention';
        process.stdout.write(`${rel.length} ${opts.dryRun ? 'would be removed' : 'removed'} (${what}); ${res.protected_live} kept for live WOs, ${res.kept_for_rollback} records kept for rollback\n`);
      }
    });
}
