/** The action API against the real daemon: every action with a reason (channel http), pause/resume, /readyz, /api/status and wo_paused. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropComplete, readRecord, startDaemon, tempRoot, waitFor, type DaemonHandle } from '../helpers.js';

const OK = `wo_id: WO-H-OK
title: write a file
type: apply_patch
files:
  - path: tmp/h.txt
    content: |
      hello
`;
const HELD = (id: string) => `wo_id: ${id}\ntitle: needs approval\ntype: exec\ncommands:\n  - "rm -f tmp/nothing"\npaths: [tmp]\n`;
const uid = process.getuid!();

describe('POST /api/wos/:id/<action> and /api/pause|resume on the real daemon', () => {
  let root: string;
  let daemon: DaemonHandle;
  let base: string;
  let token: string;
  const post = (p: string, body?: unknown, raw?: string) =>
    fetch(`${base}${p}`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, ...(raw !== undefined ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const get = async (p: string) => (await fetch(`${base}${p}`, { headers: { Authorization: `Bearer ${token}` } })).json();

  beforeAll(async () => {
    root = tempRoot('http:\n  port: 0\nlanes: [CLC, OTHER]\n');
    daemon = await startDaemon(root);
    const info = JSON.parse(fs.readFileSync(path.join(root, 'g/run/daemon.json'), 'utf8'));
    base = `http://127.0.0.1:${info.port}`;
    token = fs.readFileSync(path.join(root, 'g/run/token'), 'utf8').trim();
  });
  afterAll(async () => {
    expect(await daemon?.stop()).toBe(0);
  });

  it('approve, rollback (with force checks) and retry with reasons; each recorded with channel http', async () => {
    dropComplete(root, 'CLC', 'held.yaml', HELD('WO-H-HELD'));
    await waitFor(() => readRecord(root, 'WO-H-HELD')?.status === 'awaiting_approval', { timeout: 30_000, what: 'held' });
    const a = await post('/api/wos/WO-H-HELD/approve', { reason: 'looked at it' });
    expect(a.status).toBe(200);
    await waitFor(() => readRecord(root, 'WO-H-HELD')?.status === 'succeeded', { timeout: 30_000, what: 'approved WO ran' });
    expect(readRecord(root, 'WO-H-HELD')!.actions).toEqual([{ action: 'approve', ts: expect.any(String), by: { uid, channel: 'http' }, reason: 'looked at it' }]);

    dropComplete(root, 'CLC', 'ok.yaml', OK);
    await waitFor(() => readRecord(root, 'WO-H-OK')?.status === 'succeeded', { timeout: 30_000, what: 'ok WO' });
    // Wrong state: 409 with the status named; unknown id: 404; a bad body: 400 naming the field.
    const wrong = await post('/api/wos/WO-H-OK/approve');
    expect(wrong.status).toBe(409);
    expect((await wrong.json()).error).toMatch(/it is succeeded/);
    expect((await post('/api/wos/WO-NOPE/retry', { reason: 'x' })).status).toBe(404);
    const bad = await post('/api/wos/WO-H-OK/rollback', { reason: 'x', because: 1 });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatch(/unknown field "because"/);
    expect((await post('/api/wos/WO-H-OK/retry', { force: true })).status).toBe(400);
    expect((await post('/api/wos/WO-H-OK/rollback', undefined, 'not json')).status).toBe(400);
    expect((await post('/api/wos/WO-H-OK/rollback', { reason: 42 })).status).toBe(400);

    // Rollback refuses when the file changed since, unless force.
    fs.writeFileSync(path.join(root, 'tmp/h.txt'), 'edited by hand\n');
    const refused = await post('/api/wos/WO-H-OK/rollback', { reason: 'bad change' });
    expect(refused.status).toBe(400);
    expect((await refused.json()).error).toMatch(/changed since it ran: tmp\/h\.txt/);
    const rb = await post('/api/wos/WO-H-OK/rollback', { reason: 'bad change', force: true });
    expect(rb.status).toBe(200);
    expect((await rb.json()).status).toBe('reverted');
    expect(fs.existsSync(path.join(root, 'tmp/h.txt'))).toBe(false);

    const rt = await post('/api/wos/WO-H-OK/retry', { reason: 'try again' });
    expect(rt.status).toBe(200);
    await waitFor(() => readRecord(root, 'WO-H-OK')?.status === 'succeeded' && readRecord(root, 'WO-H-OK')?.attempt === 2, { timeout: 30_000, what: 'retried WO ran' });
    expect(readRecord(root, 'WO-H-OK')!.actions.map((x: { action: string; reason?: string; by: { channel: string } }) => [x.action, x.reason, x.by.channel])).toEqual([
      ['rollback', 'bad change', 'http'],
      ['retry', 'try again', 'http'],
    ]);
  });

  it('reject and cancel with reasons', async () => {
    dropComplete(root, 'CLC', 'r.yaml', HELD('WO-H-REJ'));
    dropComplete(root, 'CLC', 'c.yaml', HELD('WO-H-CAN'));
    await waitFor(() => readRecord(root, 'WO-H-REJ')?.status === 'awaiting_approval' && readRecord(root, 'WO-H-CAN')?.status === 'awaiting_approval', { timeout: 30_000, what: 'held' });
    const rj = await (await post('/api/wos/WO-H-REJ/reject', { reason: 'no deletes on Fridays' })).json();
    expect(rj.status).toBe('rejected');
    expect(rj.error.message).toBe('rejected by an operator (dashboard/API): no deletes on Fridays');
    expect(rj.actions).toEqual([{ action: 'reject', ts: expect.any(String), by: { uid, channel: 'http' }, reason: 'no deletes on Fridays' }]);
    const cn = await (await post('/api/wos/WO-H-CAN/cancel', {})).json();
    expect(cn.status).toBe('cancelled');
    expect(cn.actions).toEqual([{ action: 'cancel', ts: expect.any(String), by: { uid, channel: 'http' } }]);
  });

  it('pause a lane: ready but paused in /readyz, /api/status and wo_paused; its WOs wait; resume takes them', async () => {
    const p = await post('/api/pause', { lane: 'CLC', reason: 'flood' });
    expect(p.status).toBe(200);
    expect(await p.json()).toEqual({ paused: { all: false, lanes: ['CLC'] } });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ok: true, ready: true, paused: { all: false, lanes: ['CLC'] } });
    expect((await get('/api/status')).paused).toMatchObject({ all: false, lanes: ['CLC'], last: { action: 'pause', by: { uid, channel: 'http' }, reason: 'flood' } });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^wo_paused\{lane="CLC"\} 1$/m);
    expect(metrics).toMatch(/^wo_paused\{lane="OTHER"\} 0$/m);

    dropComplete(root, 'CLC', 'waits.yaml', 'wo_id: WO-H-WAIT\ntitle: t\ntype: apply_patch\nfiles:\n  - {path: tmp/w.txt, content: x}\n');
    dropComplete(root, 'OTHER', 'goes.yaml', 'wo_id: WO-H-GO\ntitle: t\ntype: apply_patch\nfiles:\n  - {path: tmp/g.txt, content: x}\n');
    await waitFor(() => readRecord(root, 'WO-H-GO')?.status === 'succeeded', { timeout: 30_000, what: 'unpaused lane runs' });
    expect(fs.existsSync(path.join(root, 'bridge/inbox/CLC/waits.yaml'))).toBe(true);

    expect((await post('/api/pause', { lane: '../x' })).status).toBe(400);
    expect((await post('/api/pause', { lanes: ['CLC'] })).status).toBe(400);
    const all = await (await post('/api/pause')).json();
    expect(all).toEqual({ paused: { all: true, lanes: ['CLC'] } });
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/^wo_paused\{lane="OTHER"\} 1$/m);
    expect((await post('/api/resume', { lane: 'CLC' })).status).toBe(400);
    const r = await post('/api/resume', {});
    expect(await r.json()).toEqual({ paused: { all: false, lanes: [] } });
    await waitFor(() => readRecord(root, 'WO-H-WAIT')?.status === 'succeeded', { timeout: 30_000, what: 'resumed lane claims' });
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/^wo_paused\{lane="CLC"\} 0$/m);
  });
});
