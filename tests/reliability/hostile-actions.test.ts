/** Hostile inputs to the operator's seat: broken g/run/paused.json, bad control requests, bad reasons and bodies, a storm of concurrent pause/resume. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dropComplete, readRecord, runCli, runCliAsync, tempRoot, waitFor } from '../helpers.js';
import { daemonPool, size } from './common.js';
import { requestProblem } from '../../src/daemon/control.js';
import { applyPause, pauseProblem, NOT_PAUSED } from '../../src/daemon/pause.js';
import { cleanReason, MAX_REASON_CHARS } from '../../src/daemon/actions.js';
import { parseBody } from '../../src/http/routes.js';

const pool = daemonPool();
afterEach(() => pool.cleanup());

const ok = (id: string) => `wo_id: ${id}\ntitle: t\ntype: apply_patch\nfiles:\n  - {path: "${id}.txt", content: x}\n`;

describe('pure checks', () => {
  it('control requests with the new fields: every wrong shape is named', () => {
    const bad: unknown[] = [
      { action: 'cancel', all: true, wo_id: 'X' },
      { action: 'approve', all: true },
      { action: 'cancel', all: 'yes' },
      { action: 'approve', wo_id: 'X', lane: 'CLC' },
      { action: 'pause', lane: '../x' },
      { action: 'pause', lane: 7 },
      { action: 'reject', wo_id: 'X', reason: 5 },
      { action: 'reject', wo_id: 'X', reason: 'x'.repeat(MAX_REASON_CHARS * 4 + 1) },
      { action: 'reject', wo_id: 'X', uid: '0' },
      { action: 'reject' },
      { action: 'pauses' },
    ];
    for (const b of bad) expect(requestProblem(b), JSON.stringify(b).slice(0, 80)).toBeTypeOf('string');
    for (const good of [{ action: 'pause' }, { action: 'resume', lane: 'CLC' }, { action: 'cancel', all: true, lane: 'CLC', reason: 'r', uid: 0 }, { action: 'reject', wo_id: 'X', reason: 'r' }]) {
      expect(requestProblem(good), JSON.stringify(good)).toBeUndefined();
    }
  });

  it('reasons become one bounded printable line; pause states are checked', () => {
    expect(cleanReason(' a\u0000b\r\nc\u2028d\u009b[31m ')).toBe('a b c d [31m');
    expect(cleanReason('   ')).toBeUndefined();
    expect(cleanReason(null)).toBeUndefined();
    expect(() => cleanReason(['x'])).toThrow(/must be a string/);
    expect(() => cleanReason('x'.repeat(MAX_REASON_CHARS + 1))).toThrow(/at most/);
    for (const v of [[], null, 'x', { all: 'no', lanes: [] }, { all: false }, { all: false, lanes: ['a/b'] }, { all: false, lanes: [1] }]) expect(pauseProblem(v)).toBeTypeOf('string');
    expect(() => applyPause(NOT_PAUSED, true, '')).toThrow(/lane/);
    expect(applyPause(applyPause(NOT_PAUSED, true, 'A'), true, 'A')).toEqual({ all: false, lanes: ['A'] });
    expect(applyPause({ all: true, lanes: ['A'] }, false, undefined)).toEqual({ all: false, lanes: [] });
  });

  it('action bodies: anything but an object of the allowed fields is refused', () => {
    for (const raw of ['[]', '"x"', 'null', '1', '{"reason":{}}', '{"force":"yes"}', '{"reason":"x","__proto__":{"force":true}}', '{']) {
      expect(() => parseBody(Buffer.from(raw), ['reason', 'force']), raw).toThrow();
    }
    expect(parseBody(Buffer.from('  \n'), ['reason'])).toEqual({});
    expect(parseBody(Buffer.from('{"reason":null}'), ['reason'])).toEqual({ reason: null });
  });
});

describe('against the real daemon', () => {
  it('a broken g/run/paused.json does not stop claiming: said in the log and in status; wo pause rewrites it', async () => {
    for (const [n, content] of [['garbage', '{not json'], ['array', '[]'], ['bad lane', '{"all":false,"lanes":["../x"]}']] as const) {
      const root = tempRoot();
      fs.mkdirSync(path.join(root, 'g/run'), { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(root, 'g/run/paused.json'), content);
      const d = await pool.start(root);
      dropComplete(root, 'CLC', 'a.yaml', ok(`WO-BROKEN-${n.replace(' ', '')}`));
      await waitFor(() => readRecord(root, `WO-BROKEN-${n.replace(' ', '')}`)?.status === 'succeeded', { timeout: 30_000, what: `claimed despite ${n}` });
      expect(d.output()).toMatch(/g\/run\/paused\.json .*claiming is not paused/);
      const st = JSON.parse(runCli(['status', '--json'], { root }).stdout);
      expect(st.paused).toMatchObject({ all: false, lanes: [], problem: expect.stringMatching(/paused\.json/) });
      expect(runCli(['pause'], { root }).code).toBe(0);
      expect(JSON.parse(fs.readFileSync(path.join(root, 'g/run/paused.json'), 'utf8'))).toMatchObject({ all: true, lanes: [] });
      expect(await d.stop()).toBe(0);
    }
  });

  it('a storm of concurrent pauses of different lanes loses none (one writer, serialised)', async () => {
    const root = tempRoot();
    await pool.start(root);
    const n = size(12, 60);
    const lanes = Array.from({ length: n }, (_, i) => `L${i}`);
    const results = await Promise.all(lanes.map((l) => runCliAsync(['pause', '--lane', l], { root })));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const file = JSON.parse(fs.readFileSync(path.join(root, 'g/run/paused.json'), 'utf8'));
    expect(file.lanes).toEqual([...lanes].sort());
    expect(fs.readdirSync(path.join(root, 'g/run')).filter((f) => f.includes('paused') && f !== 'paused.json')).toEqual([]);
  });

  it('a reason with control characters and a huge one through the CLI', async () => {
    const root = tempRoot();
    const d = await pool.start(root);
    dropComplete(root, 'CLC', 'h.yaml', 'wo_id: WO-HR\ntitle: t\ntype: exec\ncommands: ["rm -f x"]\npaths: [x]\n');
    await waitFor(() => readRecord(root, 'WO-HR')?.status === 'awaiting_approval', { timeout: 30_000, what: 'held' });
    const huge = runCli(['reject', 'WO-HR', '--reason', 'y'.repeat(MAX_REASON_CHARS + 1)], { root });
    expect(huge.code).toBe(2);
    expect(readRecord(root, 'WO-HR')!.status).toBe('awaiting_approval');
    const r = runCli(['reject', 'WO-HR', '--reason', '\u001b[2Jgone\u0007'], { root });
    expect(r.code, r.stderr).toBe(0);
    expect(readRecord(root, 'WO-HR')!.actions[0].reason).toBe('[2Jgone');
    expect(await d.stop()).toBe(0);
  });
});
