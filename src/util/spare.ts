/**
 * Spare inodes for a folder whose files are rewritten atomically again and again (the state records).
 *
 * Why: an atomic rewrite (temp → fsync → rename over the old file) creates one inode and frees one. On ext4
 * without a journal (this project's CI machines) the inode allocator skips every inode freed in the last one to
 * six minutes, looking each one up, so a burst that frees an inode per WO makes each later create slower
 * (perf: ~35 % of a 2,000-WO burst's CPU in `recently_deleted`). Instead, the replaced file is kept under a
 * spare name (a hard link: no allocation, nothing freed) and the next rewrite in that folder writes into it.
 *
 * Where: `<folder>/.spare/<k>` (a hidden subfolder, same file system: hard links and renames work; the folder's
 * own mtime — the record index's high-water mark — changes only when a record does).
 * Safety: a spare is written only when it is a regular file with exactly one link (after a crash a spare name
 * may still share an inode with a record: such a name is unlinked, never written), opened without following a
 * link or blocking on a FIFO. Its name is renamed over the record only while it still leads to the inode written,
 * and the record is checked to be that inode after the rename; otherwise the write is redone with a fresh temp
 * (`writeIntoSpare` in fsx.ts). Spares have fixed names (`0` … `63`), so a new daemon removes a crashed one's
 * leftovers with `SLOTS` unlinks. Where links or the subfolder are not possible, rewrites allocate as before.
 */
import fs from 'node:fs';
import path from 'node:path';

const SLOTS = 64;
const C = fs.constants;

export class SparePool {
  /** Slots holding a spare inode, ready to be written. */
  private ready: number[] = [];
  /** Slots neither ready nor being written: free to keep a replaced file under. */
  private free: number[] = [];

  /** Spares live here. */
  readonly spareDir: string;

  /** `dir`: the folder whose files are rewritten. */
  constructor(readonly dir: string) {
    this.spareDir = path.join(dir, '.spare');
    for (let k = SLOTS - 1; k >= 0; k -= 1) this.free.push(k);
  }

  private name(k: number): string {
    return path.join(this.spareDir, String(k));
  }

  /** Remove every slot's file (a previous daemon's spares) and make the subfolder: at start, before the first rewrite. */
  clear(): void {
    try {
      fs.mkdirSync(this.spareDir, { mode: 0o700 });
    } catch {
      /* exists (or cannot be made: then no spare is ever kept) */
    }
    for (let k = 0; k < SLOTS; k += 1) {
      try {
        fs.unlinkSync(this.name(k));
      } catch {
        /* absent */
      }
    }
    this.ready = [];
    this.free = [];
    for (let k = SLOTS - 1; k >= 0; k -= 1) this.free.push(k);
  }

  /** An open, emptied spare to write into (its path and fd), or undefined when none is ready. */
  take(): { tmp: string; fd: number; release: () => void } | undefined {
    while (this.ready.length) {
      const k = this.ready.pop()!;
      const tmp = this.name(k);
      const release = () => this.free.push(k);
      let fd: number;
      try {
        fd = fs.openSync(tmp, C.O_WRONLY | C.O_NOFOLLOW | C.O_NONBLOCK); // a FIFO put here fails (ENXIO), never blocks
      } catch {
        this.drop(k);
        continue;
      }
      try {
        const st = fs.fstatSync(fd);
        if (st.isFile() && st.nlink === 1) {
          fs.ftruncateSync(fd, 0);
          return { tmp, fd, release };
        }
      } catch {
        /* dropped below */
      }
      fs.closeSync(fd);
      this.drop(k);
    }
    return undefined;
  }

  /**
   * Keep `file` (about to be replaced by a rename) under a free spare name; returns a function to call after
   * the rename: `true` (it replaced the file) makes the kept inode ready, `false` drops the name. Nothing is
   * kept when no slot is free or `file` is absent.
   */
  keep(file: string): ((replaced: boolean) => void) | undefined {
    const k = this.free.pop();
    if (k === undefined) return undefined;
    try {
      fs.linkSync(file, this.name(k));
    } catch (err) {
      // No old file (a first write): the slot stays free. A stale name in the slot: removed for the next time.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.free.push(k);
      else this.drop(k);
      return undefined;
    }
    return (replaced) => (replaced ? this.ready.push(k) : this.drop(k));
  }

  private drop(k: number): void {
    try {
      fs.unlinkSync(this.name(k));
    } catch {
      /* absent */
    }
    this.free.push(k);
  }
}
