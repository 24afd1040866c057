/**
 * Reading Linux /proc: the process table, one process's start, a tree's marked processes. Synchronous on
 * purpose: a table is ~100–1000 small reads into one buffer (1–10 ms); through the thread pool under load the
 * same scan took seconds, long enough for an escapee to act before it was killed. Only descendant tracking
 * (no writable cgroup) scans: at a command's end, at a kill, and every 250 ms while a tracked command runs.
 */
import fs from 'node:fs';
import { environHas, parseStat, type ProcStat } from './tree.js';

const buf = Buffer.alloc(4096);

function readSmall(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return buf.toString('latin1', 0, n);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function pids(): number[] {
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  const self = process.pid;
  const out: number[] = [];
  for (const n of names) {
    const c = n.charCodeAt(0);
    if (c >= 48 && c <= 57 && Number(n) !== self) out.push(Number(n));
  }
  return out;
}

/** One live process's stat, or undefined when it is gone (or a zombie). */
export function statOf(pid: number): ProcStat | undefined {
  const text = readSmall(`/proc/${pid}/stat`);
  return text === undefined ? undefined : parseStat(pid, text);
}

/** Every live process (but this one). */
export function readTable(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const pid of pids()) {
    const st = statOf(pid);
    if (st) out.push(st);
  }
  return out;
}

/**
 * Live processes (zombies are dead) in process group `pgid` or whose environment holds `entry` (e.g.
 * `WO_RUN=<marker>`: every descendant of a command inherits it, wherever it was re-parented). With `bornSince`
 * (a start time) only processes started since then have their environment read (descendants are younger than
 * their ancestor). Processes of other users are unreadable and skipped.
 */
export function processesWith(entry: string, pgid?: number, bornSince?: string): ProcStat[] {
  const since = bornSince === undefined ? undefined : Number(bornSince);
  const out: ProcStat[] = [];
  for (const pid of pids()) {
    const st = statOf(pid);
    if (!st) continue;
    if (st.pgid === pgid) {
      out.push(st);
      continue;
    }
    if (since !== undefined && Number(st.start) < since) continue; // older than the command: not of it
    try {
      if (environHas(fs.readFileSync(`/proc/${pid}/environ`), entry)) out.push(st);
    } catch {
      /* gone, or not ours */
    }
  }
  return out;
}
