/** `wo pause|resume [--lane L]`: stop and restart claiming without stopping the service (kept in g/run/paused.json). */
import type { Command } from 'commander';
import { paint, printable, printJson, rootOf, withRoot } from '../common.js';

const HELP = {
  pause: 'stop claiming new WOs (every lane, or --lane L): they wait in the inbox; running and queued ones go on',
  resume: 'claim again (every lane, or --lane L) after wo pause',
} as const;

export function register(program: Command, name: string): void {
  const pausing = name === 'pause';
  withRoot(program.command(name))
    .description(HELP[pausing ? 'pause' : 'resume'])
    .option('--lane <L>', 'only this lane')
    .option('--reason <text>', 'why (kept with who and when in g/run/paused.json)')
    .option('--json', 'print the pause state as JSON')
    .option('--timeout <s>', 'how long to wait for the daemon to answer', '30')
    .action(async (opts: { root?: string; lane?: string; reason?: string; json?: boolean; timeout: string }) => {
      const root = rootOf(opts);
      const { cleanReason, ownUid, actionEntry } = await import('../../daemon/actions.js');
      const { applyPause, readPause, writePause, pauseWords } = await import('../../daemon/pause.js');
      const { sendOrRun, withOfflineRuntime } = await import('./act.js');
      const reason = cleanReason(opts.reason);
      const by = { uid: ownUid(), channel: 'cli' as const };
      // Checked here too, so a bad lane or an impossible resume is a usage error before anything is sent.
      const now = (await readPause((await import('../../layout.js')).layout(root))).state;
      applyPause(now, pausing, opts.lane);
      const { value: state, running } = await sendOrRun(
        root,
        { action: pausing ? 'pause' : 'resume', uid: by.uid, ...(opts.lane ? { lane: opts.lane } : {}), ...(reason ? { reason } : {}) },
        opts.timeout,
        () =>
          withOfflineRuntime(root, async (rt, L) => {
            const next = applyPause((await readPause(L)).state, pausing, opts.lane, actionEntry(pausing ? 'pause' : 'resume', rt.now(), { by, ...(reason ? { reason } : {}) }));
            await writePause(L, next);
            return next;
          }),
        (reply) => reply.paused as Awaited<ReturnType<typeof readPause>>['state'],
      );
      if (opts.json) return printJson({ paused: { all: state.all, lanes: state.lanes }, daemon_running: running });
      const words = pauseWords(state);
      const where = running ? '' : ' (no daemon is running: it applies when the daemon starts)';
      process.stdout.write(words ? `${paint('paused', 'yellow')}: claiming stopped for ${printable(words)}${where}\n` : `${paint('resumed', 'green')}: claiming on every lane${where}\n`);
    });
}
