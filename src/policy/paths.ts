/**
 * Path safety (SPEC §6): a WO's target path is first judged lexically (pure), then checked on
 * disk component by component with lstat (no symlink anywhere, no hard-linked target), the
 * way node-tar learned to after its CVEs. Every refusal is a final `POLICY_REFUSED`.
 */
import path from 'node:path';
import { WoError } from '../errors.js';
import { foldName, gitInternalReason, internalReason, isInside } from './roots.js';
import { openParent, withParent, type Dir } from '../util/confined.js';

export interface PathPolicy {
  root: string;
  allowedRoots: readonly string[];
  /** `policy.allow_self_modify`: wo.config.yaml, `.git/` and `controlFiles` become ordinary targets (dangerous). */
  allowSelfModify?: boolean;
  /** Files outside bridge/, g/ and the config that set how this daemon runs (its installed service unit). */
  controlFiles?: readonly ControlFile[];
  /** Other spellings of a folder of the root through a symlinked allowed root: `abs` is the root's `rel` (`''`: the root). */
  rootAliases?: readonly RootAlias[];
}

export interface RootAlias {
  abs: string;
  rel: string;
}

export interface ControlFile {
  /** Absolute and lexical, as a WO could name it (one entry per way in: a symlinked allowed root gets its own). */
  abs: string;
  /** What it is, for the refusal: "this root's installed systemd service unit". */
  why: string;
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
  const root = path.resolve(ctx.root);
  // `..` is resolved in the text (relative to the root), never by the disk: the result must still be inside the root
  // or an allowed root, and every operation then walks that normalised path one component at a time (no link
  // followed), so `a/..` cannot go where a link named `a` points. Seed 003's own WOs write
  // `../Library/LaunchAgents/x.plist` beside a root in ~/02luka (with that folder an allowed root).
  const abs = path.resolve(root, p);
  if (abs === root) refuse(p, 'is the root itself');
  const allowed = ctx.allowedRoots.map((r) => path.resolve(r));
  if (allowed.includes(abs)) refuse(p, 'is an allowed root itself, not a path inside it');
  const bases = [root, ...allowed].filter((b) => isInside(abs, b) && abs !== b);
  if (bases.length === 0) refuse(p, 'is outside the root and policy.allowed_roots');
  const base = bases.reduce((a, b) => (b.length > a.length ? b : a));
  const underRoot = isInside(abs, root);
  const rel = underRoot ? path.relative(root, abs) : abs;
  refuseInternal(p, abs, base, ctx);
  return { abs, rel, base };
}

const SELF_MODIFY = 'which WOs may not write (policy.allow_self_modify is false)';

/**
 * The root's internals, however the path reaches the root (its own spelling, a case variant, an allowed root that
 * is the root's parent through a symlink): bridge/ and g/ always; `.git/` anywhere, the config and the control
 * files unless `allowSelfModify`; and never a folder holding the root (its snapshot would cover them all).
 */
function refuseInternal(p: string, abs: string, base: string, ctx: PathPolicy): void {
  const folded = foldPath(abs);
  const views = [{ abs: path.resolve(ctx.root), rel: '' }, ...(ctx.rootAliases ?? [])];
  const rels: string[] = [];
  for (const v of views) {
    const at = foldPath(v.abs);
    if (v.rel === '' && isInside(at, folded)) {
      refuse(p, `is ${at === folded ? 'the root itself' : 'a parent of the root'}: it holds the daemon's internals (bridge/, g/) and its configuration`);
    }
    if (isInside(folded, at)) rels.push(path.join(v.rel, path.relative(at, folded)));
  }
  for (const rel of rels) {
    const always = internalReason(rel, { allowSelfModify: true });
    if (always) refuse(p, `is inside ${always}, which WOs may not write`);
  }
  if (ctx.allowSelfModify) return;
  for (const rel of [path.relative(base, abs), ...rels]) {
    const git = gitInternalReason(rel);
    if (git) refuse(p, `is inside ${git}, ${SELF_MODIFY}`);
  }
  for (const rel of rels) {
    const config = internalReason(rel);
    if (config) refuse(p, `is ${config}, ${SELF_MODIFY}`);
  }
  for (const f of ctx.controlFiles ?? []) {
    const file = foldPath(f.abs);
    if (file === folded) refuse(p, `is ${f.why}, ${SELF_MODIFY}`);
    // A folder holding it (exec `paths`): its snapshot and rollback would cover the file.
    if (isInside(file, folded)) refuse(p, `holds ${f.why} (${f.abs}), ${SELF_MODIFY}`);
  }
}

/** An absolute path as a case-insensitive disk compares it. */
function foldPath(abs: string): string {
  return abs.split('/').map(foldName).join('/');
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
