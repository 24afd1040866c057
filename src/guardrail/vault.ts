/** The vault: content-addressed copies `g/guardrail/vault/<sha256>` plus `index.json` (path → {sha256, mode}). */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ensureDir, readJson, sha256, writeFileAtomic, writeJsonAtomic } from '../util/fsx.js';

export interface VaultEntry {
  sha256: string;
  mode: number;
  vaulted_at: string;
}
export type VaultIndex = Record<string, VaultEntry>;

const SHA = /^[0-9a-f]{64}$/;

/** A vault copy whose bytes do not match its name: reported, never restored from. */
export class VaultCorrupt extends Error {
  override name = 'VaultCorrupt';
}
/** No vault copy with that hash. */
export class VaultMissing extends Error {
  override name = 'VaultMissing';
}

/** The file holding a blob; refuses anything but a 64-hex name (the index is data, not trusted paths). */
export function blobPath(vaultDir: string, sha: string): string {
  if (!SHA.test(sha)) throw new VaultCorrupt(`vault index names ${JSON.stringify(sha)}, which is not a sha256`);
  return path.join(vaultDir, sha);
}

/** Store bytes (idempotent; a corrupt copy already there is replaced). Returns the sha256. */
export async function vaultPut(vaultDir: string, bytes: Uint8Array): Promise<string> {
  const sha = sha256(bytes);
  const file = blobPath(vaultDir, sha);
  try {
    if (sha256(await fsp.readFile(file)) === sha) return sha;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await ensureDir(vaultDir);
  await writeFileAtomic(file, bytes, { mode: 0o600 });
  return sha;
}

/** Read a blob, verifying its hash first. Throws VaultMissing or VaultCorrupt. */
export async function vaultGet(vaultDir: string, sha: string): Promise<Buffer> {
  const file = blobPath(vaultDir, sha);
  let bytes: Buffer;
  try {
    bytes = await fsp.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new VaultMissing(`no vault copy ${path.basename(file)}`, { cause: err });
    throw err;
  }
  const got = sha256(bytes);
  if (got !== sha) throw new VaultCorrupt(`vault copy ${file} is corrupt: its content hashes to ${got.slice(0, 12)}…, not ${sha.slice(0, 12)}…`);
  return bytes;
}

/** The state of a blob without throwing. */
export async function vaultState(vaultDir: string, sha: string): Promise<'ok' | 'missing' | 'corrupt'> {
  try {
    await vaultGet(vaultDir, sha);
    return 'ok';
  } catch (err) {
    if (err instanceof VaultMissing) return 'missing';
    if (err instanceof VaultCorrupt) return 'corrupt';
    throw err;
  }
}

/** Read the index; an unreadable or malformed index reads as empty plus a problem to report. */
export async function readIndex(vaultDir: string): Promise<{ index: VaultIndex; problem?: string }> {
  const file = path.join(vaultDir, 'index.json');
  let raw: unknown;
  try {
    raw = await readJson<unknown>(file);
  } catch (err) {
    return { index: {}, problem: `${file}: unreadable (${(err as Error).message}); treating the vault index as empty` };
  }
  if (raw === undefined) return { index: {} };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { index: {}, problem: `${file}: not a JSON object; treating the vault index as empty` };
  const index: VaultIndex = {};
  for (const [p, e] of Object.entries(raw as Record<string, unknown>)) {
    const v = e as Partial<VaultEntry> | null;
    if (v && typeof v.sha256 === 'string' && SHA.test(v.sha256) && typeof v.mode === 'number') {
      index[p] = { sha256: v.sha256, mode: v.mode, vaulted_at: String(v.vaulted_at ?? '') };
    }
  }
  return { index };
}

/** Read-modify-write the index (re-read right before writing, so a concurrent `protect` is rarely lost). */
export async function updateIndex(vaultDir: string, mutate: (index: VaultIndex) => void): Promise<VaultIndex> {
  const { index } = await readIndex(vaultDir);
  mutate(index);
  await ensureDir(vaultDir);
  await writeJsonAtomic(path.join(vaultDir, 'index.json'), index);
  return index;
}
