/** Vault bookkeeping: first-sight copies of healthy files, and accepting a WO's intended change or deletion. */
import fsp from 'node:fs/promises';
import type { Config } from '../config/load.js';
import { absOf, checkParents } from './paths.js';
import { guardPaths, loadSpecs, readProtected, writeProtected } from './store.js';
import { inScope } from './evaluate.js';
import type { ProtectedSpec } from './types.js';
import { updateIndex, vaultPut, type VaultIndex } from './vault.js';

/** A regular file at a root-relative path reached without symlinks, or undefined. */
async function regularFile(rootReal: string, rel: string) {
  if ((await checkParents(rootReal, rel)) !== null) return undefined;
  const st = await fsp.lstat(absOf(rootReal, rel)).catch(() => undefined);
  return st?.isFile() ? st : undefined;
}

/**
 * Vault healthy files that have no vault copy yet, so they can be restored later (and are then pinned
 * to that content). Files with max_age_s are expected to change and are not pinned.
 */
export async function vaultBaseline(rootReal: string, vaultDir: string, specs: ProtectedSpec[], drifted: Set<string>, index: VaultIndex, now: Date, warn: (msg: string) => void): Promise<void> {
  for (const s of specs) {
    if (s.invalid || s.kind !== 'file' || s.max_age_s !== undefined || drifted.has(s.path)) continue;
    const have = index[s.path]?.sha256;
    if (have && (s.sha256 === undefined || have === s.sha256)) continue;
    try {
      const st = await regularFile(rootReal, s.path);
      if (!st) continue;
      const sha = await vaultPut(vaultDir, await fsp.readFile(absOf(rootReal, s.path)));
      if (s.sha256 && sha !== s.sha256) continue;
      await updateIndex(vaultDir, (ix) => {
        ix[s.path] = { sha256: sha, mode: st.mode & 0o7777, vaulted_at: now.toISOString() };
      });
    } catch (err) {
      warn(`cannot vault ${s.path}: ${(err as Error).message}; it cannot be restored until this is fixed`);
    }
  }
}

/**
 * A WO changed or deleted these paths on purpose: re-vault the new content, or drop the expectation
 * (a `protect`ed path leaves protected.json; a config one is retired while absent). Returns the
 * protected paths handled.
 */
export async function acceptPaths(config: Config, rootReal: string, paths: string[], now: Date, log: (msg: string) => void): Promise<string[]> {
  const vaultDir = guardPaths(config.root).vault;
  const specs = (await loadSpecs(config, rootReal)).specs.filter((s) => !s.invalid && inScope(s.path, paths));
  const { list } = await readProtected(config.root);
  let listChanged = false;
  for (const s of specs) {
    const st = await regularFile(rootReal, s.path);
    const present = st ?? (await fsp.lstat(absOf(rootReal, s.path)).catch(() => undefined));
    if (st && s.kind === 'file') {
      const sha = await vaultPut(vaultDir, await fsp.readFile(absOf(rootReal, s.path)));
      await updateIndex(vaultDir, (ix) => {
        ix[s.path] = { sha256: sha, mode: st.mode & 0o7777, vaulted_at: now.toISOString() };
      });
      if (s.sha256 && !s.fromVault && s.sha256 !== sha) {
        log(`guardrail: ${s.path} was changed by a WO but wo.config.yaml pins its sha256; it stays drift until the config is updated`);
      }
    } else if (!present) {
      await updateIndex(vaultDir, (ix) => {
        delete ix[s.path];
      });
      if (s.source === 'protect') list.paths = list.paths.filter((e) => e.path !== s.path);
      else if (!list.retired.includes(s.path)) list.retired.push(s.path);
      listChanged = true;
    }
  }
  if (listChanged) await writeProtected(config.root, list);
  return specs.map((s) => s.path);
}
