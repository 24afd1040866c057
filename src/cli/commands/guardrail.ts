/** `wo guardrail [check|protect <path>]`: run the guardrail checks once, or protect a path. */
import type { Command } from 'commander';
import { paint, printJson, rootOf, withRoot } from '../common.js';

interface CheckOpts {
  root?: string;
  json?: boolean;
}

/** Run every check once in this process (no watchers, no restore), write health.json, exit 1 on drift. */
async function runCheck(opts: CheckOpts): Promise<void> {
  const [{ loadConfig }, { checkOnce, describeDrift }, { CheckFailed }] = await Promise.all([
    import('../../config/load.js'),
    import('../../guardrail/index.js'),
    import('../../errors.js'),
  ]);
  const config = await loadConfig(rootOf(opts));
  const { set, health } = await checkOnce(config);
  const driftOf = new Map(health.drift.map((d) => [d.path, d]));
  if (opts.json) {
    printJson({
      ...health,
      root: config.root,
      paths: set.specs.map((s) => ({ path: s.path, kind: s.kind, source: s.source, ok: !driftOf.has(s.path), ...(driftOf.has(s.path) ? { drift: driftOf.get(s.path) } : {}) })),
      problems: set.problems,
    });
  } else {
    for (const p of set.problems) process.stderr.write(`wo: ${p}\n`);
    for (const s of set.specs) {
      const d = driftOf.get(s.path);
      const tag = d ? paint('DRIFT', 'red') : paint('ok   ', 'green');
      const what = d ? describeDrift(d) : `${s.path}`;
      process.stdout.write(`${tag} ${what} ${paint(`(${s.kind}, ${s.source})`, 'gray')}\n`);
    }
    for (const sv of health.services ?? []) {
      const tag = sv.ok ? paint('ok   ', 'green') : paint('DRIFT', 'red');
      const st = sv.status;
      const facts = st ? `loaded ${st.loaded ? 'yes' : 'no'}, running ${st.running ? `yes${st.pid ? ` (pid ${st.pid})` : ''}` : 'no'}, last exit ${st.last_exit ?? '-'}${st.exit_meaning ? ` (${st.exit_meaning})` : ''}` : '';
      process.stdout.write(`${tag} service ${sv.service}${sv.why ? `: ${sv.why}` : ''} ${paint(`(${sv.kind}${facts ? `; ${facts}` : ''})`, 'gray')}\n`);
    }
    process.stdout.write(
      health.healthy
        ? `${paint('healthy', 'green')}: ${health.protected} protected path(s) as expected\n`
        : `${paint('drift', 'red')}: ${health.drift.length} of ${health.protected} protected path(s) out of their expected state${health.services?.length ? `; ${health.services.filter((sv) => !sv.ok).length} of ${health.services.length} service(s) unhealthy` : ''}\n`,
    );
  }
  const badServices = (health.services ?? []).filter((sv) => !sv.ok);
  if (!health.healthy) {
    throw new CheckFailed(`guardrail: drift in ${health.drift.length} protected path(s)${badServices.length ? ` and ${badServices.length} service(s): ${badServices.map((sv) => `${sv.service} ${sv.why}`).join(', ')}` : ''}`);
  }
}

/** Validate a path, vault its content and add it to g/guardrail/protected.json. */
async function runProtect(given: string, opts: { root?: string }): Promise<void> {
  const [{ loadConfig }, { protectPath, UnsafePath }, { UsageError }] = await Promise.all([
    import('../../config/load.js'),
    import('../../guardrail/index.js'),
    import('../../errors.js'),
  ]);
  const config = await loadConfig(rootOf(opts));
  let p;
  try {
    p = await protectPath(config.root, given);
  } catch (err) {
    if (err instanceof UnsafePath) throw new UsageError(`cannot protect ${err.message}`);
    throw err;
  }
  const detail = p.kind === 'file'
    ? `file, sha256 ${p.sha256!.slice(0, 12)}…, mode ${p.mode!.toString(8).padStart(4, '0')}; content vaulted at g/guardrail/vault/${p.sha256}`
    : 'folder; its presence is checked';
  process.stdout.write(`${p.alreadyListed ? 'already protected (vault copy refreshed)' : 'protected'}: ${p.rel} (${detail})\n`);
  process.stdout.write(`listed in g/guardrail/protected.json; a running daemon picks it up at once\n`);
}

/** Add `guardrail` (default: check) with `check` and `protect <path>`. */
export function register(program: Command, name: string): void {
  // Options given after a subcommand land on the parent too (commander parses them globally), so
  // subcommands read optsWithGlobals().
  const cmd = withRoot(program.command(name))
    .description('run the guardrail checks now (default), or protect a path')
    .option('--json', 'print the result as JSON')
    .action((opts: CheckOpts) => runCheck(opts));
  withRoot(cmd.command('check'))
    .description('check every protected path once (no watchers); exit 1 on drift; writes g/guardrail/health.json')
    .option('--json', 'print the result as JSON')
    .action((_o: CheckOpts, c: Command) => runCheck(c.optsWithGlobals<CheckOpts>()));
  withRoot(cmd.command('protect'))
    .argument('<path>', 'a file or folder inside the root (relative to the root, or absolute)')
    .description('protect a path: it must exist inside the root and not be a symlink; a file\'s content is vaulted')
    .action((p: string, _o: unknown, c: Command) => runProtect(p, c.optsWithGlobals<{ root?: string }>()));
}
