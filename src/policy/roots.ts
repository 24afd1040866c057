/** Lexical containment shared by path safety and redirection checks. Pure. */
import path from 'node:path';

/** Why: "inside" must mean a whole-component prefix (`/root2` is not inside `/root`). */
export function isInside(abs: string, dir: string): boolean {
  return abs === dir || abs.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

/** Why: a write target must be strictly below the root or an allowed root, never the folder itself. */
export function underAny(abs: string, dirs: readonly string[]): boolean {
  return dirs.some((d) => abs !== d && isInside(abs, d));
}

/** Why: `bridge/` and `g/` are the daemon's own state; case-folded for case-insensitive disks (APFS). */
export function isInternalRel(rel: string): boolean {
  const first = rel.split('/')[0]?.toLowerCase();
  return first === 'bridge' || first === 'g';
}
