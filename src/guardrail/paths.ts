/** Path confinement for the guardrail: every protected path is root-relative, inside the root, never followed through a symlink. */
import fsp from 'node:fs/promises';
import path from 'node:path';

/** A path the guardrail refuses, with the reason in words. */
export class UnsafePath extends Error {
  override name = 'UnsafePath';
}

/**
 * A user-given path (relative to the root, or absolute) as a normalized root-relative path with `/`
 * separators; throws UnsafePath when it is outside the root or is the root itself.
 */
export function toRel(root: string, rootReal: string, given: string): string {
  if (given.includes('\0')) throw new UnsafePath(`${JSON.stringify(given)}: contains a NUL byte`);
  const norm = given.normalize('NFC');
  const abs = path.resolve(root, norm);
  for (const base of [path.resolve(root), rootReal]) {
    const rel = path.relative(base, abs);
    if (rel === '') throw new UnsafePath(`${given}: is the root itself; protect files or folders inside it`);
    if (!rel.startsWith('..') && !path.isAbsolute(rel)) return rel.split(path.sep).join('/');
  }
  throw new UnsafePath(`${given}: is outside the root ${rootReal}; only paths inside the root can be protected`);
}

/** The absolute path of a root-relative path. */
export function absOf(rootReal: string, rel: string): string {
  return path.join(rootReal, ...rel.split('/'));
}

/**
 * Check (and with `create`, make, 0700) the folders leading to `rel`, refusing a symlink or a
 * non-folder on the way. Returns the first symlinked folder (rel), 'missing' when one is absent
 * and not created, or null when all are real folders.
 */
export async function checkParents(rootReal: string, rel: string, create = false): Promise<string | 'missing' | null> {
  const parts = rel.split('/').slice(0, -1);
  let cur = rootReal;
  for (let i = 0; i < parts.length; i++) {
    cur = path.join(cur, parts[i]!);
    const relHere = parts.slice(0, i + 1).join('/');
    let st;
    try {
      st = await fsp.lstat(cur);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw err;
      if (!create) return 'missing';
      await fsp.mkdir(cur, { mode: 0o700 });
      continue;
    }
    if (st.isSymbolicLink()) return relHere;
    if (!st.isDirectory()) throw new UnsafePath(`${relHere}: is not a folder, so ${rel} cannot be placed under it`);
  }
  return null;
}
