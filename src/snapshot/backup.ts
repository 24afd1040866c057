/** Pre-apply snapshots in g/backups/<wo_id>/ and the exact restore of bytes, modes and absence. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ensureDir, fsyncDir, fsyncFd, readJson, sha256, writeAllSync, writeJsonAtomic } from '../util/fsx.js';
import { Dir, componentsBelow, withParent, type Where } from '../util/confined.js';
import { WoError } from '../errors.js';

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
  /** Top-level entries: the root or allowed root every restore step walks from (absent in older manifests). */
  base?: string;
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

async function copyBlob(data: Buffer, dir: string, n: number): Promise<{ blob: string; sha: string }> {
  const blob = `${n}.blob`;
  const fd = fs.openSync(path.join(dir, blob), 'w', 0o600);
  try {
    writeAllSync(fd, data, blob);
    await fsyncFd(fd);
  } finally {
    fs.closeSync(fd);
  }
  return { blob, sha: sha256(data) };
}

/** Missing folders between `base` and the target (exclusive), deepest first; walked with handles, links refused. */
async function missingAncestors(t: Where): Promise<string[]> {
  const comps = componentsBelow(t).slice(0, -1);
  let dir = await Dir.openBase(t.base);
  try {
    for (let i = 0; i < comps.length; i += 1) {
      const next = await dir.sub(comps[i]!);
      if (!next) return comps.slice(i).map((_, j) => path.join(t.base, ...comps.slice(0, i + j + 1))).reverse();
      dir = next.own();
    }
    return [];
  } finally {
    await dir.close();
  }
}

const absentEntry = (t: { abs: string; rel: string }): SnapEntry => ({ rel: t.rel, abs: t.abs, existed: false, kind: 'absent', mode: null, sha256: null, blob: null });

/**
 * Copy (or record as absent) every target into g/backups/<wo_id>/ and fsync it all before returning:
 * the caller may change files only after this resolves. Targets are read through confined handles.
 */
export async function takeSnapshot(backupsRoot: string, woId: string, attempt: number, targets: Target[], now = new Date()): Promise<Manifest> {
  const probes = await Promise.all(targets.map((t) => withParent(t, {}, (d, name) => d.lstat(name))));
  if (probes.every((st) => st === null)) {
    const absent = new Set<string>();
    for (const t of targets) for (const d of await missingAncestors(t)) absent.add(d);
    return {
      wo_id: woId,
      attempt,
      created_at: now.toISOString(),
      entries: targets.map((t) => ({ ...absentEntry(t), base: t.base })),
      absent_dirs: [...absent].sort((a, b) => b.length - a.length),
      in_record: true,
    };
  }
  const dir = backupDir(backupsRoot, woId);
  await fsp.rm(dir, { recursive: true, force: true });
  await ensureDir(dir);
  let n = 0;
  const absentDirs = new Set<string>();
  const snapOne = async (parent: Dir, name: string, abs: string, rel: string): Promise<SnapEntry> => {
    const st = await parent.lstat(name);
    if (!st) return absentEntry({ abs, rel });
    if (st.isSymbolicLink()) throw new WoError('POLICY_REFUSED', `cannot snapshot ${rel}: it is a symbolic link; links are refused in any component of a target`);
    if (st.isDirectory()) {
      const sub = await parent.sub(name);
      if (!sub) return absentEntry({ abs, rel });
      try {
        const children: SnapEntry[] = [];
        for (const c of (await sub.readdir()).sort()) children.push(await snapOne(sub, c, path.join(abs, c), path.join(rel, c)));
        return { rel, abs, existed: true, kind: 'dir', mode: st.mode & 0o7777, sha256: null, blob: null, children };
      } finally {
        await sub.close();
      }
    }
    const file = st.isFile() ? await parent.readFile(name) : null;
    if (!file) throw Object.assign(new Error(`cannot snapshot ${rel}: not a regular file or folder`), { code: 'EINVAL' });
    const { blob, sha } = await copyBlob(file.bytes, dir, n++);
    return { rel, abs, existed: true, kind: 'file', mode: file.mode, sha256: sha, blob };
  };
  const entries: SnapEntry[] = [];
  for (const t of targets) {
    const e = (await withParent(t, {}, (d, name) => snapOne(d, name, t.abs, t.rel))) ?? absentEntry(t);
    entries.push({ ...e, base: t.base });
    for (const d of await missingAncestors(t)) absentDirs.add(d);
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

/** The base a top-level entry is restored from (older manifests: derived from abs and a root-relative rel). */
export function entryBase(e: Pick<SnapEntry, 'abs' | 'rel' | 'base'>): string {
  if (e.base) return e.base;
  if (!path.isAbsolute(e.rel) && e.abs.endsWith(path.sep + e.rel)) return e.abs.slice(0, e.abs.length - e.rel.length - 1);
  return path.dirname(e.abs); // an allowed-root target from an older manifest: only the final component is confined
}

const isRefusal = (err: unknown) => err instanceof WoError && err.code === 'POLICY_REFUSED';

/** Restore one entry named `name` inside the open folder `parent`; never follows a link (one in the way is removed). */
async function restoreEntry(blobs: string, e: SnapEntry, parent: Dir, name: string): Promise<void> {
  const st = await parent.lstat(name);
  if (e.kind === 'absent') {
    if (st) await parent.removeTree(name);
    return;
  }
  if (e.kind === 'file') {
    const data = await fsp.readFile(path.join(blobs, e.blob!));
    if (sha256(data) !== e.sha256) throw Object.assign(new Error(`snapshot blob for ${e.rel} is corrupt`), { code: 'EIO' });
    if (st?.isFile() && (st.mode & 0o7777) === e.mode) {
      const cur = await parent.readFile(name);
      if (cur && cur.mode === e.mode && sha256(cur.bytes) === e.sha256) return;
    }
    if (st && !st.isFile()) await parent.removeTree(name); // a folder, or a link (unlinked, never followed)
    await parent.writeFile(name, data, { mode: e.mode ?? 0o644 });
    return;
  }
  // A folder: put back what was there, remove what was not.
  if (st && !st.isDirectory()) await parent.removeTree(name);
  const sub = (await parent.sub(name, { create: true, mode: e.mode ?? 0o755 }))!;
  try {
    const keep = new Set((e.children ?? []).map((c) => path.basename(c.abs)));
    for (const n of await sub.readdir()) if (!keep.has(n)) await sub.removeTree(n);
    for (const c of e.children ?? []) await restoreEntry(blobs, c, sub, path.basename(c.abs));
    if (e.mode !== null) await sub.chmodSelf(e.mode);
    await sub.sync();
  } finally {
    await sub.close();
  }
}

/**
 * Put every target back exactly as the snapshot recorded it (bytes, mode, absence). Idempotent.
 * Every step walks from the entry's base with handles: a component that became a link is refused (that
 * entry fails, the others are still restored, then the refusals are thrown together); a target that became
 * a link is removed, never followed.
 */
export async function restoreSnapshot(backupsRoot: string, manifest: Manifest): Promise<string[]> {
  const blobs = backupDir(backupsRoot, manifest.wo_id);
  const restored: string[] = [];
  let pending = manifest.entries;
  let failures: { e: SnapEntry; err: unknown }[] = [];
  // A refusal (a link in the way) may be a swap in progress: retry those entries twice, briefly, then report.
  for (let round = 0; ; round += 1) {
    failures = [];
    for (const e of pending) {
      try {
        await withParent({ abs: e.abs, base: entryBase(e) }, { create: e.kind !== 'absent' }, async (dir, name) => {
          await restoreEntry(blobs, e, dir, name);
          await dir.sync();
        });
        restored.push(e.rel);
      } catch (err) {
        failures.push({ e, err });
      }
    }
    if (!failures.length || round === 2 || !failures.every((f) => isRefusal(f.err))) break;
    await new Promise((r) => setTimeout(r, 25 * 4 ** round));
    pending = failures.map((f) => f.e);
  }
  const bases = [...new Set(manifest.entries.map(entryBase))];
  for (const d of manifest.absent_dirs) {
    const base = bases.filter((b) => d.startsWith(b + path.sep)).sort((a, b) => b.length - a.length)[0];
    if (!base) continue;
    await withParent({ abs: d, base }, {}, async (dir, name) => {
      await dir.rmdir(name);
      await dir.sync();
    }).catch(() => {
      /* not empty, already gone, or a link now: leave it */
    });
  }
  if (failures.length) {
    const policy = failures.some((f) => isRefusal(f.err));
    const msg = failures.map((f) => `${f.e.rel}: ${(f.err as Error).message}`).join('; ');
    throw new WoError(policy ? 'POLICY_REFUSED' : 'IO_ERROR', `could not restore ${failures.length} of ${manifest.entries.length} target(s): ${msg}`, { cause: failures[0]!.err });
  }
  return restored;
}

/** Why: operator rollback compares a target's current bytes, read through the same confined walk (null: absent). */
export async function currentSha256(manifest: Manifest, rel: string, root: string): Promise<string | null> {
  const e = manifest.entries.find((x) => x.rel === rel);
  const where = e ? { abs: e.abs, base: entryBase(e) } : { abs: path.resolve(root, rel), base: root };
  const file = await withParent(where, {}, (dir, name) => dir.readFile(name));
  return file ? sha256(file.bytes) : null;
}
