/** Test helpers: temp roots, the real CLI as a child process, the real daemon, waiting on conditions. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../src/util/tempdir.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = path.join(REPO, 'dist', 'cli', 'main.js');

export { tempDir };

/** A temp root, optionally with a wo.config.yaml (http off by default, so tests do not fight over ports). */
export function tempRoot(config = 'http:\n  enabled: false\n'): string {
  const root = tempDir('wo-root-');
  if (config) fs.writeFileSync(path.join(root, 'wo.config.yaml'), config);
  return root;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment children get: ours minus anything that would point them at another root. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra };
  delete env.WO_ROOT;
  delete env.WO_DRY_RUN;
  delete env.NODE_OPTIONS;
  return env;
}

/** Run the built CLI synchronously. */
export function runCli(args: string[], opts: { root?: string; env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): CliResult {
  const full = opts.root ? [...args, '--root', opts.root] : args;
  const r = spawnSync(process.execPath, [CLI, ...full], {
    env: childEnv(opts.env),
    input: opts.input,
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Run the built CLI asynchronously (for commands that wait on the daemon). */
export function runCliAsync(args: string[], opts: { root?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  const full = opts.root ? [...args, '--root', opts.root] : args;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...full], { env: childEnv(opts.env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export interface DaemonHandle {
  child: ChildProcess;
  pid: number;
  output: () => string;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
  exited: Promise<number | null>;
}

const daemons = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of daemons) if (c.exitCode === null && c.pid) try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
});

/** Start the real daemon as a child process on `root` and wait until it says it is ready (g/run/daemon.json). */
export async function startDaemon(root: string, opts: { env?: Record<string, string>; waitReady?: boolean } = {}): Promise<DaemonHandle> {
  const child = spawn(process.execPath, [CLI, 'daemon', '--root', root], { env: childEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  daemons.add(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => { daemons.delete(child); resolve(code); }));
  const handle: DaemonHandle = {
    child,
    pid: child.pid!,
    output: () => out,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
  if (opts.waitReady !== false) {
    await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}:\n${out}`);
      try {
        const j = JSON.parse(fs.readFileSync(path.join(root, 'g/run/daemon.json'), 'utf8')) as { pid: number; ready?: boolean };
        return j.pid === child.pid && j.ready === true;
      } catch {
        return false;
      }
    }, { timeout: 20_000, what: 'daemon ready' });
  }
  return handle;
}

/** Poll a condition until it holds (or throw after the timeout). */
export async function waitFor<T>(pred: () => T | Promise<T>, opts: { timeout?: number; interval?: number; what?: string } = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeout ?? 15_000);
  let last: unknown;
  for (;;) {
    try {
      const v = await pred();
      if (v) return v;
    } catch (err) {
      last = err;
      if (err instanceof Error && /daemon exited/.test(err.message)) throw err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? 'condition'}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, opts.interval ?? 20));
  }
}

/** Read a WO state record (undefined if absent). */
export function readRecord(root: string, id: string): Record<string, any> | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, 'g/followup/state', `${id}.json`), 'utf8'));
  } catch {
    return undefined;
  }
}

/** Read telemetry events. */
export function readEvents(root: string): Record<string, any>[] {
  try {
    return fs.readFileSync(path.join(root, 'g/telemetry/unified.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

/** Drop a WO into a lane the way a person would (plain write; the daemon waits for it to settle). */
export function dropWo(root: string, lane: string, name: string, text: string): string {
  const dir = path.join(root, 'bridge/inbox', lane);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}

/** Drop a WO complete at once (hidden temp, u+x, rename), as `wo submit` does. */
export function dropComplete(root: string, lane: string, name: string, text: string): string {
  const dir = path.join(root, 'bridge/inbox', lane);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${name}.tmp`);
  fs.writeFileSync(tmp, text, { mode: 0o700 });
  const p = path.join(dir, name);
  fs.renameSync(tmp, p);
  return p;
}

/** Init a git repo in a folder with a test identity. */
export function gitInit(dir: string): void {
  const g = (...a: string[]) => spawnSync('git', a, { cwd: dir, encoding: 'utf8' });
  g('init', '-q', '-b', 'main');
  g('config', 'user.email', 'test@example.com');
  g('config', 'user.name', 'Test');
  g('config', 'commit.gpgsign', 'false');
}

/** Run git in a folder; throws on failure. */
export function git(dir: string, ...args: string[]): string {
  const r = spawnSync('git', args, { cwd: dir, encoding: 'utf8', env: process.env });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Wait until nothing is claimed (bridge/processing/<lane>/ all empty): terminal records are written before their file moves. */
export async function waitSettled(root: string, opts: { timeout?: number } = {}): Promise<void> {
  const dir = path.join(root, 'bridge/processing');
  await waitFor(() => {
    for (const lane of fs.readdirSync(dir)) {
      const p = path.join(dir, lane);
      if (fs.statSync(p).isDirectory() && fs.readdirSync(p).some((n) => !n.startsWith('.'))) return false;
    }
    return true;
  }, { timeout: opts.timeout ?? 15_000, what: 'processing/ to empty' });
}
