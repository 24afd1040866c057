/** The retention executor on a real temp root: batches, the records hook, and the re-check before each deletion. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runRetention } from '../../src/retention/run.js';
import { tempDir } from '../helpers.js';

const DAY = 86_400_000;
const POLICY = { records_days: 90, archive_days: 30, rejected_days: 30, backups_days: 14, logs_days: 30 };

function record(id: string, status: string, daysAgo: number): Record<string, unknown> {
  const t = new Date(Date.now() - daysAgo * DAY).toISOString();
  return {
    schema: 1, wo_id: id, title: id, lane: 'CLC', type: 'apply_patch', priority: 'P2', status, stage: 'commit', stage_index: 9, stages_total: 9,
    attempt: 1, attempts: [], sha256: 'x', file: `bridge/archive/${id}.1.yaml`, source_name: `${id}.yaml`, rolled_back: false, dry_run: false,
    times: { received: t, finished: t }, files: [], commands: [], tests: [], warnings: [],
  };
}

function seedRoot(n: number, daysAgo = 120): string {
  const root = tempDir('wo-ret-');
  const state = path.join(root, 'g/followup/state');
  fs.mkdirSync(state, { recursive: true });
  fs.mkdirSync(path.join(root, 'g/backups'), { recursive: true });
  const t = new Date(Date.now() - daysAgo * DAY);
  for (let i = 0; i < n; i++) {
    const id = `WO-${String(i).padStart(5, '0')}`;
    const f = path.join(state, `${id}.json`);
    fs.writeFileSync(f, JSON.stringify(record(id, 'succeeded', daysAgo)));
    fs.utimesSync(f, t, t);
    const b = path.join(root, 'g/backups', id);
    fs.mkdirSync(b);
    fs.writeFileSync(path.join(b, 'manifest.json'), '{}');
    fs.utimesSync(b, t, t);
  }
  return root;
}

describe('retention executor', () => {
  it('deletes in batches, backups before records, and tells the hook each batch of record ids', async () => {
    const root = seedRoot(7);
    const calls: string[][] = [];
    const res = await runRetention({ root, policy: POLICY, batch: 3, onRecordsPruned: (ids) => void calls.push(ids) });
    expect(res.counts).toEqual({ backup: 7, record: 7 });
    expect(res.skipped).toEqual([]);
    expect(calls.flat().sort()).toEqual(Array.from({ length: 7 }, (_, i) => `WO-0000${i}`));
    expect(calls.every((c) => c.length <= 3)).toBe(true);
    expect(fs.readdirSync(path.join(root, 'g/followup/state'))).toEqual([]);
    expect(fs.readdirSync(path.join(root, 'g/backups'))).toEqual([]);
  });

  it('re-reads each record before deleting: a WO re-queued after the scan keeps its record', async () => {
    const root = seedRoot(6);
    // After the first batch of records, WO-00005 is retried (queued again): its record must survive.
    let flipped = false;
    const res = await runRetention({
      root,
      policy: POLICY,
      batch: 8,
      onRecordsPruned: () => {
        if (flipped) return;
        flipped = true;
        fs.writeFileSync(path.join(root, 'g/followup/state/WO-00005.json'), JSON.stringify(record('WO-00005', 'queued', 0)));
      },
    });
    expect(res.skipped).toEqual([{ rel: 'g/followup/state/WO-00005.json', why: 'the WO is queued now' }]);
    expect(fs.existsSync(path.join(root, 'g/followup/state/WO-00005.json'))).toBe(true);
  });

  it('a backup written after its WO finished (a new attempt taking its snapshot) is kept', async () => {
    const root = seedRoot(1);
    // Between the scan and the deletion, the WO is resubmitted and its new attempt writes into g/backups/WO-00000/.
    const touch = () => {
      const now = new Date();
      fs.utimesSync(path.join(root, 'g/backups/WO-00000'), now, now);
      return () => {};
    };
    const res = await runRetention({ root, policy: POLICY, batch: 10, hold: touch });
    expect(res.skipped.map((s) => s.rel)).toEqual(['g/backups/WO-00000', 'g/followup/state/WO-00000.json']);
    expect(fs.existsSync(path.join(root, 'g/backups/WO-00000'))).toBe(true);
  });

  it('a foreign file at a record\'s path is never deleted, nor its backup', async () => {
    const root = seedRoot(1);
    const f = path.join(root, 'g/followup/state/WO-00000.json');
    fs.writeFileSync(f, '{"not":"a record"}');
    const t = new Date(Date.now() - 400 * DAY);
    fs.utimesSync(f, t, t);
    const res = await runRetention({ root, policy: POLICY, batch: 10 });
    expect(res.removed).toEqual([]);
    expect(fs.existsSync(f)).toBe(true);
    expect(fs.existsSync(path.join(root, 'g/backups/WO-00000'))).toBe(true);
  });

  it('with the daemon\'s per-id lock: a WO whose lock is held is skipped, the others deleted under their lock', async () => {
    const root = seedRoot(3);
    const held: string[] = [];
    const res = await runRetention({
      root,
      policy: POLICY,
      batch: 10,
      hold: (id) => {
        if (id === 'WO-00001') return undefined;
        held.push(id);
        return () => held.push(`-${id}`);
      },
    });
    expect(res.skipped.map((s) => s.rel).sort()).toEqual(['g/backups/WO-00001', 'g/followup/state/WO-00001.json']);
    expect(res.counts).toEqual({ backup: 2, record: 2 });
    expect(fs.existsSync(path.join(root, 'g/followup/state/WO-00001.json'))).toBe(true);
    expect(held.filter((h) => h === 'WO-00000').length).toBe(held.filter((h) => h === '-WO-00000').length);
    expect(fs.readdirSync(path.join(root, 'g/followup/state')).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('stops between batches when aborted', async () => {
    const root = seedRoot(5);
    const ac = new AbortController();
    const res = await runRetention({ root, policy: POLICY, batch: 2, signal: ac.signal, onRecordsPruned: () => ac.abort() });
    expect(res.stopped).toBe(true);
    expect(res.removed.length).toBeLessThan(10);
  });
});
