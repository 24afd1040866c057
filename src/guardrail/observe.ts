/** Observation gathering: the thin I/O layer that looks at each protected path (no judgement here). */
import fsp from 'node:fs/promises';
import { absOf, checkParents } from './paths.js';
import type { Observation, ProtectedSpec } from './types.js';
import { vaultState } from './vault.js';
import { sha256 } from '../util/fsx.js';

/** Look at one path: lstat (never follows a symlink), hash and parse only what the spec asks for. */
export async function observe(rootReal: string, vaultDir: string, spec: ProtectedSpec, now: Date): Promise<Observation> {
  const obs: Observation = { path: spec.path, observedAtMs: now.getTime(), exists: false };
  if (spec.invalid) return obs;
  try {
    const parent = await checkParents(rootReal, spec.path);
    if (parent === 'missing') return obs;
    if (parent) return { ...obs, symlinkAncestor: parent };
    let st;
    try {
      st = await fsp.lstat(absOf(rootReal, spec.path));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return obs;
      throw err;
    }
    obs.exists = true;
    obs.type = st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
    obs.mode = st.mode & 0o7777;
    obs.mtimeMs = st.mtimeMs;
    if (obs.type !== 'file' || spec.kind !== 'file') return obs;
    if (spec.sha256 || spec.json) {
      const bytes = await fsp.readFile(absOf(rootReal, spec.path));
      obs.sha256 = sha256(bytes);
      if (spec.json) obs.jsonError = jsonError(bytes);
    }
    if (spec.fromVault && spec.sha256) obs.vault = await vaultState(vaultDir, spec.sha256);
    return obs;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') return { ...obs, exists: false };
    return { ...obs, readError: `cannot be read: ${e.code ?? ''} ${e.message}`.trim() };
  }
}

function jsonError(bytes: Buffer): string | null {
  try {
    JSON.parse(bytes.toString('utf8'));
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Observe many paths (in parallel; each is a few syscalls). */
export function observeAll(rootReal: string, vaultDir: string, specs: ProtectedSpec[], now: Date): Promise<Observation[]> {
  return Promise.all(specs.map((s) => observe(rootReal, vaultDir, s, now)));
}
