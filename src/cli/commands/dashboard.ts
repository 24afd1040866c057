/** `wo dashboard [--no-open] [--json]`: print (and on a desktop open) the dashboard URL with the token in its fragment. */
import type { Command } from 'commander';
import { CheckFailed, HeldOrDown } from '../../errors.js';
import { printJson, rootOf, withRoot } from '../common.js';

export function register(program: Command, name: string): void {
  withRoot(
    program
      .command(name)
      .description("print the running daemon's dashboard URL (http://127.0.0.1:<port>/#token=…) and open it on a desktop")
      .option('--no-open', 'only print the URL, never start a browser')
      .option('--json', 'print {"url": …}'),
  ).action(async (opts: { root?: string; open: boolean; json?: boolean }) => {
    const fsp = await import('node:fs/promises');
    const { layout } = await import('../../layout.js');
    const { readRunState } = await import('../../service/runinfo.js');
    const root = rootOf(opts);
    const L = layout(root);
    const run = await readRunState(L);
    if (run.state === 'unreadable') throw new CheckFailed(`cannot tell whether the daemon runs: ${run.error}`);
    if (run.state !== 'running') {
      const why = run.state === 'stale' ? ` (a stale lock from pid ${run.info.pid} is left)` : '';
      throw new HeldOrDown(`the daemon is not running on ${L.root}${why}; start it with 'wo daemon --root ${L.root}' or 'wo service install'`);
    }
    if (!run.info.port) throw new CheckFailed(`the daemon on ${L.root} (pid ${run.info.pid}) serves no HTTP: http.enabled is false in wo.config.yaml`);
    let token: string;
    try {
      token = (await fsp.readFile(L.tokenFile, 'utf8')).trim();
    } catch (err) {
      throw new CheckFailed(`cannot read the token ${L.tokenFile}: ${(err as Error).message}`);
    }
    if (!token) throw new CheckFailed(`the token file ${L.tokenFile} is empty; restart the daemon to write a new one`);
    const url = `http://127.0.0.1:${run.info.port}/#token=${encodeURIComponent(token)}`;
    if (opts.json) printJson({ url });
    else process.stdout.write(`${url}\n`);
    const desktop = process.platform === 'darwin' || Boolean(process.env.DISPLAY) || Boolean(process.env.WAYLAND_DISPLAY);
    if (opts.open && desktop) {
      const { spawn } = await import('node:child_process');
      const opener = process.platform === 'darwin' ? 'open' : 'xdg-open';
      const child = spawn(opener, [url], { detached: true, stdio: 'ignore' });
      child.on('error', () => process.stderr.write(`(could not start ${opener}; open the URL above yourself)\n`));
      child.unref();
    }
  });
}
