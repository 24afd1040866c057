/** `wo service install|uninstall|status [--launchd|--systemd] [--print] [--no-load]`: the launchd/systemd unit for this root. */
import type { Command } from 'commander';
import { CheckFailed, UsageError } from '../../errors.js';
import { paint, printJson, rootOf, withRoot } from '../common.js';

interface Opts {
  root?: string;
  launchd?: boolean;
  systemd?: boolean;
  print?: boolean;
  load: boolean;
  json?: boolean;
  release: boolean;
}

export function register(program: Command, name: string): void {
  withRoot(
    program
      .command(name)
      .description('install, uninstall or show the launchd (macOS) / systemd user (Linux) unit that runs `wo daemon` for this root')
      .argument('<action>', 'install | uninstall | status')
      .option('--launchd', 'a launchd agent (default on macOS)')
      .option('--systemd', 'a systemd user unit (default elsewhere)')
      .option('--print', 'print the rendered unit to stdout and touch nothing')
      .option('--no-load', 'only write/remove/check the unit file; do not run launchctl or systemctl')
      .option('--no-release', 'run the daemon from this checkout instead of <root>/g/releases/current (upgrades then touch the running daemon)')
      .option('--json', 'print the outcome as JSON'),
  ).action(async (action: string, opts: Opts) => {
    if (!['install', 'uninstall', 'status'].includes(action)) throw new UsageError(`unknown action '${action}': expected install, uninstall or status`);
    if (opts.launchd && opts.systemd) throw new UsageError('choose one of --launchd and --systemd');
    const { defaultKind, currentSpec } = await import('../../service/units.js');
    const { loadConfig } = await import('../../config/load.js');
    const kind = opts.launchd ? 'launchd' : opts.systemd ? 'systemd' : defaultKind();
    const root = rootOf(opts);
    const config = await loadConfig(root);
    // The unit runs <root>/g/releases/current/bin/wo (an immutable release; `wo upgrade` switches the link), not the checkout.
    const { releaseMainJs } = await import('../../service/units.js');
    const releaseMain = releaseMainJs(root);
    const spec = currentSpec(root, { stopTimeoutS: Math.ceil(config.shutdown.deadline_s) + 5, pathExtra: config.service.path_extra, ...(opts.release ? { mainJs: releaseMain } : {}) });
    if (action === 'install' && opts.release && !opts.print) {
      const { ensureFirstRelease } = await import('../../upgrade/first.js');
      const { REPO_DIR } = await import('../../service/units.js');
      const first = await ensureFirstRelease(root, REPO_DIR);
      if (!opts.json) process.stdout.write(`${first.created ? 'created the first release' : 'kept'}: ${first.detail}\n`);
    }

    if (opts.print) {
      const { renderUnit } = await import('../../service/render.js');
      const { readTemplate } = await import('../../service/units.js');
      process.stdout.write(renderUnit(kind, readTemplate(kind), spec));
      return;
    }
    const manage = await import('../../service/manage.js');
    const base = { kind, root, load: opts.load } as const;
    if (action === 'status') {
      const st = manage.serviceStatus(spec, base);
      if (opts.json) printJson(st);
      else {
        const state = !st.installed ? paint('not installed', 'yellow') : !st.pointsHere ? paint('installed, but for another root', 'red') : paint('installed', 'green');
        process.stdout.write(`${kind} ${st.name}: ${state}\n  file: ${st.file}\n`);
        if (st.installed && st.pointsHere && !st.upToDate) process.stdout.write(`  differs from what 'wo service install' would write now (node, PATH or checkout moved?): re-run it\n`);
        if (st.manager) process.stdout.write(`  ${st.manager.active ? paint('running', 'green') : paint('not running', 'yellow')}: ${st.manager.detail}\n`);
        if (!st.installed) process.stdout.write(`  install with: wo service install --${kind} --root ${root}\n`);
      }
      if (!st.installed || !st.pointsHere) process.exitCode = 1;
      return;
    }
    const out = action === 'install' ? await manage.installService(spec, base) : await manage.uninstallService(base);
    if (opts.json) printJson({ kind, file: out.location.file, name: out.location.name, loaded: out.loaded, failed: out.failed, todo: out.todo, messages: out.messages });
    else for (const m of out.messages) process.stdout.write(`${m}\n`);
    if (out.failed) throw new CheckFailed(`${action}: ${kind} did not accept the unit; the file is ${action === 'install' ? 'written' : 'removed'}, run: ${out.todo.join(' && ')}`);
  });
}
