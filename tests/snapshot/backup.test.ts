import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { restoreSnapshot, takeSnapshot, entryBase, currentSha256, type Manifest } from '../../src/snapshot/backup.js';
import { forceConfineMode } from '../../src/util/confined.js';
import { WoError } from '../../src/errors.js';
import { tempDir } from '../helpers.js';
import { treeOf } from './tree.js';

function setup() {
  const root = tempDir('wo-snap-');
  const backups = path.join(root, 'g', 'backups');
  const outside = tempDir('wo-outside-');
  fs.writeFileSync(path.join(outside, 'important.txt'), 'keep me\n');
  fs.mkdirSync(path.join(outside, 'sub'));
  fs.writeFileSync(path.join(outside, 'sub', 'deep.txt'), 'deep\n');
  const target = (rel: string) => ({ abs: path.join(root, rel), rel, base: root });
  return { root, backups, outside, before: treeOf(outside), target };
}

async function refused(p: Promise<unknown>): Promise<WoError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(WoError);
  expect((err as WoError).code).toBe('POLICY_REFUSED');
  return err as WoError;
}

afterAll(() => forceConfineMode(undefined));

for (const mode of ['proc', 'recheck'] as const) {
  describe(`snapshot and restore through confined handles (${mode} mode)`, () => {
    const use = () => forceConfineMode(mode === 'proc' && process.platform !== 'linux' ? undefined : mode);

    it('round trip: bytes, modes, absence and the folders apply created', async () => {
      use();
      const { root, backups, target } = setup();
      fs.mkdirSync(path.join(root, 'a', 'build', 'sub'), { recursive: true });
      fs.writeFileSync(path.join(root, 'a', 'f.txt'), 'one\n', { mode: 0o640 });
      fs.writeFileSync(path.join(root, 'a', 'build', 'sub', 'x'), 'x\n');
      const m = await takeSnapshot(backups, 'WO-1', 1, [target('a/f.txt'), target('a/build'), target('new/deep/n.txt')]);
      expect(m.in_record).toBeUndefined();
      expect(m.entries.map((e) => e.base)).toEqual([root, root, root]);
      expect(m.absent_dirs).toEqual([path.join(root, 'new', 'deep'), path.join(root, 'new')]);
      // apply: change everything
      fs.writeFileSync(path.join(root, 'a', 'f.txt'), 'two\n');
      fs.chmodSync(path.join(root, 'a', 'f.txt'), 0o600);
      fs.rmSync(path.join(root, 'a', 'build', 'sub'), { recursive: true });
      fs.writeFileSync(path.join(root, 'a', 'build', 'made'), 'm');
      fs.mkdirSync(path.join(root, 'new', 'deep'), { recursive: true });
      fs.writeFileSync(path.join(root, 'new', 'deep', 'n.txt'), 'n');
      expect(await restoreSnapshot(backups, m)).toEqual(['a/f.txt', 'a/build', 'new/deep/n.txt']);
      expect(fs.readFileSync(path.join(root, 'a', 'f.txt'), 'utf8')).toBe('one\n');
      expect(fs.statSync(path.join(root, 'a', 'f.txt')).mode & 0o777).toBe(0o640);
      expect(fs.readdirSync(path.join(root, 'a', 'build'))).toEqual(['sub']);
      expect(fs.readFileSync(path.join(root, 'a', 'build', 'sub', 'x'), 'utf8')).toBe('x\n');
      expect(fs.existsSync(path.join(root, 'new'))).toBe(false);
      expect(await restoreSnapshot(backups, m)).toHaveLength(3); // idempotent
    });

    it('all absent: the manifest travels in the record, with its bases', async () => {
      use();
      const { root, backups, target } = setup();
      const m = await takeSnapshot(backups, 'WO-2', 1, [target('p/q.txt')]);
      expect(m).toMatchObject({ in_record: true, absent_dirs: [path.join(root, 'p')], entries: [{ kind: 'absent', base: root }] });
      fs.mkdirSync(path.join(root, 'p'));
      fs.writeFileSync(path.join(root, 'p', 'q.txt'), 'q');
      await restoreSnapshot(backups, m);
      expect(fs.readdirSync(root).filter((n) => n !== 'g')).toEqual([]);
    });

    it('an exec paths folder that became a link to outside: the link is removed (never followed) and the folder restored', async () => {
      use();
      const { root, backups, outside, before, target } = setup();
      fs.mkdirSync(path.join(root, 'a', 'build', 'sub'), { recursive: true });
      fs.writeFileSync(path.join(root, 'a', 'build', 'important.txt'), 'mine\n');
      const m = await takeSnapshot(backups, 'WO-3', 1, [target('a/build')]);
      fs.renameSync(path.join(root, 'a', 'build'), path.join(root, 'a', 'build.away'));
      fs.symlinkSync(outside, path.join(root, 'a', 'build'));
      await restoreSnapshot(backups, m);
      expect(fs.lstatSync(path.join(root, 'a', 'build')).isDirectory()).toBe(true);
      expect(fs.readFileSync(path.join(root, 'a', 'build', 'important.txt'), 'utf8')).toBe('mine\n');
      expect(treeOf(outside)).toEqual(before);
    });

    it('a child of a restored folder, or a file target, that became a link: removed, never written through', async () => {
      use();
      const { root, backups, outside, before, target } = setup();
      fs.mkdirSync(path.join(root, 'd', 'sub'), { recursive: true });
      fs.writeFileSync(path.join(root, 'd', 'sub', 'deep.txt'), 'mine\n');
      fs.writeFileSync(path.join(root, 'important.txt'), 'mine too\n');
      const m = await takeSnapshot(backups, 'WO-4', 1, [target('d'), target('important.txt')]);
      fs.rmSync(path.join(root, 'd', 'sub'), { recursive: true });
      fs.symlinkSync(path.join(outside, 'sub'), path.join(root, 'd', 'sub'));
      fs.rmSync(path.join(root, 'important.txt'));
      fs.symlinkSync(path.join(outside, 'important.txt'), path.join(root, 'important.txt'));
      await restoreSnapshot(backups, m);
      expect(fs.lstatSync(path.join(root, 'd', 'sub')).isDirectory()).toBe(true);
      expect(fs.readFileSync(path.join(root, 'd', 'sub', 'deep.txt'), 'utf8')).toBe('mine\n');
      expect(fs.lstatSync(path.join(root, 'important.txt')).isFile()).toBe(true);
      expect(treeOf(outside)).toEqual(before);
    });

    it('a parent component that became a link: that entry is refused, the others restored, outside untouched', async () => {
      use();
      const { root, backups, outside, before, target } = setup();
      fs.mkdirSync(path.join(root, 'a', 'sub'), { recursive: true });
      fs.writeFileSync(path.join(root, 'a', 'sub', 'deep.txt'), 'mine\n');
      fs.writeFileSync(path.join(root, 'other.txt'), 'other\n');
      const m = await takeSnapshot(backups, 'WO-5', 1, [target('a/sub/deep.txt'), target('a/important.txt'), target('other.txt')]);
      fs.writeFileSync(path.join(root, 'other.txt'), 'changed\n');
      fs.renameSync(path.join(root, 'a'), path.join(root, 'a.away'));
      fs.symlinkSync(outside, path.join(root, 'a'));
      const err = await refused(restoreSnapshot(backups, m));
      expect(err.message).toMatch(/symbolic link/);
      expect(fs.readFileSync(path.join(root, 'other.txt'), 'utf8')).toBe('other\n');
      expect(treeOf(outside)).toEqual(before);
      // Reads for the operator's rollback check are refused the same way.
      await refused(currentSha256(m, 'a/sub/deep.txt', root));
    });

    it('a snapshot is refused when a component is a link (nothing read through it)', async () => {
      use();
      const { root, backups, outside, target } = setup();
      fs.symlinkSync(outside, path.join(root, 'a'));
      await refused(takeSnapshot(backups, 'WO-6', 1, [target('a/important.txt')]));
      await refused(takeSnapshot(backups, 'WO-7', 1, [target('a/new.txt')]));
      fs.mkdirSync(path.join(root, 'd'));
      fs.symlinkSync(outside, path.join(root, 'd', 'build'));
      const err = await refused(takeSnapshot(backups, 'WO-8', 1, [target('d/build')])); // the target itself is a link
      expect(err.message).toMatch(/symbolic link/);
    });
  });
}

describe('older manifests', () => {
  it('derive the base of an entry without one from abs and rel', () => {
    expect(entryBase({ abs: '/r/a/b.txt', rel: 'a/b.txt' })).toBe('/r');
    expect(entryBase({ abs: '/allowed/x/y', rel: '/allowed/x/y' })).toBe('/allowed/x');
    expect(entryBase({ abs: '/r/a', rel: 'a', base: '/q' })).toBe('/q');
  });

  it('restore a manifest written before bases were recorded', async () => {
    const { root, backups, target } = setup();
    fs.writeFileSync(path.join(root, 'f.txt'), 'old\n');
    const m = await takeSnapshot(backups, 'WO-8', 1, [target('f.txt')]);
    const legacy: Manifest = { ...m, entries: m.entries.map(({ base: _b, ...e }) => e) };
    fs.writeFileSync(path.join(root, 'f.txt'), 'new\n');
    await restoreSnapshot(backups, legacy);
    expect(fs.readFileSync(path.join(root, 'f.txt'), 'utf8')).toBe('old\n');
  });
});
