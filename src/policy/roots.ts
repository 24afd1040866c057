/** Lexical containment and the root's internals, shared by path safety and command analysis. Pure. */
import path from 'node:path';

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

/**
 * Why a path relative to the root is off-limits to WOs, or undefined when it is an ordinary target.
 * `bridge/` and `g/` are the daemon's own state (always refused); `wo.config.yaml` and `.git/` are the root's
 * control files (a write turns policy off or runs code at the next git command), refused unless
 * `policy.allow_self_modify`. Case-folded for case-insensitive disks (APFS).
 */
export function internalReason(rel: string, opts: InternalsPolicy = {}): string | undefined {
  const parts = rel.split(/[\\/]+/).filter((c) => c !== '' && c !== '.');
  const first = parts[0]?.toLowerCase();
  if (first === 'bridge' || first === 'g') return "the daemon's internals (bridge/ or g/)";
  if (opts.allowSelfModify) return undefined;
  if (first === 'wo.config.yaml' || first === 'wo.config.yml') return "the daemon's own configuration (wo.config.yaml)";
  if (first === '.git') return "the git repository's internals (.git/: hooks and config run code at the next git command)";
  return undefined;
}

/** Why: `bridge/` and `g/` are the daemon's own state (kept for callers that only ask that). */
export function isInternalRel(rel: string): boolean {
  return internalReason(rel, { allowSelfModify: true }) !== undefined;
}
