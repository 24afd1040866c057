import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { git, gitInit, runCli, tempDir } from '../helpers.js';

function json(args: string[], root: string) {
  const r = runCli(args, { root });
  let body: Record<string, any> = {};
  try {
    body = JSON.parse(r.stdout);
  } catch {
    /* asserted by the caller */
  }
  return { ...r, body };
}

function repo(): string {
  const root = tempDir('wo-hist-');
  gitInit(root);
  fs.writeFileSync(path.join(root, 'README'), 'x\n');
  git(root, 'add', '.');
  git(root, 'commit', '-qm', 'init');
  return root;
}

function commitFile(root: string, rel: string, text = 'hello\n', msg = `add ${rel}`): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
  git(root, 'add', '--', rel);
  git(root, 'commit', '-qm', msg);
}

const SHAPE_KEYS = new Set(['path', 'verdict', 'summary', 'last_seen', 'first_missing', 'cause', 'evidence']);

describe('check-history through the CLI, on real repositories', () => {
  it('a committed file removed by git reset --hard HEAD~1 is vanished, the reset named as the cause', () => {
    const root = repo();
    commitFile(root, 'agents/apply_patch_processor.zsh', '#!/bin/sh\necho hi\n', 'add processor');
    git(root, 'reset', '-q', '--hard', 'HEAD~1');
    const r = json(['check-history', 'agents/apply_patch_processor.zsh', '--json'], root);
    expect(r.code).toBe(1);
    expect(r.body.verdict).toBe('vanished');
    expect(r.body.cause).toMatch(/git reset --hard HEAD~1/);
    expect(r.body.cause).toMatch(/HEAD@\{0\}/);
    expect(r.body.last_seen.detail).toMatch(/add processor/);
    expect(r.body.first_missing.source).toBe('reflog');
    expect(Object.keys(r.body).every((k) => SHAPE_KEYS.has(k))).toBe(true);
    for (const e of r.body.evidence) expect(['git', 'reflog', 'wo', 'telemetry', 'rollback', 'mls', 'service', 'fs']).toContain(e.source);
    const ts = r.body.evidence.map((e: { ts: string }) => e.ts);
    expect([...ts].sort().reverse()).toEqual(ts);
  });

  it('a file deleted in a commit is vanished with that commit', () => {
    const root = repo();
    commitFile(root, 'tools/tracker.zsh');
    git(root, 'rm', '-q', 'tools/tracker.zsh');
    git(root, 'commit', '-qm', 'drop the tracker');
    const sha = git(root, 'rev-parse', '--short=7', 'HEAD').trim();
    const r = json(['check-history', 'tools/tracker.zsh', '--json'], root);
    expect(r.code).toBe(1);
    expect(r.body.verdict).toBe('vanished');
    expect(r.body.cause).toContain(`deleted in commit ${sha} "drop the tracker"`);
  });

  it('a path that was never there is never-existed (exit 1); a healthy file exits 0', () => {
    const root = repo();
    const never = json(['check-history', 'no/such/thing.sh', '--json'], root);
    expect(never.code).toBe(1);
    expect(never.body.verdict).toBe('never-existed');
    const ok = json(['check-history', 'README', '--json'], root);
    expect(ok.code).toBe(0);
    expect(ok.body.verdict).toBe('healthy');
    expect(ok.body.cause).toBeUndefined();
  });

  it('a #!/bin/sh script configured executable but mode 0644 is broken', () => {
    const root = repo();
    fs.writeFileSync(path.join(root, 'wo.config.yaml'), 'http:\n  enabled: false\nguardrail:\n  files:\n    - path: tools/guard.sh\n      executable: true\n');
    commitFile(root, 'tools/guard.sh', '#!/bin/sh\nexit 0\n');
    fs.chmodSync(path.join(root, 'tools/guard.sh'), 0o644);
    const r = json(['check-history', 'tools/guard.sh', '--json'], root);
    expect(r.code).toBe(1);
    expect(r.body.verdict).toBe('broken');
    expect(r.body.summary).toMatch(/not executable/);
    expect(r.body.summary).toMatch(/0644/);
  });

  it('invalid JSON is broken', () => {
    const root = repo();
    fs.writeFileSync(path.join(root, 'data.json'), '{"a":');
    const r = json(['check-history', 'data.json', '--json'], root);
    expect(r.body.verdict).toBe('broken');
    expect(r.body.summary).toMatch(/invalid JSON/);
  });

  it('a path outside the root is a usage error (exit 2), relative or absolute', () => {
    const root = repo();
    const outside = tempDir('wo-outside-');
    expect(runCli(['check-history', '../etc/passwd'], { root }).code).toBe(2);
    const abs = runCli(['check-history', path.join(outside, 'x')], { root });
    expect(abs.code).toBe(2);
    expect(abs.stderr).toMatch(/outside the root/);
    expect(runCli(['check-history', 'README', 'soon'], { root }).code).toBe(2);
  });

  it('an absolute path inside the root works', () => {
    const root = repo();
    const r = json(['check-history', path.join(root, 'README'), '--json'], root);
    expect(r.code).toBe(0);
    expect(r.body.path).toBe('README');
  });

  it('outside a git repository it works and says there is no git', () => {
    const root = tempDir('wo-nogit-');
    fs.writeFileSync(path.join(root, 'a.txt'), 'a\n');
    const r = json(['check-history', 'a.txt', '--json'], root);
    expect(r.code).toBe(0);
    expect(r.body.verdict).toBe('healthy');
    expect(r.body.summary).toMatch(/not a git repository/);
    expect(r.body.evidence.some((e: { source: string; detail: string }) => e.source === 'git' && /not a git repository/.test(e.detail))).toBe(true);
    const gone = json(['check-history', 'b.txt', '--json'], root);
    expect(gone.body.verdict).toBe('never-existed');
  });

  it('in a repository with no commits it works and says so', () => {
    const root = tempDir('wo-empty-');
    gitInit(root);
    fs.writeFileSync(path.join(root, 'a.txt'), 'a\n');
    const r = json(['check-history', 'a.txt', '--json'], root);
    expect(r.code).toBe(0);
    expect(r.body.summary).toMatch(/no commits/);
    const human = runCli(['check-history', 'b.txt'], { root });
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/^NEVER-EXISTED/);
  });

  it('a WO state record deleting the path makes the WO the cause', () => {
    const root = repo();
    commitFile(root, 'tmp/canary.txt');
    fs.rmSync(path.join(root, 'tmp/canary.txt'));
    const state = path.join(root, 'g/followup/state');
    fs.mkdirSync(state, { recursive: true });
    const at = new Date(Date.now() + 5_000).toISOString();
    fs.writeFileSync(path.join(state, 'WO-20251113-CLEANUP.json'), JSON.stringify({
      schema: 1, wo_id: 'WO-20251113-CLEANUP', title: 'clean tmp', lane: 'CLC', type: 'apply_patch', status: 'succeeded', rolled_back: false, dry_run: false,
      times: { received: at, started: at, finished: at },
      files: [{ path: 'tmp/canary.txt', action: 'delete', before_sha256: 'ab'.repeat(32), after_sha256: null, mode: null }],
    }));
    const r = json(['check-history', 'tmp/canary.txt', '--json'], root);
    expect(r.body.verdict).toBe('vanished');
    expect(r.body.cause).toMatch(/deleted by WO WO-20251113-CLEANUP/);
    expect(r.body.evidence.some((e: { source: string }) => e.source === 'wo')).toBe(true);
  });

  it('telemetry drift, rollback logs, MLS entries and the legacy places show up as evidence', () => {
    const root = repo();
    const rel = 'agents/wo_executor.zsh';
    commitFile(root, rel, '#!/bin/sh\n');
    fs.chmodSync(path.join(root, rel), 0o755);
    fs.rmSync(path.join(root, rel));
    const now = new Date().toISOString();
    fs.mkdirSync(path.join(root, 'g/telemetry'), { recursive: true });
    fs.writeFileSync(path.join(root, 'g/telemetry/unified.jsonl'), `${JSON.stringify({ ts: now, agent: 'guardrail', event: 'wo_pipeline_drift', ok: false, missing: rel })}\n{torn\n`);
    fs.mkdirSync(path.join(root, 'logs'), { recursive: true });
    fs.writeFileSync(path.join(root, 'logs/rollback_20251113.log'), `[${now}] rollback phase6: removed ${rel}\n[${now}] unrelated ${rel}.bak\n`);
    fs.writeFileSync(path.join(root, 'logs/guardrail_alerts.log'), `[${now}] ALERT: Missing or not executable: ${rel}\n`);
    fs.mkdirSync(path.join(root, 'mls/ledger'), { recursive: true });
    fs.writeFileSync(path.join(root, 'mls/ledger/2025-11.jsonl'), `${JSON.stringify({ ts: now, type: 'incident', title: 'executor vanished', body: '', tags: [], paths: [rel] })}\nnot json\n`);
    fs.mkdirSync(path.join(root, 'g/logs'), { recursive: true });
    fs.writeFileSync(path.join(root, 'g/logs/wo_executor.err'), `${now} zsh:1: no such file or directory: ${path.join(root, rel)}\n`);
    const r = json(['check-history', rel, '--json'], root);
    expect(r.body.verdict).toBe('vanished');
    const sources = new Set(r.body.evidence.map((e: { source: string }) => e.source));
    for (const s of ['fs', 'git', 'telemetry', 'rollback', 'mls', 'service']) expect(sources).toContain(s);
    const rb = r.body.evidence.filter((e: { source: string }) => e.source === 'rollback');
    expect(rb).toHaveLength(1);
    expect(r.body.cause).toMatch(/rollback/);
  });

  it('hours limits the evidence shown, never the verdict', () => {
    const root = repo();
    commitFile(root, 'old.txt');
    git(root, 'rm', '-q', 'old.txt');
    const old = '2001-01-01T00:00:00Z';
    spawnGit(root, old, ['commit', '-qm', 'remove old']);
    const wide = json(['check-history', 'old.txt', '1000000', '--json'], root);
    const narrow = json(['check-history', 'old.txt', '1', '--json'], root);
    expect(narrow.body.verdict).toBe('vanished');
    expect(narrow.body.cause).toBe(wide.body.cause);
    expect(narrow.body.evidence.length).toBeLessThan(wide.body.evidence.length);
    expect(narrow.body.evidence.some((e: { detail: string }) => /remove old/.test(e.detail))).toBe(false);
  });

  it('paths with spaces and unicode work, and the human output puts the verdict first', () => {
    const root = repo();
    const rel = 'dir é/sc ript ü.sh';
    commitFile(root, rel, '#!/bin/sh\n', 'add the unicode script');
    git(root, 'rm', '-q', '--', rel);
    git(root, 'commit', '-qm', 'remove it');
    const r = json(['check-history', rel, '--json'], root);
    expect(r.body.path).toBe(rel);
    expect(r.body.verdict).toBe('vanished');
    expect(r.body.cause).toMatch(/remove it/);
    expect(r.body.evidence.some((e: { detail: string }) => e.detail.includes('add the unicode script'))).toBe(true);
    const human = runCli(['history', rel], { root });
    expect(human.code).toBe(1);
    expect(human.stdout.split('\n')[0]).toMatch(/^VANISHED {2}dir é\/sc ript ü\.sh$/);
    expect(human.stdout).not.toMatch(/\x1b\[/);
  });
});

function spawnGit(root: string, date: string, args: string[]): void {
  const prev = { a: process.env.GIT_AUTHOR_DATE, c: process.env.GIT_COMMITTER_DATE };
  process.env.GIT_AUTHOR_DATE = date;
  process.env.GIT_COMMITTER_DATE = date;
  try {
    git(root, ...args);
  } finally {
    if (prev.a === undefined) delete process.env.GIT_AUTHOR_DATE; else process.env.GIT_AUTHOR_DATE = prev.a;
    if (prev.c === undefined) delete process.env.GIT_COMMITTER_DATE; else process.env.GIT_COMMITTER_DATE = prev.c;
  }
}
