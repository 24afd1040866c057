/**
 * The I/O pool (io_concurrency) beside `concurrency`: file-only WOs run in their own pool, but per-path locks
 * and exclusive WOs still serialise them exactly as before.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { dropComplete, readEvents, readRecord, startDaemon, tempRoot, waitFor, waitSettled, type DaemonHandle } from '../helpers.js';

let daemon: DaemonHandle | undefined;
afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
});

const fileWo = (id: string, rel: string, content: string) => `wo_id: ${id}\ntitle: t\ntype: apply_patch\nfiles:\n  - {path: "${rel}", content: "${content}"}\n`;
/** An exec WO that runs until the test creates `gate` (no sleeps in the test: it waits on conditions). */
const gatedExec = (id: string, gate: string, paths?: string[]) =>
  `wo_id: ${id}\ntitle: t\ntype: exec\n${paths ? `paths: [${paths.join(', ')}]\n` : ''}commands: ["while [ ! -f ${gate} ]; do sleep 0.02; done"]\ntimeout_s: 120\n`;

const startedMs = (root: string, id: string) => Date.parse(readRecord(root, id)!.times.started);
const finishedMs = (root: string, id: string) => Date.parse(readRecord(root, id)!.times.finished);

describe('io_concurrency: file-only WOs in their own pool', () => {
  it('many concurrent file-only WOs on one path never interleave: the final bytes are one WO\'s, the last to run', async () => {
    const root = tempRoot(); // the defaults: concurrency 2, io_concurrency 16
    daemon = await startDaemon(root);
    const n = 40;
    const ids = Array.from({ length: n }, (_, i) => `WO-SAME-${String(i).padStart(3, '0')}`);
    // Half on the same path, half on their own paths, dropped together so the pool is full.
    for (const [i, id] of ids.entries()) dropComplete(root, 'CLC', `${id}.yaml`, fileWo(id, i % 2 === 0 ? 'shared/same.txt' : `own/${id}.txt`, `bytes of ${id}`));
    await waitFor(() => ids.every((id) => readRecord(root, id)?.status === 'succeeded'), { timeout: 120_000, what: 'every WO succeeded' });
    await waitSettled(root, { timeout: 60_000 });
    const same = ids.filter((_, i) => i % 2 === 0).sort((a, b) => startedMs(root, a) - startedMs(root, b) || finishedMs(root, a) - finishedMs(root, b));
    // Never two at once on the same path: each starts after the previous one finished.
    for (let i = 1; i < same.length; i++) expect(startedMs(root, same[i]!), `${same[i]} started before ${same[i - 1]} finished`).toBeGreaterThanOrEqual(finishedMs(root, same[i - 1]!));
    // The file holds exactly the last one's bytes, and the state agrees (its record names that file).
    const last = same[same.length - 1]!;
    expect(fs.readFileSync(path.join(root, 'shared/same.txt'), 'utf8')).toBe(`bytes of ${last}`);
    expect(readRecord(root, last)!.files.map((f: { path: string }) => f.path)).toEqual(['shared/same.txt']);
    for (const [i, id] of ids.entries()) if (i % 2 === 1) expect(fs.readFileSync(path.join(root, 'own', `${id}.txt`), 'utf8')).toBe(`bytes of ${id}`);
  });

  it('a file-only WO runs beside a command WO that holds the only command slot', async () => {
    const root = tempRoot('http:\n  enabled: false\nconcurrency: 1\npolicy:\n  autonomy: auto\n');
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'cmd.yaml', gatedExec('WO-CMD', 'gate-cmd', ['b']));
    await waitFor(() => readRecord(root, 'WO-CMD')?.running_command, { timeout: 30_000, what: 'the command running' });
    dropComplete(root, 'CLC', 'io.yaml', fileWo('WO-IO', 'io.txt', 'x'));
    await waitFor(() => readRecord(root, 'WO-IO')?.status === 'succeeded', { timeout: 30_000, what: 'the file-only WO done while the command runs' });
    expect(readRecord(root, 'WO-CMD')!.status).toBe('running');
    fs.writeFileSync(path.join(root, 'gate-cmd'), '');
    await waitFor(() => readRecord(root, 'WO-CMD')?.status === 'succeeded', { timeout: 30_000 });
    await waitSettled(root);
  });

  it('a file-only WO with a validate command counts as a command WO (it waits for the command slot)', async () => {
    const root = tempRoot('http:\n  enabled: false\nconcurrency: 1\npolicy:\n  autonomy: auto\n');
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'cmd.yaml', gatedExec('WO-CMD2', 'gate2', ['b']));
    await waitFor(() => readRecord(root, 'WO-CMD2')?.running_command, { timeout: 30_000, what: 'the command running' });
    dropComplete(root, 'CLC', 'val.yaml', 'wo_id: WO-VAL\ntitle: t\ntype: apply_patch\nfiles:\n  - {path: v.txt, content: x, validate: "test -f %s"}\n');
    await waitFor(() => readEvents(root).some((e) => e.event === 'wo_received' && e.wo_id === 'WO-VAL'), { timeout: 30_000, what: 'WO-VAL received' });
    fs.writeFileSync(path.join(root, 'gate2'), '');
    await waitFor(() => ['WO-CMD2', 'WO-VAL'].every((id) => readRecord(root, id)?.status === 'succeeded'), { timeout: 30_000 });
    expect(startedMs(root, 'WO-VAL')).toBeGreaterThanOrEqual(finishedMs(root, 'WO-CMD2'));
    await waitSettled(root);
  });

  it('an exclusive WO (exec without paths) still runs alone: a file-only WO waits for it', async () => {
    const root = tempRoot('http:\n  enabled: false\npolicy:\n  autonomy: auto\n');
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'excl.yaml', gatedExec('WO-EXCL', 'gate3'));
    await waitFor(() => readRecord(root, 'WO-EXCL')?.running_command, { timeout: 30_000, what: 'the exclusive WO running' });
    dropComplete(root, 'CLC', 'io2.yaml', fileWo('WO-IO2', 'io2.txt', 'y'));
    await waitFor(() => readEvents(root).some((e) => e.event === 'wo_received' && e.wo_id === 'WO-IO2'), { timeout: 30_000, what: 'WO-IO2 received' });
    expect(readRecord(root, 'WO-IO2')?.status ?? 'queued').toBe('queued');
    fs.writeFileSync(path.join(root, 'gate3'), '');
    await waitFor(() => ['WO-EXCL', 'WO-IO2'].every((id) => readRecord(root, id)?.status === 'succeeded'), { timeout: 30_000 });
    expect(startedMs(root, 'WO-IO2')).toBeGreaterThanOrEqual(finishedMs(root, 'WO-EXCL'));
    await waitSettled(root);
  });
});
