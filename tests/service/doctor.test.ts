import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkNode, checkLock } from '../../src/service/doctor.js';
import { runCli, tempDir, tempRoot } from '../helpers.js';

interface Out {
  ok: boolean;
  checks: { name: string; level: string; detail: string; fix?: string }[];
}
const doctor = (root: string, home = tempDir('wo-home-')) => {
  const r = runCli(['doctor', '--json'], { root, env: { HOME: home } });
  return { ...r, out: JSON.parse(r.stdout) as Out };
};

/** Lay out the runtime folders the way the daemon does (0700). */
function makeFolders(root: string): void {
  for (const d of ['bridge/inbox/ENTRY', 'bridge/inbox/CLC', 'bridge/processing', 'bridge/hold', 'bridge/archive', 'bridge/rejected', 'g/followup/state', 'g/followup/intents', 'g/telemetry', 'g/backups', 'g/guardrail/vault', 'g/logs', 'g/mls/ledger', 'g/reports/wo', 'g/run']) {
    fs.mkdirSync(path.join(root, d), { recursive: true, mode: 0o700 });
  }
  for (const d of ['bridge', 'g', 'g/followup', 'g/guardrail', 'g/mls']) fs.chmodSync(path.join(root, d), 0o700);
}

describe('wo doctor', () => {
  it('passes on a fresh root, listing missing folders as a warning', () => {
    const root = tempRoot();
    const r = doctor(root);
    expect(r.code).toBe(0);
    expect(r.out.ok).toBe(true);
    const folders = r.out.checks.find((c) => c.name === 'folders')!;
    expect(folders.level).toBe('warn');
    expect(folders.detail).toMatch(/missing \(the daemon creates them at start\): .*bridge\/inbox\/CLC/);
    expect(r.out.checks.map((c) => c.name)).toEqual(['node', 'root', 'config', 'folders', 'disk', 'git', 'containment', 'lock', 'service', 'http']);
    expect(r.out.checks.find((c) => c.name === 'lock')!.detail).toMatch(/no daemon running/);
  });

  it('warns when policy.allow_self_modify is on, and says how to turn it off', () => {
    const root = tempRoot('http:\n  enabled: false\npolicy:\n  allow_self_modify: true\n');
    const r = doctor(root);
    expect(r.code).toBe(0);
    const config = r.out.checks.find((c) => c.name === 'config')!;
    expect(config).toMatchObject({ level: 'warn' });
    expect(config.detail).toMatch(/allow_self_modify is true/);
    expect(doctor(tempRoot()).out.checks.find((c) => c.name === 'config')).toMatchObject({ level: 'ok' });
  });

  it('passes with every folder present and private; text output has one line per check', () => {
    const root = tempRoot();
    makeFolders(root);
    const r = doctor(root);
    expect(r.out.checks.find((c) => c.name === 'folders')).toMatchObject({ level: 'ok' });
    const text = runCli(['doctor'], { root, env: { HOME: tempDir('wo-home-') } });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^ok {4}node /m);
    expect(text.stdout).toMatch(/ready: 0 failed/);
  });

  it('fails naming the folder when an inbox lane is world-writable, with the chmod fix', () => {
    const root = tempRoot();
    makeFolders(root);
    const lane = path.join(root, 'bridge/inbox/CLC');
    fs.chmodSync(lane, 0o777);
    const r = doctor(root);
    expect(r.code).toBe(1);
    expect(r.out.ok).toBe(false);
    const fail = r.out.checks.find((c) => c.level === 'fail')!;
    expect(fail.detail).toMatch(/inbox lane bridge\/inbox\/CLC is group\/other-writable \(mode 0777\)/);
    expect(fail.fix).toBe(`chmod go-w ${lane}`);
    const text = runCli(['doctor'], { root, env: { HOME: tempDir('wo-home-') } });
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^FAIL {2}folders +inbox lane bridge\/inbox\/CLC/m);
    expect(text.stdout).toContain(`fix: chmod go-w ${lane}`);
  });

  it('a lane folder added by hand is checked too', () => {
    const root = tempRoot();
    makeFolders(root);
    fs.mkdirSync(path.join(root, 'bridge/inbox/OPS'));
    fs.chmodSync(path.join(root, 'bridge/inbox/OPS'), 0o775);
    const r = doctor(root);
    expect(r.code).toBe(1);
    expect(r.out.checks.some((c) => c.level === 'fail' && c.detail.includes('bridge/inbox/OPS'))).toBe(true);
  });

  it('reports a stale lock as a warning and an invalid config as a failure', () => {
    const root = tempRoot('http:\n  enabled: false\n');
    makeFolders(root);
    fs.writeFileSync(path.join(root, 'g/run/daemon.json'), JSON.stringify({ pid: 2 ** 22 + 12345, port: 8765, started_at: 'x', root, ready: true }));
    const r = doctor(root);
    expect(r.out.checks.find((c) => c.name === 'lock')).toMatchObject({ level: 'warn', detail: expect.stringMatching(/stale lock .* will be taken over/) });
    fs.writeFileSync(path.join(root, 'wo.config.yaml'), 'htpp:\n  port: 1\n');
    const bad = doctor(root);
    expect(bad.code).toBe(1);
    expect(bad.out.checks.find((c) => c.name === 'config')).toMatchObject({ level: 'fail', detail: expect.stringMatching(/htpp/) });
  });

  it('sees the installed service for this root', () => {
    const root = tempRoot();
    const home = tempDir('wo-home-');
    expect(runCli(['service', 'install', '--systemd', '--no-load'], { root, env: { HOME: home } }).code).toBe(0);
    if (process.platform !== 'darwin') expect(doctor(root, home).out.checks.find((c) => c.name === 'service')).toMatchObject({ level: 'ok' });
  });

  it.skipIf(process.platform === 'darwin')("fails when the installed unit's node no longer exists (an upgraded nvm/Homebrew node)", () => {
    const root = tempRoot();
    const home = tempDir('wo-home-');
    expect(runCli(['service', 'install', '--systemd', '--no-load'], { root, env: { HOME: home } }).code).toBe(0);
    const dir = path.join(home, '.config/systemd/user');
    const file = path.join(dir, fs.readdirSync(dir)[0]!);
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^ExecStart=\S+/m, 'ExecStart=/opt/gone/v20.1.0/bin/node'));
    const r = doctor(root, home);
    expect(r.code).toBe(1);
    expect(r.out.checks.find((c) => c.name === 'service')).toMatchObject({ level: 'fail', detail: expect.stringMatching(/node \/opt\/gone\/v20\.1\.0\/bin\/node is missing/) });
  });

  it.each([
    ['v20.19.0', 'ok'],
    ['v20.18.3', 'fail'],
    ['v22.1.0', 'ok'],
    ['v18.20.0', 'fail'],
  ])('node %s ⇒ %s', (v, level) => expect(checkNode(v).level).toBe(level));

  it('lock states', () => {
    expect(checkLock({ state: 'running', info: { pid: 1, port: 9 } }).detail).toBe('running (pid 1, http port 9)');
    expect(checkLock({ state: 'absent' }).level).toBe('ok');
  });
});

describe('wo dashboard', () => {
  it('fails clearly when the daemon is not running', () => {
    const root = tempRoot();
    const r = runCli(['dashboard', '--no-open'], { root });
    expect(r.code).toBe(3); // exit 3: no daemon running
    expect(r.stderr).toMatch(/daemon is not running/);
  });

  it('fails clearly when http is off', () => {
    const root = tempRoot();
    fs.mkdirSync(path.join(root, 'g/run'), { recursive: true });
    fs.writeFileSync(path.join(root, 'g/run/daemon.json'), JSON.stringify({ pid: process.pid, port: null, started_at: 'x', root, ready: true }));
    const r = runCli(['dashboard', '--no-open'], { root });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/http\.enabled is false/);
  });

  it('prints the URL with the token in the fragment', () => {
    const root = tempRoot();
    fs.mkdirSync(path.join(root, 'g/run'), { recursive: true });
    fs.writeFileSync(path.join(root, 'g/run/daemon.json'), JSON.stringify({ pid: process.pid, port: 41234, started_at: 'x', root, ready: true }));
    fs.writeFileSync(path.join(root, 'g/run/token'), 'abc123\n', { mode: 0o600 });
    const r = runCli(['dashboard', '--no-open'], { root, env: { DISPLAY: '' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('http://127.0.0.1:41234/#token=abc123\n');
  });
});
