/** guardrail.services through the stand-in manager: drift (not running, exited 127) told, restarted with restore: true. */
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readEvents, runCli, startDaemon, tempRoot, waitFor, type DaemonHandle } from '../helpers.js';
import { fakeManager, plist, type FakeManager } from './fake.js';

let daemon: DaemonHandle | undefined;
afterEach(async () => {
  await daemon?.stop('SIGKILL');
  daemon = undefined;
});

const LABEL = 'com.acme.poller';
const UNIT = 'acme-poller.service';

/** A loaded agent (not running: its last run is over) and a unit whose program exited 127. */
function world(restore: boolean): { root: string; fake: FakeManager } {
  const fake = fakeManager();
  console.log(`stand-in manager: ${fake.bin} (launchctl, systemctl)`);
  const root = tempRoot(`http:\n  enabled: false\nexec:\n  path: "${fake.execPath}"\n  manager_timeout_s: 5\nguardrail:\n  sweep_s: 1\n  restore: ${restore}\n  services: [${LABEL}, ${UNIT}]\n`);
  const script = path.join(root, 'tools/poller.sh');
  fs.mkdirSync(path.dirname(script), { recursive: true });
  fs.writeFileSync(script, '#!/bin/sh\n', { mode: 0o755 });
  const pl = path.join(root, `agents/${LABEL}.plist`);
  fs.mkdirSync(path.dirname(pl), { recursive: true });
  fs.writeFileSync(pl, plist(LABEL, script));
  const run = (bin: string, ...args: string[]) => expect(spawnSync(path.join(fake.bin, bin), args).status).toBe(0);
  run('launchctl', 'bootstrap', 'gui/1', pl);
  fs.writeFileSync(path.join(fake.state, LABEL), 'state=not running\npid=\nexit=1\n');
  run('systemctl', '--user', 'enable', '--now', UNIT);
  fs.writeFileSync(path.join(fake.state, `${UNIT}.run`), 'ActiveState=failed\nSubState=failed\nMainPID=0\nExecMainStatus=127\n');
  return { root, fake };
}

describe('guardrail.services (stand-in manager)', () => {
  it('wo guardrail check shows each service with its evidence and exits 1 on drift', () => {
    const { root } = world(false);
    const r = runCli(['guardrail', 'check'], { root });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/DRIFT service com\.acme\.poller: exited 1 \(launchd; loaded yes, running no, last exit 1/);
    expect(r.stdout).toMatch(/DRIFT service acme-poller\.service: exited 127 \(systemd; .*command not found: the program the service runs is missing/);
    const j = JSON.parse(runCli(['guardrail', 'check', '--json'], { root }).stdout);
    expect(j.services.map((s: { service: string; why: string }) => [s.service, s.why])).toEqual([[LABEL, 'exited 1'], [UNIT, 'exited 127']]);
  });

  it('the daemon emits wo_pipeline_drift for each service on start and, with restore: true, restarts them (recorded)', async () => {
    const { root, fake } = world(true);
    daemon = await startDaemon(root);
    const events = await waitFor(() => {
      const ev = readEvents(root);
      return ev.filter((e) => e.event === 'guardrail_restored' && e.service).length >= 2 ? ev : undefined;
    }, { timeout: 30_000, what: 'both services restarted' });
    const drift = events.filter((e) => e.event === 'wo_pipeline_drift' && e.service);
    expect(drift.map((e) => [e.service, e.why])).toEqual(expect.arrayContaining([[LABEL, 'exited 1'], [UNIT, 'exited 127']]));
    expect(events.filter((e) => e.event === 'guardrail_restored').map((e) => [e.service, e.ok, e.cmd])).toEqual(expect.arrayContaining([
      [LABEL, true, `launchctl kickstart -k gui/${process.getuid!()}/${LABEL}`],
      [UNIT, true, `systemctl --user restart ${UNIT}`],
    ]));
    expect(fs.readFileSync(path.join(root, 'g/logs/guardrail_alerts.log'), 'utf8')).toMatch(/DRIFT service acme-poller\.service \(systemd\): exited 127 \(command not found/);
    const health = await waitFor(() => {
      const h = JSON.parse(fs.readFileSync(path.join(root, 'g/guardrail/health.json'), 'utf8'));
      return h.services?.every((s: { ok: boolean }) => s.ok) ? h : undefined;
    });
    expect(health.healthy).toBe(true);
    expect(fake.calls()).toEqual(expect.arrayContaining([`systemctl --user restart ${UNIT}`]));
  });

  it('an agent that is not loaded: "not loaded" drift; without restore nothing is run but the status query', async () => {
    const { root, fake } = world(false);
    spawnSync(path.join(fake.bin, 'launchctl'), ['bootout', `gui/1/${LABEL}`]);
    const before = fake.calls().length;
    daemon = await startDaemon(root);
    await waitFor(() => readEvents(root).some((e) => e.event === 'wo_pipeline_drift' && e.service === LABEL && e.why === 'not loaded'), { timeout: 30_000 });
    expect(fake.calls().slice(before).every((c) => c.startsWith('launchctl print') || c.includes(' show '))).toBe(true);
  });
});
