/** Self-heal: put a protected file back from its verified vault copy, atomically, with its mode; never through a symlink. */
import fsp from 'node:fs/promises';
import { writeFileAtomic } from '../util/fsx.js';
import { absOf, checkParents, UnsafePath } from './paths.js';
import type { Drift, ProtectedSpec } from './types.js';
import { updateIndex, vaultGet, vaultPut, VaultCorrupt, VaultMissing, type VaultIndex } from './vault.js';

/** `already`: it was back (made by someone else) before the restore ran. */
export type RestoreResult = { ok: true; sha256?: string; mode?: number; already?: boolean } | { ok: false; why: string };

/** Whether a drift is one the vault can undo (content or mode changed, or the path vanished). */
export function restorable(spec: ProtectedSpec, d: Drift): boolean {
  if (spec.invalid) return false;
  if (d.kind === 'missing') return true;
  return spec.kind === 'file' && (d.code === 'sha_mismatch' || d.code === 'not_executable');
}

/** Keep an existing file's current bytes in the vault (before it is overwritten). Returns the sha, or undefined if there is no regular file. */
export async function keepCurrent(rootReal: string, vaultDir: string, rel: string): Promise<string | undefined> {
  if ((await checkParents(rootReal, rel)) !== null) return undefined;
  const abs = absOf(rootReal, rel);
  try {
    const st = await fsp.lstat(abs);
    if (!st.isFile()) return undefined;
    return await vaultPut(vaultDir, await fsp.readFile(abs));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Restore one protected path (file from the vault, folder recreated empty, 0700). */
export async function restore(rootReal: string, vaultDir: string, spec: ProtectedSpec, index: VaultIndex): Promise<RestoreResult> {
  try {
    const parent = await checkParents(rootReal, spec.path, true);
    if (parent) return { ok: false, why: `the folder ${parent} on its path is a symlink; not restoring through it` };
    const abs = absOf(rootReal, spec.path);
    let st;
    try {
      st = await fsp.lstat(abs);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (st?.isSymbolicLink()) return { ok: false, why: 'a symlink is in its place; not replacing it' };
    if (spec.kind === 'dir') {
      if (st?.isDirectory()) return { ok: true, already: true };
      if (st) return { ok: false, why: 'something that is not a folder is in its place; not replacing it' };
      await fsp.mkdir(abs, { mode: 0o700 });
      return { ok: true };
    }
    if (st && !st.isFile()) return { ok: false, why: 'something that is not a regular file is in its place; not replacing it' };
    const entry = index[spec.path];
    const sha = spec.sha256 ?? entry?.sha256;
    if (!sha) return { ok: false, why: 'it has no vault copy (run `wo guardrail protect` on it while it is healthy)' };
    const bytes = await vaultGet(vaultDir, sha);
    let mode = entry && entry.sha256 === sha ? entry.mode : spec.executable ? 0o755 : 0o644;
    if (spec.executable && (mode & 0o111) === 0) mode |= 0o100;
    await writeFileAtomic(abs, bytes, { mode });
    if (!entry || entry.sha256 !== sha) {
      await updateIndex(vaultDir, (ix) => {
        ix[spec.path] = { sha256: sha, mode, vaulted_at: new Date().toISOString() };
      });
    }
    return { ok: true, sha256: sha, mode };
  } catch (err) {
    if (err instanceof VaultCorrupt || err instanceof VaultMissing || err instanceof UnsafePath) return { ok: false, why: err.message };
    return { ok: false, why: `restore failed: ${(err as Error).message}` };
  }
}
