/** `wo submit --wait` through the real daemon: exit codes 0/1/3/4, duplicates, ENTRY bundles followed to their children. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CLI, childEnv, dropComplete, readEvents, readRecord, runCliAsync, startDaemon, tempDir, tempRoot, waitFor, type DaemonHandle } from '../helpers.js';

let daemon: DaemonHandle;
let root: string;
beforeAll(async () => {
  root = tempRoot();
  daemon = await startDaemon(root);
});
afterAll(async () => {
  await daemon?.stop('SIGKILL');
});

const put = (name: string, text: string) => {
  const f = path.join(tempDir(), name);
  fs.writeFileSync(f, text);
  return f;
};
const note = (id: string, body = 'hi') => `wo_id: ${id}\ntitle: note\ntype: apply_patch\nfiles:\n  - path: tmp/${id}.txt\n    content: "${body}\\n"\n`;

describe('wo submit --wait', () => {
  it('0 when it succeeded; a re-submission is said to be a duplicate (0, no progress bar); other content under the id is refused (1)', async () => {
    const f = put('a.yaml', note('WO-W-OK'));
    const ok = await runCliAsync(['submit', f, '--wait', '--timeout', '60'], { root });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout.trim()).toBe('WO-W-OK');
    expect(ok.stderr).toMatch(/WO-W-OK succeeded/);
    expect(ok.stderr).toMatch(/elapsed \d+/);
    const dup = await runCliAsync(['submit', f, '--wait', '--timeout', '60'], { root });
    expect(dup.code, dup.stderr).toBe(0);
    expect(dup.stderr).toContain('duplicate of a succeeded WO: nothing applied');
    expect(dup.stderr).not.toContain('[#');
    expect(dup.stderr).not.toContain('succeeded\n');
    const json = await runCliAsync(['submit', f, '--wait', '--json'], { root });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ wo_id: 'WO-W-OK', outcome: 'duplicate', duplicate: true });
    const conflict = await runCliAsync(['submit', put('b.yaml', note('WO-W-OK', 'other')), '--wait', '--timeout', '60'], { root });
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/WO-W-OK rejected \(CONFLICT\)/);
  });

  it('1 when it failed; 4 when it did not finish in time (the WO keeps running)', async () => {
    const failing = put('f.yaml', `wo_id: WO-W-FAIL\ntitle: t\ntype: exec\npaths: [scratch]\ncommands:\n  - "false"\n`);
    const fail = await runCliAsync(['submit', failing, '--wait'], { root });
    expect(fail.code).toBe(1);
    expect(fail.stderr).toMatch(/WO-W-FAIL failed \(COMMAND_FAILED\)/);
    const slow = put('s.yaml', `wo_id: WO-W-SLOW\ntitle: t\ntype: exec\npaths: [scratch]\ncommands:\n  - "sleep 60"\n`);
    const late = await runCliAsync(['submit', slow, '--wait', '--timeout', '1'], { root });
    expect(late.code).toBe(4);
    expect(late.stderr).toMatch(/did not finish within 1 s/);
    await waitFor(() => readRecord(root, 'WO-W-SLOW')?.status === 'running', { timeout: 30_000 });
    const cancel = await runCliAsync(['cancel', 'WO-W-SLOW'], { root });
    expect(cancel.code, cancel.stderr).toBe(0);
    await waitFor(() => readRecord(root, 'WO-W-SLOW')?.status === 'cancelled', { timeout: 30_000 });
  });

  it('an ENTRY bundle follows every routed WO and exits with the worst', async () => {
    const bundle = (tag: string, secondOk: boolean) => JSON.stringify({
      wos: [
        { wo_id: `WO-B-${tag}-1`, title: 'one', type: 'apply_patch', files: [{ path: `tmp/b-${tag}-1.txt`, content: 'one\n' }] },
        { wo_id: `WO-B-${tag}-2`, title: 'two', type: 'apply_patch', files: [{ path: `tmp/b-${tag}-2.txt`, content: 'two\n' }], tests: [{ name: 'n', command: 'echo yes', expected: secondOk ? 'yes' : 'no' }] },
      ],
    });
    const good = await runCliAsync(['submit', put('good.json', bundle('G', true)), '--lane', 'ENTRY', '--wait', '--json'], { root });
    expect(good.code, good.stderr).toBe(0);
    const gj = JSON.parse(good.stdout);
    expect(gj).toMatchObject({ outcome: 'succeeded', status: 'routed' });
    expect(gj.routed).toEqual([expect.objectContaining({ wo_id: 'WO-B-G-1', outcome: 'succeeded' }), expect.objectContaining({ wo_id: 'WO-B-G-2', outcome: 'succeeded' })]);
    const bad = await runCliAsync(['submit', put('bad.json', bundle('F', false)), '--lane', 'ENTRY', '--wait'], { root });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/WO-B-F-1 succeeded/);
    expect(bad.stderr).toMatch(/WO-B-F-2 failed \(TEST_FAILED\)/);
    expect(readRecord(root, 'WO-B-F-1')?.status).toBe('succeeded');
  });

  it('3 when held, with its reasons', async () => {
    const held = put('h.yaml', `wo_id: WO-W-HELD\ntitle: t\ntype: exec\npaths: [scratch]\ncommands:\n  - "rm -f scratch/nothing"\n`);
    const r = await runCliAsync(['submit', held, '--wait'], { root });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/held for approval/);
    expect(r.stderr).toMatch(/wo approve WO-W-HELD/);
  });

  it('the daemon refuses a dropped WO with an unknown top-level key (INVALID), naming the near miss', async () => {
    dropComplete(root, 'CLC', 'WO-W-TYPO.yaml', 'wo_id: WO-W-TYPO\ntitle: t\ntype: exec\npaths: [scratch]\ncommands: ["true"]\npost_verfy: ["false"]\n');
    const ev = await waitFor(() => readEvents(root).find((e) => e.event === 'wo_rejected' && e.wo_id === 'WO-W-TYPO'), { timeout: 30_000, what: 'wo_rejected' });
    expect(ev.code).toBe('INVALID');
    expect(ev.message).toContain("did you mean 'post_verify'");
    expect(fs.readdirSync(path.join(root, 'bridge/rejected')).some((n) => n.includes('WO-W-TYPO'))).toBe(true);
    expect(fs.existsSync(path.join(root, 'scratch'))).toBe(false);
  });

  it.skipIf(spawnSync('sh', ['-c', 'command -v script']).status !== 0)('on a terminal: the elapsed time and the running command', async () => {
    const f = put('t.yaml', `wo_id: WO-W-TTY\ntitle: t\ntype: exec\npaths: [scratch]\ncommands:\n  - "echo started-here"\n  - "sleep 3"\n`);
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const r = spawnSync('script', ['-qec', `${q(process.execPath)} ${q(CLI)} submit ${q(f)} --wait --root ${q(root)}`, '/dev/null'], { env: childEnv(), encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toContain('running');
    expect(r.stdout).toContain('sleep 3');
    expect(r.stdout).toContain('started-here');
  });
});
