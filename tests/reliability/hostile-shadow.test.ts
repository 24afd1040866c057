/**
 * Hostile archived WOs in the shadow run: WOs that try to make the plan step run something (commands, validate,
 * post_verify, tests) or write through a link, a hard link, a FIFO or an absolute path out of the root. The shadow run
 * only plans: no marker appears, the live root and the folder outside it hash the same, and every WO is compared.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO, runCli, tempDir, tempRoot } from '../helpers.js';
import { size } from './common.js';
import { shadowCompare } from '../../src/upgrade/shadow.js';
import { archiveThrough, treeHash } from '../upgrade/fixtures.js';
import { buildView } from '../../src/upgrade/shadow-view.js';
import { loadConfig } from '../../src/config/load.js';
import { parseWo } from '../../src/wo/parse.js';

const COPIES = size(1, 5);
const BIN = path.join(REPO, 'bin', 'wo');

/** The hostile bodies (after wo_id/title/type), each naming the outside folder and a marker a run would leave there. */
function hostile(outside: string, n: string): { type: string; body: string }[] {
  const m = (what: string) => path.join(outside, `ran-${what}-${n}`);
  return [
    { type: 'exec', body: `commands: ["touch ${m('cmd')}", "sh -c 'echo pwned > ${m('sh')}'"]\npost_verify: ["touch ${m('verify')}"]\n` },
    { type: 'apply_patch', body: `files:\n  - path: v-${n}.txt\n    content: "x\\n"\n    validate: "cp %s ${m('validate')}"\ntests:\n  - name: t\n    command: "touch ${m('test')}"\n    expected: ""\n` },
    { type: 'apply_patch', body: `files:\n  - path: link/evil-${n}.txt\n    content: "through the link\\n"\n` },
    { type: 'apply_patch', body: `patches:\n  - path: link/victim.txt\n    diff: "--- a/victim.txt\\n+++ b/victim.txt\\n@@ -1 +1 @@\\n-victim\\n+patched\\n"\n` },
    { type: 'apply_patch', body: `delete: [link, "link/victim.txt"]\n` },
    { type: 'apply_patch', body: `files:\n  - path: ${path.join(outside, `abs-${n}.txt`)}\n    content: "absolute\\n"\n` },
    { type: 'apply_patch', body: `files:\n  - path: ../escape-${n}.txt\n    content: "up\\n"\n` },
    { type: 'apply_patch', body: `files:\n  - path: hard.txt\n    content: "through the hard link\\n"\n` },
    { type: 'apply_patch', body: `files:\n  - path: fifo\n    content: "into the fifo\\n"\n` },
  ];
}

let live: string;
let outside: string;
let ids: string[];

beforeAll(async () => {
  live = tempRoot('http:\n  enabled: false\npolicy:\n  autonomy: auto\n');
  outside = tempDir('wo-hostile-outside-');
  fs.writeFileSync(path.join(outside, 'victim.txt'), 'victim\n');
  const wos: { id: string; text: string; hostile: string }[] = [];
  for (let c = 0; c < COPIES; c++) {
    hostile(outside, String(c)).forEach((h, i) => {
      const id = `H${c}-${i}`;
      // The daemon runs a benign WO under this id (a real record and archive name); its archived bytes are then replaced.
      wos.push({ id, text: `wo_id: ${id}\ntitle: benign ${id}\ntype: apply_patch\nfiles:\n  - path: b-${id}.txt\n    content: "b\\n"\n`, hostile: `wo_id: ${id}\ntitle: hostile ${id}\ntype: ${h.type}\n${h.body}` });
    });
  }
  await archiveThrough(live, wos);
  for (const w of wos) fs.writeFileSync(path.join(live, 'bridge/archive', `${w.id}.1.yaml`), w.hostile);
  fs.symlinkSync(outside, path.join(live, 'link'));
  fs.writeFileSync(path.join(outside, 'hard-target.txt'), 'hard\n');
  fs.linkSync(path.join(outside, 'hard-target.txt'), path.join(live, 'hard.txt'));
  expect(spawnSync('mkfifo', [path.join(live, 'fifo')]).status).toBe(0);
  ids = wos.map((w) => w.id);
}, 300_000);

describe('hostile archived WOs in the shadow run', () => {
  it('are only planned: nothing runs, nothing outside the work folder changes, every WO is compared', async () => {
    const work = path.join(tempDir('wo-hostile-work-'), 'work');
    const liveBefore = treeHash(live);
    const outsideBefore = treeHash(outside);
    const r = await shadowCompare({ liveRoot: live, oldBin: BIN, newBin: BIN, limit: ids.length + 5, workDir: work, timeoutMs: 120_000 });
    expect(r.skipped).toEqual([]);
    expect(r.compared).toBe(ids.length);
    expect(r.diffs).toEqual([]);
    expect(treeHash(live)).toBe(liveBefore);
    expect(treeHash(outside)).toBe(outsideBefore);
    expect(fs.readdirSync(outside).filter((n) => n.startsWith('ran-') || n.startsWith('abs-'))).toEqual([]);
    expect(fs.existsSync(path.join(path.dirname(live), `escape-0.txt`))).toBe(false);
  }, 600_000);

  it('wo plan on the live root itself with the same WOs runs nothing and writes nothing', () => {
    const liveBefore = treeHash(live);
    const outsideBefore = treeHash(outside);
    const codes = new Set<number>();
    for (const id of ids.slice(0, 9)) {
      const r = runCli(['plan', path.join(live, 'bridge/archive', `${id}.1.yaml`), '--json'], { root: live, timeoutMs: 120_000 });
      codes.add(r.code);
      expect(JSON.parse(r.stdout).wo_id).toBe(id);
    }
    expect([...codes].every((c) => c === 0 || c === 2)).toBe(true);
    const plan = (id: string) => JSON.parse(runCli(['plan', path.join(live, 'bridge/archive', `${id}.1.yaml`), '--json'], { root: live, timeoutMs: 120_000 }).stdout);
    expect(plan('H0-2').errors[0].message).toMatch(/symbolic link/);
    expect(plan('H0-7').errors[0].message).toMatch(/hard-linked/);
    expect(plan('H0-8').plan_error.message).toMatch(/not a regular file/);
    expect(treeHash(live)).toBe(liveBefore);
    expect(treeHash(outside)).toBe(outsideBefore);
    expect(fs.readdirSync(outside).filter((n) => n.startsWith('ran-'))).toEqual([]);
  }, 600_000);

  it('the copy-on-read view keeps a link a link and a hard-linked file hard-linked, so the plan refuses them as live', async () => {
    const cfg = await loadConfig(live);
    let view = '';
    for (const id of ['H0-7', 'H0-2', 'H0-4']) {
      const file = path.join(live, 'bridge/archive', `${id}.1.yaml`);
      const parsed = parseWo(fs.readFileSync(file), `${id}.1.yaml`, { ...cfg.limits, lenient: true });
      if (!parsed.ok) throw new Error(`${id} does not parse`);
      view = path.join(tempDir('wo-hostile-view-'), 'view');
      await buildView(live, view, cfg, parsed.wo);
      const inView = JSON.parse(runCli(['plan', file, '--json'], { root: view }).stdout);
      const inLive = JSON.parse(runCli(['plan', file, '--json'], { root: live }).stdout);
      expect(inView.errors.map((e: { path: string }) => e.path)).toEqual(inLive.errors.map((e: { path: string }) => e.path));
      expect(inView.errors.length).toBeGreaterThan(0);
    }
    expect(fs.lstatSync(path.join(view, 'link')).isSymbolicLink()).toBe(true);
    expect(fs.readlinkSync(path.join(view, 'link'))).not.toBe(outside); // a link that leads nowhere
  }, 600_000);
});
