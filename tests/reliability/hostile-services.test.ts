/**
 * Hostile services: steps, through the real daemon and the stand-in manager (never the system's launchd/systemd):
 * names carrying shell text or `../`, plists outside the root or reached through a symlink, a manager that hangs,
 * a manager missing from exec.path, an undo that fails, many services undone in reverse.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { dropComplete, readRecord, tempDir, tempRoot, waitFor } from '../helpers.js';
import { configFor, fakeManager, plist } from '../services/fake.js';
import { daemonPool, size } from './common.js';

const pool = daemonPool();
afterAll(() => pool.cleanup());

const settled = (root: string, id: string) => waitFor(() => {
  const r = readRecord(root, id);
  return r && ['succeeded', 'failed', 'rejected', 'awaiting_approval'].includes(r.status) ? r : undefined;
}, { timeout: 90_000, what: `${id} settled` });

function world(extra = '', allow = '') {
  const fake = fakeManager();
  console.log(`stand-in manager: ${fake.bin} (launchctl, systemctl)`);
  const root = tempRoot(configFor(fake, extra).replace('allow_services: [', `allow_services: [${allow}`));
  return { root, fake };
}

describe('hostile services', () => {
  it('labels and units with shell text or ../, plists outside the root: refused before any manager call', async () => {
    const { root, fake } = world();
    const outside = tempDir('wo-outside-');
    await pool.start(root);
    const cases: [string, string, string][] = [
      ['H-META', `{launchd: "agents/$(touch pwned).plist", action: load}`, 'INVALID'],
      ['H-SEMI', `{systemd: "x;touch pwned.service", action: load}`, 'INVALID'],
      ['H-UNITDOT', `{systemd: "../x.service", action: load}`, 'INVALID'],
      ['H-ACTION', `{systemd: "x.service", action: "load; rm -rf /"}`, 'INVALID'],
      ['H-UP', `{launchd: "../${path.basename(outside)}/com.acme.poller.plist", action: load}`, 'POLICY_REFUSED'],
      ['H-ABS', `{launchd: "${outside}/com.acme.poller.plist", action: load}`, 'POLICY_REFUSED'],
      ['H-INTERNAL', `{launchd: "g/followup/state/com.acme.poller.plist", action: load}`, 'POLICY_REFUSED'],
    ];
    for (const [id, svc] of cases) dropComplete(root, 'CLC', `${id}.yaml`, `wo_id: ${id}\ntitle: t\ntype: exec\nservices:\n  - ${svc}\n`);
    for (const [id, , code] of cases) {
      // Refused WOs end in bridge/rejected/ with a reason file (an INVALID one has no state record).
      const reason = path.join(root, 'bridge/rejected', `${id}.yaml.reason.json`);
      const r = await waitFor(() => (fs.existsSync(reason) ? JSON.parse(fs.readFileSync(reason, 'utf8')) : undefined), { timeout: 60_000, what: `${id} rejected` });
      expect(r.code, `${id}: ${JSON.stringify(r.errors)}`).toBe(code);
    }
    expect(fake.calls()).toEqual([]);
    expect(fs.existsSync(path.join(root, 'pwned'))).toBe(false);
  });

  it('a plist reached through a symlinked folder that leads out of the root is refused; nothing is loaded', async () => {
    const { root, fake } = world();
    const outside = tempDir('wo-outside-');
    fs.writeFileSync(path.join(outside, 'com.acme.poller.plist'), plist('com.acme.poller', '/bin/true'));
    fs.symlinkSync(outside, path.join(root, 'agents'));
    await pool.start(root);
    dropComplete(root, 'CLC', 's.yaml', 'wo_id: H-LINK\ntitle: t\ntype: exec\nservices:\n  - {launchd: agents/com.acme.poller.plist, action: load}\n');
    const rec = await settled(root, 'H-LINK');
    expect(['rejected', 'failed']).toContain(rec.status);
    expect(rec.error.code).toBe('POLICY_REFUSED');
    expect(fake.calls()).toEqual([]);
  });

  it('a manager that hangs is killed at exec.manager_timeout_s: the WO fails naming it, no sleeper is left', async () => {
    const { root, fake } = world();
    fs.writeFileSync(path.join(root, 'wo.config.yaml'), fs.readFileSync(path.join(root, 'wo.config.yaml'), 'utf8').replace('manager_timeout_s: 5', 'manager_timeout_s: 1'));
    fs.writeFileSync(path.join(fake.state, 'HANG'), '');
    await pool.start(root);
    dropComplete(root, 'CLC', 'h.yaml', 'wo_id: H-HANG\ntitle: t\ntype: exec\nservices:\n  - {systemd: acme-poller.service, action: restart}\n');
    const rec = await settled(root, 'H-HANG');
    expect(rec.status).toBe('failed');
    expect(rec.error.code).toBe('SERVICE_FAILED');
    expect(rec.services[0].problem).toMatch(/systemctl did not answer within 1s \(killed\)/);
    expect(rec.services[0].timed_out).toBe(true);
    const sleepers = fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sleep\u0000600') && fs.readFileSync(`/proc/${p}/environ`, 'utf8').includes(fake.bin);
      } catch {
        return false;
      }
    });
    expect(sleepers).toEqual([]);
  });

  it('a manager missing from exec.path: the WO fails saying so (the system manager is never used)', async () => {
    const fake = fakeManager();
    const empty = tempDir('wo-empty-path-');
    const root = tempRoot(`http:\n  enabled: false\nexec:\n  path: "${empty}"\npolicy:\n  autonomy: auto\n`);
    await pool.start(root);
    dropComplete(root, 'CLC', 'm.yaml', 'wo_id: H-NOMGR\ntitle: t\ntype: exec\nservices:\n  - {launchd: com.acme.poller.plist, action: restart}\n');
    const rec = await settled(root, 'H-NOMGR');
    expect(rec.status).toBe('failed');
    expect(rec.error.message).toMatch(/launchctl not found in exec\.path/);
    expect(fake.calls()).toEqual([]);
  });

  it('an undo that fails is recorded, alerted and put in the error; the files are still rolled back', async () => {
    const { root, fake } = world();
    fs.writeFileSync(path.join(fake.state, 'com.acme.poller.bootout-fails'), '');
    await pool.start(root);
    const script = path.join(root, 'tools/poller.sh');
    dropComplete(root, 'CLC', 'u.json', JSON.stringify({
      wo_id: 'H-UNDO', title: 't', type: 'apply_patch',
      files: [{ path: 'agents/com.acme.poller.plist', content: plist('com.acme.poller', script) }, { path: 'tools/poller.sh', content: '#!/bin/sh\n', mode: '0755' }],
      services: [{ launchd: 'agents/com.acme.poller.plist', action: 'load' }],
      tests: [{ name: 't', command: 'echo no', expected: 'yes' }],
    }));
    const rec = await settled(root, 'H-UNDO');
    expect(rec.status).toBe('failed');
    expect(rec.rolled_back).toBe(true);
    expect(fs.existsSync(path.join(root, 'tools/poller.sh'))).toBe(false);
    expect(rec.services[0].compensation).toMatchObject({ action: 'unload', ok: false });
    expect(rec.error.message).toMatch(/undoing its services failed: services\[0\] launchd com\.acme\.poller: undo \(launchctl bootout gui\/\d+\/com\.acme\.poller\) failed/);
    expect(rec.warnings.join('\n')).toMatch(/service compensation failed/);
    expect(fs.readFileSync(path.join(root, 'g/logs/guardrail_alerts.log'), 'utf8')).toMatch(/SERVICE UNDO FAILED H-UNDO/);
  });

  it(`${size(4, 40)} services loaded then a failing test: every one undone, in reverse order`, async () => {
    const n = size(4, 40);
    const units = Array.from({ length: n }, (_, i) => `acme-${i}.service`);
    const { root, fake } = world('', `${units.join(', ')}, `);
    await pool.start(root);
    dropComplete(root, 'CLC', 'n.json', JSON.stringify({
      wo_id: 'H-MANY', title: 't', type: 'exec', timeout_s: 600,
      services: units.map((u) => ({ systemd: u, action: 'load' })),
      tests: [{ name: 't', command: 'echo no', expected: 'yes' }],
    }));
    const rec = await settled(root, 'H-MANY');
    expect(rec.status).toBe('failed');
    const acts = fake.calls().filter((c) => !c.includes(' show '));
    expect(acts).toEqual([...units.map((u) => `systemctl --user enable --now ${u}`), ...[...units].reverse().map((u) => `systemctl --user disable --now ${u}`)]);
  });
});
