/**
 * Hostile: a WO path's `..` is resolved in the text (relative to the root) and the result judged; the disk never
 * resolves it. Through the real daemon in `auto`: `..` out of the root, into wo's folders, into `.git/`, through a
 * symlinked folder (`link/../x` must mean the root's `x`, never the link target's parent), into a sibling of an
 * allowed root, and in delete / exec `paths` lists — all refused or written exactly where the text says, with an
 * outside sentinel folder left byte-identical.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir, tempRoot } from '../helpers.js';
import { CONFIG, daemonPool, dropAtomic, settledRecord, T } from './common.js';

const pool = daemonPool();
afterEach(() => pool.cleanup());

const settled = (root: string, id: string) => settledRecord(root, id);

function tree(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n);
      const st = fs.lstatSync(p);
      out.push(`${path.relative(dir, p)} ${st.mode.toString(8)} ${st.isFile() ? fs.readFileSync(p, 'utf8') : ''}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.join('\n');
}

const write = (id: string, p: string) => JSON.stringify({ wo_id: id, title: id, type: 'apply_patch', files: [{ path: p, content: `${id}\n` }] });

describe("reliability: '..' in WO paths", () => {
  it('is resolved in the text and judged: escapes and internals refused, links never followed, the outside untouched', async () => {
    const outside = tempDir('wo-dotdot-outside-');
    fs.mkdirSync(path.join(outside, 'allowed'));
    fs.mkdirSync(path.join(outside, 'sibling'));
    fs.writeFileSync(path.join(outside, 'sibling/keep.txt'), 'keep\n');
    fs.writeFileSync(path.join(outside, 'keep.txt'), 'keep\n');
    const root = tempRoot(`${CONFIG}  allowed_roots: [${JSON.stringify(path.join(outside, 'allowed'))}]\n`);
    fs.mkdirSync(path.join(root, 'work/deep'), { recursive: true });
    fs.symlinkSync(path.join(outside, 'sibling'), path.join(root, 'work/link'));
    fs.mkdirSync(path.join(root, '.git'), { recursive: true });
    fs.writeFileSync(path.join(root, '.git/config'), '[core]\n');
    const before = tree(outside);
    const gitBefore = fs.readFileSync(path.join(root, '.git/config'), 'utf8');
    await pool.start(root);
    const inbox = path.join(root, 'bridge/inbox/CLC');

    const refused: [string, string, RegExp][] = [
      ['D-OUT', '../keep.txt', /outside the root/],
      ['D-OUT-DEEP', 'work/deep/../../../keep.txt', /outside the root/],
      ['D-SIBLING', `${path.join(outside, 'allowed')}/../sibling/keep.txt`, /outside the root/],
      ['D-INTERNAL', 'work/../g/run/evil', /daemon's internals/],
      ['D-BRIDGE', 'work/deep/../../bridge/inbox/CLC/evil.json', /daemon's internals/],
      ['D-GIT', 'work/../.git/config', /\.git/],
      ['D-ROOT', 'work/..', /the root itself/],
    ];
    for (const [id, p] of refused) dropAtomic(inbox, `${id}.json`, write(id, p));
    dropAtomic(inbox, 'D-DELETE.json', JSON.stringify({ wo_id: 'D-DELETE', title: 't', type: 'apply_patch', delete: ['work/../../keep.txt'] }));
    dropAtomic(inbox, 'D-PATHS.json', JSON.stringify({ wo_id: 'D-PATHS', title: 't', type: 'exec', commands: ['true'], paths: ['work/../..'] }));
    for (const [id, , why] of [...refused, ['D-DELETE', '', /outside the root/] as const, ['D-PATHS', '', /outside the root|parent of the root/] as const]) {
      const rec = await settled(root, id);
      expect(['rejected', 'failed'], `${id}: ${JSON.stringify(rec.error)}`).toContain(rec.status);
      expect(rec.error?.code, id).toBe('POLICY_REFUSED');
      expect(rec.error.message, id).toMatch(why);
    }

    // Allowed: `..` that stays inside (the root's own file, not the link target's parent), and into an allowed root.
    dropAtomic(inbox, 'D-LINK.json', write('D-LINK', 'work/link/../via-link.txt'));
    dropAtomic(inbox, 'D-INSIDE.json', write('D-INSIDE', 'work/deep/../inside.txt'));
    dropAtomic(inbox, 'D-ALLOWED.json', write('D-ALLOWED', `${path.join(outside, 'sibling')}/../allowed/ok.txt`));
    for (const id of ['D-LINK', 'D-INSIDE', 'D-ALLOWED']) expect((await settled(root, id)).status, id).toBe('succeeded');
    expect(fs.readFileSync(path.join(root, 'work/via-link.txt'), 'utf8')).toBe('D-LINK\n');
    expect(fs.readFileSync(path.join(root, 'work/inside.txt'), 'utf8')).toBe('D-INSIDE\n');
    expect(fs.readFileSync(path.join(outside, 'allowed/ok.txt'), 'utf8')).toBe('D-ALLOWED\n');

    fs.rmSync(path.join(outside, 'allowed/ok.txt'));
    expect(tree(outside)).toBe(before);
    expect(fs.readFileSync(path.join(root, '.git/config'), 'utf8')).toBe(gitBefore);
    expect(fs.readdirSync(path.join(root, 'g/run')).filter((n) => n.includes('evil'))).toEqual([]);
  }, T(120_000, 600_000));
});
