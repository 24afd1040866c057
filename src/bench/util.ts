/** Bench plumbing: temp roots, the real daemon as a child process, telemetry tailing, complete drops. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../util/tempdir.js';

export const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = path.resolve(DIST, '..');
export const CLI = path.join(DIST, 'cli', 'main.js');

export { tempDir };

/** A root with a wo.config.yaml (http off unless the config says otherwise). */
export function benchRoot(config: string): string {
  const root = tempDir('wo-bench-');
  fs.writeFileSync(path.join(root, 'wo.config.yaml'), config);
  return root;
}

/** The environment children get: ours minus anything pointing them elsewhere. */
export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.WO_ROOT;
  delete env.WO_DRY_RUN;
  delete env.NODE_OPTIONS;
  return env;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll until `pred` holds or throw after `timeoutMs`. */
export async function until<T>(pred: () => T | Promise<T>, timeoutMs: number, what: string, intervalMs = 5): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await pred();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export interface Daemon {
  child: ChildProcess;
  pid: number;
  /** ms from spawn to daemon.json saying ready. */
  readyMs: number;
  stderr: () => string;
  stop: () => Promise<number | null>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) if (c.exitCode === null && c.pid) try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
});

/** Spawn `wo daemon --root` and wait for g/run/daemon.json to say ready with its pid. */
export async function startDaemon(root: string, extraArgs: string[] = [], timeoutMs = 30_000): Promise<Daemon> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [...extraArgs, CLI, 'daemon', '--root', root], { env: childEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(child);
  let err = '';
  child.stderr!.on('data', (d) => (err = (err + d).slice(-20_000)));
  const exited = new Promise<number | null>((r) => child.on('exit', (c) => { live.delete(child); r(c); }));
  const info = path.join(root, 'g/run/daemon.json');
  await until(() => {
    if (child.exitCode !== null) throw new Error(`daemon exited ${child.exitCode}: ${err}`);
    try {
      const j = JSON.parse(fs.readFileSync(info, 'utf8')) as { pid: number; ready?: boolean };
      return j.pid === child.pid && j.ready === true;
    } catch {
      return false;
    }
  }, timeoutMs, 'daemon ready', 2);
  const readyMs = performance.now() - t0;
  return {
    child,
    pid: child.pid!,
    readyMs,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface Ev {
  ts: string;
  event: string;
  wo_id?: string;
  [k: string]: unknown;
}

/** Reads new telemetry lines as they are appended (the current file only). */
export class TelemetryTail {
  private off = 0;
  private rest = '';
  readonly file: string;
  constructor(root: string) {
    this.file = path.join(root, 'g/telemetry/unified.jsonl');
  }
  read(): Ev[] {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return [];
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= this.off) return [];
      const buf = Buffer.alloc(size - this.off);
      const n = fs.readSync(fd, buf, 0, buf.length, this.off);
      this.off += n;
      const text = this.rest + buf.subarray(0, n).toString('utf8');
      const lines = text.split('\n');
      this.rest = lines.pop() ?? '';
      return lines.filter(Boolean).map((l) => JSON.parse(l) as Ev);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** A one-file durable WO (plus optional post_verify checks). */
export function woYaml(id: string, opts: { postVerify?: boolean; commands?: boolean } = {}): string {
  const rel = `out/${id}.txt`;
  return [
    `wo_id: ${id}`,
    `title: "bench ${id}"`,
    'type: apply_patch',
    'files:',
    `  - path: ${rel}`,
    `    content: "${contentOf(id)}"`,
    ...(opts.postVerify ? ['post_verify:', `  - "test -f ${rel}"`] : []),
    ...(opts.commands ? ['commands:', '  - "true"'] : []),
    '',
  ].join('\n');
}

/** The exact bytes a bench WO writes. */
export function contentOf(id: string): string {
  return `content of ${id}`;
}

/** Drop a WO complete (hidden temp, mode 0700, rename) and return the wall-clock time (ms, fractional) just after the rename. */
export function dropComplete(dir: string, name: string, text: string): number {
  const tmp = path.join(dir, `.${name}.tmp`);
  fs.writeFileSync(tmp, text, { mode: 0o700 });
  fs.renameSync(tmp, path.join(dir, name));
  return performance.timeOrigin + performance.now();
}

/** p-th percentile (0..100) of numbers. */
export function pct(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** CPU ticks (utime+stime) of a process from /proc/<pid>/stat. */
export function cpuTicks(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // fields 14, 15 overall
}

/** Resident set size in bytes from /proc/<pid>/status. */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}
