/**
 * Hostile retention: prune passes racing a stream of WOs (nothing live is lost: every WO ends as it should, failed ones
 * still roll back to their snapshot), and a backlog of thousands of old records pruned in batches by the daemon's
 * start-time pass while a new WO still completes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readEvents, readRecord, runCliAsync, tempRoot, waitFor, waitSettled } from '../helpers.js';
import { CONFIG, T, daemonPool, dropAtomic, size } from './common.js';

const DAY = 86_400_000;
const pool = daemonPool();
afterEach(() => pool.cleanup());

const woOk = (id: string) => `wo_id: ${id}\ntitle: "${id}"\ntype: apply_patch\nfiles:\n  - path: out/${id}.txt\n    content: "new ${id}\\n"\n`;
// Overwrites its file, then fails its check: the daemon must restore the file from the snapshot in g/backups/.
const woFail = (id: string) => `${woOk(id)}post_verify:\n  - "test -f out/never-there"\n`;

describe('hostile retention', () => {
  it('prune passes racing a stream of WOs lose nothing live: successes land, failures still roll back', async () => {
    const n = size(30, 300);
    const root = tempRoot(`${CONFIG}retention:\n  interval_h: 0\n  batch: 5\n`);
    fs.mkdirSync(path.join(root, 'out'), { recursive: true });
    const ids = Array.from({ length: n }, (_, i) => `WO-F${String(i).padStart(4, '0')}`);
    for (const id of ids) fs.writeFileSync(path.join(root, 'out', `${id}.txt`), `before ${id}\n`);
    await pool.start(root);
    // The most aggressive prune there is (every terminal WO's files at any age), run again and again while WOs flow.
    let flowing = true;
    const pruner = (async () => {
      let passes = 0;
      while (flowing || passes < 2) {
        const r = await runCliAsync(['prune', '--older-than', '0m', '--json'], { root });
        expect(r.code, r.stderr).toBe(0);
        passes++;
      }
      return passes;
    })();
    for (const [i, id] of ids.entries()) dropAtomic(path.join(root, 'bridge/inbox/CLC'), `${id}.yaml`, i % 3 === 2 ? woFail(id) : woOk(id));
    await waitFor(() => ids.every((id) => ['succeeded', 'failed'].includes(readRecord(root, id)?.status)), { timeout: T(90_000, 600_000), what: 'every WO terminal' });
    await waitSettled(root, { timeout: T(60_000, 300_000) });
    flowing = false;
    expect(await pruner).toBeGreaterThanOrEqual(2);
    for (const [i, id] of ids.entries()) {
      const rec = readRecord(root, id)!;
      const text = fs.readFileSync(path.join(root, 'out', `${id}.txt`), 'utf8');
      if (i % 3 === 2) {
        expect(rec.status, id).toBe('failed');
        expect(rec.rolled_back, `${id}: ${JSON.stringify({ error: rec.error, rolled_back_to: rec.rolled_back_to, warnings: rec.warnings, attempts: rec.attempts })}`).toBe(true);
        expect(text, id).toBe(`before ${id}\n`);
      } else {
        expect(rec.status, id).toBe('succeeded');
        expect(text, id).toBe(`new ${id}\n`);
      }
    }
    // A last pass with everything settled: records are kept by --older-than; every terminal WO's backup went.
    expect((await runCliAsync(['prune', '--older-than', '0m'], { root })).code).toBe(0);
    expect(fs.readdirSync(path.join(root, 'g/backups'))).toEqual([]);
    expect(fs.readdirSync(path.join(root, 'g/followup/state')).filter((f) => f.endsWith('.json')).length).toBe(n);
  }, T(240_000, 1_200_000));

  it('the daemon\'s own passes (tiny ages, ~1 s apart) racing a stream of WOs lose nothing live', async () => {
    const n = size(30, 300);
    // Backups and archive files of terminal WOs go about 0.1 s after they finish; records are kept to check the outcome.
    const root = tempRoot(`${CONFIG}retention:\n  interval_h: 0.0003\n  batch: 3\n  records_days: null\n  backups_days: 0.000001\n  archive_days: 0.000001\n`);
    fs.mkdirSync(path.join(root, 'out'), { recursive: true });
    const ids = Array.from({ length: n }, (_, i) => `WO-D${String(i).padStart(4, '0')}`);
    for (const id of ids) fs.writeFileSync(path.join(root, 'out', `${id}.txt`), `before ${id}\n`);
    const d = await pool.start(root);
    for (const [i, id] of ids.entries()) dropAtomic(path.join(root, 'bridge/inbox/CLC'), `${id}.yaml`, i % 3 === 2 ? woFail(id) : woOk(id));
    await waitFor(() => ids.every((id) => ['succeeded', 'failed'].includes(readRecord(root, id)?.status)), { timeout: T(90_000, 600_000), what: 'every WO terminal' });
    for (const [i, id] of ids.entries()) {
      const rec = readRecord(root, id)!;
      const text = fs.readFileSync(path.join(root, 'out', `${id}.txt`), 'utf8');
      expect(rec.status, id).toBe(i % 3 === 2 ? 'failed' : 'succeeded');
      expect(text, `${id}: ${JSON.stringify(rec.error)}`).toBe(i % 3 === 2 ? `before ${id}\n` : `new ${id}\n`);
    }
    await waitFor(() => readEvents(root).some((e) => e.event === 'retention_pruned' && (e.counts?.backup ?? 0) > 0), { timeout: 60_000, what: 'a pass that removed backups' });
    expect(await d.stop()).toBe(0);
  }, T(240_000, 1_200_000));

  it('a backlog of thousands of old records is pruned in batches at start while a new WO completes', async () => {
    const backlog = size(3000, 30_000);
    const root = tempRoot(`${CONFIG}retention:\n  batch: 200\n`);
    // One real record as the template of the backlog.
    const d0 = await pool.start(root);
    dropAtomic(path.join(root, 'bridge/inbox/CLC'), 'TEMPLATE.yaml', woOk('TEMPLATE'));
    await waitFor(() => readRecord(root, 'TEMPLATE')?.status === 'succeeded', { timeout: 30_000, what: 'template' });
    await waitSettled(root);
    expect(await d0.stop()).toBe(0);
    const template = readRecord(root, 'TEMPLATE')!;
    const old = new Date(Date.now() - 400 * DAY);
    const state = path.join(root, 'g/followup/state');
    for (let i = 0; i < backlog; i++) {
      const id = `WO-OLD-${i}`;
      const f = path.join(state, `${id}.json`);
      fs.writeFileSync(f, JSON.stringify({ ...template, wo_id: id, file: `bridge/archive/${id}.1.yaml`, times: { received: old.toISOString(), finished: old.toISOString() } }));
      fs.utimesSync(f, old, old);
      if (i % 4 === 0) {
        const a = path.join(root, 'bridge/archive', `${id}.1.yaml`);
        fs.writeFileSync(a, 'x');
        fs.utimesSync(a, old, old);
      }
    }
    const d = await pool.start(root);
    dropAtomic(path.join(root, 'bridge/inbox/CLC'), 'FRESH.yaml', woOk('FRESH'));
    await waitFor(() => readRecord(root, 'FRESH')?.status === 'succeeded', { timeout: T(60_000, 300_000), what: 'FRESH' });
    const ev = await waitFor(() => readEvents(root).find((e) => e.event === 'retention_pruned' && e.removed > 0), { timeout: T(120_000, 600_000), what: 'the backlog pass' });
    expect(ev.counts.record).toBe(backlog);
    expect(ev.counts.archive).toBe(Math.ceil(backlog / 4));
    expect(fs.readdirSync(state).filter((f) => !f.startsWith('.')).sort()).toEqual(['FRESH.json', 'TEMPLATE.json']); // .spare/: util/spare.ts
    expect(await d.stop()).toBe(0);
  }, T(300_000, 1_200_000));
});
