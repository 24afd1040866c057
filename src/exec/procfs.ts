/** Reading Linux /proc without blocking the event loop: the process table, one process's start, marked processes. */
import fsp from 'node:fs/promises';
import { environHas, parseStat, type ProcStat } from './tree.js';

async function pids(): Promise<number[]> {
  const names = await fsp.readdir('/proc').catch(() => [] as string[]);
  const self = process.pid;
  return names.filter((n) => n.charCodeAt(0) >= 48 && n.charCodeAt(0) <= 57).map(Number).filter((p) => p !== self);
}

/** One live process's stat, or undefined when it is gone (or a zombie). */
export async function statOf(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseStat(pid, await fsp.readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Every live process (but this one), read in parallel. */
export async function readTable(): Promise<ProcStat[]> {
  const all = await Promise.all((await pids()).map(statOf));
  return all.filter((p): p is ProcStat => p !== undefined);
}

/**
 * Live processes (zombies are dead) in process group `pgid` or whose environment holds `entry` (e.g.
 * `WO_RUN=<marker>`: every descendant of a command inherits it, wherever it was re-parented). One pass over
 * /proc; with `bornSince` (a start time) only processes started since then are read (descendants are younger
 * than their ancestor). Processes of other users are unreadable and skipped.
 */
export async function processesWith(entry: string, pgid?: number, bornSince?: string): Promise<ProcStat[]> {
  const since = bornSince === undefined ? undefined : Number(bornSince);
  const found = await Promise.all(
    (await pids()).map(async (pid) => {
      const st = await statOf(pid);
      if (!st || st.pgid === pgid) return st;
      if (since !== undefined && Number(st.start) < since) return undefined; // older than the command: not of it
      try {
        return environHas(await fsp.readFile(`/proc/${pid}/environ`), entry) ? st : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  return found.filter((p): p is ProcStat => p !== undefined);
}
