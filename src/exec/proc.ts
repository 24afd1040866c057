/** Process facts: liveness, start time (pids are reused), and killing whole process groups. */
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';

/** True when a process with this pid exists (EPERM means it exists but is not ours). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A stable token for when a process started (Linux: /proc starttime; elsewhere `ps -o lstart`), or undefined. */
export function procStartTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19]; // field 22 overall: starttime in clock ticks since boot
  } catch {
    if (process.platform === 'linux') return undefined;
  }
  try {
    const out = execFileSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', timeout: 2000 }).trim();
    return out || undefined;
  } catch {
    return undefined;
  }
}

/** True when `pid` is alive and is the same process that started at `startTime`. */
export function sameProcess(pid: number, startTime: string | undefined): boolean {
  if (!pidAlive(pid)) return false;
  if (startTime === undefined) return true;
  const now = procStartTime(pid);
  return now === undefined || now === startTime;
}

/** Send a signal to a whole process group; false when the group is gone. */
export function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** True while any process of the group exists. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
