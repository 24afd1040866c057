import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { dropComplete, readRecord, startDaemon, tempRoot, waitFor, type DaemonHandle } from '../helpers.js';

let daemon: DaemonHandle | undefined;
afterEach(async () => {
  await daemon?.stop('SIGKILL');
  daemon = undefined;
});

const needsRm = (id: string) => `wo_id: ${id}\ntitle: t\ntype: exec\npaths: [d]\ncommands: ["mkdir -p d && rm -rf d/x"]\n`;

describe('daemon operations', () => {
  it('reloads the config when it changes and on SIGHUP; an invalid config is refused and the old one stays', async () => {
    const root = tempRoot();
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'a.yaml', needsRm('WO-R1'));
    await waitFor(() => readRecord(root, 'WO-R1')?.status === 'awaiting_approval');
    fs.writeFileSync(path.join(root, 'wo.config.yaml'), 'http:\n  enabled: false\npolicy:\n  autonomy: auto\n');
    await waitFor(() => daemon!.output().includes('config reloaded'));
    dropComplete(root, 'CLC', 'b.yaml', needsRm('WO-R2'));
    await waitFor(() => readRecord(root, 'WO-R2')?.status === 'succeeded');
    fs.writeFileSync(path.join(root, 'wo.config.yaml'), 'http:\n  enabled: false\npolicy:\n  autonomy: yolo\n');
    daemon.child.kill('SIGHUP');
    await waitFor(() => daemon!.output().includes('the new config is invalid: keeping the old one'));
    expect(daemon.output()).toMatch(/policy\.autonomy/);
    dropComplete(root, 'CLC', 'c.yaml', needsRm('WO-R3'));
    await waitFor(() => readRecord(root, 'WO-R3')?.status === 'succeeded');
    expect(daemon.child.exitCode).toBeNull();
  });

  it('tightens a group/other-writable inbox of its own at start, and refuses a lane made writable later', async () => {
    const root = tempRoot();
    fs.mkdirSync(path.join(root, 'bridge/inbox/OPS'), { recursive: true });
    fs.chmodSync(path.join(root, 'bridge/inbox/OPS'), 0o777);
    daemon = await startDaemon(root);
    expect(fs.statSync(path.join(root, 'bridge/inbox/OPS')).mode & 0o777).toBe(0o755);
    await waitFor(() => /was writable by group\/others: tightened/.test(daemon!.output()), { what: 'the tightening said in the log' });
    dropComplete(root, 'OPS', 'ok.yaml', 'wo_id: WO-OPS1\ntitle: t\ntype: apply_patch\nfiles:\n  - {path: ops1.txt, content: x}\n');
    await waitFor(() => readRecord(root, 'WO-OPS1')?.status === 'succeeded');
    expect(readRecord(root, 'WO-OPS1')!.lane).toBe('OPS');
    fs.chmodSync(path.join(root, 'bridge/inbox/OPS'), 0o777);
    dropComplete(root, 'OPS', 'no.yaml', 'wo_id: WO-OPS2\ntitle: t\ntype: apply_patch\nfiles:\n  - {path: ops2.txt, content: x}\n');
    await waitFor(() => daemon!.output().includes('refusing WOs from lane OPS'));
    expect(readRecord(root, 'WO-OPS2')).toBeUndefined();
    expect(fs.existsSync(path.join(root, 'bridge/inbox/OPS/no.yaml'))).toBe(true);
    fs.chmodSync(path.join(root, 'bridge/inbox/OPS'), 0o755);
    fs.utimesSync(path.join(root, 'bridge/inbox/OPS/no.yaml'), new Date(), new Date());
    fs.writeFileSync(path.join(root, 'bridge/inbox/OPS/.poke'), '');
    await waitFor(() => readRecord(root, 'WO-OPS2')?.status === 'succeeded');
  });

  it('priority then arrival: a P0 queued behind P3s runs first', async () => {
    const root = tempRoot('http:\n  enabled: false\nconcurrency: 1\nio_concurrency: 0\npolicy:\n  autonomy: auto\n');
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'block.yaml', 'wo_id: WO-BLOCK\ntitle: t\ntype: exec\npaths: [b]\ncommands: ["sleep 1"]\n');
    await waitFor(() => readRecord(root, 'WO-BLOCK')?.status === 'running');
    for (const [id, prio] of [['WO-P3A', 'P3'], ['WO-P3B', 'P3'], ['WO-P0', 'P0']]) {
      dropComplete(root, 'CLC', `${id}.yaml`, `wo_id: ${id}\ntitle: t\ntype: apply_patch\npriority: ${prio}\nfiles:\n  - {path: "${id}.txt", content: x}\n`);
    }
    await waitFor(() => ['WO-P3A', 'WO-P3B', 'WO-P0'].every((id) => readRecord(root, id)?.status === 'succeeded'), { timeout: 20_000 });
    const started = (id: string) => Date.parse(readRecord(root, id)!.times.started);
    expect(started('WO-P0')).toBeLessThanOrEqual(started('WO-P3A'));
    expect(started('WO-P3A')).toBeLessThanOrEqual(started('WO-P3B'));
  });
});
