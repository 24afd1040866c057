import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkTarget, ensureParents, lexicalTarget, recheckParent } from '../../src/policy/paths.js';
import { WoError } from '../../src/errors.js';
import { tempDir } from '../helpers.js';

function refusal(fn: () => unknown): WoError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WoError);
    expect((err as WoError).code).toBe('POLICY_REFUSED');
    return err as WoError;
  }
  throw new Error('expected a POLICY_REFUSED refusal');
}

async function refusalAsync(p: Promise<unknown>): Promise<WoError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(WoError);
  expect((err as WoError).code).toBe('POLICY_REFUSED');
  return err as WoError;
}

describe('lexicalTarget: the node-tar corpus', () => {
  const root = '/srv/wo';
  const ctx = { root, allowedRoots: ['/home/u/Library/LaunchAgents'] };
  const refused: [string, string][] = [
    ['', 'is empty'],
    ['a\0b', 'NUL'],
    ['../x', 'outside the root'],
    ['a/../../x', 'outside the root'],
    ['a/../g/run/x', "daemon's internals"],
    ['a/../..', 'outside the root'],
    ['/etc/passwd', 'outside the root'],
    ['////etc/passwd', 'outside the root'],
    ['a\\..\\..\\x', 'backslash'],
    ['~/x', "'~'"],
    ['/srv/wo', 'the root itself'],
    ['.', 'the root itself'],
    ['/srv/wo2/x', 'outside the root'],
    ['/home/u/Library/LaunchAgents', 'allowed root itself'],
    ['g/followup/state/x.json', "daemon's internals"],
    ['bridge/inbox/CLC/x.yaml', "daemon's internals"],
    ['./g/run/x', "daemon's internals"],
    ['Bridge/hold/x', "daemon's internals"],
    ['/srv/wo/g/backups/x', "daemon's internals"],
    ['bridge', "daemon's internals"],
    ['a\nb', 'control characters'],
    ['x'.repeat(5000), 'longer than 4096 bytes'],
  ];
  it.each(refused)('refuses %j', (p, why) => {
    const err = refusal(() => lexicalTarget(p, ctx));
    expect(err.message).toContain(why);
    if (p.length < 100 && !/[\0\n]/.test(p)) expect(err.message).toContain(`path '${p}'`);
  });

  const accepted: [string, { abs: string; rel: string; base: string }][] = [
    ['tmp/canary_test.txt', { abs: '/srv/wo/tmp/canary_test.txt', rel: 'tmp/canary_test.txt', base: root }],
    ['a//b///c', { abs: '/srv/wo/a/b/c', rel: 'a/b/c', base: root }],
    ['./a/./b', { abs: '/srv/wo/a/b', rel: 'a/b', base: root }],
    ['/srv/wo/tools/x.sh', { abs: '/srv/wo/tools/x.sh', rel: 'tools/x.sh', base: root }],
    ['//srv//wo/tools/x.sh', { abs: '/srv/wo/tools/x.sh', rel: 'tools/x.sh', base: root }],
    ['dossier été/ファイル name.txt', { abs: '/srv/wo/dossier été/ファイル name.txt', rel: 'dossier été/ファイル name.txt', base: root }],
    ['gx/ok', { abs: '/srv/wo/gx/ok', rel: 'gx/ok', base: root }],
    ['..a/b..', { abs: '/srv/wo/..a/b..', rel: '..a/b..', base: root }],
    // `..` is resolved in the text; the result must be inside the root or an allowed root (seed 003's `../Library/…`).
    ['a/../b', { abs: '/srv/wo/b', rel: 'b', base: root }],
    ['../../home/u/Library/LaunchAgents/com.y.plist', { abs: '/home/u/Library/LaunchAgents/com.y.plist', rel: '/home/u/Library/LaunchAgents/com.y.plist', base: '/home/u/Library/LaunchAgents' }],
    ['/home/u/Library/LaunchAgents/com.x.plist', { abs: '/home/u/Library/LaunchAgents/com.x.plist', rel: '/home/u/Library/LaunchAgents/com.x.plist', base: '/home/u/Library/LaunchAgents' }],
  ];
  it.each(accepted)('accepts %j', (p, want) => {
    expect(lexicalTarget(p, ctx)).toEqual(want);
  });

  it('picks the deepest base when an allowed root is inside the root', () => {
    expect(lexicalTarget('out/x', { root, allowedRoots: ['/srv/wo/out'] })).toEqual({ abs: '/srv/wo/out/x', rel: 'out/x', base: '/srv/wo/out' });
  });
});

describe('checkTarget / ensureParents / recheckParent on a real disk', () => {
  function setup() {
    const root = tempDir('wo-policy-');
    const outside = tempDir('wo-outside-');
    fs.writeFileSync(path.join(outside, 'secret'), 'secret\n');
    return { root, outside, ctx: { root, allowedRoots: [] as string[] } };
  }

  it('a missing target under plain folders: not existing; parents created one by one, deepest first', async () => {
    const { root, ctx } = setup();
    const t = lexicalTarget('a/b c/ünï/file.txt', ctx);
    expect(await checkTarget(t)).toEqual({ exists: false });
    const created = await ensureParents(t);
    expect(created).toEqual([path.join(root, 'a/b c/ünï'), path.join(root, 'a/b c'), path.join(root, 'a')]);
    expect(fs.statSync(path.join(root, 'a/b c/ünï')).isDirectory()).toBe(true);
    expect(await ensureParents(t)).toEqual([]); // idempotent
    fs.writeFileSync(t.abs, 'x', { mode: 0o640 });
    const st = await checkTarget(t);
    expect(st).toMatchObject({ exists: true, nlink: 1, kind: 'file' });
    expect(st.mode! & 0o777).toBe(0o640);
    await expect(recheckParent(t)).resolves.toBeUndefined();
  });

  it('refuses a symlinked folder in the middle pointing outside', async () => {
    const { root, outside, ctx } = setup();
    fs.mkdirSync(path.join(root, 'a'));
    fs.symlinkSync(outside, path.join(root, 'a/link'));
    const t = lexicalTarget('a/link/secret', ctx);
    const err = await refusalAsync(checkTarget(t));
    expect(err.message).toContain(`'${path.join(root, 'a/link')}' is a symbolic link`);
    await refusalAsync(ensureParents(lexicalTarget('a/link/new/file', ctx)));
    expect(fs.existsSync(path.join(outside, 'new'))).toBe(false);
  });

  it('refuses a symlink as the final component, even a dangling one or one pointing inside', async () => {
    const { root, outside, ctx } = setup();
    fs.symlinkSync(path.join(outside, 'secret'), path.join(root, 'out.txt'));
    fs.symlinkSync(path.join(outside, 'nothing-yet'), path.join(root, 'dangling'));
    fs.writeFileSync(path.join(root, 'real.txt'), 'x');
    fs.symlinkSync('real.txt', path.join(root, 'inner'));
    for (const p of ['out.txt', 'dangling', 'inner']) {
      const err = await refusalAsync(checkTarget(lexicalTarget(p, ctx)));
      expect(err.message).toContain('is a symbolic link');
    }
  });

  it('refuses a hard-linked target', async () => {
    const { root, ctx } = setup();
    const other = tempDir('wo-hl-');
    fs.writeFileSync(path.join(root, 'f.txt'), 'x');
    try {
      fs.linkSync(path.join(root, 'f.txt'), path.join(other, 'f-link'));
    } catch {
      fs.linkSync(path.join(root, 'f.txt'), path.join(root, 'f-link')); // another device: link inside the root
    }
    const err = await refusalAsync(checkTarget(lexicalTarget('f.txt', ctx)));
    expect(err.message).toContain('hard-linked file (2 links)');
  });

  it('refuses a file where a folder is expected', async () => {
    const { root, ctx } = setup();
    fs.writeFileSync(path.join(root, 'a'), 'x');
    const err = await refusalAsync(checkTarget(lexicalTarget('a/b', ctx)));
    expect(err.message).toContain('is not a folder');
    await refusalAsync(ensureParents(lexicalTarget('a/b/c', ctx)));
  });

  it('accepts a root that is itself behind a symlink (like /tmp on macOS), and an allowed root', async () => {
    const real = tempDir('wo-real-');
    const holder = tempDir('wo-holder-');
    const linked = path.join(holder, 'root-link');
    fs.symlinkSync(real, linked);
    const allowed = tempDir('wo-allowed-');
    const ctx = { root: linked, allowedRoots: [allowed] };
    const t = lexicalTarget('x/y.txt', ctx);
    expect(await ensureParents(t)).toEqual([path.join(linked, 'x')]);
    expect(fs.existsSync(path.join(real, 'x'))).toBe(true);
    expect(await checkTarget(t)).toEqual({ exists: false });
    fs.writeFileSync(path.join(real, 'x/y.txt'), 'y');
    expect(await checkTarget(t)).toMatchObject({ exists: true, kind: 'file' });
    await recheckParent(t);
    const a = lexicalTarget(path.join(allowed, 'com.x.plist'), ctx);
    expect(a.base).toBe(allowed);
    expect(a.rel).toBe(path.join(allowed, 'com.x.plist'));
    expect(await checkTarget(a)).toEqual({ exists: false });
  });

  it('recheckParent refuses a parent swapped for a symlink after the check', async () => {
    const { root, outside, ctx } = setup();
    const t = lexicalTarget('d/file', ctx);
    await ensureParents(t);
    await recheckParent(t);
    fs.rmdirSync(path.join(root, 'd'));
    fs.symlinkSync(outside, path.join(root, 'd'));
    const err = await refusalAsync(recheckParent(t));
    expect(err.message).toMatch(/symbolic link/);
  });

  it('ensureParents refuses a symlink that already sits where a parent goes', async () => {
    const { root, outside, ctx } = setup();
    fs.symlinkSync(outside, path.join(root, 'p'));
    const err = await refusalAsync(ensureParents(lexicalTarget('p/q/file', ctx)));
    expect(err.message).toContain('is a symbolic link');
    expect(fs.existsSync(path.join(outside, 'q'))).toBe(false);
  });

  it('reports a folder target as a directory (the caller decides)', async () => {
    const { root, ctx } = setup();
    fs.mkdirSync(path.join(root, 'dir'));
    expect(await checkTarget(lexicalTarget('dir', ctx))).toMatchObject({ exists: true, kind: 'directory' });
  });
});
