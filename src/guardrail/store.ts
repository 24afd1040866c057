/** The guardrail's files: protected.json (paths added by `protect`), health.json, and assembling the full spec list. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/load.js';
import { layout } from '../layout.js';
import { ensureDir, readJson, writeJsonAtomic } from '../util/fsx.js';
import { absOf, checkParents, toRel, UnsafePath } from './paths.js';
import type { Drift, ProtectedSpec } from './types.js';
import { readIndex, updateIndex, vaultPut, type VaultIndex } from './vault.js';

/** Where the guardrail keeps its files under a root. */
export function guardPaths(root: string) {
  const l = layout(root);
  const dir = path.join(l.root, 'g', 'guardrail');
  return {
    dir,
    vault: l.vault,
    protectedFile: path.join(dir, 'protected.json'),
    healthFile: path.join(dir, 'health.json'),
    alertsLog: path.join(l.logs, 'guardrail_alerts.log'),
    ledger: l.ledger,
  };
}

export interface ProtectedList {
  version: 1;
  paths: { path: string; kind: 'file' | 'dir'; added_at: string }[];
  /** Paths a WO deleted on purpose (acceptChange): not expected while absent. */
  retired: string[];
}

export interface GuardrailHealth {
  healthy: boolean;
  checked_at: string;
  protected: number;
  drift: Drift[];
  /** `guardrail.services`, as the last full check saw them (absent when none are supervised). */
  services?: import('./services.js').ServiceHealth[];
}

/** Read protected.json (absent or malformed ⇒ empty, the problem returned). */
export async function readProtected(root: string): Promise<{ list: ProtectedList; problem?: string }> {
  const file = guardPaths(root).protectedFile;
  const empty: ProtectedList = { version: 1, paths: [], retired: [] };
  let raw: Partial<ProtectedList> | undefined;
  try {
    raw = await readJson<Partial<ProtectedList>>(file);
  } catch (err) {
    return { list: empty, problem: `${file}: unreadable (${(err as Error).message}); ignoring it` };
  }
  if (raw === undefined) return { list: empty };
  const paths = Array.isArray(raw.paths) ? raw.paths.filter((p) => p && typeof p.path === 'string' && (p.kind === 'file' || p.kind === 'dir')) : [];
  const retired = Array.isArray(raw.retired) ? raw.retired.filter((p): p is string => typeof p === 'string') : [];
  return { list: { version: 1, paths, retired } };
}

/** Write protected.json atomically. */
export async function writeProtected(root: string, list: ProtectedList): Promise<void> {
  const g = guardPaths(root);
  await ensureDir(g.dir);
  await writeJsonAtomic(g.protectedFile, list);
}

/** The persisted health, for `wo status` with the daemon down. */
export async function readHealth(root: string): Promise<GuardrailHealth | undefined> {
  try {
    return await readJson<GuardrailHealth>(guardPaths(root).healthFile);
  } catch {
    return undefined;
  }
}

export async function writeHealth(root: string, h: GuardrailHealth): Promise<void> {
  const g = guardPaths(root);
  await ensureDir(g.dir);
  await writeJsonAtomic(g.healthFile, h);
}

/** The pipeline's own folders: the inbox lanes, the state records, the telemetry. */
export function pipelinePaths(config: Config): string[] {
  return [...config.lanes.map((l) => `bridge/inbox/${l}`), 'g/followup/state', 'g/telemetry'];
}

export interface SpecSet {
  specs: ProtectedSpec[];
  index: VaultIndex;
  retired: Set<string>;
  problems: string[];
}

/** Every protected path with its expectations: config, then `protect`ed paths, then the pipeline folders; vaulted hashes pinned. */
export async function loadSpecs(config: Config, rootReal: string): Promise<SpecSet> {
  const problems: string[] = [];
  const specs = new Map<string, ProtectedSpec>();
  const add = (given: string, spec: Omit<ProtectedSpec, 'path'>) => {
    let rel: string;
    try {
      rel = toRel(config.root, rootReal, given);
    } catch (err) {
      if (!(err instanceof UnsafePath)) throw err;
      if (!specs.has(given)) specs.set(given, { ...spec, path: given, invalid: err.message });
      return;
    }
    if (!specs.has(rel)) specs.set(rel, { ...spec, path: rel });
  };
  for (const f of config.guardrail.files) {
    add(f.path, { kind: 'file', source: 'config', executable: f.executable, sha256: f.sha256, json: f.json, max_age_s: f.max_age_s });
  }
  for (const d of config.guardrail.dirs) add(d.path, { kind: 'dir', source: 'config' });
  const prot = await readProtected(config.root);
  if (prot.problem) problems.push(prot.problem);
  for (const p of prot.list.paths) add(p.path, { kind: p.kind, source: 'protect' });
  for (const p of pipelinePaths(config)) add(p, { kind: 'dir', source: 'pipeline' });
  const idx = await readIndex(guardPaths(config.root).vault);
  if (idx.problem) problems.push(idx.problem);
  for (const s of specs.values()) {
    if (s.invalid || s.kind !== 'file' || s.sha256 || s.max_age_s !== undefined) continue;
    const e = idx.index[s.path];
    if (e) Object.assign(s, { sha256: e.sha256, fromVault: true });
  }
  // Drop undefined optionals so specs compare and print cleanly.
  const clean = [...specs.values()].map((s) => Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) as unknown as ProtectedSpec);
  return { specs: clean, index: idx.index, retired: new Set(prot.list.retired), problems };
}

export interface Protected {
  rel: string;
  kind: 'file' | 'dir';
  sha256?: string;
  mode?: number;
  alreadyListed: boolean;
}

/** Validate a path (relative to the root, or absolute; inside the root, no symlink on the way, exists), vault a file's content, add it to protected.json. */
export async function protectPath(root: string, given: string, now = new Date()): Promise<Protected> {
  const rootReal = await fsp.realpath(root);
  const rel = toRel(root, rootReal, given);
  const parent = await checkParents(rootReal, rel);
  if (parent === 'missing') throw new UnsafePath(`${rel}: does not exist under ${rootReal}`);
  if (parent) throw new UnsafePath(`${rel}: the folder ${parent} on its path is a symlink; refusing to protect through it`);
  const target = absOf(rootReal, rel);
  let st;
  try {
    st = await fsp.lstat(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UnsafePath(`${rel}: does not exist under ${rootReal}`);
    throw err;
  }
  if (st.isSymbolicLink()) throw new UnsafePath(`${rel}: is a symlink; protect the file it points to instead`);
  if (!st.isFile() && !st.isDirectory()) throw new UnsafePath(`${rel}: is neither a regular file nor a folder`);
  const kind = st.isFile() ? 'file' : 'dir';
  const out: Protected = { rel, kind, alreadyListed: false };
  if (kind === 'file') {
    const g = guardPaths(root);
    out.sha256 = await vaultPut(g.vault, await fsp.readFile(target));
    out.mode = st.mode & 0o7777;
    await updateIndex(g.vault, (ix) => {
      ix[rel] = { sha256: out.sha256!, mode: out.mode!, vaulted_at: now.toISOString() };
    });
  }
  const { list } = await readProtected(root);
  const existing = list.paths.find((p) => p.path === rel);
  out.alreadyListed = Boolean(existing);
  if (existing) existing.kind = kind;
  else list.paths.push({ path: rel, kind, added_at: now.toISOString() });
  list.retired = list.retired.filter((p) => p !== rel);
  await writeProtected(root, list);
  return out;
}
