/** The operator's brakes and actions through the real daemon and CLI: pause/resume (per lane, across restarts, daemon down), reasons and actors, cancel --all. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dropComplete, readRecord, runCli, runCliAsync, startDaemon, tempRoot, waitFor, type DaemonHandle } from '../helpers.js';

const ok = (id: string, file = `${id}.txt`) => `wo_id: ${id}\ntitle: t\ntype: apply_patch\nfiles:\n  - {path: "${file}", content: x}\n`;
const HELD = (id: string) => `wo_id: ${id}\ntitle: needs approval\ntype: exec\ncommands:\n  - "rm -f tmp/nothing"\npaths: [tmp]\n`;
const uid = process.getuid!();

const inInbox = (root: string, lane: string, name: string) => fs.existsSync(path.join(root, 'bridge/inbox', lane, name));
const status = (root: string) => {
  const r = runCli(['status', '--json'], { root });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
};

let daemon: DaemonHandle | undefined;
afterEach(async () => {
  if (daemon) expect(await daemon.stop()).toBe(0);
  daemon = undefined;
});

describe('wo pause / wo resume', () => {
  it('a paused lane keeps its WOs in the inbox while another lane runs; the pause survives a restart; resume takes them', async () => {
    const root = tempRoot('http:\n  enabled: false\nlanes: [CLC, OTHER]\n');
    daemon = await startDaemon(root);
    const p = runCli(['pause', '--lane', 'CLC', '--reason', 'agent flood'], { root });
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/paused: claiming stopped for lane CLC/);
    const file = JSON.parse(fs.readFileSync(path.join(root, 'g/run/paused.json'), 'utf8'));
    expect(file).toMatchObject({ all: false, lanes: ['CLC'], last: { action: 'pause', lane: 'CLC', reason: 'agent flood', by: { uid, channel: 'cli' } } });

    dropComplete(root, 'CLC', 'held-back.yaml', ok('WO-PAUSED'));
    dropComplete(root, 'OTHER', 'runs.yaml', ok('WO-OTHER'));
    await waitFor(() => readRecord(root, 'WO-OTHER')?.status === 'succeeded', { timeout: 30_000, what: 'the other lane runs' });
    expect(inInbox(root, 'CLC', 'held-back.yaml')).toBe(true);
    expect(readRecord(root, 'WO-PAUSED')).toBeUndefined();
    const st = status(root);
    expect(st.paused).toMatchObject({ all: false, lanes: ['CLC'] });
    expect(st.pending.inbox).toBe(1);
    expect(runCli(['status'], { root }).stdout).toMatch(/paused\s+claiming for lane CLC .*agent flood/);

    // Restart: the start-up scan (done before the daemon says ready) leaves the paused lane alone.
    expect(await daemon.stop()).toBe(0);
    daemon = await startDaemon(root);
    expect(inInbox(root, 'CLC', 'held-back.yaml')).toBe(true);
    expect(status(root).paused).toMatchObject({ all: false, lanes: ['CLC'] });

    const r = runCli(['resume', '--lane', 'CLC'], { root });
    expect(r.code, r.stderr).toBe(0);
    await waitFor(() => readRecord(root, 'WO-PAUSED')?.status === 'succeeded', { timeout: 30_000, what: 'resumed lane claims its WO' });
    expect(status(root).paused).toMatchObject({ all: false, lanes: [] });
  });

  it('pause with the daemon down writes g/run/paused.json; the daemon starts paused; resume (daemon up) claims', async () => {
    const root = tempRoot();
    const p = runCli(['pause', '--json'], { root });
    expect(p.code, p.stderr).toBe(0);
    expect(JSON.parse(p.stdout)).toEqual({ paused: { all: true, lanes: [] }, daemon_running: false });
    expect(status(root).paused).toMatchObject({ all: true, lanes: [] });
    dropComplete(root, 'CLC', 'wait.yaml', ok('WO-WAIT'));
    daemon = await startDaemon(root);
    expect(inInbox(root, 'CLC', 'wait.yaml')).toBe(true);
    expect(daemon.output()).toMatch(/claiming is paused for all lanes/);
    // One lane cannot be resumed while every lane is paused: a usage error, nothing changed.
    const bad = runCli(['resume', '--lane', 'CLC'], { root });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/every lane is paused/);
    expect(runCli(['pause', '--lane', 'no/such'], { root }).code).toBe(2);
    const r = runCli(['resume'], { root });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/resumed: claiming on every lane/);
    await waitFor(() => readRecord(root, 'WO-WAIT')?.status === 'succeeded', { timeout: 30_000, what: 'resumed daemon claims' });
  });
});

describe('operator actions record who, how and why', () => {
  it('wo reject --reason: channel cli, the uid, the reason in the record, its error and reason.json; retry keeps the history', async () => {
    const root = tempRoot();
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'held.yaml', HELD('WO-REJ'));
    await waitFor(() => readRecord(root, 'WO-REJ')?.status === 'awaiting_approval', { timeout: 30_000, what: 'held' });
    const r = runCli(['reject', 'WO-REJ', '--reason', 'deletes\tfiles\nwe need'], { root });
    expect(r.code, r.stderr).toBe(0);
    const rec = readRecord(root, 'WO-REJ')!;
    expect(rec.status).toBe('rejected');
    expect(rec.actions).toEqual([{ action: 'reject', ts: expect.any(String), by: { uid, channel: 'cli' }, reason: 'deletes files we need' }]);
    expect(rec.error.message).toBe('rejected by an operator (wo reject): deletes files we need');
    const reasons = fs.readdirSync(path.join(root, 'bridge/rejected')).filter((n) => n.endsWith('reason.json'));
    expect(reasons.length).toBe(1);
    expect(fs.readFileSync(path.join(root, 'bridge/rejected', reasons[0]!), 'utf8')).toContain('deletes files we need');

    const t = runCli(['retry', 'WO-REJ', '--reason', 'second look'], { root });
    expect(t.code, t.stderr).toBe(0);
    await waitFor(() => readRecord(root, 'WO-REJ')?.status === 'awaiting_approval' && readRecord(root, 'WO-REJ')?.attempt === 2, { timeout: 30_000, what: 'held again' });
    expect(readRecord(root, 'WO-REJ')!.actions.map((a: { action: string; reason?: string }) => [a.action, a.reason])).toEqual([['reject', 'deletes files we need'], ['retry', 'second look']]);
  });

  it('with the daemon down the action is recorded too (channel cli)', async () => {
    const root = tempRoot();
    expect(runCli(['reject', 'WO-NONE', '--reason', 'x'], { root }).code).toBe(1);
    // A held WO left by an earlier daemon: start, hold, stop, then cancel offline.
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'held.yaml', HELD('WO-OFF'));
    await waitFor(() => readRecord(root, 'WO-OFF')?.status === 'awaiting_approval', { timeout: 30_000, what: 'held' });
    expect(await daemon.stop()).toBe(0);
    daemon = undefined;
    const r = runCli(['cancel', 'WO-OFF', '--reason', 'not today'], { root });
    expect(r.code, r.stderr).toBe(0);
    const rec = readRecord(root, 'WO-OFF')!;
    expect(rec.status).toBe('cancelled');
    expect(rec.actions).toEqual([{ action: 'cancel', ts: expect.any(String), by: { uid, channel: 'cli' }, reason: 'not today' }]);
    expect(rec.error.message).toMatch(/: not today$/);
  });
});

describe('wo cancel --all', () => {
  it('cancels every running and queued WO of the lane (a running one is killed and recorded), leaves other lanes', async () => {
    const root = tempRoot('http:\n  enabled: false\nconcurrency: 1\nio_concurrency: 0\nlanes: [CLC, OTHER]\npolicy:\n  autonomy: auto\n');
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'long.yaml', 'wo_id: WO-LONG\ntitle: t\ntype: exec\npaths: [b]\ncommands: ["sleep 60"]\n');
    await waitFor(() => readRecord(root, 'WO-LONG')?.running_command, { timeout: 30_000, what: 'running' });
    dropComplete(root, 'CLC', 'q.yaml', 'wo_id: WO-Q\ntitle: t\ntype: exec\npaths: [b]\ncommands: ["true"]\n');
    dropComplete(root, 'OTHER', 'keep.yaml', ok('WO-KEEP'));
    await waitFor(() => status(root).pending.inbox === 0 && fs.readdirSync(path.join(root, 'bridge/processing/CLC')).length === 2, { timeout: 30_000, what: 'the WOs claimed' });
    expect(runCli(['cancel', '--lane', 'CLC'], { root }).code).toBe(2);
    expect(runCli(['cancel', 'WO-Q', '--all'], { root }).code).toBe(2);
    const r = await runCliAsync(['cancel', '--all', '--lane', 'CLC', '--reason', 'stop the flood'], { root });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/cancel: WO-LONG is now cancelled/);
    expect(r.stdout).toMatch(/cancel: WO-Q is now cancelled/);
    for (const id of ['WO-LONG', 'WO-Q']) {
      const rec = readRecord(root, id)!;
      expect(rec.status).toBe('cancelled');
      expect(rec.actions).toEqual([{ action: 'cancel', ts: expect.any(String), by: { uid, channel: 'cli' }, reason: 'stop the flood' }]);
    }
    await waitFor(() => readRecord(root, 'WO-KEEP')?.status === 'succeeded', { timeout: 30_000, what: 'the other lane runs on' });
    expect(readRecord(root, 'WO-KEEP')!.actions).toBeUndefined();
    // Nothing left: a second --all says so.
    const again = runCli(['cancel', '--all', '--json'], { root });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({ cancelled: [], failed: [] });
  });
});
