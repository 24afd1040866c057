/**
 * The root's own control files are internals (issue 9, item 2): `internalReason`, `lexicalTarget` and the
 * `PathPolicy` built from a config (service units, symlinked allowed roots), plus the `allow_self_modify` key.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lexicalTarget, type PathPolicy } from '../../src/policy/paths.js';
import { foldName, gitInternalReason, internalReason, isInternalRel } from '../../src/policy/roots.js';
import { pathPolicy } from '../../src/policy/context.js';
import { unitLocation } from '../../src/service/units.js';
import { parseConfig } from '../../src/config/load.js';
import { WoError } from '../../src/errors.js';
import { tempDir } from '../helpers.js';

function refusal(fn: () => unknown): WoError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WoError);
    expect((err as WoError).code).toBe('POLICY_REFUSED');
    return err as WoError;
  }
  throw new Error('expected a POLICY_REFUSED refusal');
}

const CONFIG = "the daemon's own configuration (wo.config.yaml)";
const GIT = "a git repository's internals";
const DAEMON = "the daemon's internals (bridge/ or wo's own folders under g/)";

describe('internalReason', () => {
  const cases: [string, string | undefined][] = [
    ['wo.config.yaml', CONFIG],
    ['WO.Config.YAML', CONFIG],
    ['wo.config.yml', CONFIG],
    ['./wo.config.yaml', CONFIG],
    ['wo.config.yaml/', CONFIG],
    ['.git', GIT],
    ['.git/', GIT],
    ['.GIT/hooks/x', GIT],
    ['./.git/config', GIT],
    ['.Git/Config', GIT],
    ['.g\u200cit/hooks/pre-commit', GIT],
    ['\ufeff.git/config', GIT],
    ['sub/.git/hooks/post-checkout', GIT],
    ['a/b/.GIT/config', GIT],
    ['bridge/x', DAEMON],
    ['G/run/token', DAEMON],
    // Only wo's own folders under g/ (issue 14): layout.ts internalDirs, however spelt.
    ['g', DAEMON],
    ['g/', DAEMON],
    ['g/followup', DAEMON],
    ['g/followup/state/WO-1.json', DAEMON],
    ['g/followup/intents/x', DAEMON],
    ['g/followup/index/wo.sqlite', DAEMON],
    ['g/telemetry/unified.jsonl', DAEMON],
    ['g/backups/WO-1/manifest.json', DAEMON],
    ['g/run', DAEMON],
    ['g/Run', DAEMON],
    ['g/RUN/token', DAEMON],
    ['g/./run', DAEMON],
    ['g//run/token', DAEMON],
    ['g/reports/../run', DAEMON],
    ['g/tools/../../g/run/token', DAEMON],
    ['g/r\u200cun/token', DAEMON],
    ['\ufeffg/guardrail/vault/x', DAEMON],
    ['g/guardrail/anything', DAEMON],
    ['g/mls/ledger/x.jsonl', DAEMON],
    ['g/logs/daemon.log', DAEMON],
    ['g/logs/user-notes.txt', DAEMON],
    ['g/releases/1.2.3/x', DAEMON],
    ['g/reports', DAEMON], // holds g/reports/upgrade and g/reports/wo
    ['g/reports/upgrade/x.json', DAEMON],
    ['g/reports/Upgrade/x.json', DAEMON],
    ['g/reports/wo/canary-x.json', DAEMON],
    ['g/reports/deploy.md', undefined],
    ['g/reports/deploy_20251113.md', undefined],
    ['g/reports/upgrade.md', undefined],
    ['g/reports/x/state/y', undefined],
    ['g/tools/x.zsh', undefined],
    ['g/followup/notes.md', undefined],
    ['g/runner/x', undefined],
    ['g/x', undefined],
    ['wo.config.yaml.bak', undefined],
    ['docs/wo.config.yaml', undefined],
    ['.gitignore', undefined],
    ['.github/workflows/ci.yml', undefined],
    ['.git-foo/x', undefined],
    ['x.git/y', undefined],
    ['gx/ok', undefined],
    ['src/index.ts', undefined],
  ];
  it.each(cases)('%j → %s', (rel, want) => {
    const got = internalReason(rel);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(want);
  });

  it('allow_self_modify lifts the control files, never bridge/ or g/ internals', () => {
    for (const rel of ['wo.config.yaml', '.git/hooks/pre-commit', 'sub/.git/config']) expect(internalReason(rel, { allowSelfModify: true })).toBeUndefined();
    for (const rel of ['bridge/inbox/CLC/x.yaml', 'g/run/token', 'Bridge']) expect(internalReason(rel, { allowSelfModify: true })).toBeDefined();
  });

  it("isInternalRel keeps its meaning (bridge/ and wo's g/ folders only); gitInternalReason sees .git anywhere", () => {
    expect(isInternalRel('wo.config.yaml')).toBe(false);
    expect(isInternalRel('.git/config')).toBe(false);
    expect(isInternalRel('g/x')).toBe(false);
    expect(isInternalRel('g/run/x')).toBe(true);
    expect(gitInternalReason('x/y/.git/hooks/z')).toContain(GIT);
    expect(gitInternalReason('x/y/z')).toBeUndefined();
    expect(foldName('.G\u200dI\u202eT')).toBe('.git');
  });
});

describe('lexicalTarget: the root control files', () => {
  const root = '/srv/wo';
  const ctx: PathPolicy = { root, allowedRoots: ['/home/u/proj2', '/srv'] };
  const refused: [string, string][] = [
    ['wo.config.yaml', `is ${CONFIG}, which WOs may not write (policy.allow_self_modify is false)`],
    ['WO.Config.YAML', CONFIG],
    ['wo.config.yml', CONFIG],
    ['./wo.config.yaml', CONFIG],
    ['wo.config.yaml/', CONFIG],
    ['//wo.config.yaml', 'outside the root'],
    ['/srv/wo/wo.config.yaml', CONFIG],
    ['/srv/wo//./WO.CONFIG.YAML', CONFIG],
    ['.git/hooks/pre-commit', `is inside ${GIT}`],
    ['.git/config', GIT],
    ['.GIT/hooks/x', GIT],
    ['./.git/config', GIT],
    ['.git/', GIT],
    ['.git', GIT],
    ['.g\u200cit/hooks/pre-commit', GIT],
    ['a/../.git/config', GIT],
    ['vendor/lib/.git/hooks/post-merge', GIT],
    ['/srv/wo/.git/config', GIT],
    // An allowed root's own repository is refused too.
    ['/home/u/proj2/.git/hooks/pre-push', GIT],
    // An allowed root above the root: the root itself, its parents, and case variants of it.
    ['/srv/wo', 'the root itself'],
    ['/srv/WO', 'the root itself'],
    ['/srv/WO/wo.config.yaml', CONFIG],
    ['/srv/Wo/G/run/token', "daemon's internals"],
    ['/srv/wo/bridge/inbox/CLC/x.yaml', "daemon's internals"],
    ['g/Run/token', "daemon's internals"],
    ['g/./run/x', "daemon's internals"],
    ['g/reports/../run/x', "daemon's internals"],
    ['/srv/wo/g/followup/state/WO-1.json', "daemon's internals"],
    ['/srv/wo/g/reports/wo/forensic.json', "daemon's internals"],
    ['g/reports', "daemon's internals"],
    ['g', "daemon's internals"],
  ];
  it.each(refused)('refuses %j', (p, why) => {
    const err = refusal(() => lexicalTarget(p, ctx));
    expect(err.message).toContain(why);
    expect(err.message).toContain(`path '${p}'`);
  });

  it('refuses a folder holding the root (exec paths) — its snapshot would cover bridge/, g/ and the config', () => {
    const deep = { root: '/home/u/work/proj', allowedRoots: ['/home/u'] };
    expect(refusal(() => lexicalTarget('/home/u/work', deep)).message).toContain('a parent of the root');
    expect(refusal(() => lexicalTarget('/home/u/Work', deep)).message).toContain('a parent of the root');
    expect(refusal(() => lexicalTarget('.', deep)).message).toContain('the root itself');
    expect(refusal(() => lexicalTarget('./', deep)).message).toContain('the root itself');
    expect(lexicalTarget('/home/u/work2', deep)).toMatchObject({ base: '/home/u' });
  });

  it('accepts neighbours of the control files', () => {
    for (const p of ['wo.config.yaml.orig', 'conf/wo.config.yaml', '.gitignore', '.gitattributes', '.github/x.yml', 'src/.gitkeep', '/home/u/proj2/src/x.ts', 'g/reports/deploy.md', 'g/tools/x.zsh', '/srv/wo/G/Reports/deploy_20251113.md']) {
      expect(lexicalTarget(p, ctx).abs).toBeTruthy();
    }
  });

  it('with allow_self_modify the config and .git/ are ordinary targets; bridge/, g/ and the root still are not', () => {
    const open = { ...ctx, allowSelfModify: true };
    expect(lexicalTarget('wo.config.yaml', open)).toEqual({ abs: '/srv/wo/wo.config.yaml', rel: 'wo.config.yaml', base: root });
    expect(lexicalTarget('.git/hooks/pre-commit', open).rel).toBe('.git/hooks/pre-commit');
    expect(lexicalTarget('/home/u/proj2/.git/config', open).base).toBe('/home/u/proj2');
    refusal(() => lexicalTarget('g/run/token', open));
    refusal(() => lexicalTarget('/srv/WO/bridge/x', open));
    refusal(() => lexicalTarget('/srv/wo', open));
  });

  it('refuses control files and any folder holding them, case-folded, unless allow_self_modify', () => {
    const unit = '/home/u/.config/systemd/user/wo-abc.service';
    const c: PathPolicy = { root, allowedRoots: ['/home/u/.config'], controlFiles: [{ abs: unit, why: "this root's installed systemd service unit" }] };
    expect(refusal(() => lexicalTarget(unit, c)).message).toContain("is this root's installed systemd service unit, which WOs may not write");
    expect(refusal(() => lexicalTarget('/home/u/.config/systemd/user/WO-ABC.service', c)).message).toContain('service unit');
    expect(refusal(() => lexicalTarget('/home/u/.config/systemd', c)).message).toContain(`holds this root's installed systemd service unit (${unit})`);
    expect(lexicalTarget('/home/u/.config/systemd/user/other.service', c).base).toBe('/home/u/.config');
    expect(lexicalTarget(unit, { ...c, allowSelfModify: true }).abs).toBe(unit);
  });

  it('judges a path reached through a root alias as the root folder it is', () => {
    const c: PathPolicy = { root, allowedRoots: ['/mnt/link'], rootAliases: [{ abs: '/mnt/link/wo', rel: '' }, { abs: '/mnt/link/hooks', rel: '.git/hooks' }] };
    expect(refusal(() => lexicalTarget('/mnt/link/wo/wo.config.yaml', c)).message).toContain(CONFIG);
    expect(refusal(() => lexicalTarget('/mnt/link/wo/g/run/x', c)).message).toContain("daemon's internals");
    expect(refusal(() => lexicalTarget('/mnt/link/wo/G/Followup/STATE/x', c)).message).toContain("daemon's internals");
    expect(lexicalTarget('/mnt/link/wo/g/reports/deploy.md', c).base).toBe('/mnt/link');
    expect(refusal(() => lexicalTarget('/mnt/link/wo', c)).message).toContain('the root itself');
    expect(refusal(() => lexicalTarget('/mnt/link/hooks/pre-commit', c)).message).toContain(GIT);
    expect(lexicalTarget('/mnt/link/wo/src/x', c).base).toBe('/mnt/link');
  });
});

describe('pathPolicy: what only the disk knows', () => {
  it("names this root's installed service units, also through a symlinked allowed root", () => {
    const home = tempDir('wo-home-');
    const root = path.join(home, 'proj');
    fs.mkdirSync(root);
    const env = { HOME: home, XDG_CONFIG_HOME: path.join(home, '.config') };
    const unit = unitLocation('systemd', root, env).file;
    fs.mkdirSync(path.dirname(unit), { recursive: true });
    fs.writeFileSync(unit, '[Service]\n');
    const link = path.join(tempDir('wo-links-'), 'units');
    fs.symlinkSync(path.dirname(unit), link);
    const cfg = parseConfig(`policy:\n  allowed_roots: [${JSON.stringify(path.join(home, '.config'))}, ${JSON.stringify(link)}]\n`, root, {});
    const pol = pathPolicy(cfg, env);
    const files = (pol.controlFiles ?? []).map((f) => f.abs);
    expect(files).toContain(unit);
    expect(files).toContain(path.join(link, path.basename(unit)));
    expect(files).toContain(unitLocation('launchd', root, env).file);
    expect(refusal(() => lexicalTarget(path.join(link, path.basename(unit)), pol)).message).toContain('systemd service unit');
    expect(refusal(() => lexicalTarget(unit, pol)).message).toContain('systemd service unit');
    expect(lexicalTarget(path.join(link, 'other.service'), pol).base).toBe(link);
    // Allowed, it is an ordinary target again.
    const open = pathPolicy(parseConfig(`policy:\n  allow_self_modify: true\n  allowed_roots: [${JSON.stringify(link)}]\n`, root, {}), env);
    expect(lexicalTarget(path.join(link, path.basename(unit)), open).base).toBe(link);
  });

  it('sees the root through an allowed root that is a symlink to its parent', () => {
    const parent = tempDir('wo-parent-');
    const root = path.join(parent, 'root');
    fs.mkdirSync(path.join(root, 'inner'), { recursive: true });
    const link = path.join(tempDir('wo-links-'), 'p');
    fs.symlinkSync(parent, link);
    const innerLink = path.join(tempDir('wo-links-'), 'i');
    fs.symlinkSync(path.join(root, 'inner'), innerLink);
    const pol = pathPolicy(parseConfig(`policy:\n  allowed_roots: [${JSON.stringify(link)}, ${JSON.stringify(innerLink)}]\n`, root, {}), {});
    expect(refusal(() => lexicalTarget(path.join(link, 'root', 'wo.config.yaml'), pol)).message).toContain(CONFIG);
    expect(refusal(() => lexicalTarget(path.join(link, 'root', 'g', 'run', 'token'), pol)).message).toContain("daemon's internals");
    expect(refusal(() => lexicalTarget(path.join(link, 'root'), pol)).message).toContain('the root itself');
    expect(refusal(() => lexicalTarget(path.join(link, 'root', '.git', 'config'), pol)).message).toContain(GIT);
    expect(lexicalTarget(path.join(link, 'root', 'src', 'x'), pol).base).toBe(link);
    expect(lexicalTarget(path.join(innerLink, 'x'), pol).base).toBe(innerLink);
  });

  it('still works without HOME (no unit can be installed)', () => {
    const root = tempDir('wo-root-');
    const pol = pathPolicy(parseConfig('', root, {}), {});
    expect(pol.controlFiles).toEqual([]);
    refusal(() => lexicalTarget('wo.config.yaml', pol));
  });
});

describe('config: policy.allow_self_modify', () => {
  it('defaults to false, resolves into Config, and is validated', () => {
    expect(parseConfig('', '/r', {})).toMatchObject({ allowSelfModify: false, policy: { allow_self_modify: false } });
    expect(parseConfig('policy:\n  allow_self_modify: true\n', '/r', {}).allowSelfModify).toBe(true);
    expect(() => parseConfig('policy:\n  allow_self_modify: "yes"\n', '/r', {})).toThrow(/policy.allow_self_modify/);
    expect(() => parseConfig('policy:\n  allow_self_modfy: true\n', '/r', {})).toThrow(/did you mean 'allow_self_modify'/);
  });
});
