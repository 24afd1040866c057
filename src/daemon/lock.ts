/** One daemon per root: an O_EXCL lock file holding pid + start time; a dead holder's lock is taken over. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pidAlive, procStartTime, sameProcess } from '../exec/proc.js';
import { fsyncDir } from '../util/fsx.js';

export interface LockInfo {
  pid: number;
  proc_start?: string;
  started_at: string;
  root: string;
}

export interface LockState {
  held: boolean;
  info?: LockInfo;
  stale: boolean;
}

/** Read the lock file and tell whether its holder still runs. */
export async function readLock(lockFile: string): Promise<LockState> {
  let info: LockInfo;
  try {
    info = JSON.parse(await fsp.readFile(lockFile, 'utf8')) as LockInfo;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { held: false, stale: false };
    return { held: true, stale: true }; // unreadable / torn: treated as stale
  }
  const alive = sameProcess(info.pid, info.proc_start);
  return { held: alive, info, stale: !alive };
}

async function createExclusive(lockFile: string, info: LockInfo): Promise<boolean> {
  const tmp = `${lockFile}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, JSON.stringify(info) + '\n', { mode: 0o600 });
  const fh = await fsp.open(tmp, 'r');
  await fh.sync();
  await fh.close();
  try {
    await fsp.link(tmp, lockFile); // fails with EEXIST when another holds it: atomic
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await fsp.unlink(tmp).catch(() => {});
  }
}

/** Serialise stale-lock takeovers: only the holder of `<lock>.takeover` may remove a stale lock. */
async function withTakeoverMutex<T>(lockFile: string, fn: () => Promise<T>): Promise<T | undefined> {
  const mutex = `${lockFile}.takeover`;
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(mutex, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // A takeover in progress, or a dead one: a mutex older than 10 s whose writer is gone is removed.
    try {
      const st = await fsp.stat(mutex);
      const pid = Number((await fsp.readFile(mutex, 'utf8')).trim());
      if (Date.now() - st.mtimeMs > 10_000 && !pidAlive(pid)) await fsp.unlink(mutex);
    } catch {
      /* gone meanwhile */
    }
    return undefined;
  }
  try {
    await fh.writeFile(String(process.pid));
    await fh.close();
    return await fn();
  } finally {
    await fsp.unlink(mutex).catch(() => {});
  }
}

export interface AcquiredLock {
  info: LockInfo;
  /** The previous holder when a stale lock was taken over. */
  tookOver?: LockInfo | { pid: undefined };
  release(): Promise<void>;
}

/** Take the root's lock or return the live holder. */
export async function acquireLock(lockFile: string, root: string): Promise<AcquiredLock | { held: LockInfo | undefined }> {
  await fsp.mkdir(path.dirname(lockFile), { recursive: true, mode: 0o700 });
  const info: LockInfo = { pid: process.pid, proc_start: procStartTime(process.pid), started_at: new Date().toISOString(), root };
  let tookOver: AcquiredLock['tookOver'];
  for (let tries = 0; tries < 50; tries++) {
    if (await createExclusive(lockFile, info)) {
      await fsyncDir(path.dirname(lockFile));
      let released = false;
      return {
        info,
        ...(tookOver ? { tookOver } : {}),
        release: async () => {
          if (released) return;
          released = true;
          const cur = await readLock(lockFile);
          if (cur.info?.pid === process.pid) await fsp.unlink(lockFile).catch(() => {});
        },
      };
    }
    const state = await readLock(lockFile);
    if (state.held && state.info) return { held: state.info };
    if (!state.stale) continue; // vanished between our tries
    await withTakeoverMutex(lockFile, async () => {
      const again = await readLock(lockFile);
      if (again.stale) {
        await fsp.unlink(lockFile).catch(() => {});
        tookOver = again.info ?? { pid: undefined };
      }
    });
    await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
  }
  const state = await readLock(lockFile);
  return { held: state.info };
}

/** Synchronous release for process-exit paths. */
export function releaseLockSync(lockFile: string): void {
  try {
    const info = JSON.parse(fs.readFileSync(lockFile, 'utf8')) as LockInfo;
    if (info.pid === process.pid) fs.unlinkSync(lockFile);
  } catch {
    /* nothing to release */
  }
}
