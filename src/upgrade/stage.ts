/** Stage (step 3): copy the candidate into g/releases/.staging-*, node_modules (copied when the lock matches, else npm ci), dist/, then rename into place. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fsyncDir, writeJsonAtomic } from '../util/fsx.js';
import { runCmd } from './proc.js';
import { CURRENT, linkTarget, readMeta, releaseName, type ReleaseMeta } from './releases.js';
import type { StepOutcome } from './report.js';

/** Top-level names never copied into a release: built or installed there, or a root's own data. */
const EXCLUDED = new Set(['node_modules', 'dist', '.git', 'g', 'bridge', 'wo.config.yaml', 'coverage']);

export interface Source {
  /** The folder to copy. */
  dir: string;
  /** Commit sha (git, clean) or a content hash. */
  sha: string;
  /** The checkout to remember as the next default source. */
  origin: string;
  /** A temp folder to remove afterwards (--ref). */
  cleanup?: string;
}

async function walkFiles(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (!rel && EXCLUDED.has(e.name)) continue;
    if (e.isDirectory()) out.push(...(await walkFiles(dir, r)));
    else if (e.isFile() || e.isSymbolicLink()) out.push(r);
  }
  return out.sort();
}

/** sha256 over the given files' names and bytes (relative to dir; missing ones count as absent). */
async function hashFiles(dir: string, files: string[], extra = ''): Promise<string> {
  const h = crypto.createHash('sha256').update(extra);
  for (const f of files) {
    h.update(`\0${f}\0`);
    try {
      h.update(await fsp.readFile(path.join(dir, f)));
    } catch {
      h.update('\0absent');
    }
  }
  return h.digest('hex');
}

/** Why: dist/ is a function of the sources, the build scripts and the locked dependencies; equal keys ⇒ the same dist/. */
export async function buildKey(dir: string): Promise<string> {
  const all = await walkFiles(dir);
  const inputs = all.filter((f) => f.startsWith('src/') || f.startsWith('scripts/') || f === 'tsconfig.json' || f === 'package-lock.json');
  let scripts = '';
  try {
    const pkg = JSON.parse(await fsp.readFile(path.join(dir, 'package.json'), 'utf8')) as { scripts?: Record<string, string>; dependencies?: unknown; devDependencies?: unknown };
    scripts = JSON.stringify([pkg.scripts?.build, pkg.scripts?.prepare, pkg.dependencies, pkg.devDependencies]);
  } catch {
    /* no package.json: the key covers the files only */
  }
  return hashFiles(dir, inputs, scripts);
}

/** Resolve the candidate: --from DIR, --ref REF (a `git archive` of the default checkout), else the default checkout. */
export async function resolveSource(opts: { from?: string; ref?: string; checkout: string }): Promise<Source> {
  if (opts.ref) {
    const rev = await runCmd(['git', '-C', opts.checkout, 'rev-parse', '--verify', `${opts.ref}^{commit}`], { timeoutMs: 30_000 });
    if (rev.code !== 0) throw new Error(`--ref ${opts.ref}: not a commit in ${opts.checkout}: ${rev.output.trim()}`);
    const sha = rev.output.trim();
    const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'wo-upgrade-ref-'));
    const tar = path.join(tmp, 'src.tar');
    const dir = path.join(tmp, 'tree');
    await fsp.mkdir(dir);
    const a = await runCmd(['git', '-C', opts.checkout, 'archive', '--format=tar', '-o', tar, sha], { timeoutMs: 120_000 });
    if (a.code !== 0) throw new Error(`git archive ${sha} failed: ${a.output.trim()}`);
    const x = await runCmd(['tar', '-xf', tar, '-C', dir], { timeoutMs: 120_000 });
    if (x.code !== 0) throw new Error(`tar -xf failed: ${x.output.trim()}`);
    return { dir, sha, origin: opts.checkout, cleanup: tmp };
  }
  const dir = path.resolve(opts.from ?? opts.checkout);
  if (!fs.existsSync(path.join(dir, 'package.json'))) throw new Error(`${dir} is not a wo checkout (no package.json)`);
  const head = await runCmd(['git', '-C', dir, 'rev-parse', '--verify', 'HEAD'], { timeoutMs: 30_000 });
  const dirty = await runCmd(['git', '-C', dir, 'status', '--porcelain'], { timeoutMs: 60_000 });
  if (head.code === 0 && dirty.code === 0 && dirty.output.trim() === '') return { dir, sha: head.output.trim(), origin: dir };
  // Not git, or uncommitted changes: name the release by its content so two different trees never share a name.
  return { dir, sha: `c${(await hashFiles(dir, await walkFiles(dir))).slice(0, 11)}`, origin: dir };
}

/** The candidate's package.json (version, engines, scripts). */
export function readPackage(dir: string): { version: string; engines?: { node?: string }; scripts?: Record<string, string> } {
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as never;
}

/** Copy a folder tree fast: a reflink copy where the file system can (GNU cp), else a plain recursive copy. */
export async function copyTree(from: string, to: string): Promise<void> {
  const argv = process.platform === 'linux' ? ['cp', '-a', '--reflink=auto', from, to] : ['cp', '-Rp', from, to];
  const r = await runCmd(argv, { timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed: ${r.output.trim()}`);
}

async function sameFile(a: string, b: string): Promise<boolean> {
  try {
    const [x, y] = await Promise.all([fsp.readFile(a), fsp.readFile(b)]);
    return x.equals(y);
  } catch {
    return false;
  }
}

/** Newest mtime of the build inputs vs the oldest of dist/: make's rule that a checkout's dist/ is up to date. */
async function distUpToDate(dir: string): Promise<boolean> {
  const dist = path.join(dir, 'dist');
  if (!fs.existsSync(path.join(dist, 'cli', 'main.js'))) return false;
  const inputs = (await walkFiles(dir)).filter((f) => f.startsWith('src/') || f.startsWith('scripts/') || f === 'tsconfig.json' || f === 'package.json');
  let newest = 0;
  for (const f of inputs) newest = Math.max(newest, (await fsp.lstat(path.join(dir, f))).mtimeMs);
  return (await fsp.stat(path.join(dist, 'cli', 'main.js'))).mtimeMs >= newest;
}

export interface StageResult {
  outcome: StepOutcome;
  name?: string;
  dir?: string;
}

/** Stage a release from a source into `releasesDir`; reuse a release already staged under the same name. */
export async function stageRelease(releasesDir: string, src: Source, opts: { npmTimeoutMs?: number } = {}): Promise<StageResult> {
  const pkg = readPackage(src.dir);
  const name = releaseName(pkg.version, src.sha);
  const final = path.join(releasesDir, name);
  await fsp.mkdir(releasesDir, { recursive: true, mode: 0o700 });
  if (fs.existsSync(path.join(final, 'release.json'))) {
    return { name, dir: final, outcome: { status: 'ok', summary: `${name} is already staged (reused)` } };
  }
  const log: string[] = [];
  const staging = path.join(releasesDir, `.staging-${name}-${process.pid}`);
  await fsp.rm(staging, { recursive: true, force: true });
  await fsp.mkdir(staging, { mode: 0o755 });
  for (const f of await fsp.readdir(src.dir)) {
    if (EXCLUDED.has(f)) continue;
    await fsp.cp(path.join(src.dir, f), path.join(staging, f), { recursive: true, verbatimSymlinks: true, filter: (p) => !p.includes(`${path.sep}node_modules${path.sep}`) });
  }
  log.push(`copied ${src.dir} → ${staging}`);
  const curName = linkTarget(releasesDir, CURRENT);
  const cur = curName ? path.join(releasesDir, curName) : undefined;
  const lock = path.join(staging, 'package-lock.json');
  // node_modules: from a donor with the very same package-lock.json (the current release, else the source's own npm ci'd tree).
  let nodeModules: string;
  const donors = [cur, src.dir].filter((d): d is string => !!d && fs.existsSync(path.join(d, 'node_modules')));
  let donor: string | undefined;
  for (const d of donors) {
    if ((await sameFile(path.join(d, 'package-lock.json'), lock)) && (d === cur || fs.existsSync(path.join(d, 'node_modules', '.package-lock.json')))) {
      donor = d;
      break;
    }
  }
  if (donor) {
    await copyTree(path.join(donor, 'node_modules'), path.join(staging, 'node_modules'));
    nodeModules = `copied node_modules from ${donor === cur ? `the current release ${curName}` : donor} (same package-lock.json), no npm ci`;
  } else {
    const r = await runCmd(['npm', 'ci', '--no-audit', '--no-fund'], { cwd: staging, timeoutMs: opts.npmTimeoutMs ?? 900_000 });
    log.push(r.output);
    if (r.code !== 0) return { name, outcome: { status: 'failed', summary: `npm ci failed (exit ${r.code}${r.timedOut ? ', timed out' : ''})`, output: log.join('\n') } };
    nodeModules = 'npm ci (package-lock.json differs from the current release)';
  }
  log.push(nodeModules);
  // dist/: lent by a release (or the source) built from the same inputs, else npm run build.
  const key = await buildKey(staging);
  const curMeta = cur ? readMeta(cur) : undefined;
  let distHow: string;
  if (cur && curMeta?.build_key === key && fs.existsSync(path.join(cur, 'dist'))) {
    await copyTree(path.join(cur, 'dist'), path.join(staging, 'dist'));
    distHow = `dist/ copied from ${curName} (same sources)`;
  } else if ((await buildKey(src.dir)) === key && (await distUpToDate(src.dir))) {
    await copyTree(path.join(src.dir, 'dist'), path.join(staging, 'dist'));
    distHow = `dist/ copied from ${src.dir} (built after its last source change)`;
  } else if (fs.existsSync(path.join(staging, 'dist', 'cli', 'main.js')) && !donor) {
    distHow = 'dist/ built by npm ci (prepare)';
  } else {
    const r = await runCmd(['npm', 'run', 'build'], { cwd: staging, timeoutMs: opts.npmTimeoutMs ?? 900_000 });
    log.push(r.output);
    if (r.code !== 0) return { name, outcome: { status: 'failed', summary: `npm run build failed (exit ${r.code})`, output: log.join('\n') } };
    distHow = 'dist/ built (npm run build)';
  }
  log.push(distHow);
  const meta: ReleaseMeta = { name, version: pkg.version, sha: src.sha, source: src.origin, created_at: new Date().toISOString(), build_key: key, node_modules: nodeModules };
  await writeJsonAtomic(path.join(staging, 'release.json'), meta, { mode: 0o644 });
  await fsp.rename(staging, final);
  await fsyncDir(releasesDir);
  return { name, dir: final, outcome: { status: 'ok', summary: `staged ${name}: ${nodeModules}; ${distHow}`, output: log.join('\n') } };
}
