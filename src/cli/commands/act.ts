/** `wo approve|reject|retry|cancel|rollback <id>`: through the running daemon, or directly (holding the lock) when it is down. */
import type { Command } from 'commander';
import { paint, printable, printJson, rootOf, statusColor, withRoot } from '../common.js';
import { layout } from '../../layout.js';
import { CheckFailed, HeldOrDown, TimedOut, UsageError } from '../../errors.js';
import { daemonState } from '../../daemon/status.js';
import { sendControl } from '../../daemon/control.js';
import { sameProcess } from '../../exec/proc.js';
import type { Action, ActOptions } from '../../daemon/actions.js';
import type { ControlReply, ControlRequest } from '../../daemon/control.js';
import type { WoRecord } from '../../state/record.js';
import type { Layout } from '../../layout.js';
import type { Runtime } from '../../daemon/runtime.js';

const HELP: Record<Action, string> = {
  approve: 'approve a held WO (status awaiting_approval): it runs now',
  reject: 'reject a held or queued WO without running it (it ends rejected, file in bridge/rejected/)',
  retry: 'run a failed, rejected, cancelled or reverted WO again (a new attempt)',
  cancel: 'cancel a WO (or --all queued and running ones): a running one has its command group killed and is rolled back',
  rollback: 'undo a succeeded WO from its snapshot (refuses if its files changed since, unless --force)',
};

/** Why: with the daemon down, act directly holding the root's lock so no daemon starts meanwhile (also `wo pause`). */
export async function withOfflineRuntime<T>(root: string, run: (rt: Runtime, L: Layout) => Promise<T>): Promise<T> {
  const L = layout(root);
  const { acquireLock } = await import('../../daemon/lock.js');
  const lock = await acquireLock(L.lockFile, L.root);
  if ('held' in lock) throw new CheckFailed(`a daemon (pid ${lock.held?.pid}) started meanwhile; try again`);
  const { loadConfig } = await import('../../config/load.js');
  const { StateStore } = await import('../../state/store.js');
  const { Telemetry } = await import('../../state/telemetry.js');
  const { WoIndex } = await import('../../state/index.js');
  let telemetry: InstanceType<typeof Telemetry> | undefined;
  const store = new StateStore(L.state);
  // Holding the lock, this process is the one writer: a current record index is kept current (a stale one is left for a rebuild).
  const index = WoIndex.openIfCurrent(L.index, store);
  if (index) store.listener = index.listener();
  try {
    const config = await loadConfig(root);
    telemetry = new Telemetry(L.telemetry, config.telemetry.rotate_bytes);
    const silent = { info() {}, warn() {}, error() {} };
    return await run({ L, config: () => config, store, telemetry, log: silent, now: () => new Date(), hooks: {}, ...(index ? { index } : {}) }, L);
  } finally {
    store.listener = null;
    index?.close();
    telemetry?.close();
    await lock.release();
  }
}

/** Why: one path for every request — through the running daemon's control folder, else offline; the reply's error kinds become exit codes. */
export async function sendOrRun<T>(root: string, req: ControlRequest, timeoutS: string, offline: () => Promise<T>, pick: (r: ControlReply) => T): Promise<{ value: T; running: boolean }> {
  const L = layout(root);
  const d = await daemonState(L);
  if (!d.running) return { value: await offline(), running: false };
  const reply = await sendControl(L.run, req, Number(timeoutS) * 1000, () => sameProcess(d.pid!, undefined));
  if (!reply.ok) {
    const msg = reply.error?.message ?? 'failed';
    throw reply.error?.kind === 'usage' ? new UsageError(msg) : new CheckFailed(msg);
  }
  return { value: pick(reply), running: true };
}

/** `wo cancel --all [--lane L]`: print what was cancelled; exit 1 when some could not be. */
async function cancelAllCmd(root: string, opts: { lane?: string; reason?: string; json?: boolean; timeout: string }): Promise<void> {
  const { cancelAll, cleanReason, ownUid } = await import('../../daemon/actions.js');
  const reason = cleanReason(opts.reason);
  const actOpts: ActOptions & { lane?: string } = { by: { uid: ownUid(), channel: 'cli' }, ...(reason ? { reason } : {}), ...(opts.lane ? { lane: opts.lane } : {}) };
  const { value: r, running } = await sendOrRun(
    root,
    { action: 'cancel', all: true, uid: ownUid(), ...(reason ? { reason } : {}), ...(opts.lane ? { lane: opts.lane } : {}) },
    opts.timeout,
    () => withOfflineRuntime(root, (rt) => cancelAll({ rt }, actOpts)),
    (reply) => reply.cancelled ?? { cancelled: [], failed: [] },
  );
  if (opts.json) printJson(r);
  else {
    const scope = opts.lane ? ` in lane ${printable(opts.lane)}` : '';
    if (!r.cancelled.length && !r.failed.length) process.stdout.write(`cancel --all: nothing queued or running${scope}${running ? '' : ' (no daemon is running: only queued records are cancelled)'}\n`);
    for (const rec of r.cancelled) process.stdout.write(`cancel: ${rec.wo_id} is now ${paint(rec.status, statusColor(rec.status))}\n`);
    for (const f of r.failed) process.stdout.write(`cancel: ${f.wo_id} ${paint('not cancelled', 'red')}: ${printable(f.message)}\n`);
  }
  if (r.failed.length) throw new CheckFailed(`${r.failed.length} WO(s) could not be cancelled`);
}

export function register(program: Command, name: string): void {
  const action = name as Action;
  const cmd = withRoot(program.command(name))
    .description(HELP[action])
    .argument(action === 'cancel' ? '[id]' : '<id>', 'the wo_id')
    .option('--json', 'print the resulting record as JSON')
    .option('--reason <text>', 'why (kept in the record with who acted and when)')
    .option('--timeout <s>', 'how long to wait for the daemon to answer', '120');
  if (action === 'rollback') cmd.option('--force', 'roll back even if the files changed since the WO ran');
  if (action === 'approve') cmd.option('--wait', 'follow the approved run to its end like submit --wait (exit 0 succeeded, 1 failed, 3 held, 4 timed out; --timeout bounds the wait too)');
  if (action === 'cancel') cmd.option('--all', 'cancel every queued and running WO').option('--lane <L>', 'with --all: only those of this lane');
  cmd.action(async (id: string | undefined, opts: { root?: string; json?: boolean; force?: boolean; wait?: boolean; timeout: string; reason?: string; all?: boolean; lane?: string }) => {
    const root = rootOf(opts);
    if (opts.all) {
      if (id !== undefined) throw new UsageError('give a WO id or --all, not both');
      return cancelAllCmd(root, opts);
    }
    if (opts.lane !== undefined) throw new UsageError('--lane goes with --all (wo cancel --all --lane L)');
    if (id === undefined) throw new UsageError('give the WO id (or --all)');
    const { cleanReason, ownUid } = await import('../../daemon/actions.js');
    const reason = cleanReason(opts.reason);
    const L = layout(root);
    // A file at the record's path that wo did not write: no WO can have that id; say so plainly.
    const seen = await new (await import('../../state/store.js')).StateStore(L.state).inspect(id);
    if (seen.kind === 'foreign') throw new CheckFailed(`${printable(seen.file)} is not a wo record: it ${printable(seen.why)}; there is no WO ${id} to ${action}`);
    const actOpts: ActOptions = { by: { uid: ownUid(), channel: 'cli' }, ...(reason ? { reason } : {}), ...(opts.force ? { force: true } : {}) };
    const { value: rec, running } = await sendOrRun(
      root,
      { action, wo_id: id, uid: ownUid(), ...(reason ? { reason } : {}), ...(opts.force ? { force: true } : {}) },
      opts.timeout,
      async () => withOfflineRuntime(root, async (rt) => (await import('../../daemon/actions.js')).act({ rt }, action, id, actOpts)),
      (reply) => reply.record!,
    );
    if (action === 'approve') return approved(root, rec, running, opts);
    if (opts.json) return printJson(rec);
    process.stdout.write(`${action}: ${rec.wo_id} is now ${paint(rec.status, statusColor(rec.status))}${rec.error && rec.status !== 'succeeded' ? ` (${rec.error.code}: ${rec.error.message})` : ''}\n`);
    if (action === 'retry') process.stdout.write(`  resubmitted as ${rec.file}\n`);
  });
}

/**
 * Why: approval is for what runs — a WO whose files changed since it was held stays held with its new plan
 * (shown, exit 3); `--wait` then follows the run like `submit --wait`.
 */
async function approved(root: string, rec: WoRecord, running: boolean, opts: { json?: boolean; wait?: boolean; timeout: string }): Promise<void> {
  if (rec.status === 'awaiting_approval') {
    if (opts.json) printJson(rec);
    else {
      const { renderPlan } = await import('./show.js');
      process.stdout.write(`approve: ${rec.wo_id} is still ${paint('awaiting_approval', 'yellow')}\n${renderPlan(rec).join('\n')}\n`);
    }
    throw new HeldOrDown(`${rec.wo_id} was not approved: ${rec.hold_reasons?.[0] ?? 'it is still held'} (wo show ${rec.wo_id})`);
  }
  if (!opts.wait) {
    if (opts.json) return printJson(rec);
    const note = !running ? ' (no daemon is running: it runs when the daemon starts)' : '';
    process.stdout.write(`approve: ${rec.wo_id} is now ${paint(rec.status, statusColor(rec.status))}${note}\n`);
    return;
  }
  if (!running) throw new HeldOrDown(`${rec.wo_id} is approved, but no daemon is running to run it; start one with 'wo daemon --root ${root}'`);
  const { followWo } = await import('../follow.js');
  const since = rec.times.approved ?? new Date().toISOString();
  const r = await followWo(root, rec.wo_id, { timeoutMs: Number(opts.timeout) * 1000, since, sha256: rec.sha256, quiet: !!opts.json });
  const end = r.rec;
  if (opts.json) printJson({ wo_id: rec.wo_id, status: end?.status ?? null, record: end ?? null, timed_out: r.timedOut });
  else if (end) process.stderr.write(`${rec.wo_id} ${paint(end.status, statusColor(end.status))}${end.error ? ` (${end.error.code}: ${end.error.message})` : ''}\n`);
  if (r.timedOut) throw new TimedOut(`${rec.wo_id} did not finish within ${opts.timeout} s (it is ${end?.status ?? 'not started'}; wo show ${rec.wo_id})`);
  if (!end) throw new CheckFailed(`${rec.wo_id}: ${r.refused ? `${r.refused.code}: ${r.refused.message}` : 'no record of the run'}`);
  if (end.status === 'succeeded') return;
  if (end.status === 'awaiting_approval') throw new HeldOrDown(`${rec.wo_id} is held again: ${end.hold_reasons?.join('; ') ?? ''}`);
  throw new CheckFailed(`${rec.wo_id} ${end.status}${end.error ? `: ${end.error.code}: ${end.error.message}` : ''}`);
}
