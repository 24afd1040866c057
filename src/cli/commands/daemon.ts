/** `wo daemon`: run the daemon in the foreground (what the service units run). */
import type { Command } from 'commander';
import { rootOf, withRoot } from '../common.js';

export function register(program: Command, name: string): void {
  withRoot(program.command(name))
    .description('run the daemon in the foreground: watch bridge/inbox/<LANE>/, run WOs, serve HTTP on 127.0.0.1')
    .addHelpText('after', '\nStops gracefully on SIGTERM/SIGINT (running WOs finish or roll back within shutdown.deadline_s).\nReloads wo.config.yaml when it changes or on SIGHUP.')
    .action(async (opts: { root?: string }) => {
      const { runDaemon } = await import('../../daemon/daemon.js');
      try {
        process.exitCode = await runDaemon(rootOf(opts));
      } finally {
        // Anything left (a watcher, a socket) must not keep a stopped daemon — or one that failed to start — alive.
        setTimeout(() => process.exit(), 200).unref();
      }
    });
}
