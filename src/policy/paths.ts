/**
 * Path safety (SPEC §6): a WO's target path is first judged lexically (pure), then checked on
 * disk component by component with lstat (no symlink anywhere, no hard-linked target), the
 * way node-tar learned to after its CVEs. Every refusal is a final `POLICY_REFUSED`.
 */
import path from 'node:path';
import { WoError } from '../errors.js';
import { isInside, isInternalRel } from './roots.js';
import { openParent, withParent, type Dir } from '../util/confined.js';

export interface PathPolicy {
  root: string;
  allowedRoots: readonly string[];
}

export interface Target {
  /** Absolute, normalised, lexical (not resolved through symlinks). */
  abs: string;
  /** Relative to the root for paths under the root; the absolute path otherwise. */
  rel: string;
  /** The root or the allowed root that contains the target (the deepest one if nested). */
  base: string;
}

export interface TargetState {
  exists: boolean;
  mode?: number;
  nlink?: number;
  kind?: 'file' | 'directory' | 'other';
}

const MAX_PATH_BYTES = 4096;

function refuse(p: string, why: string): never {
  throw new WoError('POLICY_REFUSED', `path '${p}': ${why}`);
}

/** Why: every refusal a path can earn without touching the disk, decided once and at every autonomy level. */
export function lexicalTarget(p: string, ctx: PathPolicy): Target {
  if (p === '') refuse(p, 'is empty');
  if (p.includes('\0')) refuse(p.replace(/\0/g, '\\0'), 'holds a NUL byte');
  // eslint-disable-next-line no-control-regex
  if (/[\x01-\x1f\x7f]/.test(p)) refuse(JSON.stringify(p), 'holds control characters (newline, tab, …)');
  if (Buffer.byteLength(p) > MAX_PATH_BYTES) refuse(`${p.slice(0, 60)}…`, `is longer than ${MAX_PATH_BYTES} bytes`);
  if (p.includes('\\')) refuse(p, 'holds a backslash, which is ambiguous (a separator on Windows, a character here)');
  if (p.startsWith('~')) refuse(p, "starts with '~', which is not expanded: write the absolute path");
  const parts = p.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..')) refuse(p, "holds a '..' component, which could escape the root");
  const root = path.resolve(ctx.root);
  const abs = p.startsWith('/') ? `/${parts.join('/')}` : path.join(root, ...parts);
  if (abs === root) refuse(p, 'is the root itself');
  const allowed = ctx.allowedRoots.map((r) => path.resolve(r));
  if (allowed.includes(abs)) refuse(p, 'is an allowed root itself, not a path inside it');
  const bases = [root, ...allowed].filter((b) => isInside(abs, b) && abs !== b);
  if (bases.length === 0) refuse(p, 'is outside the root and policy.allowed_roots');
  const base = bases.reduce((a, b) => (b.length > a.length ? b : a));
  const underRoot = isInside(abs, root);
  const rel = underRoot ? path.relative(root, abs) : abs;
  if (underRoot && isInternalRel(rel)) refuse(p, "is inside the daemon's internals (bridge/ or g/), which WOs may not write");
  return { abs, rel, base };
}

/** Why: a symlink or a file in any component would redirect the write elsewhere; walk with handles, never follow. */
export async function checkTarget(t: Pick<Target, 'abs' | 'base'>): Promise<TargetState> {
  const st = await withParent(t, {}, (dir, name) => dir.lstat(name));
  if (!st) return { exists: false };
  if (st.isSymbolicLink()) {
    throw new WoError('POLICY_REFUSED', `path '${t.abs}': '${t.abs}' is a symbolic link; links are refused in any component of a target`);
  }
  if (st.isFile() && st.nlink > 1) {
    throw new WoError('POLICY_REFUSED', `path '${t.abs}': is a hard-linked file (${st.nlink} links); writing it would change the other names too`);
  }
  const kind = st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other';
  return { exists: true, mode: st.mode, nlink: st.nlink, kind };
}

/**
 * Why: parents are created one level at a time through folder handles, so a racing symlink is never followed.
 * Returns the folders created, deepest first (the order rollback removes them in).
 */
export async function ensureParents(t: Pick<Target, 'abs' | 'base'>): Promise<string[]> {
  const opened = await openParent(t, { create: true });
  const created: string[] = [];
  try {
    for (let d: Dir | undefined = opened?.dir; d?.created; d = d.parentDir) created.push(d.shown);
  } finally {
    await opened?.dir.close();
  }
  return created;
}

/** Why: prove the target's folder still sits at its lexical path with no link in it (refused otherwise). */
export async function recheckParent(t: Pick<Target, 'abs' | 'base'>): Promise<void> {
  const ok = await withParent(t, {}, async (dir) => {
    await dir.verify();
    return true;
  });
  if (!ok) throw new WoError('POLICY_REFUSED', `path '${t.abs}': its folder '${path.dirname(t.abs)}' vanished`);
}
