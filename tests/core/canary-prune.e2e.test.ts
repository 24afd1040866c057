import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { runCli, runCliAsync, startDaemon, tempRoot, type DaemonHandle } from '../helpers.js';

let daemon: DaemonHandle | undefined;
afterEach(async () => {
  await daemon?.stop('SIGKILL');
  daemon = undefined;
});

describe('wo canary and wo prune', () => {
  it('canary fails fast without a daemon, passes with one, and writes its report', async () => {
    const root = tempRoot();
    const none = runCli(['canary', '--timeout', '5'], { root });
    expect(none.code).toBe(3); // exit 3: no daemon running
    expect(none.stderr).toMatch(/no daemon is running/);
    daemon = await startDaemon(root);
    const r = await runCliAsync(['canary', '--json'], { root });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(true);
    expect(report.checks.map((c: { name: string }) => c.name)).toEqual(['daemon', 'outcome', 'file', 'tests', 'telemetry']);
    expect(fs.existsSync(report.report_file)).toBe(true);
    expect(path.dirname(report.report_file)).toBe(path.join(root, 'g/reports/wo')); // g/reports/ itself is the user's
    expect(fs.readFileSync(path.join(root, 'tmp/canary_test.txt'), 'utf8')).toMatch(/^canary [0-9a-f]{12}\n$/);
  });

  it('canary fails (exit 1) and says why when policy holds it', async () => {
    const root = tempRoot('http:\n  enabled: false\npolicy:\n  autonomy: approve\n');
    daemon = await startDaemon(root);
    const r = await runCliAsync(['canary', '--timeout', '10'], { root });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL outcome\s+awaiting_approval: policy.autonomy is approve/);
  });

  it('prune removes only what is older than the age, and keeps state records', async () => {
    const root = tempRoot();
    const old = path.join(root, 'bridge/archive/WO-OLD.1.yaml');
    const fresh = path.join(root, 'bridge/archive/WO-NEW.1.yaml');
    fs.mkdirSync(path.dirname(old), { recursive: true });
    fs.writeFileSync(old, 'x');
    fs.writeFileSync(fresh, 'y');
    const past = new Date(Date.now() - 40 * 86_400_000);
    fs.utimesSync(old, past, past);
    fs.mkdirSync(path.join(root, 'g/followup/state'), { recursive: true });
    fs.writeFileSync(path.join(root, 'g/followup/state/WO-OLD.json'), '{}');
    // An old user report in g/reports/ stays; an old wo report in g/reports/wo/ goes.
    const userReport = path.join(root, 'g/reports/deploy_old.json');
    const woReport = path.join(root, 'g/reports/wo/canary-old.json');
    fs.mkdirSync(path.dirname(woReport), { recursive: true });
    fs.writeFileSync(userReport, '{}');
    fs.writeFileSync(woReport, '{}');
    fs.utimesSync(userReport, past, past);
    fs.utimesSync(woReport, past, past);
    expect(runCli(['prune', '--older-than', 'soon'], { root }).code).toBe(2);
    const dry = runCli(['prune', '--older-than', '30d', '--dry-run'], { root });
    expect(dry.stdout).toContain('would remove bridge/archive/WO-OLD.1.yaml');
    expect(fs.existsSync(old)).toBe(true);
    const r = runCli(['prune', '--older-than', '30d', '--json'], { root });
    expect(JSON.parse(r.stdout).removed).toEqual(['bridge/archive/WO-OLD.1.yaml', 'g/reports/wo/canary-old.json']);
    expect(fs.existsSync(userReport)).toBe(true);
    expect(fs.existsSync(old)).toBe(false);
    expect(fs.existsSync(fresh)).toBe(true);
    expect(fs.existsSync(path.join(root, 'g/followup/state/WO-OLD.json'))).toBe(true);
  });
});
