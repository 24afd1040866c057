/** One daemon per root under a stampede; SIGTERM stops claiming and exits 0; no process outlives its WO. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempRoot, waitFor, readRecord, type DaemonHandle } from '../helpers.js';
import { T, dropAtomic, leftIn, processesIn, daemonPool } from './common.js';

const pool = daemonPool();
const startDaemon = pool.start;
afterEach(() => pool.cleanup());

const HTTP_OFF = 'http:\n  enabled: false\n';

describe('reliability: daemons and processes', () => {
  it('20 daemons started at once on one root: exactly one runs, the others exit non-zero saying so', async () => {
    const root = tempRoot(HTTP_OFF);
    const all: DaemonHandle[] = [];
    for (let i = 0; i < 20; i++) all.push(await startDaemon(root, { waitReady: false }));
    // Wait until 19 have exited and the one left says it is ready.
    await waitFor(() => all.filter((d) => d.child.exitCode !== null).length === 19, { timeout: 60_000, what: '19 daemons exited' });
    const alive = all.filter((d) => d.child.exitCode === null);
    expect(alive).toHaveLength(1);
    const winner = alive[0]!;
    await waitFor(() => {
      const j = JSON.parse(fs.readFileSync(path.join(root, 'g/run/daemon.json'), 'utf8'));
      return j.pid === winner.pid && j.ready === true;
    }, { timeout: 30_000, what: 'the one daemon ready' });
    const losers = all.filter((d) => d !== winner);
    for (const d of losers) {
      expect(d.child.exitCode).not.toBe(0);
      expect(d.output()).toMatch(/another daemon .*already runs/);
    }
    // It works: a WO goes through, then SIGTERM exits 0.
    dropAtomic(path.join(root, 'bridge/inbox/CLC'), 'one.yaml', 'wo_id: ONE\ntitle: one\ntype: apply_patch\nfiles:\n  - path: out/one.txt\n    content: "1"\n');
    await waitFor(() => readRecord(root, 'ONE')?.status === 'succeeded', { timeout: 30_000, what: 'ONE succeeded' });
    expect(await winner.stop()).toBe(0);
    expect(fs.existsSync(path.join(root, 'g/run/daemon.lock'))).toBe(false);
    console.log(`[stampede] 20 started: 1 ran (pid ${winner.pid}), 19 exited with codes ${[...new Set(losers.map((d) => d.child.exitCode))].join(',')}`);
  }, T(120_000, 120_000));

  it('SIGTERM: claiming stops at once, a running step past the deadline is rolled back, exit 0; the next start finishes it', async () => {
    // deadline 4 s: running steps are aborted 2 s after SIGTERM (the scheduler keeps 2 s for the rollback).
    const root = tempRoot(`${HTTP_OFF}shutdown:\n  deadline_s: 4\n`);
    const inbox = path.join(root, 'bridge/inbox/CLC');
    fs.mkdirSync(path.join(root, 'out'), { recursive: true });
    fs.writeFileSync(path.join(root, 'out/slow.txt'), 'before\n');
    const d = await startDaemon(root);
    dropAtomic(inbox, 'slow.yaml', 'wo_id: SLOW\ntitle: slow\ntype: apply_patch\nfiles:\n  - path: out/slow.txt\n    content: "after\\n"\npost_verify:\n  - "sleep 5"\n');
    await waitFor(() => readRecord(root, 'SLOW')?.running_command?.pid, { timeout: 30_000, what: 'SLOW running its post_verify' });
    d.child.kill('SIGTERM');
    await waitFor(() => /stopping: no new claims/.test(d.output()), { timeout: 10_000, what: 'the daemon handling SIGTERM' });
    // Dropped after SIGTERM was handled, while the daemon still waits for its running step: must stay in the inbox.
    for (let i = 0; i < 20; i++) dropAtomic(inbox, `late-${i}.yaml`, `wo_id: LATE-${i}\ntitle: late\ntype: apply_patch\nfiles:\n  - path: out/late-${i}.txt\n    content: "x"\n`);
    const aliveAfterDrops = d.child.exitCode === null;
    expect(await d.exited).toBe(0);
    const rec = readRecord(root, 'SLOW')!;
    console.log(`[sigterm] late drops made while the daemon was ${aliveAfterDrops ? 'still stopping' : 'already gone'}; SLOW ${rec.status}, rolled_back=${rec.rolled_back}`);
    expect(rec.status).toBe('queued'); // interrupted post_verify is a check: re-run at the next start
    expect(rec.rolled_back).toBe(true);
    expect(fs.readFileSync(path.join(root, 'out/slow.txt'), 'utf8')).toBe('before\n');
    expect(leftIn(root, 'inbox').filter((n) => n.includes('late-'))).toHaveLength(20);
    expect(processesIn([rec.commands.at(-1)?.pid ?? rec.running_command?.pid ?? -1].filter((p) => p > 0))).toEqual([]);
    for (let i = 0; i < 20; i++) expect(readRecord(root, `LATE-${i}`)).toBeUndefined();

    const d2 = await startDaemon(root);
    await waitFor(() => readRecord(root, 'SLOW')?.status === 'succeeded' && [...Array(20).keys()].every((i) => readRecord(root, `LATE-${i}`)?.status === 'succeeded'), { timeout: 60_000, what: 'everything done after restart' });
    expect(fs.readFileSync(path.join(root, 'out/slow.txt'), 'utf8')).toBe('after\n');
    expect(await d2.stop()).toBe(0);
  }, 120_000);

  it('a command that forks children that never end leaves no descendant after its timeout', async () => {
    const root = tempRoot(`${HTTP_OFF}policy:\n  autonomy: auto\nexec:\n  timeout_s: 1\n  kill_grace_s: 1\n`);
    const d = await startDaemon(root);
    dropAtomic(path.join(root, 'bridge/inbox/CLC'), 'fork.yaml', "wo_id: FORK\ntitle: fork\ntype: exec\npaths: []\ncommands:\n  - \"sh -c 'sleep 1000 & sleep 1000'\"\n");
    const pid = (await waitFor(() => readRecord(root, 'FORK')?.running_command?.pid as number | undefined, { timeout: 30_000, what: 'FORK spawned' }))!;
    await waitFor(() => processesIn([pid]).some((p) => p.args.includes('sleep 1000')), { timeout: 10_000, what: 'the sleeps running' });
    await waitFor(() => readRecord(root, 'FORK')?.status === 'failed', { timeout: 30_000, what: 'FORK failed' });
    const rec = readRecord(root, 'FORK')!;
    expect(rec.error.code).toBe('TIMEOUT');
    expect(rec.commands[0].timed_out).toBe(true);
    expect(processesIn([pid])).toEqual([]);
    expect(await d.stop()).toBe(0);
  }, 60_000);

  it('an orphaned command group of a SIGKILLed daemon is killed at the next start (after checking its start time)', async () => {
    const root = tempRoot(`${HTTP_OFF}policy:\n  autonomy: auto\n`);
    const d = await startDaemon(root);
    dropAtomic(path.join(root, 'bridge/inbox/CLC'), 'orphan.yaml', "wo_id: ORPHAN\ntitle: orphan\ntype: exec\npaths: []\ncommands:\n  - \"sh -c 'sleep 1000 & sleep 1000'\"\n");
    const pid = (await waitFor(() => readRecord(root, 'ORPHAN')?.running_command?.pid as number | undefined, { timeout: 30_000, what: 'ORPHAN spawned' }))!;
    await waitFor(() => processesIn([pid]).some((p) => p.args.includes('sleep 1000')), { timeout: 10_000, what: 'the sleeps running' });
    process.kill(d.pid, 'SIGKILL');
    await d.exited;
    expect(processesIn([pid]).length).toBeGreaterThan(0); // orphaned, still running
    const d2 = await startDaemon(root);
    await waitFor(() => readRecord(root, 'ORPHAN')?.status === 'failed', { timeout: 30_000, what: 'ORPHAN ended' });
    expect(readRecord(root, 'ORPHAN')!.error.code).toBe('INTERRUPTED');
    await waitFor(() => processesIn([pid]).length === 0, { timeout: 10_000, what: 'the orphan group gone' });
    expect(await d2.stop()).toBe(0);
  }, 60_000);
});
