/** check-history of a service label/unit: the manager's status now (stand-in), its plist's git history, wo's actions. */
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { git, gitInit, runCli, tempRoot } from '../helpers.js';
import { fakeManager, plist } from './fake.js';

const LABEL = 'com.acme.poller';

describe('check-history <label|unit> (stand-in manager)', () => {
  it('a label in guardrail.services: exited 127 now, with its plist commits as evidence', () => {
    const fake = fakeManager();
    console.log(`stand-in manager: ${fake.bin}`);
    const root = tempRoot(`http:\n  enabled: false\nexec:\n  path: "${fake.execPath}"\nguardrail:\n  services: [${LABEL}]\n`);
    gitInit(root);
    const pl = path.join(root, `agents/${LABEL}.plist`);
    fs.mkdirSync(path.dirname(pl), { recursive: true });
    fs.writeFileSync(pl, plist(LABEL, path.join(root, 'tools/gone.sh')));
    git(root, 'add', '-A');
    git(root, 'commit', '-qm', 'add the poller agent');
    expect(spawnSync(path.join(fake.bin, 'launchctl'), ['bootstrap', 'gui/1', pl]).status).toBe(0); // its script is missing: 127
    const r = runCli(['check-history', LABEL], { root });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/com\.acme\.poller \(launchd\): unhealthy — com\.acme\.poller is exited 127 \(command not found: the program the service runs is missing\)/);
    expect(r.stdout).toMatch(/file: agents\/com\.acme\.poller\.plist/);
    expect(r.stdout).toMatch(/git\s+\S+ A agents\/com\.acme\.poller\.plist — add the poller agent/);
    const j = JSON.parse(runCli(['check-history', LABEL, '--json'], { root }).stdout);
    expect(j).toMatchObject({ service: LABEL, kind: 'launchd', verdict: 'unhealthy', status: { loaded: true, running: false, last_exit: 127 } });
  });

  it('--service with a systemd unit that is not loaded; a name with a path separator or shell text is refused', () => {
    const fake = fakeManager();
    const root = tempRoot(`http:\n  enabled: false\nexec:\n  path: "${fake.execPath}"\n`);
    const r = runCli(['check-history', 'acme-poller.service'], { root });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/acme-poller\.service \(systemd\): unhealthy — acme-poller\.service is not loaded/);
    expect(fake.calls()).toEqual(['systemctl --user show -p LoadState,ActiveState,SubState,MainPID,ExecMainStatus,UnitFileState acme-poller.service']);
    const bad = runCli(['check-history', '--service', 'x;touch pwned'], { root });
    expect(bad.code).toBe(2);
    expect(fs.existsSync(path.join(root, 'pwned'))).toBe(false);
  });
});
