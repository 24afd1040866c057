/** Follow a WO's record until it ends (or is held), showing stage progress: one updating line on a TTY, plain lines otherwise. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { layout } from '../layout.js';
import { StateStore } from '../state/store.js';
import { TERMINAL, type WoRecord } from '../state/record.js';
import { daemonState } from '../daemon/status.js';
import { paint, statusColor } from './common.js';

export interface FollowResult {
  rec: WoRecord | undefined;
  /** Why following stopped without a terminal state. */
  timedOut: boolean;
  daemonRunning: boolean;
}

function bar(rec: WoRecord, width = 20): string {
  const done = Math.round((rec.stage_index / rec.stages_total) * width);
  return `[${'#'.repeat(done)}${'.'.repeat(width - done)}]`;
}

/** A one-line progress description of a record. */
export function progressLine(rec: WoRecord): string {
  return `${rec.wo_id} ${bar(rec)} ${rec.stage_index}/${rec.stages_total} ${rec.stage} — ${paint(rec.status, statusColor(rec.status))}`;
}

/** Poll the record until terminal, held, or timeout; `since` ignores an older record of the same id. */
export async function followWo(root: string, id: string, opts: { timeoutMs: number; sha256?: string; quiet?: boolean }): Promise<FollowResult> {
  const L = layout(root);
  const store = new StateStore(L.state);
  const tty = process.stderr.isTTY && !opts.quiet;
  const deadline = Date.now() + opts.timeoutMs;
  let last = '';
  let rec: WoRecord | undefined;
  for (;;) {
    rec = await store.read(id).catch(() => undefined);
    const mine = rec && (!opts.sha256 || rec.sha256 === opts.sha256) ? rec : undefined;
    if (mine) {
      const line = progressLine(mine);
      if (line !== last && !opts.quiet) {
        process.stderr.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
        last = line;
      }
      // Settled: the record is written before the file moves (and its telemetry between the two), so
      // wait for the file to be where the record says before reporting the end.
      const settled = await fsp.access(path.resolve(root, mine.file)).then(() => true, () => false);
      if ((TERMINAL.has(mine.status) || mine.status === 'awaiting_approval') && settled) {
        if (tty) process.stderr.write('\n');
        return { rec: mine, timedOut: false, daemonRunning: true };
      }
    }
    if (Date.now() > deadline) {
      if (tty && last) process.stderr.write('\n');
      return { rec: mine, timedOut: true, daemonRunning: (await daemonState(L)).running };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
