/**
 * How a process other than the daemon gets the record index to read: the file read-only when it is usable;
 * with the daemon down and the file missing, stale or corrupt, rebuilt under the root's lock (it is derived);
 * otherwise (the daemon is rebuilding it at start, or started meanwhile) the same queries over a scan.
 */
import fs from 'node:fs';
import type { Layout } from '../layout.js';
import { StateStore } from '../state/store.js';
import { WoIndex } from '../state/index.js';
import { acquireLock } from './lock.js';

export type IndexSource = 'index' | 'rebuilt' | 'scan';

/** Why: `wo status`, `wo ls`, `cancel --all` offline read the index, never the whole folder when it is usable. */
export async function readIndex(L: Layout, daemonRunning: boolean): Promise<{ index: WoIndex; source: IndexSource }> {
  const got = WoIndex.openReader(L.index, L.state, daemonRunning);
  if (got) return { index: got, source: 'index' };
  if (!daemonRunning && fs.existsSync(L.state)) {
    const lock = await acquireLock(L.lockFile, L.root).catch(() => undefined);
    if (lock && !('held' in lock)) {
      try {
        const { index } = await WoIndex.openWriter(L.index, new StateStore(L.state));
        index.close();
      } finally {
        await lock.release();
      }
      const again = WoIndex.openReader(L.index, L.state, false);
      if (again) return { index: again, source: 'rebuilt' };
    }
  }
  const { records, unreadable } = await new StateStore(L.state).scan();
  return { index: WoIndex.fromScan(records, unreadable), source: 'scan' };
}
