/** `wo upgrade [--from DIR|--ref REF] [--dry-run] [--yes] [--allow-dirty] [--accept-shadow-diff] [--rollback] [--list] [--json]`. */
import path from 'node:path';
import readline from 'node:readline/promises';
import { fileURLToPath } from 'node:url';
import { Option, type Command } from 'commander';
import { CheckFailed, UsageError } from '../../errors.js';
import { paint, printJson, rootOf, withRoot } from '../common.js';
import type { ShadowRunner } from '../../upgrade/shadow-contract.js';
import { shadowCompare } from '../../upgrade/shadow.js';

/** THE shadow runner `wo upgrade` uses: each release's `wo plan` of the last archived WOs, compared (src/upgrade/shadow.ts). */
export const shadowRunner: ShadowRunner = shadowCompare;

interface Opts {
  root?: string;
  from?: string;
  ref?: string;
  dryRun?: boolean;
  yes?: boolean;
  allowDirty?: boolean;
  acceptShadowDiff?: boolean;
  rollback?: boolean;
  list?: boolean;
  json?: boolean;
  guard?: string;
}

/** This checkout (two levels above dist/cli/commands): the default source of the first upgrade. */
const CHECKOUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function register(program: Command, name: string): void {
  withRoot(program.command(name))
    .description('upgrade the daemon to a new release: preflight, stage, gates, shadow run, live handover, automatic rollback (docs/upgrade.md)')
    .option('--from <dir>', 'stage the candidate from this checkout (default: the source of the current release)')
    .option('--ref <ref>', 'stage the candidate from this git ref of the source checkout (git archive)')
    .option('--dry-run', 'run steps 1–5 (lock, preflight, stage, gates, shadow) and stop; also WO_DRY_RUN=1')
    .option('--yes', 'promote without asking')
    .option('--allow-dirty', 'accept a source checkout with uncommitted changes')
    .option('--accept-shadow-diff', 'promote even when the shadow run finds plans that differ')
    .option('--rollback', 'switch back to the previous release now (restart and canary)')
    .option('--list', 'list the releases under g/releases/ (current, previous, others)')
    .option('--json', 'print the outcome as JSON')
    .addOption(new Option('--guard <pid:start>', 'internal: the handover guard of an upgrader').hideHelp())
    .action(async (opts: Opts) => {
      if (opts.guard) {
        const [pid, start] = opts.guard.split(':');
        const { runGuard } = await import('../../upgrade/guard.js');
        const { loadConfig } = await import('../../config/load.js');
        const root = rootOf(opts);
        const config = await loadConfig(root);
        const line = await runGuard(root, { pid: Number(pid), ...(start ? { start } : {}) }, config.upgrade.ready_deadline_s * 1000);
        process.stdout.write(`${new Date().toISOString()} wo upgrade guard: ${line}\n`);
        return;
      }
      if (opts.from && opts.ref) throw new UsageError('give one of --from and --ref');
      if ((opts.rollback || opts.list) && (opts.from || opts.ref || opts.dryRun || opts.acceptShadowDiff)) throw new UsageError('--rollback and --list take no candidate options');
      const root = rootOf(opts);
      const { releasesDir, listReleases } = await import('../../upgrade/releases.js');
      if (opts.list) {
        const rel = listReleases(releasesDir(root));
        if (opts.json) return printJson(rel.map(({ mtimeMs: _m, dir: _d, ...r }) => r));
        if (!rel.length) return void process.stdout.write(`no releases under ${releasesDir(root)} (wo service install or wo upgrade creates the first)\n`);
        for (const r of rel) {
          const tag = r.current ? paint('current ', 'green') : r.previous ? paint('previous', 'yellow') : '        ';
          process.stdout.write(`${tag} ${r.name}  ${r.meta?.created_at ?? ''}  ${r.meta?.source ?? ''}\n`);
        }
        return;
      }
      const { loadConfig } = await import('../../config/load.js');
      const { layout } = await import('../../layout.js');
      const { Telemetry } = await import('../../state/telemetry.js');
      const config = await loadConfig(root);
      const L = layout(root);
      const telemetry = new Telemetry(L.telemetry, config.telemetry.rotate_bytes);
      const say = (line: string) => {
        if (!opts.json) process.stdout.write(`${line}\n`);
      };
      const emit = (event: Parameters<typeof telemetry.emit>[1], fields: Record<string, unknown> & { ok?: boolean }) => void telemetry.emit('cli', event, fields);
      try {
        const pipeline = await import('../../upgrade/pipeline.js');
        const r = opts.rollback
          ? await pipeline.rollbackByHand({ root, config, emit, say, selfArgv: [process.execPath, process.argv[1]!] })
          : await pipeline.runUpgrade({
              root,
              config,
              ...(opts.from ? { from: path.resolve(opts.from) } : {}),
              ...(opts.ref ? { ref: opts.ref } : {}),
              dryRun: !!opts.dryRun || process.env.WO_DRY_RUN === '1',
              allowDirty: !!opts.allowDirty,
              acceptShadowDiff: !!opts.acceptShadowDiff,
              shadow: shadowRunner,
              checkout: CHECKOUT,
              selfArgv: [process.execPath, process.argv[1]!],
              confirm: async (candidate) => {
                if (opts.yes) return true;
                if (!process.stdin.isTTY) {
                  say(`not promoting ${candidate}: no terminal to ask; re-run with --yes`);
                  return false;
                }
                const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
                const a = await rl.question(`promote ${candidate} now (the daemon restarts on it)? [y/N] `);
                rl.close();
                return /^y(es)?$/i.test(a.trim());
              },
              emit,
              say,
            });
        if (opts.json) printJson({ outcome: r.outcome, candidate: r.candidate ?? null, report: r.reportDir, holder: r.holder ?? null, steps: r.steps });
        else say(`${r.outcome === 'promoted' || r.outcome === 'dry_run' || r.outcome === 'up_to_date' ? paint(r.outcome, 'green') : paint(r.outcome, 'red')}${r.candidate ? ` ${r.candidate}` : ''} — report: ${path.join(r.reportDir, 'report.md')}`);
        if (r.outcome === 'refused' && r.holder) throw new CheckFailed(`another wo upgrade is running (pid ${r.holder.pid}, since ${r.holder.started_at})`);
        if (!['promoted', 'dry_run', 'up_to_date'].includes(r.outcome) && !(opts.rollback && r.outcome === 'rolled_back')) process.exitCode = 1;
      } finally {
        telemetry.close();
      }
    });
}
