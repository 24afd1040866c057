/**
 * Hostile: the root's control files (issue 9, item 2) under every spelling an attacker would try, through the
 * real daemon in `auto` (the most permissive level): case variants, HFS+-ignorable code points, `./`, absolute,
 * trailing slashes, nested repositories, an allowed root that is a symlink to the root's parent or into .git/,
 * this root's installed service unit reached through an allowed root, and exec `paths` that would snapshot them.
 * Every WO ends rejected (POLICY_REFUSED with its reason), every protected byte is unchanged, no case-variant
 * file appears, and the daemon takes the next good WO. Seeded: a failure prints the seed to replay.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { gitInit, readRecord, tempDir, waitFor } from '../helpers.js';
import { daemonPool, dropAtomic, rng, size, T } from './common.js';
import { unitLocation } from '../../src/service/units.js';

const pool = daemonPool();
afterEach(() => pool.cleanup());

/** Every file below `dir` with its mode and bytes (symlinks as their target), sorted. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isSymbolicLink()) out[path.relative(dir, p)] = `-> ${fs.readlinkSync(p)}`;
      else if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = `${fs.lstatSync(p).mode.toString(8)} ${fs.readFileSync(p).toString('base64')}`;
    }
  };
  walk(dir);
  return out;
}

const TARGETS = ['wo.config.yaml', 'wo.config.yml', '.git/config', '.git/hooks/pre-commit', '.git/info/attributes', 'sub/.git/hooks/post-checkout', 'sub/.git/config'];
const IGNORABLE = ['\u200c', '\u200d', '\u200e', '\u202e', '\ufeff'];

/** A spelling of `rel` the disk may take for the same file: case flips, ignorables in `.git`, prefixes, a trailing slash. */
function variant(rel: string, r: () => number, prefixes: string[]): string {
  let s = [...rel].map((c) => (r() < 0.5 ? c.toUpperCase() : c)).join('');
  if (r() < 0.3) s = s.replace(/\.git/i, (m) => `${m.slice(0, 2)}${IGNORABLE[Math.floor(r() * IGNORABLE.length)]}${m.slice(2)}`);
  const prefix = prefixes[Math.floor(r() * prefixes.length)]!;
  return `${prefix}${s}${r() < 0.2 ? '/' : ''}`;
}

/** A WO of a random kind (write, patch, delete, exec paths) aimed at `p`. */
function attack(id: string, p: string, r: () => number): string {
  const kind = Math.floor(r() * 4);
  const base = { wo_id: id, title: `hostile internals ${id}`, type: 'apply_patch' };
  if (kind === 0) return JSON.stringify({ ...base, files: [{ path: p, content: 'policy: {autonomy: auto, allow_self_modify: true}\n' }] });
  if (kind === 1) return JSON.stringify({ ...base, patches: [{ path: p, diff: '--- a/x\n+++ b/x\n@@ -0,0 +1 @@\n+[core]\n' }] });
  if (kind === 2) return JSON.stringify({ ...base, delete: [p] });
  return JSON.stringify({ ...base, type: 'exec', commands: ['true'], paths: [p] });
}

const REASON = /allow_self_modify is false|a '\.\.' component|the root itself|a parent of the root|daemon's internals/;

describe('reliability: hostile writes to the root control files', () => {
  it('every spelling ends rejected with its reason; config, .git, service unit and neighbours byte-identical', async () => {
    const seed = Number(process.env.WO_SEED ?? Date.now() % 1_000_000);
    const r = rng(seed);
    const parent = tempDir('wo-parent-');
    const root = path.join(parent, 'root');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(parent, 'neighbour.txt'), 'next to the root\n');
    gitInit(root);
    fs.mkdirSync(path.join(root, 'sub'));
    gitInit(path.join(root, 'sub'));
    const home = tempDir('wo-home-');
    const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, '.config') };
    const unit = unitLocation('systemd', root, env).file;
    fs.mkdirSync(path.dirname(unit), { recursive: true });
    fs.writeFileSync(unit, '[Service]\nExecStart=/bin/true\n');
    const links = tempDir('wo-links-');
    const toParent = path.join(links, 'parent');
    const toHooks = path.join(links, 'hooks');
    fs.symlinkSync(parent, toParent);
    fs.symlinkSync(path.join(root, '.git', 'hooks'), toHooks);
    const allowed = [path.join(home, '.config'), toParent, toHooks];
    fs.writeFileSync(path.join(root, 'wo.config.yaml'), `http:\n  enabled: false\npolicy:\n  autonomy: auto\n  allowed_roots: ${JSON.stringify(allowed)}\n`);
    const before = { parent: tree(parent), home: tree(home) };

    const viaLink = path.join(toParent, 'root');
    const fixed: string[] = [
      unit, path.join(path.dirname(unit), path.basename(unit).toUpperCase()), path.dirname(unit), path.dirname(path.dirname(unit)),
      viaLink, `${viaLink}/`, `${viaLink}/wo.config.yaml`, `${viaLink}/.git/config`, `${viaLink}/bridge/inbox/CLC/x.json`,
      `${viaLink}/g/run/token`, `${path.join(toParent, 'ROOT')}/WO.CONFIG.YAML`, `${toHooks}/pre-commit`, `${toHooks}/post-checkout`,
      '.', './', `${root}/`, 'a/../.git/config', 'G/run/x', 'Bridge/hold/x', '.git', '.git/', 'sub/.git',
    ];
    const prefixes = ['', './', `${root}/`, `${root}//./`, `${viaLink}/`];
    const generated = Array.from({ length: size(16, 400) }, () => variant(TARGETS[Math.floor(r() * TARGETS.length)]!, r, prefixes));
    const cases = [...fixed, ...generated].map((p, i) => ({ id: `HI-${String(i).padStart(4, '0')}`, p }));

    await pool.start(root, { env });
    const inbox = path.join(root, 'bridge/inbox/CLC');
    for (const c of cases) dropAtomic(inbox, `${c.id}.json`, attack(c.id, c.p, r));
    for (const c of cases) {
      const rec = await waitFor(() => {
        const x = readRecord(root, c.id);
        return x && x.status !== 'queued' && x.status !== 'running' ? x : undefined;
      }, { timeout: T(60_000, 600_000), what: `${c.id} (${JSON.stringify(c.p)}) settled (seed ${seed})` });
      expect(rec!.status, `${c.id} ${JSON.stringify(c.p)} seed ${seed}`).toBe('rejected');
      expect(rec!.error.code, `${c.id} seed ${seed}`).toBe('POLICY_REFUSED');
      expect(rec!.error.message, `${c.id} ${JSON.stringify(c.p)} seed ${seed}`).toMatch(REASON);
    }

    // The daemon still takes a good WO, then nothing protected moved by a byte.
    dropAtomic(inbox, 'GOOD.json', JSON.stringify({ wo_id: 'GOOD', title: 'good', type: 'apply_patch', files: [{ path: 'out/ok.txt', content: 'ok\n' }] }));
    await waitFor(() => readRecord(root, 'GOOD')?.status === 'succeeded', { timeout: T(60_000, 300_000), what: 'GOOD succeeded' });
    const after = tree(parent);
    const changed = Object.keys({ ...before.parent, ...after }).filter((k) => before.parent[k] !== after[k] && !/^root\/(bridge|g|out)\//.test(k));
    expect(changed, `seed ${seed}`).toEqual([]);
    expect(tree(home), `seed ${seed}`).toEqual(before.home);
  }, T(180_000, 1_200_000));
});
