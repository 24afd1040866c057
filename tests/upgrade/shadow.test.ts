/** The upgrade's shadow run: archived WOs planned by two releases (made from this worktree), plans normalised and diffed. */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir, tempRoot } from '../helpers.js';
import { shadowCompare } from '../../src/upgrade/shadow.js';
import { normalisePlan, planDiff } from '../../src/upgrade/shadow-normalise.js';
import { archiveThrough, editDist, makeRelease, treeHash } from './fixtures.js';

const CONFIG = 'http:\n  enabled: false\npolicy:\n  autonomy: auto\n';
const wo = (id: string, body: string, type = 'apply_patch') => ({ id, text: `wo_id: ${id}\ntitle: shadow ${id}\ntype: ${type}\n${body}` });
const WOS = [
  wo('S01', 'files:\n  - path: n1.txt\n    content: "one\\n"\n    mode: "0644"\n'),
  wo('S02', 'files:\n  - path: n2.txt\n    content: "two\\n"\n'), // no mode: the file keeps its own (the candidate changes that)
  wo('S03', 'files:\n  - path: e1.txt\n    content: "e1 new\\n"\n'), // no mode, an existing file
  wo('S04', 'patches:\n  - path: e2.txt\n    diff: "--- a/e2.txt\\n+++ b/e2.txt\\n@@ -1 +1 @@\\n-e2\\n+e2 patched\\n"\n'),
  wo('S05', 'delete: [e3.txt]\n'),
  wo('S06', 'commands: ["echo hi"]\n', 'exec'),
  wo('S07', 'files:\n  - path: sub/n7.txt\n    content: "seven\\n"\n    mode: "0600"\npost_verify: ["true"]\n'),
  wo('S08', 'files:\n  - path: n8.sh\n    content: "#!/bin/sh\\necho 8\\n"\n    mode: "0755"\n'),
  wo('S09', 'files:\n  - path: n9.txt\n    content: "nine\\n"\n    mode: "0644"\ntests:\n  - name: present\n    command: "cat n9.txt"\n    expected: nine\n'),
  wo('S10', 'files:\n  - path: n10.txt\n    content: "ten\\n"\n    mode: "0644"\n    validate: "test -s %s"\n'),
];

let live: string;
beforeAll(async () => {
  live = tempRoot(CONFIG);
  for (const n of ['e1', 'e2', 'e3']) fs.writeFileSync(path.join(live, `${n}.txt`), `${n}\n`, { mode: 0o644 });
  await archiveThrough(live, WOS);
  // Things in bridge/archive/ that are not replayable: a foreign file, a link, a WO-like name with no record.
  const archive = path.join(live, 'bridge/archive');
  fs.writeFileSync(path.join(archive, 'notes.txt'), 'not a WO\n');
  fs.symlinkSync('/etc/hostname', path.join(archive, 'LINKED.1.yaml'));
  fs.writeFileSync(path.join(archive, 'GHOST.1.yaml'), WOS[0]!.text.replace('S01', 'GHOST'));
}, 180_000);

function request(oldBin: string, newBin: string) {
  return { liveRoot: live, oldBin, newBin, limit: 50, workDir: path.join(tempDir('wo-shadow-work-'), 'work'), timeoutMs: 60_000 };
}

describe('shadow run', () => {
  it('identical releases: every archived WO compared, no diff, the unreplayable ones skipped with why, the live root unchanged', async () => {
    const a = makeRelease();
    const b = makeRelease();
    const before = treeHash(live);
    const r = await shadowCompare(request(a.bin, b.bin));
    expect(treeHash(live)).toBe(before);
    expect(r.skipped.filter((s) => !/notes|LINKED|GHOST/.test(s.file))).toEqual([]);
    expect(r.compared).toBe(WOS.length);
    expect(r.diffs).toEqual([]);
    const why = Object.fromEntries(r.skipped.map((s) => [path.basename(s.file), s.why]));
    expect(why['notes.txt']).toMatch(/not an archived WO name/);
    expect(why['LINKED.1.yaml']).toMatch(/symbolic link/);
    expect(why['GHOST.1.yaml']).toMatch(/no valid state record/);
  }, 300_000);

  it('a candidate that changes a file mode: exactly the affected WOs, each with a readable diff', async () => {
    const a = makeRelease();
    // The candidate's behaviour change: a write without `mode` makes the file 0600 instead of keeping its mode.
    const b = makeRelease((dist) => editDist(dist, 'processors/files.js', 'mode: f.mode ?? before.mode ?? 0o644', 'mode: f.mode ?? 0o600'));
    const before = treeHash(live);
    const r = await shadowCompare(request(a.bin, b.bin));
    expect(treeHash(live)).toBe(before);
    expect(r.compared).toBe(WOS.length);
    expect(r.diffs.map((d) => d.wo_id).sort()).toEqual(['S02', 'S03']);
    const d = r.diffs.find((x) => x.wo_id === 'S03')!;
    expect(d.file).toBe(path.join('bridge', 'archive', 'S03.1.yaml'));
    expect(d.diff).toContain('--- old/bridge/archive/S03.1.yaml');
    expect(d.diff).toContain('+++ new/bridge/archive/S03.1.yaml');
    expect(d.diff).toMatch(/^-\s+verdict: no change$/m);
    expect(d.diff).toMatch(/^\+\s+verdict: will change$/m);
    expect(d.diff).toMatch(/^\+.*mode 0644 → 0600$/m);
    expect(d.diff).not.toContain('wo-shadow-work-'); // no temp paths in what a person reads
  }, 300_000);

  it('an active release without wo plan: every WO skipped with that reason, not a failure', async () => {
    const a = makeRelease((dist) => editDist(dist, 'cli/main.js', "  plan: { module: './commands/plan.js'", "  'no-plan-here': { module: './commands/plan.js'"));
    const b = makeRelease();
    const before = treeHash(live);
    const r = await shadowCompare(request(a.bin, b.bin));
    expect(treeHash(live)).toBe(before);
    expect(r.compared).toBe(0);
    expect(r.diffs).toEqual([]);
    const replayable = r.skipped.filter((s) => /S\d\d/.test(s.file));
    expect(replayable).toHaveLength(WOS.length);
    for (const s of replayable) expect(s.why).toMatch(/the active release cannot plan: it has no wo plan command/);
  }, 300_000);

  it('normalisation drops what differs between runs and keeps what a release decides', () => {
    const plan = (root: string, at: string, extra: Record<string, unknown> = {}) => ({
      wo_plan: 1, file: `${root}/../copy.yaml`, seen: 'new', wo_id: 'X', decision: 'hold', hold_reasons: ['b', 'a'], errors: [], warnings: [],
      steps: [{ step: 'deliver WO-20260101-101010-fix-it-1a2b to CLC', path: `${root}/x`, verdict: 'will change', diff: `at ${at}\n` }], ...extra,
    });
    const a = normalisePlan(plan('/tmp/v1', '2026-01-01T10:10:10.123Z'), { paths: [{ from: '/tmp/v1', to: '<root>' }] });
    const b = normalisePlan(plan('/tmp/v2', '2026-02-02T11:11:11Z', { hold_reasons: ['a', 'b'], new_field: 1 }), { paths: [{ from: '/tmp/v2', to: '<root>' }] });
    expect(planDiff('f', a, b)).toBeUndefined();
    const c = normalisePlan(plan('/tmp/v2', 'x', { decision: 'run' }), { paths: [{ from: '/tmp/v2', to: '<root>' }] });
    expect(planDiff('f', a, c)).toMatch(/^-decision: hold\n\+decision: run$/m);
  });
});
