/**
 * A command's whole process tree, whatever it does (setsid, double forks, nohup): found, signalled and waited
 * for as one. Linux: a cgroup v2 per command when the daemon's own cgroup is writable, else a unique marker in
 * the environment (inherited by every descendant) plus a ppid walk of /proc while it runs. macOS: the process
 * group only (a command that calls setsid can outlive it there).
 */
import crypto from 'node:crypto';
import { cgroupBase, cgroupPids, isRunCgroup, joinCgroup, makeCgroup, removeCgroup, signalCgroup } from './cgroup.js';
import { processesWith, readTable, statOf } from './procfs.js';
import { descendantsOf, type ProcStat } from './tree.js';
import { groupAlive, killGroup, sameProcess } from './proc.js';

export type Containment = 'cgroup' | 'descendant tracking' | 'process group only (macOS)';

/** What `wo doctor` prints for each mechanism. */
export const CONTAINMENT_TEXT: Record<Containment, string> = {
  cgroup: 'cgroup (each command in its own cgroup v2; the whole tree is killed, setsid and double forks included)',
  'descendant tracking':
    'descendant tracking (no writable cgroup v2: an environment marker plus a /proc walk; a descendant that both leaves the tree and clears its environment between two walks can escape)',
  'process group only (macOS)': 'process group only (macOS): a command that calls setsid (or double-forks into a new session) can outlive its WO',
};

/** The environment variable every descendant of a command inherits. */
export const MARKER_VAR = 'WO_RUN';

/** The mechanism this process uses (`WO_CONTAINMENT=tracking` forces the fallback, for tests). */
export function containment(): Containment {
  if (process.platform !== 'linux') return 'process group only (macOS)';
  if (process.env.WO_CONTAINMENT === 'tracking') return 'descendant tracking';
  return cgroupBase() ? 'cgroup' : 'descendant tracking';
}

/** What recovery needs to find a tree again after the daemon died (persisted in `running_command`). */
export interface TreeRef {
  pid: number;
  proc_start?: string;
  marker?: string;
  cgroup?: string;
}

/** Processes seen below tracked launchers, refreshed by one shared /proc walk while any command runs. */
const tracked = new Map<number, { start: string | undefined; seen: Map<number, ProcStat> }>();
let walker: NodeJS.Timeout | undefined;
const WALK_MS = 250;

function walk(): void {
  const table = readTable();
  const byPid = new Map(table.map((p) => [p.pid, p]));
  const same = (pid: number, start: string | undefined) => byPid.get(pid)?.start === start;
  for (const [root, { start, seen }] of tracked) {
    // below the launcher and below every member seen before (an orphan's own children are re-parented too)
    const roots = [...(same(root, start) ? [root] : []), ...[...seen.values()].filter((p) => same(p.pid, p.start)).map((p) => p.pid)];
    for (const p of descendantsOf(roots, table)) if (!seen.has(p.pid)) seen.set(p.pid, p);
  }
}

function track(pid: number, start: string | undefined): Map<number, ProcStat> {
  const seen = new Map<number, ProcStat>();
  tracked.set(pid, { start, seen });
  walker ??= setInterval(walk, WALK_MS).unref();
  return seen;
}

function untrack(pid: number): void {
  tracked.delete(pid);
  if (!tracked.size && walker) {
    clearInterval(walker);
    walker = undefined;
  }
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    /* gone */
  }
}

/** One command's tree: open before spawn, `attach` the launcher, `signal`/`alive` while it runs, `close` at the end. */
export class Tree {
  readonly marker = crypto.randomBytes(8).toString('hex');
  readonly mode = containment();
  cgroup: string | undefined;
  pid: number | undefined;
  private start: string | undefined;
  private seen: Map<number, ProcStat> | undefined;

  /** Prepare (the cgroup folder, when cgroups are used). */
  async open(): Promise<void> {
    const b = this.mode === 'cgroup' ? cgroupBase() : undefined;
    if (b) this.cgroup = await makeCgroup(b, this.marker).catch(() => undefined);
  }

  /** The environment entry that marks the command's descendants. */
  get env(): Record<string, string> {
    return { [MARKER_VAR]: this.marker };
  }

  /** Take the launcher in (before it starts the command); a cgroup that refuses it falls back to tracking. */
  async attach(pid: number, start: string | undefined): Promise<void> {
    this.pid = pid;
    this.start = start;
    if (this.cgroup) {
      try {
        await joinCgroup(this.cgroup, pid);
        return;
      } catch {
        await removeCgroup(this.cgroup);
        this.cgroup = undefined;
      }
    }
    if (process.platform === 'linux') this.seen = track(pid, start);
  }

  /** What recovery needs. */
  ref(procStart: string | undefined): TreeRef {
    return { pid: this.pid!, ...(procStart ? { proc_start: procStart } : {}), marker: this.marker, ...(this.cgroup ? { cgroup: this.cgroup } : {}) };
  }

  /** Tracking mode: the live members (group, marker, seen by the walk), start times verified. */
  private members(): number[] {
    const pgid = this.pid!;
    const out = new Set<number>();
    // kill(-pgid, 0) also counts zombies (here pid 1 may be slow to reap them): /proc tells the live ones
    for (const p of processesWith(`${MARKER_VAR}=${this.marker}`, groupAlive(pgid) ? pgid : undefined, this.start)) out.add(p.pid);
    for (const p of this.seen?.values() ?? []) {
      if (out.has(p.pid)) continue;
      if (statOf(p.pid)?.start === p.start) out.add(p.pid);
      else this.seen!.delete(p.pid);
    }
    return [...out];
  }

  /** Signal the whole tree. */
  async signal(signal: NodeJS.Signals): Promise<void> {
    if (this.pid === undefined) return;
    killGroup(this.pid, signal);
    if (this.cgroup) await signalCgroup(this.cgroup, signal);
    else if (this.seen) for (const pid of this.members()) kill(pid, signal);
  }

  /** True while any process of the tree is alive (zombies are not). */
  async alive(): Promise<boolean> {
    if (this.pid === undefined) return false;
    if (this.cgroup) return (await cgroupPids(this.cgroup)).length > 0; // zombies leave the cgroup
    if (this.seen) return this.members().length > 0;
    return groupAlive(this.pid); // macOS: launchd reaps orphans at once
  }

  /** After the launcher exited: SIGTERM what is left, SIGKILL it after `graceMs`, and wait until it is gone. */
  async reap(graceMs: number): Promise<void> {
    if (!(await this.alive())) return;
    await this.signal('SIGTERM');
    const deadline = Date.now() + graceMs;
    while ((await this.alive()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 50 && (await this.alive()); i++) {
      await this.signal('SIGKILL');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Release what `open` and `attach` took. */
  async close(): Promise<void> {
    if (this.pid !== undefined) untrack(this.pid);
    if (this.cgroup) await removeCgroup(this.cgroup);
  }
}

/**
 * Kill a tree a dead daemon left behind (crash recovery): its process group when the leader is the same
 * process, its cgroup, and (Linux) every process carrying its marker.
 */
export async function killLeftTree(ref: TreeRef): Promise<void> {
  if (sameProcess(ref.pid, ref.proc_start)) killGroup(ref.pid, 'SIGKILL');
  if (ref.cgroup && isRunCgroup(ref.cgroup)) {
    await signalCgroup(ref.cgroup, 'SIGKILL');
    for (let i = 0; i < 50 && (await cgroupPids(ref.cgroup)).length; i++) await new Promise((r) => setTimeout(r, 20));
    await removeCgroup(ref.cgroup);
  }
  if (ref.marker && /^[0-9a-f]{16}$/.test(ref.marker) && process.platform === 'linux') {
    for (let i = 0; i < 5; i++) {
      const left = processesWith(`${MARKER_VAR}=${ref.marker}`);
      if (!left.length) break;
      for (const p of left) kill(p.pid, 'SIGKILL');
    }
  }
}
