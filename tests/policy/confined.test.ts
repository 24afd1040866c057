import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Dir, forceConfineMode, openParent, withParent } from '../../src/util/confined.js';
import { WoError } from '../../src/errors.js';
import { tempDir } from '../helpers.js';
import { treeOf } from '../snapshot/tree.js';

async function refused(p: Promise<unknown>): Promise<WoError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(WoError);
  expect((err as WoError).code).toBe('POLICY_REFUSED');
  return err as WoError;
}

function setup() {
  const root = tempDir('wo-confine-');
  const outside = tempDir('wo-outside-');
  fs.writeFileSync(path.join(outside, 'important.txt'), 'keep me\n');
  fs.mkdirSync(path.join(outside, 'sub'));
  fs.writeFileSync(path.join(outside, 'sub', 'deep.txt'), 'deep\n');
  return { root, outside, before: treeOf(outside) };
}

/** Rename `dir` away and put a link to `to` in its place (what the racer does). */
function swap(dir: string, to: string): string {
  const away = `${dir}.away`;
  fs.renameSync(dir, away);
  fs.symlinkSync(to, dir);
  return away;
}

afterAll(() => forceConfineMode(undefined));

it('detects the /proc/self/fd walk on Linux (the fallback elsewhere)', async () => {
  forceConfineMode(undefined);
  const d = await Dir.openBase(tempDir('wo-confine-'));
  try {
    expect(d.how).toBe(process.platform === 'linux' ? 'proc' : 'recheck');
  } finally {
    await d.close();
  }
});

for (const mode of ['proc', 'recheck'] as const) {
  describe(`confined operations (${mode} mode)`, () => {
    const use = () => forceConfineMode(mode === 'proc' && process.platform !== 'linux' ? undefined : mode);

    it('a parent swapped for a link between open and act: nothing lands outside, the chain check refuses', async () => {
      use();
      const { root, outside, before } = setup();
      const t = { abs: path.join(root, 'a', 'b', 'important.txt'), base: root };
      const p = (await openParent(t, { create: true }))!;
      try {
        const away = swap(path.join(root, 'a'), outside);
        if (mode === 'proc') {
          // The handle is the folder itself: the write lands in the renamed folder, inside the root.
          await p.dir.writeFile(p.name, Buffer.from('new\n'), { mode: 0o644 });
          expect(fs.readFileSync(path.join(away, 'b', 'important.txt'), 'utf8')).toBe('new\n');
          await refused(p.dir.verify());
          expect(await p.dir.unlink(p.name)).toBe(true);
        } else {
          await refused(p.dir.writeFile(p.name, Buffer.from('new\n'), { mode: 0o644 }));
          await refused(p.dir.unlink(p.name));
        }
        if (mode === 'proc') expect(await p.dir.readdir()).toEqual([]); // the handle's own folder, now named a.away/b
        else await refused(p.dir.readdir());
      } finally {
        await p.dir.close();
      }
      expect(treeOf(outside)).toEqual(before);
    });

    it('the walk refuses a link in any component, and a file where a folder is expected', async () => {
      use();
      const { root, outside, before } = setup();
      fs.symlinkSync(outside, path.join(root, 'lnk'));
      fs.writeFileSync(path.join(root, 'file'), 'x');
      const e1 = await refused(openParent({ abs: path.join(root, 'lnk', 'sub', 'deep.txt'), base: root }));
      expect(e1.message).toMatch(/symbolic link/);
      await refused(openParent({ abs: path.join(root, 'lnk', 'new', 'x'), base: root }, { create: true }));
      const e2 = await refused(openParent({ abs: path.join(root, 'file', 'x'), base: root }, { create: true }));
      expect(e2.message).toMatch(/not a folder/);
      expect(await openParent({ abs: path.join(root, 'missing', 'x'), base: root })).toBeNull();
      expect(fs.existsSync(path.join(root, 'missing'))).toBe(false);
      expect(treeOf(outside)).toEqual(before);
    });

    it('a final link is never read through, and unlink removes the link only', async () => {
      use();
      const { root, outside, before } = setup();
      fs.symlinkSync(path.join(outside, 'important.txt'), path.join(root, 'f'));
      const err = await refused(withParent({ abs: path.join(root, 'f'), base: root }, {}, (d, n) => d.readFile(n)));
      expect(err.message).toMatch(/symbolic link/);
      expect(await withParent({ abs: path.join(root, 'f'), base: root }, {}, (d, n) => d.unlink(n))).toBe(true);
      expect(fs.existsSync(path.join(root, 'f'))).toBe(false);
      expect(treeOf(outside)).toEqual(before);
    });

    it('removeTree of a tree holding links to outside removes the links, never what they point to', async () => {
      use();
      const { root, outside, before } = setup();
      const t = path.join(root, 't');
      fs.mkdirSync(path.join(t, 'sub', 'deeper'), { recursive: true });
      fs.writeFileSync(path.join(t, 'x'), 'x');
      fs.writeFileSync(path.join(t, 'sub', 'deeper', 'y'), 'y');
      fs.symlinkSync(outside, path.join(t, 'lnk'));
      fs.symlinkSync(path.join(outside, 'sub'), path.join(t, 'sub', 'lnk2'));
      fs.symlinkSync(path.join(outside, 'important.txt'), path.join(t, 'sub', 'deeper', 'lnk3'));
      const base = await Dir.openBase(root);
      try {
        expect(await base.removeTree('t')).toBe(true);
        expect(await base.removeTree('t')).toBe(false);
        fs.symlinkSync(outside, path.join(root, 'top'));
        expect(await base.removeTree('top')).toBe(true); // the name itself is a link: unlinked
      } finally {
        await base.close();
      }
      expect(fs.readdirSync(root)).toEqual([]);
      expect(treeOf(outside)).toEqual(before);
    });

    it('writes are atomic and durable in the handle folder, with the exact mode; created folders are reported and undone', async () => {
      use();
      const { root } = setup();
      const t = { abs: path.join(root, 'n1', 'n2', 'f'), base: root };
      const p = (await openParent(t, { create: true }))!;
      try {
        expect(p.dir.created).toBe(true);
        expect(p.dir.parentDir?.created).toBe(true);
        await p.dir.writeFile(p.name, Buffer.from('hello'), { mode: 0o640 });
        const st = fs.statSync(t.abs);
        expect(st.mode & 0o7777).toBe(0o640);
        expect(fs.readFileSync(t.abs, 'utf8')).toBe('hello');
        expect(await p.dir.readFile(p.name)).toEqual({ bytes: Buffer.from('hello'), mode: 0o640 });
        expect(fs.readdirSync(path.dirname(t.abs))).toEqual(['f']); // no temp left behind
        await p.dir.unlink(p.name);
        await p.dir.removeCreated();
      } finally {
        await p.dir.close();
      }
      expect(fs.readdirSync(root)).toEqual([]);
    });
  });
}
