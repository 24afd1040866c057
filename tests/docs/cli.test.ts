/** `wo config` and `wo schema` through the built CLI, as a user runs them. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { REPO, runCli, tempRoot } from '../helpers.js';

describe('wo config / wo schema', () => {
  it('wo config --defaults merges the root\'s file over the defaults (YAML and --json)', () => {
    const root = tempRoot('http:\n  enabled: false\nconcurrency: 5\npolicy:\n  autonomy: approve\n');
    const y = runCli(['config', '--defaults'], { root });
    expect(y.code, y.stderr).toBe(0);
    const fromYaml = YAML.parse(y.stdout);
    const j = runCli(['config', '--defaults', '--json'], { root });
    expect(j.code, j.stderr).toBe(0);
    const fromJson = JSON.parse(j.stdout);
    expect(fromJson).toEqual(fromYaml);
    expect(fromJson).toMatchObject({ concurrency: 5, attempts: 3, http: { enabled: false, port: 8765 }, policy: { autonomy: 'approve', allow_self_modify: false }, notify: { command: null } });
    // Only config keys: nothing loading adds (root, dryRun, …).
    expect(Object.keys(fromJson)).not.toContain('root');
    expect(Object.keys(fromJson)).not.toContain('dryRun');
  });

  it('wo config with no file prints the defaults; an invalid file is exit 2 naming the key', () => {
    const bare = tempRoot('');
    const ok = runCli(['config', '--json'], { root: bare });
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ concurrency: 2, http: { enabled: true } });
    const bad = runCli(['config'], { root: tempRoot('concurency: 3\n') });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('concurency');
  });

  it('wo config --reference prints docs/config.md', () => {
    const r = runCli(['config', '--reference'], { root: tempRoot() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(fs.readFileSync(path.join(REPO, 'docs/config.md'), 'utf8'));
  });

  it('wo schema wo|config prints the committed schemas; anything else is exit 2', () => {
    for (const which of ['wo', 'config']) {
      const r = runCli(['schema', which], { root: tempRoot('') });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(fs.readFileSync(path.join(REPO, 'schemas', `${which}.schema.json`), 'utf8'));
    }
    const bad = runCli(['schema', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/wo or config/);
    // A root with its own limits gets a WO schema stating them.
    const r = runCli(['schema', 'wo'], { root: tempRoot('limits:\n  files: 7\n  file_bytes: 1000\n') });
    expect(r.code, r.stderr).toBe(0);
    const wo = JSON.parse(r.stdout).$defs.work_order.properties;
    expect(wo.files).toMatchObject({ maxItems: 7, items: { properties: { content: { maxLength: 1000 } } } });
  });
});
