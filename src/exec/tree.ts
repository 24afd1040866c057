/** Pure helpers over process-table text: /proc stat lines, environ blocks, cgroup paths, descendant closure. */

export interface ProcStat {
  pid: number;
  ppid: number;
  pgid: number;
  /** Start time in clock ticks since boot: (pid, start) names one process even when pids are reused. */
  start: string;
}

/** Parse `/proc/<pid>/stat` (the name field may hold spaces and parentheses: split after the last ')'). */
export function parseStat(pid: number, text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const f = text.slice(close + 2).split(' ');
  // f[0] = state (field 3), f[1] = ppid, f[2] = pgrp, f[19] = starttime (field 22)
  if (f[0] === 'Z' || f[0] === 'X') return undefined; // dead: nothing left to kill
  const ppid = Number(f[1]);
  const pgid = Number(f[2]);
  const start = f[19];
  if (!Number.isInteger(ppid) || !Number.isInteger(pgid) || start === undefined) return undefined;
  return { pid, ppid, pgid, start };
}

/** Every process below `roots` (not the roots themselves), following ppid links. */
export function descendantsOf(roots: readonly number[], procs: readonly ProcStat[]): ProcStat[] {
  const children = new Map<number, ProcStat[]>();
  for (const p of procs) {
    const list = children.get(p.ppid);
    if (list) list.push(p);
    else children.set(p.ppid, [p]);
  }
  const out: ProcStat[] = [];
  const seen = new Set<number>(roots);
  const queue = [...roots];
  while (queue.length) {
    for (const c of children.get(queue.pop()!) ?? []) {
      if (seen.has(c.pid)) continue;
      seen.add(c.pid);
      out.push(c);
      queue.push(c.pid);
    }
  }
  return out;
}

/** True when a NUL-separated environ block holds exactly the entry `NAME=value`. */
export function environHas(environ: Buffer, entry: string): boolean {
  const needle = Buffer.from(`${entry}\0`);
  let at = environ.indexOf(needle);
  while (at >= 0) {
    if (at === 0 || environ[at - 1] === 0) return true;
    at = environ.indexOf(needle, at + 1);
  }
  // the last entry may lack its trailing NUL
  const tail = Buffer.from(entry);
  return environ.length >= tail.length && environ.subarray(environ.length - tail.length).equals(tail) && (environ.length === tail.length || environ[environ.length - tail.length - 1] === 0);
}

/** The cgroup v2 path of a process from `/proc/<pid>/cgroup` (the `0::` line), or undefined. */
export function cgroupV2Path(procCgroup: string): string | undefined {
  const line = procCgroup.split('\n').find((l) => l.startsWith('0::'));
  return line ? line.slice(3) : undefined;
}

/** Where the cgroup v2 hierarchy is mounted and the hierarchy path it shows, from `/proc/self/mountinfo`. */
export function cgroup2Mount(mountinfo: string): { root: string; mountPoint: string } | undefined {
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    if (line.slice(sep + 3).split(' ')[0] !== 'cgroup2') continue;
    const f = line.slice(0, sep).split(' ');
    const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (f[3] === undefined || f[4] === undefined) continue;
    return { root: unescape(f[3]), mountPoint: unescape(f[4]) };
  }
  return undefined;
}

/** The folder of a process's cgroup v2 under its mount, or undefined when the mount does not show it. */
export function cgroupDir(mount: { root: string; mountPoint: string }, cgPath: string): string | undefined {
  const root = mount.root === '/' ? '' : mount.root;
  if (root && cgPath !== root && !cgPath.startsWith(`${root}/`)) return undefined;
  const rest = cgPath.slice(root.length);
  return (mount.mountPoint + (rest === '/' ? '' : rest)).replace(/\/+$/, '') || '/';
}
