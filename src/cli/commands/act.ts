/** `wo approve|reject|retry|cancel|rollback <id>`: through the running daemon, or directly (holding the lock) when it is down. */
import type { Command } from 'commander';
import { paint, printable, printJson, rootOf, statusColor, withRoot } from '../common.js';
import { layout } from '../../layout.js';
import { CheckFailed, UsageError } from '../../errors.js';
import { daemonState } from '../../daemon/status.js';
import { sendControl } from '../../daemon/control.js';
import { sameProcess } from '../../exec/proc.js';
import type { Action } from '../../daemon/actions.js';
import type { WoRecord } from '../../state/record.js';

const HELP: Record<Action, string> = {
  approve: 'approve a held WO (status awaiting_approval): it runs now',
  reject: 'reject a held or queued WO without running it (it ends rejected, file in bridge/rejected/)',
  retry: 'run a failed, rejected, cancelled or reverted WO again (a new attempt)',
  cancel: 'cancel a WO: a running one has its command group killed and is rolled back',
  rollback: 'undo a succeeded WO from its snapshot (refuses if its files changed since, unless --force)',
};

/** Run an action with the daemon down: take the root's lock so no daemon starts meanwhile. */
async function actOffline(root: string, action: Action, id: string, force: boolean): Promise<WoRecord> {
  const L = layout(root);
  const { acquireLock } = await import('../../daemon/lock.js');
  const lock = await acquireLock(L.lockFile, L.root);
  if ('held' in lock) throw new CheckFailed(`a daemon (pid ${lock.held?.pid}) started meanwhile; try again`);
  const { loadConfig } = await import('../../config/load.js');
  const { StateStore } = await import('../../state/store.js');
  const { Telemetry } = await import('../../state/telemetry.js');
  const { act } = await import('../../daemon/actions.js');
  const config = await loadConfig(root);
  const telemetry = new Telemetry(L.telemetry, config.telemetry.rotate_bytes);
  const silent = { info() {}, warn() {}, error() {} };
  try {
    return await act({ rt: { L, config: () => config, store: new StateStore(L.state), telemetry, log: silent, now: () => new Date(), hooks: {} } }, action, id, { force });
  } finally {
    telemetry.close();
    await lock.release();
  }
}

export function register(program: Command, name: string): void {
  const action = name as Action;
  const cmd = withRoot(program.command(name))
    .description(HELP[action])
    .argument('<id>', 'the wo_id')
    .option('--json', 'print the resulting record as JSON')
    .option('--timeout <s>', 'how long to wait for the daemon to answer', '120');
  if (action === 'rollback') cmd.option('--force', 'roll back even if the files changed since the WO ran');
  cmd.action(async (id: string, opts: { root?: string; json?: boolean; force?: boolean; timeout: string }) => {
    const root = rootOf(opts);
    const L = layout(root);
    // A file at the record's path that wo did not write: no WO can have that id; say so plainly.
    const seen = await new (await import('../../state/store.js')).StateStore(L.state).inspect(id);
    if (seen.kind === 'foreign') throw new CheckFailed(`${printable(seen.file)} is not a wo record: it ${printable(seen.why)}; there is no WO ${id} to ${action}`);
    const d = await daemonState(L);
    let rec: WoRecord;
    if (d.running) {
      const reply = await sendControl(L.run, { action, wo_id: id, ...(opts.force ? { force: true } : {}) }, Number(opts.timeout) * 1000, () => sameProcess(d.pid!, undefined));
      if (!reply.ok) {
        const msg = reply.error?.message ?? 'failed';
        throw reply.error?.kind === 'usage' ? new UsageError(msg) : new CheckFailed(msg);
      }
      rec = reply.record!;
    } else {
      rec = await actOffline(root, action, id, !!opts.force);
    }
    if (opts.json) return printJson(rec);
    const note = !d.running && action === 'approve' ? ' (no daemon is running: it runs when the daemon starts)' : '';
    process.stdout.write(`${action}: ${rec.wo_id} is now ${paint(rec.status, statusColor(rec.status))}${rec.error && rec.status !== 'succeeded' ? ` (${rec.error.code}: ${rec.error.message})` : ''}${note}\n`);
    if (action === 'retry') process.stdout.write(`  resubmitted as ${rec.file}\n`);
  });
}
