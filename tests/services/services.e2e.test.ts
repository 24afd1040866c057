/**
 * The services: step through the real daemon, driving the stand-in manager (tests/fixtures/fake-manager: never the
 * system's launchd or systemd). Each test prints which manager ran.
 */
import { afterEach, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { dropComplete, readRecord, runCli, startDaemon, tempDir, tempRoot, waitFor, type DaemonHandle } from '../helpers.js';
import { configFor, fakeManager, plist, type FakeManager } from './fake.js';

let daemon: DaemonHandle | undefined;
afterEach(async () => {
  await daemon?.stop('SIGKILL');
  daemon = undefined;
});

const LABEL = 'com.acme.poller';
const terminal = (root: string, id: string) => waitFor(() => {
  const r = readRecord(root, id);
  return r && ['succeeded', 'failed', 'awaiting_approval', 'reverted'].includes(r.status) ? r : undefined;
}, { timeout: 60_000, what: `${id} settled` });

function setup(extra = ''): { root: string; fake: FakeManager } {
  const fake = fakeManager();
  const root = tempRoot(configFor(fake, extra));
  console.log(`stand-in manager: ${fake.bin} (launchctl, systemctl)`);
  return { root, fake };
}

/** A WO writing the agent's plist and script (JSON, so the plist text needs no YAML quoting). */
function agentWo(root: string, id: string, opts: { script?: boolean; test?: 'pass' | 'fail'; action?: string } = {}): string {
  const script = path.join(root, 'tools', 'poller.sh');
  const files = [{ path: `agents/${LABEL}.plist`, content: plist(LABEL, script) }];
  if (opts.script !== false) files.push({ path: 'tools/poller.sh', content: '#!/bin/sh\necho polled\n', mode: '0755' } as never);
  return JSON.stringify({
    wo_id: id, title: 'install the poller agent', type: 'apply_patch', files,
    services: [{ launchd: `agents/${LABEL}.plist`, action: opts.action ?? 'load' }],
    tests: opts.test ? [{ name: 'deployed', command: opts.test === 'pass' ? 'echo yes' : 'echo no', expected: 'yes' }] : [],
  });
}

describe('services: step (stand-in manager)', () => {
  it('a WO that loads an agent then fails its tests: files rolled back and the agent booted out, in that order', async () => {
    const { root, fake } = setup();
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'a.json', agentWo(root, 'WO-SVC-1', { test: 'fail' }));
    const rec = await terminal(root, 'WO-SVC-1');
    expect(rec.status).toBe('failed');
    expect(rec.error.code).toBe('TEST_FAILED');
    expect(rec.rolled_back).toBe(true);
    expect(fs.existsSync(path.join(root, 'agents', `${LABEL}.plist`))).toBe(false);
    expect(fs.existsSync(path.join(root, 'tools', 'poller.sh'))).toBe(false);
    const calls = fake.calls().filter((c) => !c.startsWith('launchctl print'));
    expect(calls).toEqual([`launchctl bootstrap gui/${process.getuid!()} ${path.join(root, 'agents', `${LABEL}.plist`)}`, `launchctl bootout gui/${process.getuid!()}/${LABEL}`]);
    expect(rec.services[0]).toMatchObject({ name: LABEL, action: 'load', ok: true, status_after: { loaded: true, running: true } });
    expect(rec.services[0].compensation).toMatchObject({ action: 'unload', ok: true, status_after: { loaded: false } });
    expect(fs.existsSync(path.join(fake.state, LABEL))).toBe(false); // not loaded any more
    const shown = runCli(['show', 'WO-SVC-1'], { root });
    expect(shown.stdout).toMatch(/services:\n {2}ok {3}load launchd com\.acme\.poller: launchctl bootstrap .*→ loaded yes, running yes/);
    expect(shown.stdout).toMatch(/undo unload: launchctl bootout gui\/\d+\/com\.acme\.poller → ok/);
  });

  it('exit 127 (the plist points at a script that is not there) fails the WO naming it, and the agent is booted out', async () => {
    const { root, fake } = setup();
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'b.json', agentWo(root, 'WO-SVC-127', { script: false }));
    const rec = await terminal(root, 'WO-SVC-127');
    expect(rec.status).toBe('failed');
    expect(rec.error.code).toBe('SERVICE_FAILED');
    expect(rec.error.message).toMatch(/com\.acme\.poller.*exited 127 \(command not found: the program the service runs is missing\)/);
    expect(rec.services[0]).toMatchObject({ ok: false, status_after: { last_exit: 127 } });
    expect(fake.calls().filter((c) => !c.startsWith('launchctl print')).map((c) => c.split(' ')[1])).toEqual(['bootstrap', 'bootout']);
  });

  it('a WO that unloads an agent and deletes its plist, then fails: the plist is restored, then the agent re-bootstrapped', async () => {
    const { root, fake } = setup();
    const plistRel = `agents/${LABEL}.plist`;
    fs.mkdirSync(path.join(root, 'agents'), { recursive: true });
    fs.mkdirSync(path.join(root, 'tools'), { recursive: true });
    fs.writeFileSync(path.join(root, 'tools/poller.sh'), '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(path.join(root, plistRel), plist(LABEL, path.join(root, 'tools/poller.sh')));
    const boot = spawnSync(path.join(fake.bin, 'launchctl'), ['bootstrap', 'gui/1', path.join(root, plistRel)]);
    expect(boot.status).toBe(0);
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'c.json', JSON.stringify({
      wo_id: 'WO-SVC-UNLOAD', title: 'retire the poller', type: 'apply_patch', delete: [plistRel],
      services: [{ launchd: plistRel, action: 'unload' }], tests: [{ name: 'x', command: 'echo no', expected: 'yes' }],
    }));
    const rec = await terminal(root, 'WO-SVC-UNLOAD');
    expect(rec.status).toBe('failed');
    expect(fs.existsSync(path.join(root, plistRel))).toBe(true);
    const verbs = fake.calls().filter((c) => !c.startsWith('launchctl print')).map((c) => c.split(' ')[1]);
    expect(verbs).toEqual(['bootstrap', 'bootout', 'bootstrap']); // the stand-in refuses a bootstrap of a missing plist
    expect(rec.services[0].compensation).toMatchObject({ action: 'load', ok: true });
    expect(fs.readFileSync(path.join(fake.state, LABEL), 'utf8')).toMatch(/state=running/);
  });

  it('a succeeded WO then wo rollback: its files are restored and its agent booted out', async () => {
    const { root, fake } = setup();
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'd.json', agentWo(root, 'WO-SVC-OK', { test: 'pass' }));
    const rec = await terminal(root, 'WO-SVC-OK');
    expect(rec.status, JSON.stringify(rec.error)).toBe('succeeded');
    expect(fs.existsSync(path.join(fake.state, LABEL))).toBe(true);
    const rb = runCli(['rollback', 'WO-SVC-OK'], { root });
    expect(rb.code, rb.stderr).toBe(0);
    const after = await waitFor(() => (readRecord(root, 'WO-SVC-OK')?.status === 'reverted' ? readRecord(root, 'WO-SVC-OK') : undefined));
    expect(after!.services[0].compensation).toMatchObject({ action: 'unload', ok: true });
    expect(fs.existsSync(path.join(fake.state, LABEL))).toBe(false);
    expect(fs.existsSync(path.join(root, 'agents', `${LABEL}.plist`))).toBe(false);
    expect(fake.calls().filter((c) => !c.startsWith('launchctl print')).map((c) => c.split(' ')[1])).toEqual(['bootstrap', 'bootout']);
  });

  it('a systemd user unit: enable --now, then the tests fail: disable --now', async () => {
    const { root, fake } = setup();
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'e.yaml', 'wo_id: WO-SVC-UNIT\ntitle: t\ntype: exec\nservices:\n  - systemd: acme-poller.service\n    action: load\ntests:\n  - name: t\n    command: echo no\n    expected: "yes"\n');
    const rec = await terminal(root, 'WO-SVC-UNIT');
    expect(rec.status).toBe('failed');
    expect(fake.calls().filter((c) => !c.includes(' show ')))
      .toEqual(['systemctl --user enable --now acme-poller.service', 'systemctl --user disable --now acme-poller.service']);
    expect(rec.services[0]).toMatchObject({ kind: 'systemd', ok: true, status_after: { loaded: true, running: true, pid: 4343 } });
  });

  it('guarded policy holds a services WO whose label is not in policy.allow_services; nothing runs', async () => {
    const { root, fake } = setup();
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'f.yaml', 'wo_id: WO-SVC-HELD\ntitle: t\ntype: exec\nservices:\n  - systemd: other.service\n    action: restart\n');
    const rec = await terminal(root, 'WO-SVC-HELD');
    expect(rec.status).toBe('awaiting_approval');
    expect(rec.hold_reasons.join('\n')).toMatch(/services\[0\]: restart of systemd other\.service: not in policy\.allow_services/);
    expect(rec.plan.map((s: { step: string }) => s.step).join('\n')).toMatch(/services\[0\]: restart systemd other\.service: systemctl --user restart other\.service/);
    expect(fake.calls()).toEqual([]);
  });

  it('observe: the services step is planned only, never run', async () => {
    const fake = fakeManager();
    const root = tempRoot(`http:\n  enabled: false\nexec:\n  path: "${fake.execPath}"\npolicy:\n  autonomy: observe\n`);
    console.log(`stand-in manager: ${fake.bin}`);
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'g.json', agentWo(root, 'WO-SVC-OBS'));
    const rec = await terminal(root, 'WO-SVC-OBS');
    expect(rec.dry_run).toBe(true);
    expect(rec.plan.some((s: { step: string }) => /services\[0\]: load launchd com\.acme\.poller: launchctl bootstrap/.test(s.step))).toBe(true);
    expect(fake.calls()).toEqual([]);
  });
});

describe('services: step across a daemon crash (stand-in manager)', () => {
  it('the daemon killed while launchctl bootstrap runs: the next start rolls back the files and boots the agent out', async () => {
    const { root, fake } = setup();
    fs.writeFileSync(path.join(fake.state, 'HANG-bootstrap'), '');
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'k.json', agentWo(root, 'WO-SVC-CRASH', { test: 'pass' }));
    await waitFor(() => fake.calls().some((c) => c.startsWith('launchctl bootstrap')) && readRecord(root, 'WO-SVC-CRASH')?.services?.length === 1, { timeout: 60_000 });
    await daemon.stop('SIGKILL');
    daemon = undefined;
    // The hung stand-in (a child of the killed daemon) is ours to end: found by its folder in its environment.
    for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
      try {
        if (fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sleep\u0000600') && fs.readFileSync(`/proc/${p}/environ`, 'utf8').includes(fake.bin)) process.kill(Number(p), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    fs.rmSync(path.join(fake.state, 'HANG-bootstrap'));
    expect(fs.existsSync(path.join(fake.state, LABEL))).toBe(true); // loaded by the crashed attempt
    daemon = await startDaemon(root);
    const rec = await waitFor(() => {
      const r = readRecord(root, 'WO-SVC-CRASH');
      return r && r.status !== 'running' && r.services?.[0]?.compensation ? r : undefined;
    }, { timeout: 60_000, what: 'recovered with its services undone' });
    expect(rec.status).toBe('failed'); // a manager acted: not re-run (the WO is not idempotent)
    expect(rec.services[0].compensation).toMatchObject({ action: 'unload', ok: true });
    expect(fs.existsSync(path.join(fake.state, LABEL))).toBe(false);
    expect(fs.existsSync(path.join(root, 'tools', 'poller.sh'))).toBe(false);
    expect(fake.calls().filter((c) => !c.startsWith('launchctl print')).map((c) => c.split(' ')[1])).toEqual(['bootstrap', 'bootout']);
  });
});

describe('services: step with the plist in an allowed root (the LaunchAgents folder case)', () => {
  it('a plist written to an allowed root outside the root is loaded from there and booted out on failure', async () => {
    const agents = tempDir('wo-launchagents-');
    const { root, fake } = setup(`  allowed_roots: ["${agents}"]\n`);
    // setup's config ends inside `policy:`; the extra line above adds allowed_roots there.
    daemon = await startDaemon(root);
    const pl = path.join(agents, `${LABEL}.plist`);
    dropComplete(root, 'CLC', 'ar.json', JSON.stringify({
      wo_id: 'WO-SVC-AR', title: 't', type: 'apply_patch',
      files: [{ path: pl, content: plist(LABEL, path.join(root, 'tools/poller.sh')) }, { path: 'tools/poller.sh', content: '#!/bin/sh\n', mode: '0755' }],
      services: [{ launchd: pl, action: 'load' }],
      tests: [{ name: 't', command: 'echo no', expected: 'yes' }],
    }));
    const rec = await terminal(root, 'WO-SVC-AR');
    expect(rec.status, JSON.stringify(rec.error)).toBe('failed');
    expect(rec.error.code).toBe('TEST_FAILED');
    expect(fs.existsSync(pl)).toBe(false);
    expect(fake.calls().filter((c) => !c.startsWith('launchctl print'))).toEqual([`launchctl bootstrap gui/${process.getuid!()} ${pl}`, `launchctl bootout gui/${process.getuid!()}/${LABEL}`]);
  });
});
