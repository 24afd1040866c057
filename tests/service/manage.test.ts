import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { installService, serviceStatus, uninstallService, type RunResult } from '../../src/service/manage.js';
import { currentSpec, legacyLocation, unitLocation } from '../../src/service/units.js';
import { renderUnit } from '../../src/service/render.js';
import { readTemplate } from '../../src/service/units.js';
import { lingerHint } from '../../src/service/manage.js';
import { runCli, tempDir, tempRoot } from '../helpers.js';

/** A recording stand-in for launchctl/systemctl (tests never run the real ones). */
function fakeRunner(result: (cmd: string, args: string[]) => RunResult) {
  const calls: string[] = [];
  return { calls, run: (cmd: string, args: string[]) => (calls.push([cmd, ...args].join(' ')), result(cmd, args)) };
}

describe('install / uninstall / status (in-process, fake manager, temp HOME)', () => {
  for (const kind of ['systemd', 'launchd'] as const) {
    it(`${kind}: writes the unit, loads it, reports it, removes it`, async () => {
      const home = tempDir('wo-home-');
      const root = tempRoot();
      const env = { HOME: home, PATH: '/usr/bin:/bin' };
      const spec = currentSpec(root, { stopTimeoutS: 15, env, mainJs: '/opt/wo/dist/cli/main.js' });
      const fake = fakeRunner(() => ({ code: 0, output: '', missing: false }));
      const out = await installService(spec, { kind, root, env, load: true, run: fake.run, uid: 501 });
      const loc = unitLocation(kind, root, env);
      expect(out.location).toEqual(loc);
      expect(out.loaded).toBe(true);
      expect(fs.statSync(loc.file).mode & 0o777).toBe(0o644);
      expect(fs.readFileSync(loc.file, 'utf8')).toContain(root);
      expect(fake.calls).toEqual(
        kind === 'systemd'
          ? ['systemctl --user daemon-reload', `systemctl --user enable --now ${loc.name}`]
          : [`launchctl bootout gui/501/${loc.name}`, `launchctl bootstrap gui/501 ${loc.file}`],
      );
      const st = serviceStatus(spec, { kind, root, env, load: false });
      expect(st).toMatchObject({ installed: true, pointsHere: true, upToDate: true });
      expect(st.manager).toBeUndefined();
      const other = currentSpec(root, { stopTimeoutS: 15, env, mainJs: '/elsewhere/main.js' });
      expect(serviceStatus(other, { kind, root, env, load: false }).upToDate).toBe(false);

      const un = await uninstallService({ kind, root, env, load: true, run: fake.run, uid: 501 });
      expect(un.failed).toBe(false);
      expect(fs.existsSync(loc.file)).toBe(false);
      expect(serviceStatus(spec, { kind, root, env, load: false }).installed).toBe(false);
      const again = await uninstallService({ kind, root, env, load: true, run: fake.run });
      expect(again.messages.join('\n')).toMatch(/not installed/);
    });
  }

  it('when the manager is missing the unit stays written and the message says what to run', async () => {
    const home = tempDir('wo-home-');
    const root = tempRoot();
    const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, 'cfg'), PATH: '/usr/bin' };
    const spec = currentSpec(root, { stopTimeoutS: 15, env });
    const fake = fakeRunner(() => ({ code: null, output: '', missing: true }));
    const out = await installService(spec, { kind: 'systemd', root, env, load: true, run: fake.run });
    expect(out.failed).toBe(true);
    expect(fs.existsSync(out.location.file)).toBe(true);
    expect(out.location.file.startsWith(path.join(home, 'cfg', 'systemd', 'user'))).toBe(true);
    expect(out.messages.join('\n')).toMatch(/systemctl is not available/);
    expect(out.messages.join('\n')).toContain(`systemctl --user daemon-reload && systemctl --user enable --now ${out.location.name}`);
  });

  it('when the manager fails it says so with its output', async () => {
    const home = tempDir('wo-home-');
    const root = tempRoot();
    const env = { HOME: home, PATH: '/usr/bin' };
    const fake = fakeRunner((_c, args) => (args[0] === 'bootstrap' ? { code: 5, output: 'Bootstrap failed: 5: Input/output error', missing: false } : { code: 3, output: 'not loaded', missing: false }));
    const out = await installService(currentSpec(root, { stopTimeoutS: 15, env }), { kind: 'launchd', root, env, load: true, run: fake.run, uid: 501 });
    expect(out.failed).toBe(true);
    expect(out.messages.join('\n')).toMatch(/launchctl bootstrap gui\/501 .* failed \(exit 5\): Bootstrap failed/);
    expect(out.todo).toEqual([`launchctl bootstrap gui/501 ${out.location.file}`]);
  });
});

describe('legacy unit names and the linger hint', () => {
  for (const kind of ['systemd', 'launchd'] as const) {
    it(`${kind}: a unit under the old name is found by status, replaced by install and removed by uninstall`, async () => {
      const home = tempDir('wo-home-');
      const root = tempRoot();
      const env = { HOME: home, PATH: '/usr/bin:/bin', USER: 'ann' };
      const spec = currentSpec(root, { stopTimeoutS: 15, env, mainJs: '/opt/wo/dist/cli/main.js' });
      const old = legacyLocation(kind, root, env);
      fs.mkdirSync(path.dirname(old.file), { recursive: true });
      fs.writeFileSync(old.file, renderUnit(kind, readTemplate(kind), spec));
      const st = serviceStatus(spec, { kind, root, env, load: false });
      expect(st).toMatchObject({ installed: true, pointsHere: true, upToDate: false, legacy: true, file: old.file });
      // uninstall finds it too
      const fake = fakeRunner(() => ({ code: 0, output: '', missing: false }));
      const un = await uninstallService({ kind, root, env, load: true, run: fake.run, uid: 501 });
      expect(fs.existsSync(old.file)).toBe(false);
      expect(un.messages.join('\n')).toContain(`removed ${old.file}`);
      expect(fake.calls[0]).toContain(old.name);
      // install retires it: the old one is unloaded and removed, the new one written
      fs.writeFileSync(old.file, 'old');
      const fake2 = fakeRunner(() => ({ code: 0, output: '', missing: false }));
      const out = await installService(spec, { kind, root, env, load: true, run: fake2.run, uid: 501 });
      expect(fs.existsSync(old.file)).toBe(false);
      expect(fs.existsSync(unitLocation(kind, root, env).file)).toBe(true);
      expect(out.messages.join('\n')).toMatch(/removed the unit installed under the earlier name/);
      expect(fake2.calls[0]).toBe(kind === 'systemd' ? `systemctl --user disable --now ${old.name}` : `launchctl bootout gui/501/${old.name}`);
      expect(serviceStatus(spec, { kind, root, env, load: false })).toMatchObject({ installed: true, upToDate: true, legacy: false });
      expect(out.messages.some((m) => m.includes('loginctl'))).toBe(kind === 'systemd');
    });
  }

  it('the linger hint names the user, and is not said when lingering is already on', () => {
    const dir = tempDir('wo-linger-');
    expect(lingerHint({ USER: 'ann' }, dir)).toMatch(/loginctl enable-linger ann$/);
    fs.writeFileSync(path.join(dir, 'ann'), '');
    expect(lingerHint({ USER: 'ann' }, dir)).toBeUndefined();
  });
});

describe('wo service through the built CLI', () => {
  it.each([['--systemd'], ['--launchd']])('install --print %s prints the unit with absolute paths and touches nothing', (flag) => {
    const home = tempDir('wo-home-');
    const root = tempRoot();
    const r = runCli(['service', 'install', flag, '--print'], { root, env: { HOME: home } });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // The unit runs the root's current release (wo upgrade switches it), never the checkout.
    const main = path.join(root, 'g', 'releases', 'current', 'bin', 'wo');
    const checkout = runCli(['service', 'install', flag, '--print', '--no-release'], { root, env: { HOME: home } });
    expect(checkout.stdout).toContain(fs.realpathSync(path.resolve('dist/cli/main.js')));
    expect(fs.existsSync(path.join(root, 'g', 'releases'))).toBe(false);
    if (flag === '--systemd') {
      expect(r.stdout).toMatch(new RegExp(`^ExecStart=/\\S*node ${main} daemon --root ${root}$`, 'm'));
      expect(r.stdout).toMatch(/^Environment=PATH=\/\S+$/m);
    } else {
      expect(r.stdout).toContain(`<string>${root}</string>`);
      expect(r.stdout).toContain(`<string>${main}</string>`);
      expect(r.stdout).toMatch(/<string>\/\S*node<\/string>/);
    }
    expect(fs.readdirSync(home)).toEqual([]);
  });

  it('install --no-load writes into the temp HOME; status finds it; uninstall removes it', () => {
    const home = tempDir('wo-home-');
    const root = tempRoot();
    const env = { HOME: home };
    const st0 = runCli(['service', 'status', '--systemd', '--no-load'], { root, env });
    expect(st0.code).toBe(1);
    expect(st0.stdout).toMatch(/not installed/);
    const inst = runCli(['service', 'install', '--systemd', '--no-load'], { root, env });
    expect(inst.code).toBe(0);
    expect(inst.stdout).toMatch(new RegExp(`wrote .*\\.config/systemd/user/wo-${path.basename(root).replace(/[^A-Za-z0-9_-]+/g, '-')}-[0-9a-f]{6}\\.service`));
    expect(inst.stdout).toMatch(/loginctl enable-linger \S+/);
    expect(inst.stdout).toMatch(/to start it run: systemctl --user daemon-reload && systemctl --user enable --now wo-/);
    const st = runCli(['service', 'status', '--systemd', '--no-load', '--json'], { root, env });
    expect(st.code).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ kind: 'systemd', installed: true, pointsHere: true, upToDate: true });
    const un = runCli(['service', 'uninstall', '--systemd', '--no-load'], { root, env });
    expect(un.code).toBe(0);
    expect(un.stdout).toMatch(/removed /);
    expect(fs.readdirSync(path.join(home, '.config/systemd/user'))).toEqual([]);
  });

  it('bad usage exits 2', () => {
    const root = tempRoot();
    expect(runCli(['service', 'frobnicate', '--print'], { root }).code).toBe(2);
    expect(runCli(['service', 'install', '--print', '--launchd', '--systemd'], { root }).code).toBe(2);
  });
});
