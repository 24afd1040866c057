/** The npm package: what it ships, that its runtime imports are real dependencies, that its bins survive npm's links. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, childEnv, tempDir } from '../helpers.js';

interface Pkg {
  name: string;
  version: string;
  bin: Record<string, string>;
  files: string[];
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}
const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as Pkg;
const DIST = path.join(REPO, 'dist');

function jsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return d.name === 'bench' ? [] : jsFiles(p); // dist/bench is not shipped
    return d.name.endsWith('.js') ? [p] : [];
  });
}

/** The package a bare specifier names: `a/b` → `a`, `@s/a/b` → `@s/a`. */
const packageOf = (spec: string) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');

/** The file list `npm pack` would ship (scripts skipped: dist is already built by the test run). */
function packList(): string[] {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', '--loglevel=error'], { cwd: REPO, env: childEnv(), encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout) as { files: { path: string }[] }[];
  return out[0]!.files.map((f) => f.path);
}

describe('package manifest', () => {
  it('has a name of its own (wo is someone else on npm) and a bin named after it for npx', () => {
    expect(pkg.name).not.toBe('wo');
    expect(pkg.bin[pkg.name.replace(/^@[^/]+\//, '')]).toBeDefined();
    expect(pkg.bin.wo).toBe('bin/wo');
    expect(pkg.bin['check-history']).toBe('bin/check-history');
    for (const file of Object.values(pkg.bin)) {
      const st = fs.statSync(path.join(REPO, file));
      expect(st.mode & 0o111, `${file} is executable`).not.toBe(0);
      expect(fs.readFileSync(path.join(REPO, file), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    }
  });

  it('builds before packing and keeps prepare for a checkout', () => {
    expect(pkg.scripts.prepack).toContain('tsc');
    expect(pkg.scripts.prepare).toContain('tsc');
  });

  it('every package the shipped code imports at run time is in dependencies, not devDependencies', () => {
    const specs = new Set<string>();
    const re = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm;
    for (const f of jsFiles(DIST)) {
      for (const m of fs.readFileSync(f, 'utf8').matchAll(re)) {
        const spec = m[1] ?? m[2] ?? m[3]!;
        if (spec.startsWith('.') || spec.startsWith('/') || isBuiltin(spec)) continue;
        specs.add(packageOf(spec));
      }
    }
    expect([...specs]).toContain('commander'); // the scan sees imports at all
    const missing = [...specs].filter((s) => !(s in pkg.dependencies));
    expect(missing, 'imported at run time but not in dependencies').toEqual([]);
  });

  it('ships dist, bins, unit templates, examples, docs, README and LICENSE, and no sources, tests, CI or maps', () => {
    const files = packList();
    for (const f of ['package.json', 'README.md', 'LICENSE', 'bin/wo', 'bin/check-history', 'dist/cli/main.js', 'examples/canary.yaml', 'docs/SPEC.md']) {
      expect(files, f).toContain(f);
    }
    expect(files.some((f) => f.startsWith('launchd/')), 'launchd template').toBe(true);
    expect(files.some((f) => f.startsWith('systemd/')), 'systemd template').toBe(true);
    const stray = files.filter((f) => /^(src|tests|\.ci|node_modules|bridge|g)\//.test(f) || f.endsWith('.map') || f.startsWith('dist/bench/') || f === 'dist/test-results.json');
    expect(stray).toEqual([]);
  });
});

describe('bin scripts', () => {
  it('run through a symlink from another folder, as npm links them into a bin folder', () => {
    const dir = tempDir('wo-bin-');
    fs.symlinkSync(path.join(REPO, 'bin', 'wo'), path.join(dir, 'wo'));
    fs.symlinkSync(path.join(REPO, 'bin', 'check-history'), path.join(dir, 'check-history'));
    const v = spawnSync(path.join(dir, 'wo'), ['--version'], { cwd: dir, env: childEnv(), encoding: 'utf8', timeout: 60_000 });
    expect(v.status, v.stderr).toBe(0);
    expect(v.stdout.trim()).toBe(pkg.version);
    const h = spawnSync(path.join(dir, 'check-history'), ['--help'], { cwd: dir, env: childEnv(), encoding: 'utf8', timeout: 60_000 });
    expect(h.status, h.stderr).toBe(0);
    expect(h.stdout).toContain('check-history');
  });

  it('say how to build when a checkout has no dist yet, instead of a module-not-found stack', () => {
    const dir = tempDir('wo-unbuilt-');
    fs.mkdirSync(path.join(dir, 'bin'));
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    fs.copyFileSync(path.join(REPO, 'bin', 'wo'), path.join(dir, 'bin', 'wo'));
    const r = spawnSync(process.execPath, [path.join(dir, 'bin', 'wo'), '--version'], { env: childEnv(), encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(path.join(dir, 'dist', 'cli', 'main.js'));
    expect(r.stderr).not.toContain('ERR_MODULE_NOT_FOUND');
  });
});
