import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { checkSpec, fill, renderLaunchd, renderSystemd, systemdArg, systemdEnv, unitProgram, xmlEscape, type UnitSpec } from '../../src/service/render.js';
import { legacyLocation, looksVersioned, readTemplate, rootHash, rootSlug, servicePath, stableNode, unitLocation } from '../../src/service/units.js';
import { tempDir } from '../helpers.js';

const spec = (over: Partial<UnitSpec> = {}): UnitSpec => ({
  node: '/usr/local/bin/node',
  mainJs: '/opt/wo/dist/cli/main.js',
  root: '/srv/wo root',
  path: '/usr/local/bin:/usr/bin:/bin',
  label: 'com.wo.daemon.0123456789ab',
  stopTimeoutS: 15,
  ...over,
});

/** Parse a plist with python3's plistlib (plutil is macOS-only). */
function parsePlist(xml: string): Record<string, unknown> {
  const r = spawnSync('python3', ['-c', 'import plistlib,sys,json; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))'], { input: xml, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`plistlib refused the plist: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}
const havePython = spawnSync('python3', ['--version']).status === 0;
const haveAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

describe('escaping', () => {
  it.each([
    ['plain', 'plain'],
    ['a&b', 'a&amp;b'],
    ['<x>', '&lt;x&gt;'],
    [`"q" 'a'`, '&quot;q&quot; &apos;a&apos;'],
    ['&amp;', '&amp;amp;'],
  ])('xmlEscape(%j) = %j', (input, out) => expect(xmlEscape(input)).toBe(out));

  it.each([
    ['/usr/bin/node', '/usr/bin/node'],
    ['/a b/c', '"/a b/c"'],
    ['/100%/x', '/100%%/x'],
    ['/a $HOME', '"/a $$HOME"'],
    ['/q"uote', '"/q\\"uote"'],
    ['/back\\slash', '"/back\\\\slash"'],
    ['/semi;colon', '"/semi;colon"'],
  ])('systemdArg(%j) = %j', (input, out) => expect(systemdArg(input)).toBe(out));

  it.each([
    ['/usr/bin:/bin', 'PATH=/usr/bin:/bin'],
    ['/my tools:/bin', '"PATH=/my tools:/bin"'],
    ['/50%:/bin', 'PATH=/50%%:/bin'],
  ])('systemdEnv(PATH, %j) = %j', (input, out) => expect(systemdEnv('PATH', input)).toBe(out));
});

describe('fill and checks', () => {
  it('fills placeholders and refuses missing or unused ones', () => {
    expect(fill('a={{A}} b={{B}}', { A: '1', B: '2' })).toBe('a=1 b=2');
    expect(() => fill('{{A}} {{C}}', { A: '1' })).toThrow(/\{\{C\}\} has no value/);
    expect(() => fill('{{A}}', { A: '1', B: '2' })).toThrow(/does not use \{\{B\}\}/);
  });

  it.each<[string, Partial<UnitSpec>, RegExp]>([
    ['relative node', { node: 'node' }, /node must be an absolute path/],
    ['relative root', { root: 'srv/wo' }, /root must be an absolute path/],
    ['newline in root', { root: '/srv/wo\nExecStartPre=/bin/rm' }, /control character/],
    ['relative PATH entry', { path: '/usr/bin:bin' }, /PATH entry must be absolute/],
    ['zero timeout', { stopTimeoutS: 0 }, /stop timeout/],
  ])('refuses %s', (_name, over, msg) => {
    expect(() => checkSpec(spec(over))).toThrow(UsageError);
    expect(() => checkSpec(spec(over))).toThrow(msg);
  });
});

describe('renderLaunchd', () => {
  it.skipIf(!havePython).each([
    ['/srv/wo root'],
    ['/Users/ann/Library/Mobile Documents/a&b <c> "d" \'e\''],
    ['/tmp/ünïcödé/wo'],
  ])('renders a valid plist with absolute paths for root %j', (root) => {
    const xml = renderLaunchd(readTemplate('launchd'), spec({ root }));
    const p = parsePlist(xml);
    expect(p.Label).toBe('com.wo.daemon.0123456789ab');
    expect(p.ProgramArguments).toEqual(['/usr/local/bin/node', '/opt/wo/dist/cli/main.js', 'daemon', '--root', root]);
    expect(p.EnvironmentVariables).toEqual({ PATH: '/usr/local/bin:/usr/bin:/bin', WO_SERVICE_MANAGER: 'launchd' });
    expect(p.WorkingDirectory).toBe(root);
    // Relaunched after a crash or a failure, not after a clean exit (nor after a config error, which exits 0 under launchd).
    expect(p.KeepAlive).toEqual({ SuccessfulExit: false });
    expect(p.ProcessType).toBe('Adaptive');
    expect(p.RunAtLoad).toBe(true);
    expect(p.ThrottleInterval).toBe(10);
    expect(p.StandardOutPath).toBe(`${root}/g/logs/launchd.out.log`);
    expect(p.StandardErrorPath).toBe(`${root}/g/logs/launchd.err.log`);
  });
  if (!havePython) console.log('plist XML validation skipped: python3 is not available');
});

describe('renderSystemd', () => {
  it('renders the user unit', () => {
    const text = renderSystemd(readTemplate('systemd'), spec());
    expect(text).toContain('ExecStart=/usr/local/bin/node /opt/wo/dist/cli/main.js daemon --root "/srv/wo root"\n');
    expect(text).toContain('WorkingDirectory=/srv/wo root\n');
    expect(text).toContain('Environment=PATH=/usr/local/bin:/usr/bin:/bin\n');
    expect(text).toMatch(/^Restart=on-failure$/m);
    expect(text).toMatch(/^Type=notify$/m);
    expect(text).toMatch(/^NotifyAccess=all$/m);
    expect(text).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    expect(text).toMatch(/^RestartPreventExitStatus=78$/m);
    expect(text).toMatch(/^RestartSec=2$/m);
    expect(text).toMatch(/\[Install\]\nWantedBy=default\.target/);
    expect(text).not.toMatch(/\{\{/);
  });

  it.each([['/srv/wo root'], ['/srv/50% "quoted" $dollar\\back'], ['/plain/root']])('passes systemd-analyze verify for root %j', (root) => {
    if (!haveAnalyze) {
      console.log('systemd-analyze verify skipped: systemd-analyze is not installed');
      return;
    }
    const dir = tempDir('wo-unit-');
    const file = path.join(dir, 'wo-test.service');
    // The unit's binaries must exist for verify: use this node and a real file as main.js.
    fs.writeFileSync(path.join(dir, 'main.js'), '');
    fs.writeFileSync(file, renderSystemd(readTemplate('systemd'), spec({ root, node: process.execPath, mainJs: path.join(dir, 'main.js') })));
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_LEVEL: 'warning' } });
    expect(`${r.stderr}`).not.toMatch(/wo-test\.service:\d+/);
    expect(r.status).toBe(0);
  });
});

describe('unit locations', () => {
  it('puts units under HOME / XDG_CONFIG_HOME, named wo-<folder>-<hash6>', () => {
    const h = rootHash('/srv/wo');
    expect(h).toMatch(/^[0-9a-f]{12}$/);
    const h6 = h.slice(0, 6);
    expect(unitLocation('launchd', '/srv/wo', { HOME: '/home/ann' })).toEqual({ kind: 'launchd', name: `com.wo.daemon.wo-${h6}`, file: `/home/ann/Library/LaunchAgents/com.wo.daemon.wo-${h6}.plist` });
    expect(unitLocation('systemd', '/srv/wo', { HOME: '/home/ann' })).toEqual({ kind: 'systemd', name: `wo-wo-${h6}.service`, file: `/home/ann/.config/systemd/user/wo-wo-${h6}.service` });
    expect(unitLocation('systemd', '/srv/wo', { HOME: '/home/ann', XDG_CONFIG_HOME: '/cfg' }).file).toBe(`/cfg/systemd/user/wo-wo-${h6}.service`);
    expect(rootHash('/srv/other')).not.toBe(h);
    expect(() => unitLocation('systemd', '/srv/wo', {})).toThrow(/HOME/);
  });

  it('keeps the legacy name (wo-<hash12>) findable', () => {
    const h = rootHash('/srv/wo');
    expect(legacyLocation('systemd', '/srv/wo', { HOME: '/home/ann' })).toEqual({ kind: 'systemd', name: `wo-${h}.service`, file: `/home/ann/.config/systemd/user/wo-${h}.service`, legacy: true });
    expect(legacyLocation('launchd', '/srv/wo', { HOME: '/home/ann' }).name).toBe(`com.wo.daemon.${h}`);
  });

  it.each([
    ['/srv/my project', 'my-project'],
    ['/srv/ünï', 'n'],
    ['/srv/a.b@c', 'a-b-c'],
    ['/srv/' + 'x'.repeat(50), 'x'.repeat(32)],
    ['/', 'root'],
  ])('slug of %j is %j', (root, slug) => expect(rootSlug(root)).toBe(slug));

  it('builds a minimal absolute PATH: node first, the additions, then the system folders — never the shell PATH', () => {
    const p = servicePath('/opt/node/bin/node', ['/home/ann/bin', 'relative', '/usr/bin', '/with:colon']).split(':');
    expect(p[0]).toBe('/opt/node/bin');
    expect(p[1]).toBe('/home/ann/bin');
    expect(p.every((e) => e.startsWith('/'))).toBe(true);
    expect(new Set(p).size).toBe(p.length);
    expect(p).toEqual(['/opt/node/bin', '/home/ann/bin', '/usr/bin', '/usr/local/bin', '/opt/homebrew/bin', '/bin', '/usr/sbin', '/sbin']);
  });
});

describe('stable node', () => {
  it('prefers a node on the unit PATH that is the same binary (a Homebrew-style symlink) over the versioned exec path', () => {
    const dir = tempDir('wo-node-');
    const cellar = path.join(dir, 'Cellar', 'node', '22.1.0', 'bin');
    fs.mkdirSync(cellar, { recursive: true });
    fs.writeFileSync(path.join(cellar, 'node'), '#!/bin/sh\n', { mode: 0o755 });
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.symlinkSync(path.join(cellar, 'node'), path.join(bin, 'node'));
    expect(stableNode(path.join(cellar, 'node'), [bin], { HOME: dir })).toEqual({ node: path.join(bin, 'node'), stable: true });
    // Without such a link the exec path stays, flagged as version-specific.
    expect(stableNode(path.join(cellar, 'node'), [], { HOME: dir })).toEqual({ node: path.join(cellar, 'node'), stable: false });
  });

  it("finds nvm's current link", () => {
    const home = tempDir('wo-home-');
    const v = path.join(home, '.nvm', 'versions', 'node', 'v20.19.0', 'bin');
    fs.mkdirSync(v, { recursive: true });
    fs.writeFileSync(path.join(v, 'node'), '', { mode: 0o755 });
    fs.symlinkSync(path.join(home, '.nvm', 'versions', 'node', 'v20.19.0'), path.join(home, '.nvm', 'current'));
    expect(stableNode(path.join(v, 'node'), [], { HOME: home }).node).toBe(path.join(home, '.nvm', 'current', 'bin', 'node'));
  });

  it.each([
    ['/Users/a/.nvm/versions/node/v20.11.0/bin/node', true],
    ['/opt/homebrew/Cellar/node/22.1.0/bin/node', true],
    ['/usr/bin/node', false],
    ['/opt/homebrew/bin/node', false],
  ])('looksVersioned(%j) = %j', (p, v) => expect(looksVersioned(p)).toBe(v));
});

describe('unitProgram reads node and main.js back from a rendered unit', () => {
  it.each([['/srv/wo root'], ['/srv/50% "q" $d\\b'], ['/plain']])('root %j', (root) => {
    const s = spec({ root, node: '/opt/my node/bin/node', mainJs: '/opt/50% wo/$x/main.js' });
    expect(unitProgram('systemd', renderSystemd(readTemplate('systemd'), s))).toEqual({ node: s.node, mainJs: s.mainJs });
    expect(unitProgram('launchd', renderLaunchd(readTemplate('launchd'), { ...s, mainJs: '/a&b <c>/main.js' }))).toEqual({ node: s.node, mainJs: '/a&b <c>/main.js' });
  });
  it('says undefined for a unit without a program', () => expect(unitProgram('systemd', '[Service]\n')).toBeUndefined());
});
