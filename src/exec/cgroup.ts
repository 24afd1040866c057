/**
 * cgroup v2 containment: each command gets a child cgroup of the daemon's own (writable when delegated, as
 * under a systemd user service, or when we are root); its launcher is moved in before the command starts, so
 * every descendant (setsid and double forks included) stays in it, and `cgroup.kill` ends them all.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import { cgroup2Mount, cgroupDir, cgroupV2Path } from './tree.js';

const PREFIX = 'wo-run-';
let base: string | null | undefined;

/** Find the daemon's own cgroup v2 folder and check we may create (and remove) a child there; cached. */
export function cgroupBase(): string | undefined {
  if (base !== undefined) return base ?? undefined;
  base = null;
  if (process.platform !== 'linux') return undefined;
  try {
    const mount = cgroup2Mount(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
    const own = cgroupV2Path(fs.readFileSync('/proc/self/cgroup', 'utf8'));
    if (!mount || own === undefined) return undefined;
    const dir = cgroupDir(mount, own);
    if (!dir) return undefined;
    const probe = path.join(dir, `${PREFIX}probe-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
    fs.mkdirSync(probe);
    const ok = fs.existsSync(path.join(probe, 'cgroup.procs'));
    fs.rmdirSync(probe);
    if (ok) {
      base = dir;
      sweep(dir);
    }
  } catch {
    /* no cgroup v2, or not ours to write: descendant tracking */
  }
  return base ?? undefined;
}

/**
 * Remove empty command cgroups a killed daemon left (rmdir only succeeds on an empty cgroup, so a live tree
 * of another daemon is never touched; one just made and not yet joined falls back to descendant tracking).
 */
function sweep(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (!/^wo-run-[0-9a-f]{16}$/.test(n)) continue;
    try {
      fs.rmdirSync(path.join(dir, n));
    } catch {
      /* busy (processes inside) or gone */
    }
  }
}

/** True for a folder this module would have made (recovery acts only on those, whatever a record says). */
export function isRunCgroup(dir: string): boolean {
  const b = cgroupBase();
  return b !== undefined && path.dirname(dir) === b && /^wo-run-[0-9a-f]{16}$/.test(path.basename(dir));
}

/** Make the cgroup for one command (named by its marker). */
export async function makeCgroup(baseDir: string, marker: string): Promise<string> {
  const dir = path.join(baseDir, `${PREFIX}${marker}`);
  await fsp.mkdir(dir);
  return dir;
}

/** Move a process into the cgroup (before it starts the command: its children are born inside). */
export async function joinCgroup(dir: string, pid: number): Promise<void> {
  await fsp.writeFile(path.join(dir, 'cgroup.procs'), String(pid));
}

/** The pids in the cgroup (and its sub-cgroups); [] when it is gone. */
export async function cgroupPids(dir: string): Promise<number[]> {
  const out: number[] = [];
  try {
    const text = await fsp.readFile(path.join(dir, 'cgroup.procs'), 'utf8');
    for (const l of text.split('\n')) if (l) out.push(Number(l));
    for (const e of await fsp.readdir(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...(await cgroupPids(path.join(dir, e.name))));
  } catch {
    /* gone */
  }
  return out;
}

/** Signal every process of the cgroup; SIGKILL uses `cgroup.kill` (atomic, forks included) when the kernel has it. */
export async function signalCgroup(dir: string, signal: NodeJS.Signals): Promise<void> {
  if (signal === 'SIGKILL') {
    try {
      await fsp.writeFile(path.join(dir, 'cgroup.kill'), '1');
      return;
    } catch {
      /* kernel < 5.14: one by one below */
    }
  }
  for (const pid of await cgroupPids(dir)) {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

/** Remove the cgroup (and any sub-cgroup a command made); false while processes remain. */
export async function removeCgroup(dir: string): Promise<boolean> {
  try {
    for (const e of await fsp.readdir(dir, { withFileTypes: true })) if (e.isDirectory()) await removeCgroup(path.join(dir, e.name));
    await fsp.rmdir(dir);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}
