/**
 * The record index under a SIGKILL storm: the daemon is killed (by the pid we started) mid-batch, repeatedly.
 * After each kill the index must never lead the records (no row without its record), and whenever it claims to
 * be current (its high-water mark matches the state folder) it must equal a rebuild. After the last restart it
 * equals a rebuild from the records.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readRecord, tempRoot, waitFor } from '../helpers.js';
import { CONFIG, FULL, T, daemonPool, dropAtomic, rng, size, woText, type Kind } from './common.js';
import { layout } from '../../src/layout.js';
import { StateStore } from '../../src/state/store.js';
import { WoIndex } from '../../src/state/index.js';

const pool = daemonPool();
afterEach(() => pool.cleanup());

const KILLS = size(8, 100);
const WOS = size(80, 2000);
const KINDS: Kind[] = ['new', 'verify', 'command'];

async function rebuiltRows(root: string): Promise<Record<string, unknown>[]> {
  const fresh = WoIndex.fromScan((await new StateStore(layout(root).state).scan()).records, []);
  try {
    return fresh.allRows();
  } finally {
    fresh.close();
  }
}

describe('reliability: the record index through a SIGKILL storm', () => {
  it(`${KILLS} kills over ${WOS} WOs: the index never leads, never claims to be current when it is not, and ends equal to a rebuild`, async () => {
    const seed = Number(process.env.WO_SEED ?? Date.now() % 1_000_000);
    const rand = rng(seed);
    const root = tempRoot(CONFIG);
    const L = layout(root);
    const inbox = path.join(root, 'bridge/inbox/CLC');
    const wos = Array.from({ length: WOS }, (_, i) => ({ id: `IX-${String(i).padStart(5, '0')}`, kind: KINDS[i % KINDS.length]! }));
    let next = 0;
    const dropSome = (n: number) => {
      for (let k = 0; k < n && next < wos.length; k++, next++) dropAtomic(inbox, `${wos[next]!.id}.yaml`, woText(wos[next]!.id, wos[next]!.kind));
    };
    const perCycle = Math.ceil(WOS / KILLS);
    let kills = 0;
    let claimedCurrent = 0;
    for (let cycle = 0; cycle < KILLS; cycle++) {
      const d = await pool.start(root);
      dropSome(perCycle);
      // Kill once the batch is under way (some records written), at a random moment after.
      const started = next - perCycle;
      await waitFor(() => wos.slice(Math.max(0, started), next).some((w) => readRecord(root, w.id)), { timeout: T(30_000, 120_000), what: 'the batch to start', interval: 5 });
      if (cycle % 3 === 2) {
        // Some kills land once the daemon is idle and has stored its high-water mark: then the index is current.
        const batch = wos.slice(Math.max(0, started), next);
        await waitFor(() => {
          if (!batch.every((w) => ['succeeded', 'failed'].includes(readRecord(root, w.id)?.status))) return false;
          const ix = WoIndex.openReader(L.index, L.state, false);
          ix?.close();
          return ix !== null;
        }, { timeout: T(60_000, 300_000), what: 'the batch done and the index marked current', interval: 20 });
      } else await new Promise((r) => setTimeout(r, Math.floor(rand() * 60)));
      if (d.child.exitCode === null) {
        process.kill(d.pid, 'SIGKILL');
        kills++;
      }
      await d.exited;

      const ids = new Set(fs.readdirSync(L.state).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)));
      const any = WoIndex.openReader(L.index, L.state, true);
      if (any) {
        const leading = any.allRows().filter((r) => !ids.has(r.wo_id as string));
        any.close();
        expect(leading, 'rows without a record').toEqual([]);
      }
      const current = WoIndex.openReader(L.index, L.state, false);
      if (current) {
        claimedCurrent++;
        const rows = current.allRows();
        current.close();
        expect(rows, `cycle ${cycle}: an index that claims to be current equals a rebuild`).toEqual(await rebuiltRows(root));
      }
    }
    dropSome(wos.length);

    const d = await pool.start(root);
    await waitFor(() => wos.every((w) => ['succeeded', 'failed', 'rejected', 'cancelled'].includes(readRecord(root, w.id)?.status)), { timeout: T(90_000, 900_000), what: 'every WO terminal', interval: 250 });
    await waitFor(() => fs.readdirSync(path.join(L.processing, 'CLC')).length === 0, { timeout: T(30_000, 120_000), what: 'processing/ empty' });
    const live = WoIndex.openReader(L.index, L.state, true)!;
    const liveRows = live.allRows();
    live.close();
    expect(liveRows).toEqual(await rebuiltRows(root));
    expect(await d.stop()).toBe(0);
    const after = WoIndex.openReader(L.index, L.state, false);
    expect(after, 'current after a graceful stop').not.toBeNull();
    expect(after!.allRows()).toEqual(await rebuiltRows(root));
    expect(after!.query({ limit: 500 }).total).toBe(WOS);
    after!.close();
    console.log(`[hostile-index${FULL ? ' full' : ''}] seed=${seed} kills=${kills} WOs=${WOS} index claimed current after ${claimedCurrent} kill(s)`);
    expect(kills).toBeGreaterThanOrEqual(Math.floor(KILLS * 0.8));
    expect(claimedCurrent).toBeGreaterThanOrEqual(Math.floor(KILLS / 3));
  }, T(240_000, 3_600_000));
});
