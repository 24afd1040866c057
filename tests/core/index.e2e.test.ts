import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { dropComplete, readRecord, runCli, startDaemon, tempRoot, waitFor, waitSettled, type DaemonHandle } from '../helpers.js';
import { layout } from '../../src/layout.js';
import { StateStore } from '../../src/state/store.js';
import { WoIndex } from '../../src/state/index.js';

let daemon: DaemonHandle | undefined;
afterEach(async () => {
  await daemon?.stop('SIGKILL');
  daemon = undefined;
});

const CONFIG = 'http:\n  port: 0\npolicy:\n  autonomy: auto\n';

function wo(id: string, opts: { lane?: string; owner?: string; fail?: boolean; title?: string } = {}): string {
  return [
    `wo_id: ${id}`,
    `title: "${opts.title ?? `index ${id}`}"`,
    'type: apply_patch',
    ...(opts.owner ? [`owner: ${opts.owner}`] : []),
    'files:',
    `  - path: out/${id}.txt`,
    `    content: "x"`,
    ...(opts.fail ? ['post_verify:', '  - "false"'] : []),
  ].join('\n') + '\n';
}

/** The daemon's index rows vs a rebuild from the records (a fresh index built by scanning them). */
async function indexMatchesRecords(root: string): Promise<void> {
  const L = layout(root);
  const ix = WoIndex.openReader(L.index, L.state, true);
  expect(ix).not.toBeNull();
  const fresh = WoIndex.fromScan((await new StateStore(L.state).scan()).records, []);
  try {
    expect(ix!.allRows()).toEqual(fresh.allRows());
    expect(ix!.counts()).toEqual(fresh.counts());
  } finally {
    ix!.close();
    fresh.close();
  }
}

function api(root: string) {
  const port = (JSON.parse(fs.readFileSync(path.join(root, 'g/run/daemon.json'), 'utf8')) as { port: number }).port;
  const token = fs.readFileSync(path.join(root, 'g/run/token'), 'utf8').trim();
  return async (p: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${p}`, { headers: { Authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as any };
  };
}

async function runBatch(root: string, ids: string[], opts: (id: string, i: number) => Parameters<typeof wo>[1] = () => ({})): Promise<void> {
  ids.forEach((id, i) => dropComplete(root, opts(id, i)?.lane ?? 'OPS', `${id}.yaml`, wo(id, opts(id, i))));
  await waitFor(() => ids.every((id) => ['succeeded', 'failed'].includes(readRecord(root, id)?.status)), { timeout: 60_000, what: 'the batch to finish' });
  await waitSettled(root, { timeout: 30_000 });
}

describe('the record index with the real daemon', () => {
  it('keeps the index equal to a rebuild; wo ls filters and pages; /api/wos pages; /api/status counts', async () => {
    const root = tempRoot(CONFIG);
    daemon = await startDaemon(root);
    const ids = Array.from({ length: 14 }, (_, i) => `WO-IX-${String(i).padStart(2, '0')}`);
    await runBatch(root, ids, (_, i) => ({ lane: i % 2 ? 'OPS' : 'CLC', owner: i % 3 === 0 ? 'mary' : 'bob', fail: i % 5 === 0, title: i === 7 ? 'Deploy the thing' : undefined }));
    await indexMatchesRecords(root);

    // wo ls: filters, then every page through the cursor.
    const failed = JSON.parse(runCli(['ls', '--status', 'failed', '--json'], { root }).stdout);
    expect(failed.items.map((w: any) => w.wo_id).sort()).toEqual(['WO-IX-00', 'WO-IX-05', 'WO-IX-10']);
    expect(failed.total).toBe(3);
    const mary = JSON.parse(runCli(['ls', '--owner', 'mary', '--lane', 'CLC', '--json'], { root }).stdout);
    expect(mary.items.map((w: any) => w.wo_id).sort()).toEqual(['WO-IX-00', 'WO-IX-06', 'WO-IX-12']);
    expect(JSON.parse(runCli(['ls', '-q', 'deploy', '--json'], { root }).stdout).items.map((w: any) => w.wo_id)).toEqual(['WO-IX-07']);
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const r = runCli(['ls', '--limit', '4', '--json', ...(cursor ? ['--cursor', cursor] : [])], { root });
      expect(r.code).toBe(0);
      const page = JSON.parse(r.stdout);
      expect(page.total).toBe(14);
      paged.push(...page.items.map((w: any) => w.wo_id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(paged.sort()).toEqual([...ids].sort());
    const table = runCli(['ls', '--limit', '3'], { root });
    expect(table.stdout).toMatch(/3 shown of 14; next page: --cursor \S+/);
    expect(runCli(['ls', '--status', 'nope'], { root }).code).toBe(2);
    expect(runCli(['ls', '--limit', '501'], { root }).code).toBe(2);

    // /api/wos: default limit, paging, bad input, the older `wos` field.
    const get = api(root);
    const first = await get('/api/wos?limit=5&view=items');
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(5);
    expect(first.body.total).toBe(14);
    expect(first.body.wos).toBeUndefined();
    const all: string[] = [...first.body.items.map((w: any) => w.wo_id)];
    let next = first.body.next_cursor as string | null;
    while (next) {
      const p = await get(`/api/wos?limit=5&view=items&cursor=${encodeURIComponent(next)}`);
      all.push(...p.body.items.map((w: any) => w.wo_id));
      next = p.body.next_cursor;
    }
    expect(all.sort()).toEqual([...ids].sort());
    const dflt = await get('/api/wos?lane=CLC');
    expect(dflt.body.total).toBe(7);
    expect(dflt.body.wos.map((w: any) => w.wo_id)).toEqual(dflt.body.items.map((w: any) => w.wo_id));
    expect(dflt.body.wos[0].times).toBeDefined(); // full records in `wos`, for older clients
    for (const bad of ['limit=0', 'limit=501', 'status=bogus', 'cursor=%%%', 'since=never', 'view=all']) expect((await get(`/api/wos?${bad}`)).status, bad).toBe(400);
    const st = await get('/api/status');
    expect(st.body.counts).toMatchObject({ succeeded: 11, failed: 3 });
    expect(st.body.total).toBe(14);

    // wo status reads the index (through the daemon's file) and says so.
    const status = JSON.parse(runCli(['status', '--json', '--limit', '3'], { root }).stdout);
    expect(status.index).toBe('index');
    expect(status.wos).toHaveLength(3);
    expect(status.counts).toMatchObject({ succeeded: 11, failed: 3 });

    // wo index rebuild through the running daemon.
    const rb = runCli(['index', 'rebuild', '--json'], { root });
    expect(rb.code, rb.stderr).toBe(0);
    expect(JSON.parse(rb.stdout)).toMatchObject({ rows: 14, via: 'daemon' });
    await indexMatchesRecords(root);
  }, 120_000);

  it('rebuilds a deleted index and a corrupted one (garbage bytes) at start; a clean restart needs none', async () => {
    const root = tempRoot(CONFIG);
    const L = layout(root);
    daemon = await startDaemon(root);
    const ids = ['WO-R-1', 'WO-R-2', 'WO-R-3', 'WO-R-4'];
    await runBatch(root, ids);
    expect(await daemon.stop('SIGTERM')).toBe(0);

    daemon = await startDaemon(root);
    expect(daemon.output()).not.toMatch(/record index rebuilt/);
    expect(JSON.parse(runCli(['index', 'status', '--json'], { root }).stdout)).toMatchObject({ ok: true, rows: 4 });
    await daemon.stop('SIGTERM');

    // Deleted: nothing lost.
    for (const f of [L.index, `${L.index}-wal`, `${L.index}-shm`]) fs.rmSync(f, { force: true });
    daemon = await startDaemon(root);
    expect(daemon.output()).toMatch(/record index rebuilt/);
    await indexMatchesRecords(root);
    expect(JSON.parse(runCli(['ls', '--json'], { root }).stdout).total).toBe(4);
    await daemon.stop('SIGTERM');

    // Corrupted: garbage bytes over the file.
    for (const f of [`${L.index}-wal`, `${L.index}-shm`]) fs.rmSync(f, { force: true });
    fs.writeFileSync(L.index, Buffer.from('this is not a database'.repeat(500)));
    daemon = await startDaemon(root);
    expect(daemon.output()).toMatch(/record index rebuilt .*unreadable/);
    await indexMatchesRecords(root);
    await runBatch(root, ['WO-R-5']);
    await indexMatchesRecords(root);
    await daemon.stop('SIGTERM');

    // With the daemon down, an operator action (holding the lock) keeps a current index current: no rebuild.
    const before = JSON.parse(runCli(['status', '--json'], { root }).stdout);
    expect(before.index).toBe('index');
    const cancelled = runCli(['cancel', '--all'], { root });
    expect(cancelled.code, cancelled.stderr).toBe(0);
    const rb5 = runCli(['rollback', 'WO-R-5', '--reason', 'offline'], { root });
    expect(rb5.code, rb5.stderr).toBe(0);
    expect(readRecord(root, 'WO-R-5')!.status).toBe('reverted');
    const after = JSON.parse(runCli(['ls', '--json'], { root }).stdout);
    expect(after.items.find((w: any) => w.wo_id === 'WO-R-5').status).toBe('reverted');
    expect(JSON.parse(runCli(['status', '--json'], { root }).stdout).index).toBe('index');

    // With the daemon down, a stale index (a record written behind its back) is rebuilt by the reader under the lock.
    const rec = readRecord(root, 'WO-R-1')!;
    fs.writeFileSync(path.join(L.state, 'WO-R-9.json'), JSON.stringify({ ...rec, wo_id: 'WO-R-9', times: { ...rec.times, received: new Date().toISOString() } }));
    const st = JSON.parse(runCli(['status', '--json'], { root }).stdout);
    expect(st.index).toBe('rebuilt');
    expect(st.wos[0].wo_id).toBe('WO-R-9');
    expect(JSON.parse(runCli(['status', '--json'], { root }).stdout).index).toBe('index');
    const off = runCli(['index', 'rebuild', '--json'], { root });
    expect(JSON.parse(off.stdout)).toMatchObject({ rows: 6, via: 'offline' });
  }, 120_000);
});
