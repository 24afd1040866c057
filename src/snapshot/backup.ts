/** Pre-apply snapshots in g/backups/<wo_id>/ and the exact restore of bytes, modes and absence. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ensureDir, fsyncDir, readJson, sha256, writeFileAtomic, writeJsonAtomic } from '../util/fsx.js';

export interface Target {
  abs: string;
  rel: string;
  /** The root or allowed root the target lives under (parents are created only below it). */
  base: string;
}

export interface SnapEntry {
  rel: string;
  abs: string;
  existed: boolean;
  kind: 'file' | 'dir' | 'absent';
  mode: number | null;
  sha256: string | null;
  blob: string | null;
  /** For a directory: every file below it at snapshot time (relative to abs). */
  children?: SnapEntry[];
}

export interface Manifest {
  wo_id: string;
  attempt: number;
  created_at: string;
  entries: SnapEntry[];
  /** Folders missing at snapshot time that applying may create: removed (if empty) on restore, deepest first. */
  absent_dirs: string[];
  /**
   * Every target was absent: there is nothing to copy, so the manifest travels in the WO's state record
   * (written durably before the first change) instead of g/backups/<wo_id>/ — three fsyncs fewer per WO.
   */
  in_record?: boolean;
}

/** The snapshot folder of a WO. */
export function backupDir(backupsRoot: string, woId: string): string {
  return path.join(backupsRoot, woId);
}

async function lstatOrNull(p: string): Promise<fs.Stats | null> {
  try {
    return await fsp.lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw err;
  }
}

async function copyBlob(src: string, dir: string, n: number): Promise<{ blob: string; sha: string }> {
  const data = await fsp.readFile(src);
  const blob = `${n}.blob`;
  const fh = await fsp.open(path.join(dir, blob), 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  return { blob, sha: sha256(data) };
}

/** Missing ancestors of `abs` strictly below `base`, deepest first. */
async function missingAncestors(abs: string, base: string): Promise<string[]> {
  const out: string[] = [];
  let dir = path.dirname(abs);
  while (dir.startsWith(base + path.sep) && dir !== base) {
    if (await lstatOrNull(dir)) break;
    out.push(dir);
    dir = path.dirname(dir);
  }
  return out;
}

/**
 * Copy (or record as absent) every target into g/backups/<wo_id>/ and fsync it all before returning:
 * the caller may change files only after this resolves.
 */
export async function takeSnapshot(backupsRoot: string, woId: string, attempt: number, targets: Target[], now = new Date()): Promise<Manifest> {
  if ((await Promise.all(targets.map((t) => lstatOrNull(t.abs)))).every((st) => st === null)) {
    const absent = new Set<string>();
    for (const t of targets) for (const d of await missingAncestors(t.abs, t.base)) absent.add(d);
    return {
      wo_id: woId,
      attempt,
      created_at: now.toISOString(),
      entries: targets.map((t) => ({ rel: t.rel, abs: t.abs, existed: false, kind: 'absent', mode: null, sha256: null, blob: null })),
      absent_dirs: [...absent].sort((a, b) => b.length - a.length),
      in_record: true,
    };
  }
  const dir = backupDir(backupsRoot, woId);
  await fsp.rm(dir, { recursive: true, force: true });
  await ensureDir(dir);
  let n = 0;
  const absentDirs = new Set<string>();
  const snapOne = async (abs: string, rel: string): Promise<SnapEntry> => {
    const st = await lstatOrNull(abs);
    if (!st) return { rel, abs, existed: false, kind: 'absent', mode: null, sha256: null, blob: null };
    if (st.isDirectory()) {
      const children: SnapEntry[] = [];
      for (const name of (await fsp.readdir(abs)).sort()) children.push(await snapOne(path.join(abs, name), path.join(rel, name)));
      return { rel, abs, existed: true, kind: 'dir', mode: st.mode & 0o7777, sha256: null, blob: null, children };
    }
    if (!st.isFile()) throw Object.assign(new Error(`cannot snapshot ${rel}: not a regular file or folder`), { code: 'EINVAL' });
    const { blob, sha } = await copyBlob(abs, dir, n++);
    return { rel, abs, existed: true, kind: 'file', mode: st.mode & 0o7777, sha256: sha, blob };
  };
  const entries: SnapEntry[] = [];
  for (const t of targets) {
    entries.push(await snapOne(t.abs, t.rel));
    for (const d of await missingAncestors(t.abs, t.base)) absentDirs.add(d);
  }
  const manifest: Manifest = {
    wo_id: woId,
    attempt,
    created_at: now.toISOString(),
    entries,
    absent_dirs: [...absentDirs].sort((a, b) => b.length - a.length),
  };
  // The manifest's own dir fsync also makes the blobs' entries durable; the parent fsync makes the new folder durable.
  await Promise.all([fsyncDir(path.dirname(dir)), writeJsonAtomic(path.join(dir, 'manifest.json'), manifest)]);
  return manifest;
}

/** The snapshot of a record's current attempt: g/backups/<wo_id>/manifest.json, or the one the record carries. */
export async function snapshotOf(backupsRoot: string, rec: { wo_id: string; attempt: number; snapshot?: Manifest }): Promise<Manifest | undefined> {
  const m = await readManifest(backupsRoot, rec.wo_id).catch(() => undefined);
  if (m && m.attempt === rec.attempt) return m;
  return rec.snapshot?.attempt === rec.attempt ? rec.snapshot : undefined;
}

/** Read a WO's snapshot manifest (undefined when none was taken). */
export async function readManifest(backupsRoot: string, woId: string): Promise<Manifest | undefined> {
  return readJson<Manifest>(path.join(backupDir(backupsRoot, woId), 'manifest.json'));
}

async function restoreEntry(dir: string, e: SnapEntry): Promise<void> {
  const st = await lstatOrNull(e.abs);
  if (e.kind === 'absent') {
    if (st) await fsp.rm(e.abs, { recursive: true, force: true });
    return;
  }
  if (e.kind === 'file') {
    if (st?.isDirectory()) await fsp.rm(e.abs, { recursive: true, force: true });
    const data = await fsp.readFile(path.join(dir, e.blob!));
    if (sha256(data) !== e.sha256) throw Object.assign(new Error(`snapshot blob for ${e.rel} is corrupt`), { code: 'EIO' });
    if (st?.isFile() && (st.mode & 0o7777) === e.mode && (await fsp.readFile(e.abs).then(sha256)) === e.sha256) return;
    await fsp.mkdir(path.dirname(e.abs), { recursive: true });
    await writeFileAtomic(e.abs, data, { mode: e.mode ?? 0o644 });
    return;
  }
  // A folder: put back what was there, remove what was not.
  if (st && !st.isDirectory()) await fsp.rm(e.abs, { force: true });
  await fsp.mkdir(e.abs, { recursive: true, mode: e.mode ?? 0o755 });
  const keep = new Set((e.children ?? []).map((c) => path.basename(c.abs)));
  for (const name of await fsp.readdir(e.abs)) if (!keep.has(name)) await fsp.rm(path.join(e.abs, name), { recursive: true, force: true });
  for (const c of e.children ?? []) await restoreEntry(dir, c);
  if (e.mode !== null) await fsp.chmod(e.abs, e.mode);
}

/** Put every target back exactly as the snapshot recorded it (bytes, mode, absence). Idempotent. */
export async function restoreSnapshot(backupsRoot: string, manifest: Manifest): Promise<string[]> {
  const dir = backupDir(backupsRoot, manifest.wo_id);
  const restored: string[] = [];
  for (const e of manifest.entries) {
    await restoreEntry(dir, e);
    restored.push(e.rel);
  }
  for (const d of manifest.absent_dirs) {
    try {
      await fsp.rmdir(d);
    } catch {
      /* not empty or already gone: leave it */
    }
  }
  const parents = new Set(manifest.entries.map((e) => path.dirname(e.abs)));
  for (const p of parents) await fsyncDir(p).catch(() => {});
  return restored;
}
