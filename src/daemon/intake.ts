/**
 * Intake: the watcher is a wake-up, the directory is the truth. Each lane is listed on start, on any watch
 * event or watcher error, and periodically; complete files are claimed by rename into processing/<lane>/.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ensureDir, fsyncDir, moveUnique } from '../util/fsx.js';
import { isGone } from '../errors.js';
import type { Runtime } from './runtime.js';
import { LANE_RE } from '../config/schema.js';

/** Writer leftovers and hidden files are not WOs (SPEC §3). */
export function isIgnoredName(name: string): boolean {
  return name.startsWith('.') || name.endsWith('.tmp') || name.endsWith('.part') || name.endsWith('~');
}

/** Why: a folder under bridge/inbox/ is a lane only when its name is one (config `lanes` pattern); else why not. */
export function laneFolderProblem(name: string): string | undefined {
  if (name.startsWith('.')) return 'a hidden folder is not a lane';
  if (!LANE_RE.test(name)) return 'not a lane name (1 to 64 letters, digits, . _ -)';
  return undefined;
}

/** Completeness: owner-execute set ⇒ complete now; else size and mtime unchanged for settle_ms. */
export function completeness(
  st: { mode: number; size: number; mtimeMs: number },
  seen: { size: number; mtimeMs: number; since: number } | undefined,
  now: number,
  settleMs: number,
): 'complete' | 'settling' {
  if (st.mode & 0o100) return 'complete';
  if (seen && seen.size === st.size && seen.mtimeMs === st.mtimeMs && now - seen.since >= settleMs) return 'complete';
  return 'settling';
}

export interface Claimed {
  file: string;
  name: string;
  lane: string;
  received: string;
}

export interface IntakeDeps {
  rt: Runtime;
  /** Claimed files, in arrival order, once their claim is durable. */
  onClaimed: (batch: Claimed[]) => void;
  /** Claiming is paused for this lane (disk floor, shutdown, wo pause). */
  paused: (lane: string) => boolean;
  /** A non-regular file or similar found in a lane: refuse it. */
  onStrange: (file: string, name: string, lane: string, why: string) => Promise<void>;
}

const LEFTOVER_MAX_AGE_MS = 36 * 3600 * 1000;

export class Intake {
  private watchers = new Map<string, fs.FSWatcher>();
  private rootWatcher: fs.FSWatcher | undefined;
  private scanning = new Map<string, Promise<void>>();
  private dirty = new Set<string>();
  private settling = new Map<string, { size: number; mtimeMs: number; since: number }>();
  private settleTimers = new Map<string, NodeJS.Timeout>();
  private rescanTimer: NodeJS.Timeout | undefined;
  private warned = new Set<string>();
  /** Folders under bridge/inbox/ already warned about as not lanes. */
  private ignoredLanes = new Set<string>();
  private closed = false;

  constructor(private readonly d: IntakeDeps) {}

  private get L() {
    return this.d.rt.L;
  }

  /** The lanes: configured ones plus every folder under bridge/inbox/ named like a lane (others: one warning per name). */
  async lanes(): Promise<string[]> {
    const set = new Set(this.d.rt.config().lanes);
    for (const e of await fsp.readdir(this.L.inbox, { withFileTypes: true })) {
      if (!e.isDirectory() || e.name.startsWith('.')) continue;
      const why = laneFolderProblem(e.name);
      if (why === undefined) set.add(e.name);
      else if (!this.ignoredLanes.has(e.name)) {
        this.ignoredLanes.add(e.name);
        this.d.rt.log.warn({ folder: e.name }, `ignoring the folder bridge/inbox/${JSON.stringify(e.name)}: ${why}`);
      }
    }
    return [...set].sort();
  }

  /** Create lanes, tighten/refuse unsafe inboxes, start watchers, scan everything once. */
  async start(): Promise<void> {
    for (const lane of this.d.rt.config().lanes) {
      await ensureDir(path.join(this.L.inbox, lane));
      await ensureDir(path.join(this.L.processing, lane));
    }
    for (const lane of await this.lanes()) await this.tighten(lane);
    this.rootWatcher = this.watch(this.L.inbox, () => void this.discoverLanes());
    for (const lane of await this.lanes()) this.watchLane(lane);
    this.armRescan();
    await Promise.all((await this.lanes()).map((l) => this.scan(l)));
  }

  /** At start: an inbox of ours that others may write is tightened (and said so); someone else's is refused. */
  private async tighten(lane: string): Promise<void> {
    const dir = path.join(this.L.inbox, lane);
    const st = await fsp.stat(dir);
    if (st.mode & 0o022 && typeof process.getuid === 'function' && st.uid === process.getuid()) {
      await fsp.chmod(dir, st.mode & ~0o022 & 0o7777);
      this.d.rt.log.warn({ lane, dir, was: (st.mode & 0o777).toString(8) }, `inbox ${dir} was writable by group/others: tightened to ${((st.mode & ~0o022) & 0o777).toString(8)}`);
    }
  }

  /** Is this lane safe to take WOs from (StrictModes)? Warns once per lane when not. */
  private async laneSafe(lane: string, dir: string): Promise<boolean> {
    const st = await fsp.stat(dir);
    const uid = typeof process.getuid === 'function' ? process.getuid() : st.uid;
    const why = st.uid !== uid ? `owned by uid ${st.uid}, not by the daemon's user (${uid})` : st.mode & 0o022 ? `writable by group or others (mode ${(st.mode & 0o777).toString(8)})` : undefined;
    if (!why) {
      this.warned.delete(lane);
      return true;
    }
    if (!this.warned.has(lane)) {
      this.warned.add(lane);
      this.d.rt.log.warn({ lane, dir }, `refusing WOs from lane ${lane}: ${dir} is ${why}; fix: chmod go-w ${dir}`);
    }
    return false;
  }

  private watch(dir: string, onEvent: () => void): fs.FSWatcher | undefined {
    try {
      const w = fs.watch(dir, { persistent: true }, onEvent);
      w.on('error', (err) => {
        this.d.rt.log.warn({ dir, err: String(err) }, 'watcher error: rescanning');
        onEvent();
      });
      return w;
    } catch (err) {
      this.d.rt.log.warn({ dir, err: String(err) }, 'cannot watch folder; relying on the periodic rescan');
      return undefined;
    }
  }

  private watchLane(lane: string): void {
    if (this.watchers.has(lane) || this.closed) return;
    const w = this.watch(path.join(this.L.inbox, lane), () => this.kick(lane));
    if (w) this.watchers.set(lane, w);
  }

  private async discoverLanes(): Promise<void> {
    if (this.closed) return;
    for (const lane of await this.lanes().catch(() => [] as string[])) {
      if (!this.watchers.has(lane)) {
        await ensureDir(path.join(this.L.processing, lane)).catch(() => {});
        this.watchLane(lane);
        this.kick(lane);
      }
    }
  }

  private armRescan(): void {
    const every = this.d.rt.config().intake.rescan_s * 1000;
    this.rescanTimer = setInterval(() => {
      void this.discoverLanes();
      for (const lane of this.watchers.keys()) this.kick(lane);
    }, every);
    this.rescanTimer.unref();
  }

  /** Ask for a scan of a lane (coalesced: at most one running and one pending). */
  kick(lane: string): void {
    if (this.closed) return;
    if (this.scanning.has(lane)) {
      this.dirty.add(lane);
      return;
    }
    void this.scan(lane);
  }

  /** Rescan every lane now. */
  kickAll(): void {
    for (const lane of this.watchers.keys()) this.kick(lane);
  }

  private scan(lane: string): Promise<void> {
    const p = this.scanOnce(lane)
      .catch((err) => this.d.rt.log.error({ lane, err: String(err) }, 'lane scan failed; will retry on the next event or rescan'))
      .finally(() => {
        this.scanning.delete(lane);
        if (this.dirty.delete(lane)) this.kick(lane);
      });
    this.scanning.set(lane, p);
    return p;
  }

  private async scanOnce(lane: string): Promise<void> {
    if (this.closed || this.d.paused(lane)) return;
    const dir = path.join(this.L.inbox, lane);
    if (!(await this.laneSafe(lane, dir).catch(() => false))) return;
    const names = await fsp.readdir(dir);
    const settleMs = this.d.rt.config().intake.settle_ms;
    const now = Date.now();
    const batch: Claimed[] = [];
    const procDir = path.join(this.L.processing, lane);
    let procReady = false;
    for (const name of names) {
      if (this.closed || this.d.paused(lane)) break;
      const src = path.join(dir, name);
      let st: fs.Stats;
      try {
        st = fs.lstatSync(src); // sync: a thread-pool round trip per name costs more than the lstat (util/fsx.ts fsyncFd)
      } catch (err) {
        if (isGone(err)) continue; // moved by someone else: expected
        throw err;
      }
      if (isIgnoredName(name)) {
        if (name !== '.gitkeep' && st.isFile() && now - st.mtimeMs > LEFTOVER_MAX_AGE_MS && (name.endsWith('.tmp') || name.endsWith('.part') || name.endsWith('~'))) {
          await fsp.unlink(src).catch(() => {});
          this.d.rt.log.info({ lane, name }, 'removed a writer leftover older than 36 h');
        }
        continue;
      }
      if (st.isDirectory()) continue;
      if (!st.isFile()) {
        await this.d.onStrange(src, name, lane, st.isSymbolicLink() ? 'a symbolic link is not a WO file (it could point anywhere)' : 'not a regular file');
        continue;
      }
      const key = `${lane}/${name}`;
      if (completeness(st, this.settling.get(key), now, settleMs) === 'settling') {
        const seen = this.settling.get(key);
        if (!seen || seen.size !== st.size || seen.mtimeMs !== st.mtimeMs) this.settling.set(key, { size: st.size, mtimeMs: st.mtimeMs, since: now });
        this.armSettle(lane, settleMs);
        continue;
      }
      this.settling.delete(key);
      if (!procReady) {
        await ensureDir(procDir);
        procReady = true;
      }
      try {
        const dest = await moveUnique(src, procDir, name, { dest: 'owned', noSync: true });
        batch.push({ file: dest, name, lane, received: new Date().toISOString() });
      } catch (err) {
        if (isGone(err)) continue;
        throw err;
      }
    }
    for (const key of this.settling.keys()) if (key.startsWith(`${lane}/`) && !names.includes(key.slice(lane.length + 1))) this.settling.delete(key);
    if (batch.length) {
      await Promise.all([fsyncDir(procDir), fsyncDir(dir)]); // both durable before admission; in parallel (~0.6 ms less drop→start)
      this.d.onClaimed(batch);
    }
  }

  private armSettle(lane: string, settleMs: number): void {
    if (this.settleTimers.has(lane)) return;
    const t = setTimeout(() => {
      this.settleTimers.delete(lane);
      this.kick(lane);
    }, Math.max(20, settleMs + 10));
    this.settleTimers.set(lane, t);
  }

  /** Stop watching; wait for scans in flight. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.rescanTimer) clearInterval(this.rescanTimer);
    for (const t of this.settleTimers.values()) clearTimeout(t);
    this.rootWatcher?.close();
    for (const w of this.watchers.values()) w.close();
    await Promise.all(this.scanning.values());
  }
}
