/** `wo prune --older-than D`: remove archived WOs, backups, rotated telemetry and logs older than D. The only deleter. */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { printJson, rootOf, withRoot } from '../common.js';
import { layout } from '../../layout.js';
import { UsageError } from '../../errors.js';
import { StateStore } from '../../state/store.js';
import { TERMINAL } from '../../state/record.js';

/** Parse `30d`, `12h`, `45m`, `2w` into milliseconds. */
export function parseAge(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([mhdw])$/.exec(text.trim());
  if (!m) throw new UsageError(`--older-than ${text}: give an age such as 30d, 12h, 45m or 2w`);
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit;
}

async function oldEntries(dir: string, cutoff: number, match: (name: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    if (name.startsWith('.') || !match(name)) continue;
    const st = await fs.lstat(path.join(dir, name)).catch(() => undefined);
    if (st && st.mtimeMs < cutoff) out.push(path.join(dir, name));
  }
  return out;
}

export function register(program: Command, name: string): void {
  withRoot(program.command(name))
    .description('remove archived and rejected WOs, backups of finished WOs, rotated telemetry and logs older than an age')
    .requiredOption('--older-than <age>', 'an age: 30d, 12h, 45m, 2w')
    .option('--dry-run', 'list what would be removed, remove nothing')
    .option('--json', 'print what was removed as JSON')
    .addHelpText('after', '\nState records (g/followup/state/) are kept: they are the history check-history reads.')
    .action(async (opts: { root?: string; olderThan: string; dryRun?: boolean; json?: boolean }) => {
      const cutoff = Date.now() - parseAge(opts.olderThan);
      const L = layout(rootOf(opts));
      const store = new StateStore(L.state);
      const backups: string[] = [];
      for (const dir of await oldEntries(L.backups, cutoff, () => true)) {
        const rec = await store.read(path.basename(dir));
        if (!rec || TERMINAL.has(rec.status)) backups.push(dir); // never the snapshot of a WO still in flight
      }
      const removed = [
        ...(await oldEntries(L.archive, cutoff, () => true)),
        ...(await oldEntries(L.rejected, cutoff, () => true)),
        ...backups,
        ...(await oldEntries(L.telemetryDir, cutoff, (n) => /^unified\..+\.jsonl$/.test(n))),
        ...(await oldEntries(L.logs, cutoff, (n) => /^rollback_\d{8}(?:\.\d+)?\.log$/.test(n))),
        ...(await oldEntries(L.woReports, cutoff, (n) => n.endsWith('.json'))),
      ];
      if (!opts.dryRun) for (const p of removed) await fs.rm(p, { recursive: true, force: true });
      const rel = removed.map((p) => path.relative(L.root, p));
      if (opts.json) printJson({ dry_run: !!opts.dryRun, removed: rel });
      else {
        for (const p of rel) process.stdout.write(`${opts.dryRun ? 'would remove' : 'removed'} ${p}\n`);
        process.stdout.write(`${rel.length} ${opts.dryRun ? 'would be removed' : 'removed'} (older than ${opts.olderThan})\n`);
      }
    });
}
