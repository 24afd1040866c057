/**
 * SIGKILL storm: the real daemon is killed (by the pid we started) at random moments while WOs stream in,
 * and restarted each time. Afterwards: 0 lost, 0 applied twice, 0 torn files, telemetry intact, folders empty.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempRoot, waitFor, readRecord } from '../helpers.js';
import { CONFIG, FULL, T, beforeOf, checkInvariants, dropAtomic, rng, size, woText, type Kind, daemonPool } from './common.js';

const pool = daemonPool();
const startDaemon = pool.start;
afterEach(() => pool.cleanup());

const KILLS = size(50, 1000);
const WOS = size(300, 5000);
const KINDS: Kind[] = ['new', 'overwrite', 'verify', 'command'];

describe('reliability: SIGKILL storm', () => {
  it(`survives ${KILLS} kills over ${WOS} WOs: nothing lost, doubled or torn`, async () => {
    const seed = Number(process.env.WO_SEED ?? Date.now() % 1_000_000);
    const rand = rng(seed);
    const root = tempRoot(CONFIG);
    const inbox = path.join(root, 'bridge/inbox/CLC');
    fs.mkdirSync(path.join(root, 'out'), { recursive: true });
    const wos = Array.from({ length: WOS }, (_, i) => {
      const kind = KINDS[i % KINDS.length]!;
      return { id: `K-${String(i).padStart(5, '0')}`, kind, pre: kind === 'overwrite' };
    });
    for (const w of wos) if (w.pre) fs.writeFileSync(path.join(root, 'out', `${w.id}.txt`), beforeOf(w.id));

    let next = 0;
    const dropSome = (n: number) => {
      for (let k = 0; k < n && next < wos.length; k++, next++) dropAtomic(inbox, `${wos[next]!.id}.yaml`, woText(wos[next]!.id, wos[next]!.kind));
    };
    const perCycle = Math.ceil(WOS / KILLS);
    let kills = 0;
    let earlyKills = 0;
    for (let cycle = 0; cycle < KILLS; cycle++) {
      // Sometimes kill during start-up/recovery, usually after it is ready and busy.
      const early = rand() < 0.2;
      const d = await startDaemon(root, { waitReady: !early });
      dropSome(perCycle);
      await new Promise((r) => setTimeout(r, Math.floor(rand() * (early ? 120 : 80)))); // mostly while the cycle's WOs run
      if (d.child.exitCode === null) {
        process.kill(d.pid, 'SIGKILL');
        kills++;
        if (early) earlyKills++;
      }
      await d.exited;
    }
    dropSome(wos.length);

    // A last daemon finishes everything.
    const d = await startDaemon(root);
    await waitFor(() => wos.every((w) => ['succeeded', 'failed', 'rejected', 'cancelled'].includes(readRecord(root, w.id)?.status)), { timeout: T(90_000, 900_000), what: 'every WO terminal', interval: 250 });
    expect(await d.stop()).toBe(0);

    const f = checkInvariants(root, wos);
    const given = wos.filter((w) => readRecord(root, w.id)?.given_up).length;
    const interrupted = wos.filter((w) => readRecord(root, w.id)?.error?.code === 'INTERRUPTED').length;
    console.log(
      `[kill-storm${FULL ? ' full' : ''}] seed=${seed} kills=${kills} (during start-up ${earlyKills}) WOs=${f.wos} lost=${f.lost} doubled=${f.doubled} torn=${f.torn} ` +
        `succeeded=${f.succeeded} failed=${f.failed} (interrupted ${interrupted}, given up ${given}) other=${f.other}`,
    );
    if (f.problems.length) console.log(f.problems.join('\n'));
    expect(kills).toBeGreaterThanOrEqual(Math.floor(KILLS * 0.9));
    expect({ lost: f.lost, doubled: f.doubled, torn: f.torn, problems: f.problems }).toEqual({ lost: 0, doubled: 0, torn: 0, problems: [] });
    // Only a crash may fail a WO here, and only with INTERRUPTED (non-idempotent command, or attempts used up).
    const failedOther = wos.filter((w) => { const r = readRecord(root, w.id); return r?.status !== 'succeeded' && r?.error?.code !== 'INTERRUPTED'; });
    expect(failedOther.map((w) => `${w.id}: ${JSON.stringify(readRecord(root, w.id)?.error)}`)).toEqual([]);
  }, T(240_000, 3_600_000));
});
