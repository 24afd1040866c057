/**
 * `wo migrate` (issue 14) on an old pipeline built in a temp HOME: the real CLI as a child process. In place
 * (the old ~/02luka becomes the wo root): a dry run writes nothing (tree hash), a real run imports exactly the
 * expected lists, agents and state records (never over a wo record), keeps the config's comments and a backup,
 * and a second run changes nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readRecord, runCli, startDaemon } from '../helpers.js';
import { buildOldSetup, treeHash, woRecord } from './fixture.js';

const EXPECTED_FILES = [
  { path: 'tools/wo_pipeline_guardrail.zsh' }, // already there: kept as it was
  { path: 'agents/apply_patch_processor/apply_patch_processor.zsh' },
  { path: 'agents/json_wo_processor/json_wo_processor.zsh' },
  { path: 'agents/wo_executor/wo_executor.zsh', executable: true },
  { path: 'tools/followup_tracker_update.zsh' },
  { path: 'tools/single quoted.zsh' },
  { path: 'tools/unquoted.zsh' },
  { path: 'tools/home_var.zsh' },
  { path: 'tools/home_braces.zsh' },
  { path: 'tools/tilde.zsh' },
];
const EXPECTED_DIRS = ['bridge/inbox/CLC', 'g/followup/state', 'bridge/inbox/ENTRY', 'agents', 'g/reports'];

describe('wo migrate --from DIR (in place)', () => {
  it('dry run writes nothing; the real run imports exactly the expected set; twice is idempotent; the daemon starts on it', async () => {
    const s = buildOldSetup();
    const args = ['migrate', '--from', s.old, '--agents', s.launchAgents, '--home', s.home];
    const before = treeHash(s.home);

    const dry = runCli([...args, '--dry-run', '--json'], { root: s.old });
    expect(dry.code, dry.stderr).toBe(0);
    expect(treeHash(s.home)).toBe(before);
    const plan = JSON.parse(dry.stdout);
    expect(plan.dry_run).toBe(true);
    expect(plan.guardrail.services.sort()).toEqual(['com.02luka.apply_patch_processor', 'com.02luka.wo_executor', 'luka-tracker.service']);
    const human = runCli([...args, '--dry-run'], { root: s.old });
    expect(human.stdout).toContain('dry run: nothing written');
    expect(human.stdout).toContain('launchctl bootout gui/$(id -u)/com.02luka.apply_patch_processor');
    expect(human.stdout).toContain('systemctl --user disable --now luka-tracker.service');
    expect(treeHash(s.home)).toBe(before);
    expect(fs.existsSync('/tmp/wo-migrate-never-run')).toBe(false);

    const r = runCli([...args, '--json'], { root: s.old });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    // Lists: what is importable, and why the rest is not.
    const notImportable = out.lists.filter((l: { why?: string }) => l.why).map((l: { raw: string; why: string }) => [l.raw, l.why]);
    expect(notImportable).toEqual([
      ['"$BASE/tools/base_var.zsh"', expect.stringContaining('cannot be resolved ($BASE)')],
      ['/etc/passwd', expect.stringContaining('outside the root')],
      ['"$(touch /tmp/wo-migrate-never-run)"', expect.stringContaining('command substitution')],
    ]);
    const cfg = parse(fs.readFileSync(path.join(s.old, 'wo.config.yaml'), 'utf8'));
    const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : 1);
    expect(cfg.guardrail.files[0]).toEqual(EXPECTED_FILES[0]);
    expect([...cfg.guardrail.files].sort(byPath)).toEqual([...EXPECTED_FILES].sort(byPath));
    expect(cfg.guardrail.dirs.map((d: { path: string }) => d.path).sort()).toEqual([...EXPECTED_DIRS].sort());
    expect(cfg.guardrail.services.sort()).toEqual(['com.02luka.apply_patch_processor', 'com.02luka.wo_executor', 'luka-tracker.service']);
    expect(cfg.http.enabled).toBe(false);
    const text = fs.readFileSync(path.join(s.old, 'wo.config.yaml'), 'utf8');
    expect(text).toContain('# my wo config');
    expect(text).toContain('# no port in tests');
    expect(text).toContain('# kept');
    const backup = path.join(s.old, out.applied.backup);
    expect(fs.readFileSync(backup, 'utf8')).toContain('# my wo config');
    expect(runCli(['config', '--json'], { root: s.old }).code).toBe(0); // the merged config loads
    // Agents: adopted ones and the others with their reason.
    const agents = Object.fromEntries(out.agents.map((a: { label?: string; file: string; adopted: boolean }) => [a.label ?? a.file, a.adopted]));
    expect(agents).toMatchObject({ 'com.02luka.apply_patch_processor': true, 'com.02luka.wo_executor': true, 'com.apple.other': false, 'luka-tracker.service': true, 'unrelated.service': false });
    // State: two imported (status mapped), the collision left alone.
    expect(out.applied.imported.sort()).toEqual(['WO-OLD-1', 'WO-OLD-2']);
    expect(readRecord(s.old, 'WO-OLD-1')).toMatchObject({ wo_id: 'WO-OLD-1', title: 'old one', status: 'succeeded', imported: true });
    expect(readRecord(s.old, 'WO-OLD-2')).toMatchObject({ status: 'cancelled', imported: true });
    expect(readRecord(s.old, 'WO-OLD-2')!.warnings[0]).toContain("was 'pending' in the old pipeline");
    expect(readRecord(s.old, 'WO-EXIST')).toEqual(woRecord('WO-EXIST', 'a wo record'));
    expect(out.state.find((x: { file: string }) => x.file.endsWith('old-exist.json')).why).toContain('never overwritten');
    // The old files that sat at the records' paths are kept beside the report.
    expect(out.applied.moved_aside).toHaveLength(2);
    for (const m of out.applied.moved_aside) expect(fs.existsSync(path.join(s.old, m))).toBe(true);
    expect(fs.existsSync(out.applied.report.md)).toBe(true);
    expect(path.dirname(out.applied.report.json)).toBe(path.join(s.old, 'g/reports/wo'));
    expect(fs.readFileSync(out.applied.report.md, 'utf8')).toContain('com.02luka.wo_executor: adopted');
    // The CLI shows the imported records.
    expect(runCli(['show', 'WO-OLD-1', '--json'], { root: s.old }).stdout).toContain('"imported": true');

    // Twice: nothing changes but a new report.
    const after = treeHash(s.home, (rel) => rel.startsWith('02luka/g/reports/wo'));
    const again = runCli([...args, '--json'], { root: s.old });
    expect(again.code, again.stderr).toBe(0);
    const second = JSON.parse(again.stdout);
    expect(second.applied.imported).toEqual([]);
    expect(second.applied.config_changed).toBe(false);
    expect(second.state.filter((x: { action: string }) => x.action === 'import')).toEqual([]);
    expect(treeHash(s.home, (rel) => rel.startsWith('02luka/g/reports/wo'))).toBe(after);

    // The daemon starts on the migrated root, with the merged config and the imported records.
    const d = await startDaemon(s.old, { env: { HOME: s.home } });
    try {
      const st = runCli(['status', '--json'], { root: s.old });
      expect(st.code, st.stderr).toBe(0);
      expect(readRecord(s.old, 'WO-OLD-1')).toMatchObject({ status: 'succeeded', imported: true });
    } finally {
      await d.stop();
    }
  }, 60_000);

  it('into another root: entries outside it are listed as not importable, agents still adopted', () => {
    const s = buildOldSetup();
    const root = path.join(s.home, 'newroot');
    fs.mkdirSync(root);
    fs.writeFileSync(path.join(root, 'wo.config.yaml'), 'http:\n  enabled: false\n');
    const r = runCli(['migrate', '--from', s.old, '--agents', s.launchAgents, '--home', s.home, '--json'], { root });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.lists.every((l: { why?: string }) => l.why)).toBe(true);
    expect(out.guardrail.files).toEqual([]);
    expect(out.guardrail.services).toHaveLength(3);
    expect(out.applied.imported.sort()).toEqual(['WO-EXIST', 'WO-OLD-1', 'WO-OLD-2']);
    // WO-EXIST.json there is a wo record (skipped); old-exist.json gives the id WO-EXIST.
    expect(readRecord(root, 'WO-EXIST')).toMatchObject({ imported: true, status: 'failed', source_name: 'old-exist.json' });
    expect(parse(fs.readFileSync(path.join(root, 'wo.config.yaml'), 'utf8')).guardrail.services).toHaveLength(3);
  });

  it('refuses a --from that is not a folder, and writing while a daemon runs (exit 2); a dry run still works', async () => {
    const s = buildOldSetup();
    expect(runCli(['migrate', '--from', '/nonexistent-wo-migrate'], { root: s.old }).code).toBe(2);
    const d = await startDaemon(s.old, { env: { HOME: s.home } });
    try {
      const r = runCli(['migrate', '--from', s.old], { root: s.old });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/a daemon is running/);
      expect(readRecord(s.old, 'WO-OLD-1')?.imported).toBeUndefined(); // still the old file
      expect(runCli(['migrate', '--from', s.old, '--dry-run'], { root: s.old }).code).toBe(0);
    } finally {
      await d.stop();
    }
  }, 60_000);
});
