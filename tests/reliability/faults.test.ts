/**
 * Faults the OS produces on demand: a full disk (a small tmpfs) and a read-only folder (a tmpfs remounted ro).
 * We run as root, so chmod cannot deny anything: only mounts make these faults real. Skipped, saying why, where
 * mounting is not allowed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { tempDir, tempRoot, waitFor, readRecord } from '../helpers.js';
import { dropAtomic, tryMount, umount, daemonPool } from './common.js';

const pool = daemonPool();
const startDaemon = pool.start;
afterEach(() => pool.cleanup());

const mounted: string[] = [];
afterAll(() => {
  for (const m of mounted.reverse()) umount(m);
});

/** Mount a tmpfs of `size` at a fresh dir (or at `at`); undefined (and a printed reason) when not allowed. */
function smallFs(size: string, at?: string): string | undefined {
  const dir = at ?? tempDir('wo-small-');
  fs.mkdirSync(dir, { recursive: true });
  const why = tryMount(['-t', 'tmpfs', '-o', `size=${size},mode=0755`, 'tmpfs', dir]);
  if (why) {
    console.log(`[faults] SKIPPED: cannot mount a tmpfs (${why}); the fault would not be real without it`);
    return undefined;
  }
  mounted.push(dir);
  return dir;
}

const tempLeftovers = (dir: string) => fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'));
const yamlWo = (id: string, files: { path: string; content?: string; base64?: string }[]) =>
  [`wo_id: ${id}`, `title: ${id}`, 'type: apply_patch', 'files:', ...files.flatMap((f) => [`  - path: ${JSON.stringify(f.path)}`, f.base64 !== undefined ? `    content_base64: ${f.base64}` : `    content: ${JSON.stringify(f.content)}`])].join('\n') + '\n';

describe('reliability: faults', () => {
  it('ENOSPC in a target folder: the WO fails DISK_FULL, rolls back exactly, leaves no temp file; the daemon stays up', async (ctx) => {
    const small = smallFs('2m');
    if (!small) return ctx.skip();
    fs.writeFileSync(path.join(small, 'a.txt'), 'before a\n');
    const root = tempRoot(`http:\n  enabled: false\npolicy:\n  allowed_roots: [${JSON.stringify(small)}]\n`);
    fs.writeFileSync(path.join(root, 'local.txt'), 'before local\n');
    const d = await startDaemon(root);
    const big = Buffer.alloc(3 * 1024 * 1024, 7).toString('base64');
    dropAtomic(path.join(root, 'bridge/inbox/CLC'), 'full.yaml', yamlWo('FULL', [
      { path: 'local.txt', content: 'after local\n' },
      { path: path.join(small, 'a.txt'), content: 'after a\n' },
      { path: path.join(small, 'big.bin'), base64: big },
      { path: path.join(small, 'c.txt'), content: 'c\n' },
    ]));
    await waitFor(() => ['failed', 'succeeded'].includes(readRecord(root, 'FULL')?.status), { timeout: 30_000, what: 'FULL terminal' });
    const rec = readRecord(root, 'FULL')!;
    console.log(`[faults] ENOSPC: status=${rec.status} code=${rec.error?.code} rolled_back=${rec.rolled_back} message=${JSON.stringify(rec.error?.message?.slice(0, 120))}`);
    expect(rec.status).toBe('failed');
    expect(rec.error.code).toBe('DISK_FULL');
    expect(rec.rolled_back).toBe(true);
    expect(fs.readFileSync(path.join(root, 'local.txt'), 'utf8')).toBe('before local\n');
    expect(fs.readFileSync(path.join(small, 'a.txt'), 'utf8')).toBe('before a\n');
    expect(fs.existsSync(path.join(small, 'big.bin'))).toBe(false);
    expect(fs.existsSync(path.join(small, 'c.txt'))).toBe(false);
    expect(tempLeftovers(small)).toEqual([]);
    // Still up, and the next good WO into the same folder succeeds.
    expect(d.child.exitCode).toBeNull();
    dropAtomic(path.join(root, 'bridge/inbox/CLC'), 'ok.yaml', yamlWo('AFTER-FULL', [{ path: path.join(small, 'ok.txt'), content: 'ok\n' }]));
    await waitFor(() => readRecord(root, 'AFTER-FULL')?.status === 'succeeded', { timeout: 30_000, what: 'the next WO succeeded' });
    expect(await d.stop()).toBe(0);
  }, 90_000);

  it('ENOSPC on the root itself (state, snapshot and target on a full disk): nothing partial, the daemon stays up', async (ctx) => {
    const base = tempDir('wo-fullroot-');
    const root = smallFs('3m', path.join(base, 'root'));
    if (!root) return ctx.skip();
    fs.writeFileSync(path.join(root, 'wo.config.yaml'), 'http:\n  enabled: false\nlimits:\n  min_free_bytes: 0\n');
    fs.writeFileSync(path.join(root, 'keep.txt'), 'before keep\n');
    const d = await startDaemon(root);
    const inbox = path.join(root, 'bridge/inbox/CLC');
    // ~1.2 MB of content written three times over (snapshot of nothing, temp file, target): the disk fills up.
    const content = 'y'.repeat(1_200_000);
    dropAtomic(inbox, 'fill.yaml', yamlWo('FILL', [{ path: 'keep.txt', content: 'after keep\n' }, { path: 'big1.txt', content }, { path: 'big2.txt', content }]));
    await waitFor(() => ['failed', 'succeeded'].includes(readRecord(root, 'FILL')?.status) || fs.readdirSync(path.join(root, 'bridge/rejected')).length > 0, { timeout: 30_000, what: 'FILL ended' });
    const rec = readRecord(root, 'FILL');
    console.log(`[faults] full root: status=${rec?.status} code=${rec?.error?.code} rolled_back=${rec?.rolled_back}`);
    expect(rec?.status).toBe('failed');
    expect(fs.readFileSync(path.join(root, 'keep.txt'), 'utf8')).toBe('before keep\n');
    for (const f of ['big1.txt', 'big2.txt']) expect(fs.existsSync(path.join(root, f))).toBe(false);
    expect(tempLeftovers(root)).toEqual([]);
    expect(d.child.exitCode).toBeNull();
    dropAtomic(inbox, 'small.yaml', yamlWo('AFTER-FILL', [{ path: 'small.txt', content: 'small\n' }]));
    await waitFor(() => readRecord(root, 'AFTER-FILL')?.status === 'succeeded', { timeout: 30_000, what: 'the next WO succeeded' });
    expect(await d.stop()).toBe(0);
  }, 90_000);

  it('a read-only target folder: the WO fails cleanly, every file exactly as before, nothing partial', async (ctx) => {
    const root = tempRoot('http:\n  enabled: false\n');
    const ro = smallFs('1m', path.join(root, 'ro'));
    if (!ro) return ctx.skip();
    fs.writeFileSync(path.join(ro, 'x.txt'), 'before x\n');
    const why = tryMount(['-o', 'remount,ro', ro]);
    if (why) {
      console.log(`[faults] SKIPPED read-only: cannot remount ro (${why})`);
      return ctx.skip();
    }
    fs.writeFileSync(path.join(root, 'a.txt'), 'before a\n');
    const d = await startDaemon(root);
    const inbox = path.join(root, 'bridge/inbox/CLC');
    dropAtomic(inbox, 'ro1.yaml', yamlWo('RO-1', [{ path: 'a.txt', content: 'after a\n' }, { path: 'ro/x.txt', content: 'after x\n' }, { path: 'b.txt', content: 'b\n' }]));
    dropAtomic(inbox, 'ro2.yaml', yamlWo('RO-2', [{ path: 'ro/new/deep.txt', content: 'new\n' }]));
    await waitFor(() => ['RO-1', 'RO-2'].every((id) => ['failed', 'rejected', 'succeeded'].includes(readRecord(root, id)?.status)), { timeout: 30_000, what: 'both ended' });
    for (const id of ['RO-1', 'RO-2']) {
      const r = readRecord(root, id)!;
      console.log(`[faults] read-only ${id}: status=${r.status} code=${r.error?.code} message=${JSON.stringify(r.error?.message?.slice(0, 120))}`);
      expect(['failed', 'rejected']).toContain(r.status);
      expect(r.error?.message).toBeTruthy();
    }
    expect(fs.readFileSync(path.join(root, 'a.txt'), 'utf8')).toBe('before a\n');
    expect(fs.readFileSync(path.join(ro, 'x.txt'), 'utf8')).toBe('before x\n');
    expect(fs.existsSync(path.join(root, 'b.txt'))).toBe(false);
    expect(fs.readdirSync(ro)).toEqual(['x.txt']);
    expect(tempLeftovers(root)).toEqual([]);
    dropAtomic(inbox, 'ok.yaml', yamlWo('AFTER-RO', [{ path: 'ok.txt', content: 'ok\n' }]));
    await waitFor(() => readRecord(root, 'AFTER-RO')?.status === 'succeeded', { timeout: 30_000, what: 'the next WO succeeded' });
    expect(await d.stop()).toBe(0);
  }, 90_000);
});
