/** Spare inodes (util/spare.ts): a rewritten record reuses the inode it replaced, never one a record still holds. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { StateStore } from '../../src/state/store.js';
import { writeFileAtomic } from '../../src/util/fsx.js';
import { SparePool } from '../../src/util/spare.js';
import { tempDir } from '../helpers.js';
import { record } from '../http/fixtures.js';

const spares = (dir: string) => (fs.existsSync(path.join(dir, '.spare')) ? fs.readdirSync(path.join(dir, '.spare')).sort() : []);
const ino = (p: string) => fs.statSync(p).ino;
/** A pool as the daemon makes it: cleared (its subfolder made) before the first rewrite. */
function ready(dir: string): SparePool {
  const pool = new SparePool(dir);
  pool.clear();
  return pool;
}

describe('SparePool', () => {
  it('keeps the replaced inode and writes the next rewrite into it: no inode created or freed', async () => {
    const dir = tempDir('wo-spare-');
    const pool = ready(dir);
    const f = path.join(dir, 'A.json');
    await writeFileAtomic(f, 'one', { spares: pool });
    const first = ino(f);
    expect(spares(dir)).toEqual([]); // a first write has nothing to keep
    await writeFileAtomic(f, 'two', { spares: pool });
    expect(fs.readFileSync(f, 'utf8')).toBe('two');
    expect(spares(dir)).toHaveLength(1);
    const kept = path.join(dir, '.spare', spares(dir)[0]!);
    expect(ino(kept)).toBe(first); // the replaced inode lives on as the spare
    expect(fs.statSync(kept).nlink).toBe(1);
    const g = path.join(dir, 'B.json');
    await writeFileAtomic(g, 'b1', { spares: pool, mode: 0o640 });
    expect(ino(g)).toBe(first); // written into the spare
    expect(fs.readFileSync(g, 'utf8')).toBe('b1'); // the spare's old, longer bytes are gone
    expect(fs.statSync(g).mode & 0o777).toBe(0o640);
    expect(fs.readFileSync(f, 'utf8')).toBe('two');
  });

  /** A.json rewritten once (so one spare is ready), then the spare's name replaced by `swap`; then B.json written. */
  async function swapSpare(swap: (spare: string, f: string) => void): Promise<{ dir: string; f: string; b: string }> {
    const dir = tempDir('wo-spare-');
    const pool = ready(dir);
    const f = path.join(dir, 'A.json');
    await writeFileAtomic(f, 'one', { spares: pool });
    await writeFileAtomic(f, 'two', { spares: pool });
    const spare = path.join(dir, '.spare', spares(dir)[0]!);
    fs.rmSync(spare);
    swap(spare, f);
    const b = path.join(dir, 'B.json');
    await writeFileAtomic(b, 'b', { spares: pool });
    expect(fs.readFileSync(f, 'utf8')).toBe('two');
    expect(fs.readFileSync(b, 'utf8')).toBe('b');
    return { dir, f, b };
  }

  it('never writes into a spare name that still shares its inode with a file (a crash between link and rename)', async () => {
    // The spare name also names the live record, as a crash before the rename would leave it.
    const { f, b } = await swapSpare((spare, f) => fs.linkSync(f, spare));
    expect(ino(b)).not.toBe(ino(f));
  });

  it('never writes through a spare name replaced by a symbolic link', async () => {
    const outside = path.join(tempDir('wo-spare-out-'), 'victim');
    fs.writeFileSync(outside, 'untouched');
    await swapSpare((spare) => fs.symlinkSync(outside, spare));
    expect(fs.readFileSync(outside, 'utf8')).toBe('untouched');
  });

  it('clear() removes a previous process’s spares; a failed rename keeps nothing', async () => {
    const dir = tempDir('wo-spare-');
    fs.mkdirSync(path.join(dir, '.spare'));
    fs.writeFileSync(path.join(dir, '.spare', '0'), 'left over');
    fs.writeFileSync(path.join(dir, '.spare', '63'), 'left over');
    const pool = new SparePool(dir);
    pool.clear();
    expect(spares(dir)).toEqual([]);
    const f = path.join(dir, 'A.json');
    await writeFileAtomic(f, 'one', { spares: pool });
    fs.rmSync(f);
    fs.mkdirSync(f); // rename(2) cannot replace a folder with a file
    fs.writeFileSync(path.join(f, 'x'), 'x');
    await expect(writeFileAtomic(f, 'two', { spares: pool })).rejects.toThrow();
    expect(spares(dir)).toEqual([]);
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});

describe('StateStore spares', () => {
  it('only the store told to use them (the daemon’s) leaves spares; records read the same', async () => {
    const plain = tempDir('wo-spare-');
    const s = new StateStore(plain);
    await s.write(record({ wo_id: 'A', status: 'running' }));
    await s.write(record({ wo_id: 'A', status: 'succeeded' }));
    expect(spares(plain)).toEqual([]);

    const dir = tempDir('wo-spare-');
    const d = new StateStore(dir);
    d.useSpares();
    for (const status of ['queued', 'running', 'succeeded'] as const) await d.write(record({ wo_id: 'A', status }));
    await d.write(record({ wo_id: 'B', status: 'running' }));
    expect((await d.read('A'))?.status).toBe('succeeded');
    expect((await d.read('B'))?.status).toBe('running');
    expect((await d.scan()).unreadable).toEqual([]);
    expect((await d.list()).map((r) => r.wo_id).sort()).toEqual(['A', 'B']);
  });
});
