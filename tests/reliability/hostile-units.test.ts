/** Hostile inputs to the service units and the log rotation: odd root names, a log flood, a rotation race. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderLaunchd, renderSystemd, unitProgram } from '../../src/service/render.js';
import { currentSpec, readTemplate, unitLocation } from '../../src/service/units.js';
import { RotatingFile, rotatedName } from '../../src/util/rotate.js';
import { tempDir } from '../helpers.js';
import { UsageError } from '../../src/errors.js';
import { rng, size } from './common.js';

const haveAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const ODD = ['a b', '50%', '$HOME', 'q"uote', "ap'os", 'back\\slash', 'semi;colon', 'ünï', '-leading', 'x'.repeat(200), '.hidden', 'a..b', '@at', '[brackets]'];

describe('hostile root folder names', () => {
  it.each(ODD)('root named %j: a safe unit name, a unit systemd-analyze accepts, and node/main.js read back exactly', (name) => {
    const parent = tempDir('wo-odd-');
    const root = path.join(parent, name);
    fs.mkdirSync(root);
    const home = tempDir('wo-home-');
    const loc = unitLocation('systemd', root, { HOME: home });
    expect(loc.name).toMatch(/^wo-[A-Za-z0-9_-]{1,32}-[0-9a-f]{6}\.service$/);
    expect(unitLocation('launchd', root, { HOME: home }).name).toMatch(/^com\.wo\.daemon\.[A-Za-z0-9_-]{1,32}-[0-9a-f]{6}$/);
    const main = path.join(parent, 'main.js');
    fs.writeFileSync(main, '');
    const spec = currentSpec(root, { stopTimeoutS: 15, env: { HOME: home }, node: process.execPath, mainJs: main });
    const text = renderSystemd(readTemplate('systemd'), spec);
    expect(unitProgram('systemd', text)).toEqual({ node: process.execPath, mainJs: main });
    expect(unitProgram('launchd', renderLaunchd(readTemplate('launchd'), spec))).toEqual({ node: process.execPath, mainJs: main });
    if (!haveAnalyze) return;
    const dir = tempDir('wo-unit-');
    const file = path.join(dir, loc.name);
    fs.writeFileSync(file, text);
    const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_LEVEL: 'warning' } });
    expect(`${r.stderr}`).not.toMatch(new RegExp(`${loc.name.replace(/[.]/g, '\\.')}:\\d+`));
    expect(r.status).toBe(0);
  });
});

it('a root with a control character (tab, newline) is refused, never rendered', () => {
  for (const name of ['tab\tname', 'new\nline']) {
    const root = path.join(tempDir('wo-odd-'), name);
    fs.mkdirSync(root);
    expect(() => renderSystemd(readTemplate('systemd'), currentSpec(root, { stopTimeoutS: 15, env: { HOME: '/h' }, node: process.execPath, mainJs: '/m.js' }))).toThrow(UsageError);
  }
});

describe('log flood and rotation races', () => {
  it('many writers rotating one file in turn: every file bounded, at most keep rotated files, every kept line whole', () => {
    const dir = tempDir('wo-flood-');
    const file = path.join(dir, 'daemon.log');
    const limits = { rotateBytes: 2048, keep: 3 };
    const writers = Array.from({ length: 4 }, () => new RotatingFile(file, () => limits));
    const rand = rng(12);
    const n = size(2000, 20_000);
    for (let i = 0; i < n; i++) {
      const w = writers[Math.floor(rand() * writers.length)]!;
      w.write(`${JSON.stringify({ i, pad: 'p'.repeat(Math.floor(rand() * 300)) })}\n`);
    }
    for (const w of writers) w.close();
    const names = fs.readdirSync(dir);
    expect(names.length).toBeLessThanOrEqual(1 + limits.keep);
    expect(names).not.toContain(path.basename(rotatedName(file, limits.keep + 1)));
    for (const nme of names) {
      const text = fs.readFileSync(path.join(dir, nme), 'utf8');
      for (const l of text.split('\n').filter(Boolean)) expect(() => JSON.parse(l)).not.toThrow();
    }
  });
});
