/**
 * Confined file operations (issue 9): every operation on a path below a base (the root or an allowed root)
 * reaches its folder through directory handles opened one component at a time without following links,
 * so a folder swapped for a symlink at any moment is refused, never followed.
 *
 * Linux: the final operation names `/proc/self/fd/<dirfd>/<name>`; the magic link resolves to the opened
 * folder itself, so renaming the path or putting a link in its place afterwards changes nothing.
 * Elsewhere (macOS has no /proc): before each operation every link of the handle chain is lstat'ed and its
 * dev/ino compared with the open handles, refusing on any link or mismatch. The remaining window there is
 * between that check and the syscall that follows it (microseconds), stated here because it cannot be closed
 * without openat.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { WoError } from '../errors.js';
import { closeQuietly, fsyncFd, groupSync, writeAllSync } from './fsx.js';

const C = fs.constants;
const DIR_FLAGS = C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW;
const FILE_READ = C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK;

export type ConfineMode = 'proc' | 'recheck';
let mode: ConfineMode | undefined;
let forced: ConfineMode | undefined;

/** Why: tests exercise the macOS fallback on Linux too; undefined restores detection. */
export function forceConfineMode(m: ConfineMode | undefined): void {
  forced = m;
}

function detectMode(fd: number): ConfineMode {
  if (forced) return forced;
  if (mode) return mode;
  if (process.platform !== 'linux') return (mode = 'recheck');
  try {
    const a = fs.statSync(`/proc/self/fd/${fd}`);
    const b = fs.fstatSync(fd);
    mode = a.dev === b.dev && a.ino === b.ino ? 'proc' : 'recheck';
  } catch {
    mode = 'recheck';
  }
  return mode;
}

function refuse(message: string): never {
  throw new WoError('POLICY_REFUSED', message);
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

function checkName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) refuse(`'${name}' is not a single path component`);
}

/**
 * An open folder reached without following any link; `shown` is its lexical path (for messages).
 * Why sync syscalls (open, stat, rename, …) with only fsync on the thread pool: see fsyncFd in fsx.ts.
 */
export class Dir {
  private fdOpen = true;
  private constructor(
    private readonly fd: number,
    readonly shown: string,
    private readonly real: string,
    private readonly mode: ConfineMode,
    private readonly dev: number,
    private readonly ino: number,
    private readonly parent: Dir | undefined,
    private readonly name: string,
    /** This handle closes its parent chain when closed (the leaf of `openParent`). */
    private ownsParent: boolean,
    /** The folder was created by this walk (undo removes it). */
    readonly created: boolean,
  ) {}

  /** Why: every walk starts at the base's real path (a root behind a symlink, like /tmp on macOS, is fine). */
  static async openBase(base: string): Promise<Dir> {
    let real: string;
    try {
      real = fs.realpathSync.native(base);
    } catch (err) {
      throw new WoError('POLICY_REFUSED', `the folder '${base}' (root or allowed root) cannot be resolved: ${(err as Error).message}`, { cause: err });
    }
    const fd = fs.openSync(real, DIR_FLAGS);
    try {
      const st = fs.fstatSync(fd);
      return new Dir(fd, base, real, detectMode(fd), st.dev, st.ino, undefined, '', false, false);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  /** How operations are confined here: /proc/self/fd handles, or a recheck before each operation. */
  get how(): ConfineMode {
    return this.mode;
  }

  /** The folder this one was opened from (undefined for a base). */
  get parentDir(): Dir | undefined {
    return this.parent;
  }

  /** The path the final syscall names for `name` in this folder (after the recheck, in the fallback). */
  async at(name: string): Promise<string> {
    checkName(name);
    if (!this.fdOpen) throw new Error(`internal: '${this.shown}' used after close`);
    if (this.mode === 'proc') return `/proc/self/fd/${this.fd}/${name}`;
    await this.verify();
    return path.join(this.real, name);
  }

  /** Why: prove the lexical path still leads to these handles (no component renamed or swapped for a link). */
  async verify(): Promise<void> {
    const chain: Dir[] = [];
    for (let d: Dir | undefined = this; d; d = d.parent) chain.unshift(d);
    for (const d of chain) {
      let st: fs.Stats;
      try {
        st = fs.lstatSync(d.parent ? (d.parent.mode === 'proc' ? `/proc/self/fd/${d.parent.fd}/${d.name}` : path.join(d.parent.real, d.name)) : d.real);
      } catch (err) {
        throw new WoError('POLICY_REFUSED', `'${d.shown}' vanished or moved while in use`, { cause: err });
      }
      if (st.isSymbolicLink()) refuse(`'${d.shown}' became a symbolic link while in use; links are refused in any component`);
      if (st.dev !== d.dev || st.ino !== d.ino) refuse(`'${d.shown}' was replaced while in use (another folder now has its name)`);
    }
  }

  /** Open a child folder without following a link; null when absent (or created first with `create`). */
  async sub(name: string, opts: { create?: boolean; mode?: number } = {}): Promise<Dir | null> {
    const shown = path.join(this.shown, name);
    let created = false;
    for (let tries = 0; ; tries += 1) {
      const p = await this.at(name);
      try {
        const fd = fs.openSync(p, DIR_FLAGS);
        try {
          const st = fs.fstatSync(fd);
          return new Dir(fd, shown, path.join(this.real, name), this.mode, st.dev, st.ino, this, name, false, created);
        } catch (err) {
          fs.closeSync(fd);
          throw err;
        }
      } catch (err) {
        const c = code(err);
        if (c === 'ENOENT' && opts.create && tries < 3) {
          try {
            fs.mkdirSync(await this.at(name), { mode: opts.mode ?? 0o755 });
            created = true;
            await this.sync(); // the new folder's entry is durable before anything is written into it
          } catch (e) {
            if (code(e) !== 'EEXIST') throw e;
          }
          continue;
        }
        if (c === 'ENOENT' && !opts.create) return null;
        if (c === 'ELOOP' || c === 'ENOTDIR' || c === 'EMLINK') {
          const st = await this.lstat(name);
          if (!st && tries < 3) continue;
          if (!st) throw err;
          if (st.isSymbolicLink()) refuse(`'${shown}' is a symbolic link; links are refused in any component of a target`);
          if (!st.isDirectory()) refuse(`'${shown}' is not a folder`);
          if (tries < 3) continue;
        }
        throw err;
      }
    }
  }

  /** lstat a name in this folder (never follows it); null when absent. */
  async lstat(name: string): Promise<fs.Stats | null> {
    return fs.lstatSync(await this.at(name), { throwIfNoEntry: false }) ?? null;
  }

  /** Read a regular file's bytes and mode (a link is refused, a folder is EISDIR); null when absent. */
  async readFile(name: string): Promise<{ bytes: Buffer; mode: number } | null> {
    let fd: number;
    try {
      fd = fs.openSync(await this.at(name), FILE_READ);
    } catch (err) {
      if (code(err) === 'ENOENT') return null;
      if (code(err) === 'ELOOP') refuse(`'${path.join(this.shown, name)}' is a symbolic link; links are refused in any component of a target`);
      throw err;
    }
    try {
      const st = fs.fstatSync(fd);
      if (st.isDirectory()) throw Object.assign(new Error(`EISDIR: '${path.join(this.shown, name)}' is a folder`), { code: 'EISDIR' });
      if (!st.isFile()) refuse(`'${path.join(this.shown, name)}' is not a regular file`);
      return { bytes: fs.readFileSync(fd), mode: st.mode & 0o7777 };
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Atomic durable write in this folder: temp (O_EXCL|O_NOFOLLOW) → write → fchmod → fsync → rename → fsync folder. */
  async writeFile(name: string, data: Uint8Array, opts: { mode: number; noDirSync?: boolean }): Promise<void> {
    checkName(name);
    const tmp = `.${name}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
    const fd = fs.openSync(await this.at(tmp), C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
    let open = true;
    try {
      writeAllSync(fd, data, tmp);
      fs.fchmodSync(fd, opts.mode);
      await fsyncFd(fd);
      open = false;
      fs.closeSync(fd);
      fs.renameSync(await this.at(tmp), await this.at(name));
    } catch (err) {
      if (open) closeQuietly(fd);
      try {
        fs.unlinkSync(await this.at(tmp));
      } catch {
        /* already gone, or the folder is: the temp name is hidden and unique */
      }
      throw err;
    }
    if (!opts.noDirSync) await this.sync();
  }

  /** Remove a file or link (never follows it); false when it was absent. */
  async unlink(name: string): Promise<boolean> {
    try {
      fs.unlinkSync(await this.at(name));
      return true;
    } catch (err) {
      if (code(err) === 'ENOENT') return false;
      throw err;
    }
  }

  /** Remove an empty folder (a link in its place fails with ENOTDIR, never followed). */
  async rmdir(name: string): Promise<void> {
    fs.rmdirSync(await this.at(name));
  }

  /** Set this folder's own mode (fchmod on the handle). */
  async chmodSelf(mode: number): Promise<void> {
    fs.fchmodSync(this.fd, mode);
  }

  /** The names in this folder. */
  async readdir(): Promise<string[]> {
    if (this.mode === 'proc') return fs.readdirSync(`/proc/self/fd/${this.fd}`);
    await this.verify();
    return fs.readdirSync(this.real);
  }

  /** Why: remove a name and everything below it, walking with handles; a link is unlinked, never followed. */
  async removeTree(name: string): Promise<boolean> {
    for (let tries = 0; ; tries += 1) {
      let sub: Dir | null;
      try {
        sub = await this.sub(name);
      } catch (err) {
        if (!(err instanceof WoError)) throw err;
        sub = null; // a link or a file: unlink below
      }
      if (sub) {
        try {
          for (const n of await sub.readdir()) await sub.removeTree(n);
          await sub.sync();
        } finally {
          await sub.close();
        }
        try {
          await this.rmdir(name);
          return true;
        } catch (err) {
          if (code(err) === 'ENOENT') return true;
          if (tries < 3 && (code(err) === 'ENOTDIR' || code(err) === 'ENOTEMPTY' || code(err) === 'EEXIST')) continue;
          throw err;
        }
      }
      try {
        return await this.unlink(name);
      } catch (err) {
        if (tries < 3 && (code(err) === 'EISDIR' || code(err) === 'EPERM')) continue;
        throw err;
      }
    }
  }

  /** fsync this folder (makes creates, renames and removals in it durable). */
  async sync(): Promise<void> {
    // Group commit with concurrent writers in the same folder (same dev/ino): one fsync that started after this call.
    await groupSync(`ino:${this.dev}:${this.ino}`, () => fsyncFd(this.fd));
  }

  /** Close this handle (and, for the leaf of `openParent`, its whole chain). Safe to call twice. */
  async close(): Promise<void> {
    if (this.fdOpen) {
      this.fdOpen = false;
      closeQuietly(this.fd);
    }
    if (this.ownsParent) {
      this.ownsParent = false;
      await this.parent?.close();
    }
  }

  /** Remove the folders this walk created (deepest first), through their parents' handles: best effort. */
  async removeCreated(): Promise<void> {
    for (let d: Dir | undefined = this; d?.created && d.parent; d = d.parent) {
      await d.parent.rmdir(d.name).catch(() => {});
    }
  }

  /** Why: the leaf of a walk owns the chain above it, so one close releases every handle. */
  own(): this {
    this.ownsParent = true;
    return this;
  }
}

export interface Where {
  /** Lexical absolute path (not resolved through links). */
  abs: string;
  /** The root or allowed root containing it. */
  base: string;
}

/** The components below `base` leading to `abs`; refused when `abs` is not strictly below `base`. */
export function componentsBelow(t: Where): string[] {
  const rel = path.relative(t.base, t.abs);
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) refuse(`path '${t.abs}': is not below '${t.base}'`);
  return rel.split(path.sep);
}

/**
 * Why: the one way to reach a target's folder: walk from the real base with handles, refusing any link.
 * Returns the open parent (close it when done) and the final name; null when a folder is missing and not `create`d.
 */
export async function openParent(t: Where, opts: { create?: boolean } = {}): Promise<{ dir: Dir; name: string } | null> {
  const comps = componentsBelow(t);
  const name = comps.pop()!;
  let dir = await Dir.openBase(t.base);
  try {
    for (const c of comps) {
      let next: Dir | null;
      try {
        next = await dir.sub(c, { create: opts.create ?? false });
      } catch (err) {
        if (err instanceof WoError) throw new WoError('POLICY_REFUSED', `path '${t.abs}': ${err.message}`, { cause: err });
        throw err;
      }
      if (!next) {
        await dir.close();
        return null;
      }
      dir = next.own();
    }
    return { dir, name };
  } catch (err) {
    await dir.close();
    throw err;
  }
}

/** Why: run `fn` on a target's folder and always release the handles. */
export async function withParent<T>(t: Where, opts: { create?: boolean }, fn: (dir: Dir, name: string) => Promise<T>): Promise<T | null> {
  const p = await openParent(t, opts);
  if (!p) return null;
  try {
    return await fn(p.dir, p.name);
  } finally {
    await p.dir.close();
  }
}
