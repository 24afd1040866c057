/** The CLI entry: finds the subcommand, lazily imports only its module, maps errors to exit codes. */
import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { CheckFailed, HeldOrDown, TimedOut, UsageError } from '../errors.js';
import { didYouMean } from '../util/suggest.js';
import { EXIT_HELP, exitCodeOf, isEpipe, quietOnEpipe } from './exit.js';

/** Every subcommand: name → module (imported only when that command runs) and a one-line summary. */
export const COMMANDS: Record<string, { module: string; summary: string; hidden?: boolean }> = {
  daemon: { module: './commands/daemon.js', summary: 'run the daemon in the foreground (what the service units run)' },
  status: { module: './commands/status.js', summary: 'daemon up/down, guardrail health, counts, recent WOs' },
  submit: { module: './commands/submit.js', summary: 'validate a WO file (or - for stdin) and drop it atomically into a lane' },
  validate: { module: './commands/validate.js', summary: 'validate a WO file only, with precise errors' },
  plan: { module: './commands/plan.js', summary: 'what the daemon would do with a WO (decision, diffs, commands), writing nothing' },
  ls: { module: './commands/ls.js', summary: 'list WOs from the index, filtered, one page at a time (--cursor for the next)' },
  index: { module: './commands/index-cmd.js', summary: 'the record index: rebuild it from the records, or show its status' },
  show: { module: './commands/show.js', summary: "one WO's state record" },
  logs: { module: './commands/logs.js', summary: 'the telemetry stream, readable (-f to follow)' },
  approve: { module: './commands/act.js', summary: 'approve a held WO' },
  reject: { module: './commands/act.js', summary: 'reject a held or queued WO' },
  retry: { module: './commands/act.js', summary: 'run a failed, rejected or cancelled WO again' },
  cancel: { module: './commands/act.js', summary: 'cancel a WO (kills its running command group, rolls back)' },
  rollback: { module: './commands/act.js', summary: 'undo a succeeded WO from its snapshot' },
  pause: { module: './commands/pause.js', summary: 'stop claiming new WOs (every lane or --lane L) without stopping the daemon' },
  resume: { module: './commands/pause.js', summary: 'claim again after wo pause' },
  canary: { module: './commands/canary.js', summary: 'end-to-end self-test through the running daemon' },
  guardrail: { module: './commands/guardrail.js', summary: 'run the guardrail now, or protect a path' },
  doctor: { module: './commands/doctor.js', summary: 'preflight checks with the fix for each problem' },
  upgrade: { module: './commands/upgrade.js', summary: 'upgrade to a new release: preflight, stage, gates, shadow, handover, rollback (--list, --rollback)' },
  service: { module: './commands/service.js', summary: 'install, uninstall or show the launchd/systemd unit' },
  mls: { module: './commands/mls.js', summary: 'write or read the lessons ledger' },
  prune: { module: './commands/prune.js', summary: 'apply retention: old records, archives, backups, rotated logs' },
  dashboard: { module: './commands/dashboard.js', summary: 'print (and on a desktop open) the dashboard URL' },
  forensics: { module: './commands/forensics.js', summary: 'write the evidence for a time window to g/reports/wo/' },
  'check-history': { module: './commands/check-history.js', summary: 'what happened to a path: healthy, never-existed, vanished, broken' },
  history: { module: './commands/check-history.js', summary: 'same as check-history' },
  migrate: { module: './commands/migrate.js', summary: 'adopt an old pipeline: critical lists, agents and state files (--from DIR, --dry-run)' },
  config: { module: './commands/config.js', summary: 'print the effective config (--defaults, --json) or its reference' },
  schema: { module: './commands/schema.js', summary: 'print the JSON Schema of WO files or wo.config.yaml (wo|config)' },
  completion: { module: './commands/completion.js', summary: 'print a shell completion script: wo completion bash|zsh|fish' },
  '__complete-ids': { module: './commands/completion.js', summary: 'the WO ids, one a line (for completion scripts)', hidden: true },
};

const require = createRequire(import.meta.url);
const VERSION = (require('../../package.json') as { version: string }).version;

function topLevel(): Command {
  const program = new Command('wo')
    .version(VERSION, '-V, --version')
    .description('wo — the durable work-order daemon: drop a WO in bridge/inbox/<LANE>/, get a transaction.')
    .usage('<command> [options]')
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `\nCommands:\n${Object.entries(COMMANDS)
        .filter(([, c]) => !c.hidden)
        .map(([n, c]) => `  ${n.padEnd(14)} ${c.summary}`)
        .join('\n')}\n\nEvery command takes --help and --root DIR (default $WO_ROOT, else the nearest folder up from here\nholding wo.config.yaml or bridge/ and g/, else the current folder).\n\n${EXIT_HELP}`,
    );
  program.exitOverride();
  return program;
}

/** The subcommand's name: the first word that is neither an option nor the value of --root. */
function commandName(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--root') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  const name = commandName(argv);
  const entry = name ? COMMANDS[name] : undefined;
  const program = topLevel();
  if (!entry) {
    if (name) {
      const hint = didYouMean(name, Object.keys(COMMANDS).filter((n) => !COMMANDS[n]!.hidden));
      throw new UsageError(`unknown command '${name}'.${hint ? ` Did you mean ${hint}?` : ''} Run 'wo --help' for the list.`);
    }
    await program.parseAsync(argv, { from: 'user' });
    program.outputHelp();
    return argv.length ? 0 : 2;
  }
  const mod = (await import(entry.module)) as { register: (p: Command, name: string, table: typeof COMMANDS) => void };
  mod.register(program, name!, COMMANDS);
  program.commands.forEach(function override(c: Command): void {
    c.exitOverride();
    c.showSuggestionAfterError(true);
    c.commands.forEach(override);
  });
  await program.parseAsync(argv, { from: 'user' });
  return (process.exitCode as number | undefined) ?? 0;
}

quietOnEpipe(process.stdout);
quietOnEpipe(process.stderr);

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.exitCode = exitCodeOf(err);
    if (err instanceof CommanderError) return;
    if (isEpipe(err)) {
      process.exitCode = 0;
      return;
    }
    if (err instanceof UsageError || err instanceof CheckFailed || err instanceof HeldOrDown || err instanceof TimedOut) {
      process.stderr.write(`wo: ${err.message}\n`);
    } else {
      process.stderr.write(`wo: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
  },
);
