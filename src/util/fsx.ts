/** Durable file-system primitives: atomic writes, fsynced directories, moves that never replace. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';

async function fsyncDirNow(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

interface SyncSlot {
  running: Promise<void>;
  next?: Promise<void>;
}
/** Group commit: per folder, the fsync running now and the one queued behind it that later callers share. */
const syncs = new Map<string, SyncSlot>();

function startSync(key: string, fn: () => Promise<void>): Promise<void> {
  const slot: SyncSlot = { running: fn() };
  syncs.set(key, slot);
  const done = () => {
    if (syncs.get(key) === slot && !slot.next) syncs.delete(key);
  };
  slot.running.then(done, done);
  return slot.running;
}

/**
 * Why: group commit for folder fsyncs. Resolves only after an fsync of the folder `key` names that STARTED
 * after this call (so it covers the caller's rename or create); callers arriving while one runs share the one
 * queued behind it, so N concurrent WOs' renames in a folder cost two fsyncs, not N. `fn` must fsync that
 * folder; its handle stays open meanwhile because the caller whose `fn` is used awaits the result.
 */
export function groupSync(key: string, fn: () => Promise<void>): Promise<void> {
  const cur = syncs.get(key);
  if (!cur) return startSync(key, fn);
  if (cur.next) return cur.next;
  const next = cur.running.then(() => {}, () => {}).then(() => startSync(key, fn));
  cur.next = next;
  return next;
}

/** Why: make a rename or create inside `dir` survive a crash (group-committed with concurrent callers). */
export function fsyncDir(dir: string): Promise<void> {
  return groupSync(`path:${path.resolve(dir)}`, () => fsyncDirNow(dir));
}

/** Create a folder (and parents) with mode 0700 unless it exists. */
export async function ensureDir(dir: string, mode = 0o700): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode });
}

function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
}

export interface AtomicWriteOptions {
  /** File mode (applied with chmod, so the umask cannot weaken or widen it). */
  mode?: number;
  /** Skip the directory fsync (the caller fsyncs the folder once for a batch). */
  noDirSync?: boolean;
}

/**
 * Write a file atomically: temp file → write all → fsync → rename over the target → fsync dir.
 * On any failure (ENOSPC included) the temp file is removed and the old target is untouched.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const tmp = tempName(file);
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  const fh = await fsp.open(tmp, 'wx', opts.mode ?? 0o600);
  try {
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await fh.write(buf, off, buf.length - off);
      if (bytesWritten <= 0) throw Object.assign(new Error(`short write to ${tmp}`), { code: 'EIO' });
      off += bytesWritten;
    }
    if (opts.mode !== undefined) await fh.chmod(opts.mode);
    await fh.sync();
    await fh.close();
    await fsp.rename(tmp, file);
  } catch (err) {
    await fh.close().catch(() => {});
    await fsp.unlink(tmp).catch(() => {});
    throw err;
  }
  if (!opts.noDirSync) await fsyncDir(path.dirname(file));
}

/** Write JSON atomically (pretty, newline-terminated). */
export async function writeJsonAtomic(file: string, value: unknown, opts: AtomicWriteOptions = {}): Promise<void> {
  await writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n', opts);
}

/** Read and parse a JSON file; undefined when it does not exist. */
export async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as T;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** sha256 (hex) of a buffer or string. */
export function sha256(data: string | Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** sha256 of a file's bytes, or null when it does not exist. */
export async function sha256File(file: string): Promise<string | null> {
  try {
    return sha256(await fsp.readFile(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Split `name.ext` (ext without dot, '' if none). */
export function splitExt(name: string): { stem: string; ext: string } {
  const i = name.lastIndexOf('.');
  return i > 0 ? { stem: name.slice(0, i), ext: name.slice(i + 1) } : { stem: name, ext: '' };
}

/** Why: "is anything at this path" (a link counts, never followed); other errors are not "no". */
export async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Candidate names: `name`, then `stem.1.ext`, `stem.2.ext`, … */
function* candidates(name: string): Generator<string> {
  yield name;
  const { stem, ext } = splitExt(name);
  for (let n = 1; n < 100_000; n++) yield ext ? `${stem}.${n}.${ext}` : `${stem}.${n}`;
}

/**
 * The first free path for `name` in a folder only this daemon writes (numbered variants when taken); `siblings`
 * names files that must be free beside it too (a rejected file's `.reason.json`).
 */
export async function freePath(dir: string, name: string, siblings: (p: string) => string[] = () => []): Promise<string> {
  for (const cand of candidates(name)) {
    const p = path.join(dir, cand);
    if (!(await exists(p)) && !(await Promise.all(siblings(p).map(exists))).some(Boolean)) return p;
  }
  throw new Error(`no free name for ${name} in ${dir}`);
}

export interface MoveOptions {
  /**
   * `owned`: only this daemon writes the destination folder, so "check, then rename" is race-free.
   * `shared`: others may write there too (an inbox): link (fails on EEXIST) then unlink the source.
   */
  dest: 'owned' | 'shared';
  /** Skip the directory fsyncs. */
  noSync?: boolean;
}

/**
 * Move a file into `dir` under `name` or, when taken, a numbered variant; never replaces a file
 * (fs.rename silently would). Both folders are fsynced. Returns the destination path.
 */
export async function moveUnique(src: string, dir: string, name: string, opts: MoveOptions): Promise<string> {
  for (const cand of candidates(name)) {
    const dest = path.join(dir, cand);
    if (opts.dest === 'owned') {
      if (await exists(dest)) continue;
      await fsp.rename(src, dest);
    } else {
      try {
        await fsp.link(src, dest);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') continue;
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV' && code !== 'EMLINK') throw err;
        if (await exists(dest)) continue; // no hard links here: best effort check-then-rename
        await fsp.rename(src, dest);
        if (!opts.noSync) await syncBoth(src, dest);
        return dest;
      }
      await fsp.unlink(src);
    }
    if (!opts.noSync) await syncBoth(src, dest);
    return dest;
  }
  throw new Error(`no free name for ${name} in ${dir}`);
}

async function syncBoth(src: string, dest: string): Promise<void> {
  const a = path.dirname(src);
  const b = path.dirname(dest);
  await fsyncDir(b);
  if (a !== b) await fsyncDir(a);
}

/** Create a file atomically from a hidden temp and move it in without replacing anything. */
export async function dropFileUnique(dir: string, name: string, data: string | Uint8Array, mode: number): Promise<string> {
  const tmp = path.join(dir, `.${name}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  const fh = await fsp.open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    return await moveUnique(tmp, dir, name, { dest: 'shared' });
  } catch (err) {
    await fsp.unlink(tmp).catch(() => {});
    throw err;
  }
}

/** Synchronous append of one whole line to an open fd (a single write: lines never interleave). */
export function appendLineSync(fd: number, line: string): void {
  const buf = Buffer.from(line.endsWith('\n') ? line : line + '\n');
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}
