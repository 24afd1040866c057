/** Run one command: its own process group, a built environment, a timeout that kills the group, capped output. */
import type { CommandSpec } from '../wo/parse.js';
import { commandText } from '../wo/parse.js';
import type { CommandRecord, Phase } from '../state/record.js';
import { groupAlive, killGroup, procStartTime } from './proc.js';

export interface RunOptions {
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  killGraceMs: number;
  tailBytes: number;
  phase: Phase;
  signal?: AbortSignal;
  /** For `validate: "cmd %s"`: the temp file passed as $1 (never spliced into the string). */
  arg?: string;
  /** Called right after spawn with the pid (= pgid) and its start time, to be recorded durably. */
  onSpawn?: (pid: number, procStart: string | undefined) => Promise<void> | void;
  /** Text given on stdin (default: none). */
  input?: string;
}

/** Keeps the last `max` bytes of a stream. */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max: number) {}
  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    while (this.size - (this.chunks[0]?.length ?? 0) >= this.max && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.max)).toString('utf8');
  }
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

/** Run a command to completion; the outcome is data (never throws for a failing command). */
export async function runCommand(spec: CommandSpec, opts: RunOptions): Promise<CommandRecord> {
  const { execa } = await import('execa');
  const [file, args] = argvFor(spec, opts.arg);
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const out = new Tail(opts.tailBytes);
  const err = new Tail(opts.tailBytes);
  let timedOut = false;
  let cancelled = false;
  const child = execa(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: false,
    detached: true,
    reject: false,
    buffer: false,
    stdin: opts.input !== undefined ? 'pipe' : 'ignore',
    stripFinalNewline: false,
    cleanup: false,
    windowsHide: true,
  });
  const pid = child.pid;
  // Listen for the leader's exit at once: it may end while onSpawn is still writing the state record.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  child.stdout?.on('data', (b: Buffer) => out.push(b));
  child.stderr?.on('data', (b: Buffer) => err.push(b));
  if (opts.input !== undefined) child.stdin?.end(opts.input);

  let graceTimer: NodeJS.Timeout | undefined;
  const stop = (why: 'timeout' | 'cancel') => {
    if (pid === undefined) return;
    if (why === 'timeout') timedOut = true;
    else cancelled = true;
    killGroup(pid, 'SIGTERM');
    graceTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), opts.killGraceMs);
  };
  const timer = setTimeout(() => stop('timeout'), opts.timeoutMs);
  const onAbort = () => stop('cancel');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();

  if (pid !== undefined && opts.onSpawn) {
    try {
      await opts.onSpawn(pid, procStartTime(pid));
    } catch (e) {
      killGroup(pid, 'SIGKILL');
      throw e;
    }
  }
  // When the leader exits, nothing of its group may outlive it (and hold our pipes open).
  const exitInfo = await exited;
  if (pid !== undefined && groupAlive(pid)) {
    killGroup(pid, 'SIGTERM');
    const deadline = Date.now() + opts.killGraceMs;
    while (groupAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    killGroup(pid, 'SIGKILL');
  }
  const result = await child;
  clearTimeout(timer);
  if (graceTimer) clearTimeout(graceTimer);
  opts.signal?.removeEventListener('abort', onAbort);
  const spawnError = result.failed && result.exitCode === undefined && !result.signal && !timedOut && !cancelled ? (result.originalMessage ?? result.shortMessage) : undefined;
  return {
    phase: opts.phase,
    cmd: commandText(spec),
    exit_code: exitInfo.code ?? (result.exitCode ?? null),
    signal: exitInfo.signal ?? ((result.signal as string | undefined) ?? null),
    timed_out: timedOut,
    duration_ms: Date.now() - started,
    stdout_tail: out.text(),
    stderr_tail: err.text() + (spawnError ? `${spawnError}\n` : ''),
    ...(pid !== undefined ? { pid } : {}),
    started_at: startedAt,
    ...(cancelled ? { cancelled: true } : {}),
    ...(spec.name ? { name: spec.name } : {}),
  } as CommandRecord;
}

/** True when a command record counts as success. */
export function commandOk(r: CommandRecord): boolean {
  return r.exit_code === 0 && !r.timed_out;
}
