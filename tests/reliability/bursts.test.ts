/** Bursts: many WOs dropped at once, and a burst while the daemon's event loop is stopped (SIGSTOP/SIGCONT). */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempRoot, waitFor, readRecord } from '../helpers.js';
import { CONFIG, FULL, T, checkInvariants, dropAtomic, size, woText, type Kind, daemonPool } from './common.js';

const pool = daemonPool();
const startDaemon = pool.start;
afterEach(() => pool.cleanup());

function wosOf(prefix: string, n: number): { id: string; kind: Kind; pre: boolean }[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${String(i).padStart(5, '0')}`, kind: (i % 5 === 0 ? 'verify' : 'new') as Kind, pre: false }));
}

const allSucceeded = (root: string, wos: { id: string }[]) => () => wos.every((w) => readRecord(root, w.id)?.status === 'succeeded');

describe('reliability: bursts', () => {
  it(`${size(1000, 10_000)} WOs dropped at once are each processed exactly once`, async () => {
    const root = tempRoot(CONFIG);
    const d = await startDaemon(root);
    const wos = wosOf('BU', size(1000, 10_000));
    const inbox = path.join(root, 'bridge/inbox/CLC');
    for (const w of wos) dropAtomic(inbox, `${w.id}.yaml`, woText(w.id, w.kind));
    await waitFor(allSucceeded(root, wos), { timeout: T(100_000, 600_000), interval: 250, what: 'every burst WO succeeded' });
    expect(await d.stop()).toBe(0);
    const f = checkInvariants(root, wos);
    console.log(`[burst${FULL ? ' full' : ''}] WOs=${f.wos} succeeded=${f.succeeded} lost=${f.lost} doubled=${f.doubled} torn=${f.torn}`);
    expect(f.problems).toEqual([]);
    expect(f.succeeded).toBe(wos.length);
  }, T(150_000, 900_000));

  it(`a burst while the daemon is stopped (SIGSTOP ${size(2, 8)} s) is processed exactly once after SIGCONT`, async () => {
    const root = tempRoot(CONFIG);
    const d = await startDaemon(root);
    const inbox = path.join(root, 'bridge/inbox/CLC');
    // Some WOs in flight when it stops, the rest dropped while it cannot read its watcher.
    const first = wosOf('ST', size(300, 2000));
    const half = Math.floor(first.length / 4);
    for (const w of first.slice(0, half)) dropAtomic(inbox, `${w.id}.yaml`, woText(w.id, w.kind));
    process.kill(d.pid, 'SIGSTOP');
    const stopped = Date.now();
    try {
      for (const w of first.slice(half)) dropAtomic(inbox, `${w.id}.yaml`, woText(w.id, w.kind));
      const left = size(2000, 8000) - (Date.now() - stopped);
      if (left > 0) await new Promise((r) => setTimeout(r, left)); // the stall itself is the fault injected, not a synchronisation
    } finally {
      process.kill(d.pid, 'SIGCONT');
    }
    await waitFor(allSucceeded(root, first), { timeout: T(60_000, 300_000), interval: 250, what: 'every WO of the stalled burst succeeded' });
    expect(d.child.exitCode).toBeNull();
    expect(await d.stop()).toBe(0);
    const f = checkInvariants(root, first);
    console.log(`[sigstop${FULL ? ' full' : ''}] stalled ${size(2, 8)} s, WOs=${f.wos} succeeded=${f.succeeded} lost=${f.lost} doubled=${f.doubled} torn=${f.torn}`);
    expect(f.problems).toEqual([]);
    expect(fs.readdirSync(path.join(root, 'bridge/rejected'))).toEqual([]);
  }, T(120_000, 600_000));
});
