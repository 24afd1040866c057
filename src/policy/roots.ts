/** Lexical containment and the root's internals, shared by path safety and command analysis. Pure. */
import path from 'node:path';
import { internalDirs, layout } from '../layout.js';

/** Why: "inside" must mean a whole-component prefix (`/root2` is not inside `/root`). */
export function isInside(abs: string, dir: string): boolean {
  return abs === dir || abs.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

/** Why: a write target must be strictly below the root or an allowed root, never the folder itself. */
export function underAny(abs: string, dirs: readonly string[]): boolean {
  return dirs.some((d) => abs !== d && isInside(abs, d));
}

export interface InternalsPolicy {
  /** `policy.allow_self_modify`: the root's control files (config, .git/) become ordinary targets (dangerous). */
  allowSelfModify?: boolean;
}

/** Code points HFS+ ignores in names (git's `is_hfs_dotgit` list): `.g\u200cit` is `.git` there. */
const HFS_IGNORED = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g;

/** Why: a name as a case-insensitive, HFS+-ignoring disk compares it (APFS, HFS+), so variants cannot slip past. */
export function foldName(name: string): string {
  return name.replace(HFS_IGNORED, '').normalize('NFC').toLowerCase();
}

function components(rel: string): string[] {
  return rel.split(/[\\/]+/).map(foldName).filter((c) => c !== '' && c !== '.');
}

/** Components with `..` resolved lexically (`g/reports/../run` is `g/run`; above the root stays `..`). */
function resolved(rel: string): string[] {
  const out: string[] = [];
  for (const c of components(rel)) {
    if (c === '..' && out.length > 0 && out[out.length - 1] !== '..') out.pop();
    else out.push(c);
  }
  return out;
}

const ANY_ROOT = path.resolve('/wo-root');
/** The internals as folded components relative to the root, from `internalDirs` (layout.ts), the one list. */
export const INTERNAL_RELS: readonly (readonly string[])[] = internalDirs(layout(ANY_ROOT)).map((d) => components(path.relative(ANY_ROOT, d)));

/** Why: a path is internal when it is inside one of wo's folders, or is a folder holding one (`g`, `g/followup`). */
function daemonInternal(comps: readonly string[]): boolean {
  if (comps.length === 0) return false;
  return INTERNAL_RELS.some((d) => {
    const n = Math.min(d.length, comps.length);
    for (let i = 0; i < n; i++) if (d[i] !== comps[i]) return false;
    return true;
  });
}

const CONFIG_NAMES = new Set(['wo.config.yaml', 'wo.config.yml']);
const DAEMON_REASON = "the daemon's internals (bridge/ or wo's own folders under g/)";
const CONFIG_REASON = "the daemon's own configuration (wo.config.yaml)";
const GIT_REASON = "a git repository's internals (.git/: its hooks and config run code at the next git command)";

/**
 * Why a `.git` component anywhere (the root's repository, a nested one, a submodule's, an allowed root's) is
 * off-limits: hooks and config run code at the user's next git command there. Undefined when there is none.
 */
export function gitInternalReason(rel: string): string | undefined {
  return components(rel).includes('.git') ? GIT_REASON : undefined;
}

/**
 * Why a path relative to the root is off-limits to WOs, or undefined when it is an ordinary target.
 * `bridge/` and wo's own folders under `g/` (`internalDirs`, and any folder holding one) are the daemon's state
 * (always refused; the rest of `g/` is the user's); `wo.config.yaml` (the daemon reloads it: a
 * write turns policy off) and any `.git/` (code at the next git command) are the root's control files,
 * refused unless `policy.allow_self_modify`. Case-folded and HFS+-ignorables stripped (APFS, HFS+).
 */
export function internalReason(rel: string, opts: InternalsPolicy = {}): string | undefined {
  const comps = resolved(rel);
  if (daemonInternal(comps)) return DAEMON_REASON;
  const first = comps[0];
  if (opts.allowSelfModify) return undefined;
  if (first !== undefined && CONFIG_NAMES.has(first)) return CONFIG_REASON;
  return gitInternalReason(rel);
}

/** Why: `bridge/` and wo's folders under `g/` are the daemon's own state (kept for callers that only ask that). */
export function isInternalRel(rel: string): boolean {
  return internalReason(rel, { allowSelfModify: true }) !== undefined;
}
