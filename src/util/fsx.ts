/** Durable file-system primitives: atomic writes, fsynced directories, moves that never replace. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import type { SparePool } from './spare.js';

/**
 * fsync an open fd on libuv's thread pool: the one call in the daemon's hot path that blocks for long (~0.5 ms).
 * Why the others (open, write, rename, stat, link, unlink, close) are sync syscalls on the main thread: each
 * takes 5–20 µs, while a thread-pool round trip costs more than that in wake-ups and lock hand-offs; on a
 * 2-core machine a burst spent ~40 % of the daemon's CPU in futex and task switches (perf) before this.
 */
export function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}

async function fsyncDirNow(dir: string): Promise<void> {
  const fd = fs.openSync(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    fs.closeSync(fd);
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
  fs.mkdirSync(dir, { recursive: true, mode });
}

function tempName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
}

export interface AtomicWriteOptions {
  /** File mode (applied with chmod, so the umask cannot weaken or widen it). */
  mode?: number;
  /** Skip the directory fsync (the caller fsyncs the folder once for a batch). */
  noDirSync?: boolean;
  /** Write into a spare inode of this folder and keep the replaced file as the next spare (util/spare.ts). */
  spares?: SparePool;
}

/**
 * Write a file atomically: temp file → write all → fsync → rename over the target → fsync dir.
 * On any failure (ENOSPC included) the temp file is removed and the old target is untouched.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): Promise<void> {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  const spare = opts.spares?.take();
  if (!spare || !(await writeIntoSpare(file, buf, spare, opts))) {
    const tmp = tempName(file);
    const fd = fs.openSync(tmp, 'wx', opts.mode ?? 0o600);
    let open = true;
    try {
      writeAllSync(fd, buf, tmp);
      if (opts.mode !== undefined) fs.fchmodSync(fd, opts.mode);
      await fsyncFd(fd);
      open = false;
      fs.closeSync(fd);
      replaceKeeping(tmp, file, opts.spares);
    } catch (err) {
      if (open) closeQuietly(fd);
      unlinkQuietly(tmp);
      throw err;
    }
  }
  if (!opts.noDirSync) await fsyncDir(path.dirname(file));
}

/** rename(tmp, file), keeping the file it replaces as a spare when a pool is given. */
function replaceKeeping(tmp: string, file: string, spares: SparePool | undefined): void {
  const kept = spares?.keep(file);
  let renamed = false;
  try {
    fs.renameSync(tmp, file);
    renamed = true;
  } finally {
    kept?.(renamed);
  }
}

const sameInode = (a: fs.Stats | undefined, b: fs.Stats) => a !== undefined && a.dev === b.dev && a.ino === b.ino;

/**
 * Write into a spare inode and rename it over `file`. Why the checks: a spare's name is known in advance, so
 * before the rename (after the fsync's wait) its name must still lead to the inode written, and after it the
 * file must be that inode; false when not (the name was replaced meanwhile): the caller then writes a fresh
 * temp, which also replaces whatever the rename put at `file`.
 */
async function writeIntoSpare(file: string, buf: Uint8Array, spare: { tmp: string; fd: number; release: () => void }, opts: AtomicWriteOptions): Promise<boolean> {
  const { tmp, fd } = spare;
  let ok = false;
  try {
    writeAllSync(fd, buf, tmp);
    fs.fchmodSync(fd, opts.mode ?? 0o600);
    await fsyncFd(fd);
    const mine = fs.fstatSync(fd);
    if (!sameInode(fs.lstatSync(tmp, { throwIfNoEntry: false }), mine)) return false;
    try {
      replaceKeeping(tmp, file, opts.spares);
    } catch {
      return false; // the spare's name vanished or changed kind meanwhile; a real fault shows in the fresh temp's write
    }
    ok = sameInode(fs.lstatSync(file, { throwIfNoEntry: false }), mine);
    return ok;
  } finally {
    closeQuietly(fd);
    if (!ok) unlinkQuietly(tmp); // a free slot holds no file
    spare.release();
  }
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
  return fs.lstatSync(p, { throwIfNoEntry: false }) !== undefined;
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
      fs.renameSync(src, dest);
    } else {
      try {
        fs.linkSync(src, dest);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') continue;
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV' && code !== 'EMLINK') throw err;
        if (await exists(dest)) continue; // no hard links here: best effort check-then-rename
        fs.renameSync(src, dest);
        if (!opts.noSync) await syncBoth(src, dest);
        return dest;
      }
      fs.unlinkSync(src);
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
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    writeAllSync(fd, typeof data === 'string' ? Buffer.from(data) : data, tmp);
    fs.fchmodSync(fd, mode);
    await fsyncFd(fd);
  } catch (err) {
    unlinkQuietly(tmp);
    throw err;
  } finally {
    fs.closeSync(fd);
  }
  try {
    return await moveUnique(tmp, dir, name, { dest: 'shared' });
  } catch (err) {
    unlinkQuietly(tmp);
    throw err;
  }
}

/** Write all of `buf` at the fd's offset (short writes continued; none at all is EIO). */
export function writeAllSync(fd: number, buf: Uint8Array, shown: string): void {
  let off = 0;
  while (off < buf.length) {
    const n = fs.writeSync(fd, buf, off, buf.length - off);
    if (n <= 0) throw Object.assign(new Error(`short write to ${shown}`), { code: 'EIO' });
    off += n;
  }
}

export function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    /* already closed */
  }
}

function unlinkQuietly(p: string): void {
  try {
    fs.unlinkSync(p);
  } catch {
    /* already gone */
  }
}

/** Synchronous append of one whole line to an open fd (a single write: lines never interleave). */
export function appendLineSync(fd: number, line: string): void {
  const buf = Buffer.from(line.endsWith('\n') ? line : line + '\n');
  let off = 0;
  while (off < buf.length) off += fs.writeSync(fd, buf, off, buf.length - off);
}
