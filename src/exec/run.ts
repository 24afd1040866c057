/** Run one command: its whole tree contained, an environment-clean launcher, a timeout that kills the tree, capped and redacted output. */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Duplex } from 'node:stream';
import type { CommandSpec } from '../wo/parse.js';
import { commandText } from '../wo/parse.js';
import type { CommandRecord, Phase } from '../state/record.js';
import { procStartTime } from './proc.js';
import { Tree, type TreeRef } from './contain.js';
import { launcherArgv } from './launcher.js';
import { longestSecret, redact, redactedTail } from './redact.js';

export interface RunOptions {
  cwd: string;
  /** Every chunk the command writes (stdout and stderr), as it comes: the live view of `--wait`. */
  onOutput?: (chunk: Buffer) => void;
  env: Record<string, string>;
  timeoutMs: number;
  killGraceMs: number;
  tailBytes: number;
  phase: Phase;
  signal?: AbortSignal;
  /** For `validate: "cmd %s"`: the temp file passed as $1 (never spliced into the string). */
  arg?: string;
  /** Called right after spawn with the launcher's pid (= pgid), its start time and what recovery needs to find the tree; the command starts once it resolves. */
  onSpawn?: (pid: number, procStart: string | undefined, tree: TreeRef) => Promise<void> | void;
  /** Text given on stdin (default: none). */
  input?: string;
}

/** Keeps the last `max` bytes of a stream. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max: number) {}
  /** True once the stream's beginning was dropped. */
  cut = false;
  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    while (this.size - (this.chunks[0]?.length ?? 0) >= this.max && this.chunks.length > 1) {
      this.size -= this.chunks.shift()!.length;
      this.cut = true;
    }
  }
  bytes(): Buffer {
    const all = Buffer.concat(this.chunks);
    if (all.length > this.max) this.cut = true;
    return all.subarray(Math.max(0, all.length - this.max));
  }
}

function tailText(t: Tail, max: number): string {
  const b = t.bytes();
  return redactedTail(b, max, t.cut);
}

/** The argv for a command spec: strings through /bin/sh -c, argv as is. */
export function argvFor(spec: CommandSpec, arg?: string): [string, string[]] {
  if (spec.kind === 'argv') return [spec.argv[0]!, [...spec.argv.slice(1), ...(arg !== undefined ? [arg] : [])]];
  if (arg !== undefined) return ['/bin/sh', ['-c', spec.cmd.replaceAll('%s', '"$1"'), 'sh', arg]];
  return ['/bin/sh', ['-c', spec.cmd]];
}

/** The environment a command gets: built from config, never inherited wholesale (SPEC §5). */
export function buildEnv(pathVar: string, extra: Record<string, string>, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = { PATH: pathVar };
  for (const k of ['HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'SHELL']) {
    const v = from[k];
    if (v !== undefined) env[k] = v;
  }
  return { ...env, ...extra };
}

/** How a contained process ended: data, never an exception. Tails are redacted of the daemon's secrets. */
export interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  cancelled: boolean;
  stdout: string;
  stderr: string;
  pid?: number;
  /** Why it could not be started at all. */
  spawnError?: string;
}

export interface ContainedOptions extends Omit<RunOptions, 'phase' | 'arg'> {}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/**
 * Run `file args` through the environment-clean launcher, its whole tree contained (cgroup, or marker and
 * /proc walk, or process group): killed at timeout and cancel (SIGTERM, SIGKILL after the grace), and whatever
 * is left of it when the command ends is killed too. The launcher starts the command only once it is in its
 * cgroup and `onSpawn` has recorded it.
 */
export async function runContained(file: string, args: readonly string[], opts: ContainedOptions): Promise<Ended> {
  const tree = new Tree();
  await tree.open();
  const [lfile, largs] = launcherArgv(file, args);
  const out = new Tail(opts.tailBytes + longestSecret());
  const err = new Tail(opts.tailBytes + longestSecret());
  const ended = (e: Partial<Ended>): Ended => ({ code: null, signal: null, timedOut: false, cancelled: false, stdout: tailText(out, opts.tailBytes), stderr: tailText(err, opts.tailBytes), ...e });
  let child: ChildProcess;
  try {
    child = spawn(lfile, largs, { cwd: opts.cwd, env: { ...opts.env, ...tree.env }, detached: true, stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe'], windowsHide: true });
  } catch (e) {
    await tree.close();
    return ended({ spawnError: (e as Error).message });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.stdout!.on('data', (b: Buffer) => {
    out.push(b);
    opts.onOutput?.(b);
  });
  child.stderr!.on('data', (b: Buffer) => {
    err.push(b);
    opts.onOutput?.(b);
  });
  const go = child.stdio[3] as Duplex | null;
  let startError = ''; // the launcher says on fd 3 when it could not start the command
  go?.on('error', () => undefined);
  go?.on('data', (b: Buffer) => {
    if (startError.length < 4096) startError += b.toString('utf8');
  });
  if (opts.input !== undefined) {
    child.stdin!.on('error', () => undefined); // a command that does not read its stdin (EPIPE) is not a failure
    child.stdin!.end(opts.input);
  }
  const pid = child.pid;
  if (pid === undefined) {
    const x = await exited;
    await tree.close();
    return ended({ spawnError: x.error?.message ?? 'could not start' });
  }

  let timedOut = false;
  let cancelled = false;
  let graceTimer: NodeJS.Timeout | undefined;
  const stop = (why: 'timeout' | 'cancel') => {
    if (timedOut || cancelled) return;
    if (why === 'timeout') timedOut = true;
    else cancelled = true;
    void tree.signal('SIGTERM').catch(() => undefined);
    graceTimer = setTimeout(() => void tree.signal('SIGKILL').catch(() => undefined), opts.killGraceMs);
  };
  const timer = setTimeout(() => stop('timeout'), opts.timeoutMs);
  const onAbort = () => stop('cancel');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  const cleanup = async () => {
    clearTimeout(timer);
    if (graceTimer) clearTimeout(graceTimer);
    opts.signal?.removeEventListener('abort', onAbort);
    await tree.close();
  };

  try {
    const start = procStartTime(pid);
    await tree.attach(pid, start);
    await opts.onSpawn?.(pid, start, tree.ref(start));
    if (timedOut || cancelled) go?.destroy(); // stopped before it began: the launcher ends (125) without running it
    else go?.end('1'); // the command starts now: contained and recorded
  } catch (e) {
    go?.destroy();
    await tree.signal('SIGKILL');
    await exited;
    await tree.reap(0);
    await cleanup();
    throw e;
  }
  // When the launcher exits, nothing of its tree may outlive it (or hold our pipes open).
  const x = await exited;
  await tree.reap(opts.killGraceMs);
  await Promise.race([closed, delay(opts.killGraceMs + 1000)]);
  child.stdout!.destroy();
  child.stderr!.destroy();
  go?.destroy();
  await cleanup();
  const spawnError = startError || x.error?.message;
  return ended({ code: x.code, signal: x.signal, timedOut, cancelled, pid, ...(spawnError ? { spawnError } : {}) });
}

/** Run a command to completion; the outcome is data (never throws for a failing command). */
export async function runCommand(spec: CommandSpec, opts: RunOptions): Promise<CommandRecord> {
  const [file, args] = argvFor(spec, opts.arg);
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const r = await runContained(file, args, opts);
  return {
    phase: opts.phase,
    cmd: commandText(spec),
    exit_code: r.code,
    signal: r.signal,
    timed_out: r.timedOut,
    duration_ms: Date.now() - started,
    stdout_tail: r.stdout,
    stderr_tail: r.stderr + (r.spawnError ? `${redact(r.spawnError)}\n` : ''),
    ...(r.pid !== undefined ? { pid: r.pid } : {}),
    started_at: startedAt,
    ...(r.cancelled ? { cancelled: true } : {}),
    ...(spec.name ? { name: spec.name } : {}),
  } as CommandRecord;
}

/** True when a command record counts as success. */
export function commandOk(r: CommandRecord): boolean {
  return r.exit_code === 0 && !r.timed_out;
}
