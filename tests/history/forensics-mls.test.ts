import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { git, gitInit, runCli, tempDir } from '../helpers.js';
import { parseWhen } from '../../src/history/when.js';

describe('wo forensics', () => {
  it('writes g/reports/wo/forensic_<ts>.json with the reset in it and names it as the likely cause', () => {
    const root = tempDir('wo-forensic-');
    gitInit(root);
    fs.writeFileSync(path.join(root, 'README'), 'x\n');
    git(root, 'add', '.');
    git(root, 'commit', '-qm', 'init');
    fs.mkdirSync(path.join(root, 'agents'));
    fs.writeFileSync(path.join(root, 'agents/apply_patch_processor.zsh'), '#!/bin/zsh\n');
    git(root, 'add', '.');
    git(root, 'commit', '-qm', 'add processor');
    git(root, 'reset', '-q', '--hard', 'HEAD~1');
    fs.mkdirSync(path.join(root, 'g/logs'), { recursive: true });
    fs.writeFileSync(path.join(root, 'g/logs/apply_patch.err'), `${new Date().toISOString()} exit 127: command not found\n`);

    const r = runCli(['forensics', '--since', '2h', '--until', 'now', 'agents/apply_patch_processor.zsh'], { root });
    expect(r.code).toBe(0);
    const file = r.stdout.split('\n')[0]!;
    expect(path.dirname(file)).toBe(path.join(root, 'g/reports/wo'));
    expect(path.basename(file)).toMatch(/^forensic_\d{8}T\d{6}Z(-\d+)?\.json$/);
    const report = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(report.findings.reflog_events.some((e: { detail: string }) => /reset: moving to HEAD~1/.test(e.detail))).toBe(true);
    expect(report.findings.git_events.some((e: { detail: string }) => /add processor/.test(e.detail))).toBe(true);
    expect(report.findings.service_failures).toHaveLength(1);
    expect(report.verdicts[0]).toMatchObject({ path: 'agents/apply_patch_processor.zsh', verdict: 'vanished' });
    expect(report.likely_cause).toMatch(/git reset --hard HEAD~1/);
    expect(fs.readdirSync(path.join(root, 'g/reports/wo')).filter((n) => n.endsWith('.tmp'))).toEqual([]);

    const j = runCli(['forensics', '--since', '1d', '--json'], { root });
    expect(j.code).toBe(0);
    const body = JSON.parse(j.stdout);
    expect(fs.existsSync(body.report_file)).toBe(true);
    expect(body.report_file).not.toBe(file);
    expect(body.likely_cause).toMatch(/reset/);
  });

  it('works outside git, and refuses bad times and paths outside the root', () => {
    const root = tempDir('wo-forensic-nogit-');
    const r = runCli(['forensics', '--since', '3d', '--json'], { root });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).notes.join(' ')).toMatch(/not a git repository/);
    expect(runCli(['forensics', '--since', 'yesterday-ish'], { root }).code).toBe(2);
    expect(runCli(['forensics', '--since', '1h', '--until', '2h'], { root }).code).toBe(2);
    expect(runCli(['forensics', '--since', '1h', '/etc/passwd'], { root }).code).toBe(2);
  });

  it('parses ISO and relative times', () => {
    const now = new Date('2025-11-13T23:00:00Z');
    expect(parseWhen('2h', now).toISOString()).toBe('2025-11-13T21:00:00.000Z');
    expect(parseWhen('3d', now).toISOString()).toBe('2025-11-10T23:00:00.000Z');
    expect(parseWhen('2025-11-13T01:50:00Z', now).toISOString()).toBe('2025-11-13T01:50:00.000Z');
    expect(parseWhen('2025-11-13 01:50', now).getTime()).toBe(new Date(2025, 10, 13, 1, 50).getTime());
    expect(parseWhen('now', now).getTime()).toBe(now.getTime());
    expect(() => parseWhen('2025-13-45', now)).toThrow(/not a time/);
  });
});

describe('wo mls', () => {
  it('add then list round-trips; a corrupt ledger line is a warning, not a crash', () => {
    const root = tempDir('wo-mls-');
    const add = runCli(['mls', 'add', '--type', 'pattern', '--title', 'reset --hard wipes uncommitted WOs', '--body', 'commit first', '--tags', 'git,forensics', '--paths', `agents/x.zsh,${root}/g/followup/state`, '--json'], { root });
    expect(add.code).toBe(0);
    const entry = JSON.parse(add.stdout);
    expect(entry).toMatchObject({ type: 'pattern', tags: ['git', 'forensics'], paths: ['agents/x.zsh', 'g/followup/state'] });
    expect(runCli(['mls', 'add', '--type', 'incident', '--title', 'executor vanished'], { root }).code).toBe(0);
    const ledger = path.join(root, 'g/mls/ledger');
    const [file] = fs.readdirSync(ledger);
    fs.appendFileSync(path.join(ledger, file!), '{not json\n');

    const list = runCli(['mls', 'list', '--json'], { root });
    expect(list.code).toBe(0);
    const body = JSON.parse(list.stdout);
    expect(body.entries.map((e: { title: string }) => e.title)).toEqual(['executor vanished', 'reset --hard wipes uncommitted WOs']);
    expect(body.warnings).toHaveLength(1);
    expect(list.stderr).toMatch(/warning: skipped unreadable line 3/);

    const only = JSON.parse(runCli(['mls', 'list', '--type', 'pattern', '--json', '--limit', '5'], { root }).stdout);
    expect(only.entries).toHaveLength(1);
    const human = runCli(['mls', 'list', '--limit', '1'], { root });
    expect(human.stdout).toMatch(/incident\s+executor vanished/);
    expect(human.stdout).not.toMatch(/reset --hard/);
  });

  it('refuses an unknown type with a suggestion, an empty title and a bad limit', () => {
    const root = tempDir('wo-mls-bad-');
    const r = runCli(['mls', 'add', '--type', 'lessn', '--title', 'x'], { root });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/did you mean 'lesson'/);
    expect(runCli(['mls', 'add', '--type', 'lesson', '--title', ' '], { root }).code).toBe(2);
    expect(runCli(['mls', 'list', '--limit', '0'], { root }).code).toBe(2);
    expect(runCli(['mls', 'add', '--title', 'x'], { root }).code).toBe(2);
  });
});
