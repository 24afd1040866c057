/**
 * Hostile cases for the brakes (issue 13): a flood into a rate-limited lane, parallel failures racing the breaker,
 * and a g/run/breaker.json the daemon cannot read or write. Quick sizes in `npm test`, larger with WO_RELIABILITY=full.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readRecord, tempRoot, waitFor, waitSettled } from '../helpers.js';
import { daemonPool, dropAtomic, size } from './common.js';

const pool = daemonPool();
afterEach(() => pool.cleanup());

const TIMEOUT = 300_000;
const WAIT = { timeout: 240_000 };
const execWo = (id: string, cmd: string) => JSON.stringify({ wo_id: id, title: `hostile brakes ${id}`, type: 'exec', commands: [cmd] });
const inbox = (root: string, lane: string) => path.join(root, 'bridge/inbox', lane);
const settled = (root: string, ids: string[], statuses: string[]) =>
  waitFor(() => ids.every((id) => statuses.includes(readRecord(root, id)?.status)), { ...WAIT, what: `${ids.length} WOs in ${statuses.join('/')}` });

describe('hostile brakes', () => {
  it('a flood into a rate-limited lane: exactly `max` run, every other one is held with the rule, none is lost', async () => {
    const n = size(25, 300);
    const root = tempRoot('http:\n  enabled: false\nconcurrency: 4\npolicy:\n  autonomy: auto\n  lanes:\n    CLC: {rate: {max: 3, per_s: 3600}}\n');
    await pool.start(root);
    const ids = Array.from({ length: n }, (_, i) => `FLOOD-${i}`);
    for (const id of ids) dropAtomic(inbox(root, 'CLC'), `${id}.json`, execWo(id, 'true'));
    await settled(root, ids, ['succeeded', 'awaiting_approval']);
    const recs = ids.map((id) => readRecord(root, id)!);
    expect(recs.filter((r) => r.status === 'succeeded')).toHaveLength(3);
    const held = recs.filter((r) => r.status === 'awaiting_approval');
    expect(held).toHaveLength(n - 3);
    for (const r of held) expect(r.hold_reasons).toEqual(['policy.lanes.CLC.rate is 3 per 3600 s: 3 WOs of lane CLC already started in the last 3600 s']);
    // The record is written before the file moves (write-ahead): the last hold's move may still be under way.
    await waitFor(() => fs.readdirSync(path.join(root, 'bridge/hold')).filter((f) => !f.startsWith('.')).length === n - 3, { ...WAIT, what: `${n - 3} files in bridge/hold` });
    expect(fs.readdirSync(inbox(root, 'CLC')).filter((f) => !f.startsWith('.'))).toEqual([]);
  }, TIMEOUT);

  it('parallel failures race the breaker: it opens once, and every WO dropped after it is held', async () => {
    const n = size(8, 60);
    const events = path.join(tempRoot(''), 'events.jsonl');
    const root = tempRoot(`http:\n  enabled: false\nconcurrency: 4\npolicy:\n  autonomy: auto\n  breaker: {failures: 3, window_s: 3600}\nnotify:\n  desktop: false\n  command: "cat >> '${events}'"\n  events: [breaker]\n`);
    await pool.start(root);
    const bad = Array.from({ length: n }, (_, i) => `RACE-${i}`);
    for (const id of bad) dropAtomic(inbox(root, 'CLC'), `${id}.json`, execWo(id, 'false'));
    await settled(root, bad, ['failed', 'awaiting_approval']);
    await waitSettled(root, WAIT);
    expect(bad.filter((id) => readRecord(root, id)!.status === 'failed').length).toBeGreaterThanOrEqual(3);
    await waitFor(() => fs.existsSync(events) && fs.readFileSync(events, 'utf8').includes('wo_breaker_open'), { ...WAIT, what: 'the breaker told' });
    const after = Array.from({ length: size(4, 30) }, (_, i) => `AFTER-${i}`);
    for (const id of after) dropAtomic(inbox(root, 'CLC'), `${id}.json`, execWo(id, 'true'));
    await settled(root, after, ['awaiting_approval', 'succeeded']);
    for (const id of after) expect(readRecord(root, id)!.hold_reasons).toEqual(['breaker open for lane CLC: 3 failures in 3600 s (policy.breaker); `wo resume --lane CLC` closes it']);
    const told = fs.readFileSync(events, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(told.map((e) => e.event)).toEqual(['wo_breaker_open']);
    expect(JSON.parse(fs.readFileSync(path.join(root, 'g/run/breaker.json'), 'utf8')).lanes.CLC.open).toMatchObject({ failures: 3, window_s: 3600 });
  }, TIMEOUT);

  it('garbage, then a folder, at g/run/breaker.json: said in the log, the breaker still works in memory, the daemon keeps going', async () => {
    const root = tempRoot('http:\n  enabled: false\npolicy:\n  autonomy: auto\n  breaker: {failures: 1, window_s: 3600}\n');
    fs.mkdirSync(path.join(root, 'g/run'), { recursive: true, mode: 0o700 });
    const file = path.join(root, 'g/run/breaker.json');
    fs.writeFileSync(file, '{"lanes": {"CLC": {"open": ');
    const d1 = await pool.start(root);
    dropAtomic(inbox(root, 'CLC'), 'OK-0.json', execWo('OK-0', 'true'));
    await settled(root, ['OK-0'], ['succeeded']); // garbage opens nothing
    expect(d1.output() + fs.readFileSync(path.join(root, 'g/logs/daemon.log'), 'utf8')).toMatch(/breaker\.json is not valid JSON/);
    await pool.cleanup();

    fs.rmSync(file);
    fs.mkdirSync(path.join(file, 'x'), { recursive: true });
    await pool.start(root);
    dropAtomic(inbox(root, 'CLC'), 'BAD-1.json', execWo('BAD-1', 'false'));
    await settled(root, ['BAD-1'], ['failed']);
    await waitSettled(root, WAIT);
    dropAtomic(inbox(root, 'CLC'), 'OK-1.json', execWo('OK-1', 'true'));
    expect((await settled(root, ['OK-1'], ['awaiting_approval']), readRecord(root, 'OK-1')!.hold_reasons[0])).toMatch(/^breaker open for lane CLC: 1 failure in 3600 s/);
    await waitFor(() => /cannot write .*breaker\.json/.test(fs.readFileSync(path.join(root, 'g/logs/daemon.log'), 'utf8')), { ...WAIT, what: 'the write failure logged' });
    expect(fs.statSync(file).isDirectory()).toBe(true);
  }, TIMEOUT);
});
