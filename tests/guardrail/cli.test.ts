import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { git, gitInit, runCli, tempDir, tempRoot } from '../helpers.js';
import { pipelineDirs, SCRIPT } from './setup.js';

/** A git repo root with the pipeline folders (kept by .gitkeep, as the repo ships them) and protected scripts. */
function repoRoot(): string {
  const root = tempRoot(
    'http:\n  enabled: false\nguardrail:\n  files:\n    - path: bin/tool.sh\n      executable: true\n    - path: bin/plain.sh\n      executable: true\n    - path: conf/settings.json\n      json: true\n',
  );
  gitInit(root);
  pipelineDirs(root);
  for (const d of ['bridge/inbox/ENTRY', 'bridge/inbox/CLC', 'g/followup/state', 'g/telemetry']) fs.writeFileSync(path.join(root, d, '.gitkeep'), '');
  fs.mkdirSync(path.join(root, 'bin'));
  fs.mkdirSync(path.join(root, 'conf'));
  fs.writeFileSync(path.join(root, 'bin/tool.sh'), SCRIPT, { mode: 0o755 });
  fs.writeFileSync(path.join(root, 'bin/plain.sh'), SCRIPT, { mode: 0o755 });
  fs.writeFileSync(path.join(root, 'conf/settings.json'), '{"a": 1}\n');
  git(root, 'add', '-A');
  git(root, 'commit', '-q', '-m', 'pipeline');
  return root;
}

describe('wo guardrail (built CLI)', () => {
  beforeAll(() => {
    if (!fs.existsSync(path.resolve('dist/cli/commands/guardrail.js'))) throw new Error('build first: npx tsc -p .');
  });

  it('check exits 1 when a protected executable is deleted, 0 after git checkout', () => {
    const root = repoRoot();
    expect(runCli(['guardrail', 'check'], { root })).toMatchObject({ code: 0 });
    fs.unlinkSync(path.join(root, 'bin/tool.sh'));
    const bad = runCli(['guardrail', 'check'], { root });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/DRIFT bin\/tool\.sh: missing/);
    expect(bad.stderr).toMatch(/drift in 1 protected path/);
    const health = JSON.parse(fs.readFileSync(path.join(root, 'g/guardrail/health.json'), 'utf8'));
    expect(health).toMatchObject({ healthy: false, drift: [{ kind: 'missing', path: 'bin/tool.sh' }] });
    git(root, 'checkout', '--', 'bin/tool.sh');
    const ok = runCli(['guardrail', 'check'], { root });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/ok\s+bin\/tool\.sh/);
    expect(runCli(['guardrail'], { root }).code).toBe(0); // no subcommand = check
  });

  it('a non-executable script with executable: true reads broken, with the why; --json too', () => {
    const root = repoRoot();
    fs.chmodSync(path.join(root, 'bin/plain.sh'), 0o644);
    fs.writeFileSync(path.join(root, 'conf/settings.json'), '{"a": ');
    const r = runCli(['guardrail', 'check'], { root });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('DRIFT bin/plain.sh: broken — not executable (mode 0644)');
    expect(r.stdout).toMatch(/DRIFT conf\/settings\.json: broken — not valid JSON/);
    const j = runCli(['guardrail', 'check', '--json'], { root });
    expect(j.code).toBe(1);
    const out = JSON.parse(j.stdout);
    expect(out.healthy).toBe(false);
    expect(out.drift).toContainEqual({ kind: 'broken', path: 'bin/plain.sh', code: 'not_executable', why: 'not executable (mode 0644)' });
    expect(out.paths.find((p: { path: string }) => p.path === 'bin/tool.sh')).toMatchObject({ ok: true });
  });

  it('protect vaults a file and lists it; a later edit is drift; bad paths are usage errors', () => {
    const root = repoRoot();
    fs.writeFileSync(path.join(root, 'run me.sh'), 'echo 1\n', { mode: 0o700 });
    const p = runCli(['guardrail', 'protect', 'run me.sh'], { root });
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/protected: run me\.sh \(file, sha256 [0-9a-f]{12}…, mode 0700; content vaulted at g\/guardrail\/vault\/[0-9a-f]{64}\)/);
    const prot = JSON.parse(fs.readFileSync(path.join(root, 'g/guardrail/protected.json'), 'utf8'));
    expect(prot.paths).toContainEqual(expect.objectContaining({ path: 'run me.sh', kind: 'file' }));
    expect(runCli(['guardrail', 'check'], { root }).code).toBe(0);
    fs.writeFileSync(path.join(root, 'run me.sh'), 'echo 2\n');
    const c = runCli(['guardrail', 'check'], { root });
    expect(c.code).toBe(1);
    expect(c.stdout).toMatch(/run me\.sh: broken — content changed/);

    const outside = tempDir('wo-outside-');
    fs.writeFileSync(path.join(outside, 'x.sh'), 'x');
    fs.symlinkSync(path.join(outside, 'x.sh'), path.join(root, 'link.sh'));
    const cases: [string, RegExp][] = [
      ['link.sh', /is a symlink/],
      [path.join(outside, 'x.sh'), /is outside the root/],
      ['../x.sh', /is outside the root/],
      ['nope.sh', /does not exist/],
    ];
    for (const [arg, msg] of cases) {
      const r = runCli(['guardrail', 'protect', arg], { root });
      expect(r.code, arg).toBe(2);
      expect(r.stderr, arg).toMatch(msg);
    }
    expect(runCli(['guardrail', 'check', '--bogus'], { root }).code).toBe(2);
    expect(runCli(['guardrail', 'check', '--help'], { root })).toMatchObject({ code: 0, stdout: expect.stringContaining('--root') });
    expect(runCli(['guardrail', 'protect', '--help'], { root })).toMatchObject({ code: 0, stdout: expect.stringContaining('--root') });
  });
});
