/** Hostile cases for held plans: a target swapped for a link between hold and approval, huge and binary diffs. */
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { dropComplete, readRecord, runCli, startDaemon, tempDir, tempRoot, waitFor, waitSettled, type DaemonHandle } from '../helpers.js';
import { size } from './common.js';

let daemon: DaemonHandle | undefined;
afterEach(async () => {
  await daemon?.stop('SIGKILL');
  daemon = undefined;
});

const APPROVE = 'http:\n  enabled: false\npolicy:\n  autonomy: approve\n';
type Step = { step: string; path?: string; diff?: string };

describe('hostile: held plans', () => {
  it('a target folder swapped for a link after the hold re-holds with a plan that says why; approving then writes nothing outside', async () => {
    const root = tempRoot(APPROVE);
    const outside = tempDir('wo-outside-');
    fs.writeFileSync(path.join(outside, 'cfg.txt'), 'outside\n');
    fs.mkdirSync(path.join(root, 'conf'));
    fs.writeFileSync(path.join(root, 'conf/cfg.txt'), 'alpha\n');
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 's.yaml', 'wo_id: WO-SWAP\ntitle: t\ntype: apply_patch\nfiles:\n  - path: conf/cfg.txt\n    content: "beta\\n"\n');
    await waitFor(() => readRecord(root, 'WO-SWAP')?.status === 'awaiting_approval' && fs.existsSync(path.join(root, 'bridge/hold/WO-SWAP.yaml')), { timeout: 30_000, what: 'held' });
    fs.rmSync(path.join(root, 'conf'), { recursive: true });
    fs.symlinkSync(outside, path.join(root, 'conf'));

    const first = runCli(['approve', 'WO-SWAP'], { root });
    expect(first.code, first.stderr).toBe(3);
    const rec = readRecord(root, 'WO-SWAP')!;
    expect(rec.status).toBe('awaiting_approval');
    expect((rec.plan as Step[])[0]!.step).toMatch(/^the plan cannot be computed: .*link/);

    const second = runCli(['approve', 'WO-SWAP'], { root }); // same state as the new plan: it runs, and is refused
    expect(second.code, second.stderr).not.toBe(3);
    await waitFor(() => ['rejected', 'failed'].includes(readRecord(root, 'WO-SWAP')?.status), { timeout: 30_000, what: 'refused' });
    await waitSettled(root);
    expect(fs.readFileSync(path.join(outside, 'cfg.txt'), 'utf8')).toBe('outside\n');
  });

  it('a held WO with a huge new file and a binary one keeps a bounded record', async () => {
    const big = 'x'.repeat(99) + '\n';
    const lines = size(2_000, 20_000);
    const root = tempRoot(`${APPROVE}limits:\n  wo_bytes: ${lines * 102 + 10_000}\n  file_bytes: ${lines * 100 + 1000}\n`);
    fs.writeFileSync(path.join(root, 'bin.dat'), Buffer.from([0, 1, 2, 3, 0, 255]));
    daemon = await startDaemon(root);
    const wo = { wo_id: 'WO-BIG', title: 't', type: 'apply_patch', files: [{ path: 'big.txt', content: big.repeat(lines) }, { path: 'bin.dat', content: 'now text\n' }] };
    dropComplete(root, 'CLC', 'big.json', JSON.stringify(wo));
    await waitFor(() => readRecord(root, 'WO-BIG')?.status === 'awaiting_approval', { timeout: 60_000, what: 'held' });
    const plan = readRecord(root, 'WO-BIG')!.plan as Step[];
    const bigStep = plan.find((s) => s.path === 'big.txt')!;
    expect(bigStep.diff!.length).toBeLessThan(70 * 1024);
    expect(bigStep.diff).toContain('diff truncated');
    expect(plan.find((s) => s.path === 'bin.dat')!.diff).toBe('binary file bin.dat changed\n');
    expect(fs.statSync(path.join(root, 'g/followup/state/WO-BIG.json')).size).toBeLessThan(200 * 1024);
  });
});
