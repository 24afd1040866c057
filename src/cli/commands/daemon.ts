/** `wo daemon`: run the daemon in the foreground (what the service units run). */
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { rootOf, withRoot } from '../common.js';

/** sysexits.h EX_CONFIG: the configuration (or the command line) is wrong; restarting cannot help. */
export const EX_CONFIG = 78;

/**
 * Why: a service manager must not restart a daemon whose config is invalid. systemd skips 78
 * (RestartPreventExitStatus=78). launchd relaunches every non-zero exit under KeepAlive {SuccessfulExit: false}
 * and has no way to exempt one status, so under launchd (WO_SERVICE_MANAGER=launchd, set by the plist) the
 * config error is said on stderr and in daemon.log and the exit is 0.
 */
export function configExitCode(env: NodeJS.ProcessEnv = process.env): number {
  return env.WO_SERVICE_MANAGER === 'launchd' ? 0 : EX_CONFIG;
}

export function register(program: Command, name: string): void {
  withRoot(program.command(name))
    .description('run the daemon in the foreground: watch bridge/inbox/<LANE>/, run WOs, serve HTTP on 127.0.0.1')
    .allowUnknownOption()
    .allowExcessArguments()
    .addHelpText(
      'after',
      '\nStops gracefully on SIGTERM/SIGINT (running WOs finish or roll back within shutdown.deadline_s).\nReloads wo.config.yaml when it changes or on SIGHUP.\nExits 78 (EX_CONFIG) for an invalid wo.config.yaml or bad arguments, so systemd does not restart it.',
    )
    .action(async (opts: { root?: string }, cmd: Command) => {
      try {
        if (cmd.args.length) throw new UsageError(`daemon: unexpected argument${cmd.args.length > 1 ? 's' : ''} ${cmd.args.join(' ')} (it takes only --root DIR)`);
        const { runDaemon } = await import('../../daemon/daemon.js');
        process.exitCode = await runDaemon(rootOf(opts));
      } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        const code = configExitCode();
        const why = code === EX_CONFIG ? `exit ${EX_CONFIG}, EX_CONFIG` : 'exit 0 so launchd does not relaunch it';
        process.stderr.write(`wo: ${err.message} — the daemon did not start (configuration error, ${why}); fix it, then start it again\n`);
        process.exitCode = code;
      } finally {
        // Anything left (a watcher, a socket) must not keep a stopped daemon — or one that failed to start — alive.
        setTimeout(() => process.exit(), 200).unref();
      }
    });
}
