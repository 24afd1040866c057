/**
 * Issue 9 item 3 through the real daemon: while a racer (a child process) keeps swapping a target's parent
 * folder — and an exec WO's `paths` folder — for a symlink to an outside sentinel folder and back, many WOs
 * write (with a slow validate), patch, delete and run exec commands with `paths`, some failing their tests
 * so they roll back. Afterwards the sentinel is byte-identical, nothing new appeared in it, and every WO
 * ended in a terminal state with a record.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { readRecord, tempDir, tempRoot, waitFor, waitSettled } from '../helpers.js';
import { CONFIG, FULL, T, daemonPool, dropAtomic, rng, size } from './common.js';
import { treeOf } from '../snapshot/tree.js';

const pool = daemonPool();
afterEach(() => pool.cleanup());

const TERMINAL = new Set(['succeeded', 'failed', 'rejected', 'cancelled', 'routed', 'reverted']);

/** The racer: swap `a` or `a/build` for a link into the sentinel, hold it a moment, put the folder back; forever. */
const RACER = `
import fs from 'node:fs';
import path from 'node:path';
const [root, sentinel, seedText] = process.argv.slice(2);
let s = Number(seedText) >>> 0;
const rnd = () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const cell = new Int32Array(new SharedArrayBuffer(4));
const pause = (ms) => Atomics.wait(cell, 0, 0, ms);
const spots = [['a', sentinel], ['a/build', path.join(sentinel, 'build')]];
let n = 0;
for (;;) {
  const [rel, to] = spots[rnd() < 0.6 ? 0 : 1];
  const p = path.join(root, rel);
  const away = path.join(root, rel.replace('/', '_') + '.away');
  try { fs.renameSync(p, away); } catch { pause(1); continue; }
  try { fs.symlinkSync(to, p); } catch { /* the daemon made a folder there first */ }
  pause(rnd() * 8);
  try { if (fs.lstatSync(p).isSymbolicLink()) fs.unlinkSync(p); } catch { /* gone */ }
  for (let i = 0; i < 5; i += 1) {
    try { fs.renameSync(away, p); break; } catch {
      // Something (the daemon's restore) put a folder there meanwhile: move it aside, inside the root.
      try { fs.renameSync(p, path.join(root, 'aside-' + n++)); } catch { /* gone */ }
    }
  }
  if (++n % 50 === 0) process.stdout.write('.');
  pause(rnd() * 30);
}
`;

type Kind = 'write' | 'patch' | 'delete' | 'exec';

function woFor(id: string, kind: Kind, i: number, fail: boolean): string {
  const lines = [`wo_id: ${id}`, `title: "race ${id}"`];
  if (kind === 'write') lines.push('type: apply_patch', 'files:', `  - path: a/w-${i}.txt`, `    content: "written by ${id}\\n"`, '    validate: "sleep 0.05; test -f %s"');
  if (kind === 'patch') {
    lines.push('type: apply_patch', 'patches:', `  - path: a/p-${i}.txt`, '    diff: |', `      --- a/a/p-${i}.txt`, `      +++ b/a/p-${i}.txt`, '      @@ -1,2 +1,2 @@', '       line one', '      -line two', `      +line two by ${id}`);
    lines.push('commands:', '  - "sleep 0.05"');
  }
  if (kind === 'delete') lines.push('type: apply_patch', 'delete:', `  - a/d-${i}.txt`, 'commands:', '  - "sleep 0.03"');
  if (kind === 'exec') lines.push('type: exec', 'paths:', '  - a/build', 'commands:', '  - "sleep 0.05"');
  if (fail) lines.push('tests:', '  - name: fails on purpose', '    command: "echo no"', '    expected: "yes"');
  return lines.join('\n') + '\n';
}

function layout(root: string, sentinel: string, count: number): void {
  const a = path.join(root, 'a');
  fs.mkdirSync(path.join(a, 'build', 'sub'), { recursive: true });
  fs.writeFileSync(path.join(a, 'build', 'keep.txt'), 'root build\n');
  fs.writeFileSync(path.join(a, 'build', 'sub', 'mine.txt'), 'root build sub\n');
  // The sentinel holds every name a WO could reach through a link, so a write, delete or restore through it would show.
  fs.writeFileSync(path.join(sentinel, 'important.txt'), 'outside, keep\n');
  fs.mkdirSync(path.join(sentinel, 'sub'));
  fs.writeFileSync(path.join(sentinel, 'sub', 'deep.txt'), 'outside deep\n');
  fs.mkdirSync(path.join(sentinel, 'build', 'sub'), { recursive: true });
  fs.writeFileSync(path.join(sentinel, 'build', 'important.txt'), 'outside build\n');
  fs.writeFileSync(path.join(sentinel, 'build', 'sub', 'deep.txt'), 'outside build deep\n');
  for (let i = 0; i < count; i += 1) {
    fs.writeFileSync(path.join(a, `p-${i}.txt`), 'line one\nline two\n');
    fs.writeFileSync(path.join(a, `d-${i}.txt`), `delete me ${i}\n`);
    for (const n of [`w-${i}.txt`, `p-${i}.txt`, `d-${i}.txt`]) fs.writeFileSync(path.join(sentinel, n), `outside ${n}\nline one\nline two\n`);
  }
}

describe('hostile: a folder swapped for a symlink mid-WO never lets a write or a rollback out of the root', () => {
  const seeds = process.env.WO_RACE_SEED ? [Number(process.env.WO_RACE_SEED)] : FULL ? [9003, 17, 4242] : [9003];
  for (const seed of seeds) {
    it(`seed ${seed}: the sentinel outside the root is byte-identical; every WO is terminal with a record`, async () => {
      const count = size(16, 120);
      const root = tempRoot(CONFIG);
      const sentinel = tempDir('wo-sentinel-');
      layout(root, sentinel, count);
      const before = treeOf(sentinel);
      const racerFile = path.join(tempDir('wo-racer-'), 'racer.mjs');
      fs.writeFileSync(racerFile, RACER);

      await pool.start(root);
      const racer = spawn(process.execPath, [racerFile, root, sentinel, String(seed)], { stdio: 'ignore' });
      const racerExit = new Promise((r) => racer.on('exit', r));
      const ids: string[] = [];
      try {
        const r = rng(seed);
        const kinds: Kind[] = ['write', 'patch', 'delete', 'exec'];
        for (let i = 0; i < count; i += 1) {
          const kind = kinds[Math.floor(r() * kinds.length)]!;
          const id = `RACE-${seed}-${i}`;
          ids.push(id);
          dropAtomic(path.join(root, 'bridge/inbox/CLC'), `${id}.yaml`, woFor(id, kind, i, r() < 0.4));
        }
        await waitFor(() => ids.every((id) => TERMINAL.has(readRecord(root, id)?.status)), { timeout: T(90_000, 600_000), interval: 100, what: 'every WO terminal' });
      } finally {
        racer.kill('SIGKILL');
        await racerExit;
      }
      await waitSettled(root, { timeout: 60_000 });
      const outcomes: Record<string, number> = {};
      for (const id of ids) {
        const rec = readRecord(root, id)!;
        const key = `${rec.status}${rec.error ? `:${rec.error.code}${rec.rolled_back ? ':rolled-back' : ''}` : ''}`;
        if (process.env.WO_RACE_VERBOSE && rec.error) console.log(id, key, rec.error.message);
        outcomes[key] = (outcomes[key] ?? 0) + 1;
      }
      console.log(`seed ${seed}: ${JSON.stringify(outcomes)}`);
      expect(treeOf(sentinel)).toEqual(before);
    }, T(180_000, 1_200_000));
  }
});

describe('hostile: the issue 9 repro, deterministic (the WO\'s own command does the swap, then its test fails)', () => {
  it('exec paths [a/build]: a parent or the folder itself swapped for a link to outside; rollback never follows it', async () => {
    const root = tempRoot(CONFIG);
    const sentinel = tempDir('wo-sentinel-');
    layout(root, sentinel, 1);
    fs.writeFileSync(path.join(root, 'a', 'w-0.txt'), 'mine\n');
    const before = treeOf(sentinel);
    await pool.start(root);
    const inbox = path.join(root, 'bridge/inbox/CLC');
    const fail = ['tests:', '  - name: fails', '    command: "echo no"', '    expected: "yes"'];
    const wos: Record<string, string[]> = {
      // The parent of the snapshotted folder becomes a link: that entry is refused, nothing outside is removed.
      PARENT: ['type: exec', 'paths:', '  - a/build', 'commands:', `  - "mv a a.away && ln -s ${sentinel} a"`, ...fail],
      // The folder itself becomes a link: the link is removed (never followed) and the folder restored.
      SELF: ['type: exec', 'paths:', '  - a/build', 'commands:', `  - "mv a/build a/build.away && ln -s ${path.join(sentinel, 'build')} a/build"`, ...fail],
      // A written file's parent becomes a link after the write: the rollback is refused, the outside file is not touched.
      WRITE: ['type: apply_patch', 'files:', '  - path: a/w-0.txt', '    content: "new\\n"', 'commands:', `  - "mv a a.away2 && ln -s ${sentinel} a"`, ...fail],
    };
    for (const [id, lines] of Object.entries(wos)) {
      dropAtomic(inbox, `${id}.yaml`, [`wo_id: ${id}`, `title: ${id}`, ...lines].join('\n') + '\n');
      const rec = await waitFor(() => {
        const r = readRecord(root, id);
        return r && TERMINAL.has(r.status) ? r : undefined;
      }, { timeout: 60_000, what: `${id} terminal` });
      expect(rec.status).toBe('failed');
      expect(treeOf(sentinel)).toEqual(before);
      if (id === 'SELF') {
        expect(rec.rolled_back).toBe(true);
        expect(fs.lstatSync(path.join(root, 'a', 'build')).isDirectory()).toBe(true);
        expect(fs.readFileSync(path.join(root, 'a', 'build', 'keep.txt'), 'utf8')).toBe('root build\n');
        expect(fs.readFileSync(path.join(root, 'a', 'build', 'sub', 'mine.txt'), 'utf8')).toBe('root build sub\n');
      } else {
        expect(rec.rolled_back).toBe(false);
        expect(rec.error.code).toBe('TEST_FAILED');
      }
      // Put the folder back for the next case (the test's own repair, inside the root).
      if (fs.lstatSync(path.join(root, 'a')).isSymbolicLink()) {
        fs.unlinkSync(path.join(root, 'a'));
        fs.renameSync(path.join(root, id === 'WRITE' ? 'a.away2' : 'a.away'), path.join(root, 'a'));
      }
    }
    await waitSettled(root, { timeout: 60_000 });
  }, T(120_000, 300_000));
});
