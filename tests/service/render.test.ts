import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { checkSpec, fill, renderLaunchd, renderSystemd, systemdArg, systemdEnv, xmlEscape, type UnitSpec } from '../../src/service/render.js';
import { readTemplate, rootHash, servicePath, unitLocation } from '../../src/service/units.js';
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
    expect(p.EnvironmentVariables).toEqual({ PATH: '/usr/local/bin:/usr/bin:/bin' });
    expect(p.WorkingDirectory).toBe(root);
    expect(p.KeepAlive).toBe(true);
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
  it('puts units under HOME / XDG_CONFIG_HOME, named by a hash of the root', () => {
    const h = rootHash('/srv/wo');
    expect(h).toMatch(/^[0-9a-f]{12}$/);
    expect(unitLocation('launchd', '/srv/wo', { HOME: '/home/ann' })).toEqual({ kind: 'launchd', name: `com.wo.daemon.${h}`, file: `/home/ann/Library/LaunchAgents/com.wo.daemon.${h}.plist` });
    expect(unitLocation('systemd', '/srv/wo', { HOME: '/home/ann' }).file).toBe(`/home/ann/.config/systemd/user/wo-${h}.service`);
    expect(unitLocation('systemd', '/srv/wo', { HOME: '/home/ann', XDG_CONFIG_HOME: '/cfg' }).file).toBe(`/cfg/systemd/user/wo-${h}.service`);
    expect(rootHash('/srv/other')).not.toBe(h);
    expect(() => unitLocation('systemd', '/srv/wo', {})).toThrow(/HOME/);
  });

  it('builds an explicit absolute PATH with node first', () => {
    const p = servicePath('/opt/node/bin/node', '/usr/bin:relative:/bin::/usr/bin').split(':');
    expect(p[0]).toBe('/opt/node/bin');
    expect(p.every((e) => e.startsWith('/'))).toBe(true);
    expect(new Set(p).size).toBe(p.length);
    expect(p).toContain('/usr/bin');
  });
});
