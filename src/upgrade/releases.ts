/** Releases under g/releases/: immutable `<version>-<sha>/` folders and the `current`/`previous` links, switched atomically. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir } from '../util/fsx.js';

export const CURRENT = 'current';
export const PREVIOUS = 'previous';

/** What a release says about itself (release.json, written before it is sealed). */
export interface ReleaseMeta {
  name: string;
  version: string;
  sha: string;
  /** The folder (checkout) it was staged from; the default source of the next upgrade. */
  source: string;
  created_at: string;
  /** sha256 of what dist/ is built from: a release with the same key can lend its dist/. */
  build_key?: string;
  /** How node_modules came to be: copied from a release with the same package-lock.json, or `npm ci`. */
  node_modules?: string;
}

export interface ReleaseEntry {
  name: string;
  dir: string;
  current: boolean;
  previous: boolean;
  meta?: ReleaseMeta;
  mtimeMs: number;
}

/** g/releases/ of a root. */
export function releasesDir(root: string): string {
  return path.join(path.resolve(root), 'g', 'releases');
}

/** Why: a release folder name must be one path word and tell what it holds: `<version>-<sha12>`. */
export function releaseName(version: string, sha: string): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9._+-]+/g, '_').replace(/^[.]+/, '');
  return `${clean(version) || '0.0.0'}-${clean(sha).slice(0, 12) || 'unknown'}`;
}

/** The release a link names (its folder name), or undefined when the link is absent or dangling. */
export function linkTarget(dir: string, link: string): string | undefined {
  try {
    const t = fs.readlinkSync(path.join(dir, link));
    const name = path.basename(t);
    return fs.existsSync(path.join(dir, name)) ? name : undefined;
  } catch {
    return undefined;
  }
}

/** Point `link` at release `name` atomically: a symlink under a temp name renamed over the link, then the folder fsynced. */
export async function switchLink(dir: string, link: string, name: string): Promise<void> {
  const tmp = path.join(dir, `.${link}.${process.pid}.tmp`);
  await fsp.rm(tmp, { force: true });
  await fsp.symlink(name, tmp);
  await fsp.rename(tmp, path.join(dir, link));
  await fsyncDir(dir);
}

/** Why: a promotion is two link changes; `previous` first, so a crash between them leaves current untouched. */
export async function promoteLinks(dir: string, name: string): Promise<{ from?: string }> {
  const from = linkTarget(dir, CURRENT);
  if (from && from !== name) await switchLink(dir, PREVIOUS, from);
  await switchLink(dir, CURRENT, name);
  return from ? { from } : {};
}

/** Read release.json of a release folder. */
export function readMeta(releaseDir: string): ReleaseMeta | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(releaseDir, 'release.json'), 'utf8')) as ReleaseMeta;
  } catch {
    return undefined;
  }
}

/** Every release folder (temp/staging names excluded), newest first, with its links marked. */
export function listReleases(dir: string): ReleaseEntry[] {
  const cur = linkTarget(dir, CURRENT);
  const prev = linkTarget(dir, PREVIOUS);
  const out: ReleaseEntry[] = [];
  let entries: fs.Dirent[] = [];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const d = path.join(dir, e.name);
    const meta = readMeta(d);
    out.push({ name: e.name, dir: d, current: e.name === cur, previous: e.name === prev, mtimeMs: fs.statSync(d).mtimeMs, ...(meta ? { meta } : {}) });
  }
  return out.sort((a, b) => (b.meta?.created_at ?? '').localeCompare(a.meta?.created_at ?? '') || b.mtimeMs - a.mtimeMs);
}

/** Pure: which releases to prune — beyond the newest `keep`, never the current or the previous one. */
export function pruneChoice(newestFirst: { name: string; current: boolean; previous: boolean }[], keep: number): string[] {
  const kept = new Set(newestFirst.filter((r) => r.current || r.previous).map((r) => r.name));
  for (const r of newestFirst) {
    if (kept.size >= keep) break;
    kept.add(r.name);
  }
  return newestFirst.filter((r) => !kept.has(r.name)).map((r) => r.name);
}

/** Make every file of a release read-only (folders stay writable by the owner so pruning can remove it). */
export async function sealRelease(dir: string): Promise<void> {
  for (const e of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const p = path.join(e.parentPath, e.name);
    const st = await fsp.stat(p);
    await fsp.chmod(p, st.mode & 0o555);
  }
}

/** Remove the releases `pruneChoice` names; returns what was removed. */
export async function pruneReleases(dir: string, keep: number): Promise<string[]> {
  const doomed = pruneChoice(listReleases(dir), keep);
  for (const name of doomed) {
    // Move it aside first (one rename), so a crash mid-removal never leaves a half release under its name.
    const aside = path.join(dir, `.pruning-${name}-${process.pid}`);
    await fsp.rename(path.join(dir, name), aside);
    await fsyncDir(dir);
    await fsp.rm(aside, { recursive: true, force: true });
  }
  return doomed;
}

/** `bin/wo` of a release. */
export function releaseBin(releaseDir: string): string {
  return path.join(releaseDir, 'bin', 'wo');
}

/** Why: status and the pipeline must know what the live daemon runs, not what the link says (they differ after a crash). */
export function runningRelease(root: string, pid: number): string | undefined {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const dir = fs.realpathSync(releasesDir(root));
    for (const a of argv.slice(1, 3)) {
      if (!a.startsWith('/')) continue;
      const real = fs.realpathSync(a);
      if (real.startsWith(dir + path.sep)) return real.slice(dir.length + 1).split(path.sep)[0];
    }
  } catch {
    /* not Linux, or gone */
  }
  return undefined;
}
