/**
 * Hostile (issue 10's spare inodes, util/spare.ts): the daemon rewrites records into spare inodes kept in
 * g/followup/state/.spare/. Another process swaps every slot name, round after round while WOs stream, for what could make a rewrite land
 * somewhere else: a symbolic link to a file outside the root, a second name of a live record, a folder, a FIFO.
 * Nothing outside changes, the live record keeps its bytes, every WO of the stream succeeds with a valid
 * record, a WO naming a spare is refused as the daemon's internals, and a restart clears what it can.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readRecord, tempDir, tempRoot, waitFor } from '../helpers.js';
import { CONFIG, contentOf, daemonPool, dropAtomic, settledRecord, size, T, woText } from './common.js';

const pool = daemonPool();
afterEach(() => pool.cleanup());

const SLOTS = 64;

/**
 * The attacker, as a separate process. In rounds ~0.2 ms apart until killed, every slot name that holds a spare
 * (a regular file with one link: one the daemon may be writing into right now) is replaced by a second name of a
 * live record, a link to a file outside the root, a folder or a FIFO. With `fill`, once: every slot name gets one
 * of those. Prints a dot a round.
 */
const SWAPPER = `
const fs = require('node:fs'), path = require('node:path'), { execFileSync } = require('node:child_process');
const [dir, outside, live, slots, fill] = process.argv.slice(1);
const wait = new Int32Array(new SharedArrayBuffer(4));
let n = 0;
for (let round = 0; ; round++) {
  for (let k = 0; k < Number(slots); k++) {
    const p = path.join(dir, String(k));
    try {
      const st = fs.lstatSync(p, { throwIfNoEntry: false });
      if (!fill && !(st && st.isFile() && st.nlink === 1)) continue;
      fs.rmSync(p, { recursive: true, force: true });
      const how = n++ % 4;
      if (how === 0 || how === 2) fs.linkSync(live, p);
      else if (how === 1) fs.symlinkSync(outside, p);
      else if (fill) fs.mkdirSync(p);
      else execFileSync('mkfifo', [p]);
    } catch {}
  }
  process.stdout.write('.');
  if (fill) break;
  Atomics.wait(wait, 0, 0, 0.2);
}`;

describe('reliability: spare inodes under attack', () => {
  it('a swapped spare name never redirects a record rewrite', async () => {
    const root = tempRoot(CONFIG);
    const outside = path.join(tempDir('wo-spare-victim-'), 'victim.txt');
    fs.writeFileSync(outside, 'untouched\n');
    const d = await pool.start(root);
    const inbox = path.join(root, 'bridge/inbox/CLC');
    const spareDir = path.join(root, 'g/followup/state/.spare');
    await waitFor(() => fs.existsSync(spareDir), { what: '.spare/ made at start' });

    // A first stream fills the pool (every WO's second record write keeps the first as a spare).
    const first = Array.from({ length: 20 }, (_, i) => `SP-A-${i}`);
    for (const id of first) dropAtomic(inbox, `${id}.yaml`, woText(id, 'new'));
    for (const id of first) expect((await settledRecord(root, id)).status).toBe('succeeded');
    expect(fs.readdirSync(spareDir).length).toBeGreaterThan(0);

    const live = path.join(root, 'g/followup/state/SP-A-0.json');
    const liveBytes = fs.readFileSync(live, 'utf8');
    // Another process swaps every slot name, round after round, for the whole second stream.
    const swapper = spawn(process.execPath, ['-e', SWAPPER, spareDir, outside, live, String(SLOTS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let rounds = '';
    swapper.stdout!.on('data', (b) => (rounds += b));
    const swapperExit = new Promise((r) => swapper.on('exit', r));
    await waitFor(() => rounds.length > 0, { what: 'the swapper started' });
    const second = Array.from({ length: size(40, 400) }, (_, i) => `SP-B-${i}`);
    for (const id of second) dropAtomic(inbox, `${id}.yaml`, woText(id, 'new'));
    dropAtomic(inbox, 'SP-EVIL.json', JSON.stringify({ wo_id: 'SP-EVIL', title: 't', type: 'apply_patch', files: [{ path: 'g/followup/state/.spare/1', content: 'x' }] }));
    try {
      await waitFor(() => second.every((id) => ['succeeded', 'failed', 'rejected'].includes(readRecord(root, id)?.status)), { timeout: T(60_000, 300_000), what: 'the second stream settled' });
    } finally {
      swapper.kill('SIGKILL'); // by the pid this test started
      await swapperExit;
    }

    for (const id of second) {
      const rec = readRecord(root, id)!;
      expect(rec.status, `${id}: ${JSON.stringify(rec.error)}`).toBe('succeeded');
      expect(rec.wo_id).toBe(id);
      expect(fs.readFileSync(path.join(root, 'out', `${id}.txt`), 'utf8')).toBe(contentOf(id));
    }
    const evil = await settledRecord(root, 'SP-EVIL');
    expect(evil.status).toBe('rejected');
    expect(JSON.stringify(evil.error)).toMatch(/internals/);
    expect(fs.readFileSync(outside, 'utf8')).toBe('untouched\n');
    expect(fs.readFileSync(live, 'utf8')).toBe(liveBytes);

    // A restart clears every slot name it can (a folder stays, and is never written into).
    expect(await d.stop()).toBe(0);
    spawnSync(process.execPath, ['-e', SWAPPER, spareDir, outside, live, String(SLOTS), 'fill']);
    await pool.start(root);
    const left = fs.readdirSync(spareDir).filter((n) => !fs.lstatSync(path.join(spareDir, n)).isDirectory());
    expect(left).toEqual([]);
    dropAtomic(inbox, 'SP-C.yaml', woText('SP-C', 'new'));
    expect((await settledRecord(root, 'SP-C')).status).toBe('succeeded');
    expect(fs.readFileSync(outside, 'utf8')).toBe('untouched\n');
  }, T(120_000, 600_000));
});
