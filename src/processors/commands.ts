/** Run a phase's commands (commands, post_verify, tests, validate) under one set of rules. */
import type { CommandSpec, TestSpec } from '../wo/parse.js';
import type { CommandRecord, Phase, TestResult } from '../state/record.js';
import { buildEnv, commandOk, runCommand } from '../exec/run.js';
import type { TreeRef } from '../exec/contain.js';
import type { Config } from '../config/load.js';
import { WoError } from '../errors.js';

export interface PhaseContext {
  config: Config;
  woId: string;
  signal: AbortSignal;
  /** Why the signal fired: a cancel or the WO's timeout. */
  abortReason: () => 'cancel' | 'timeout' | 'shutdown' | undefined;
  /** Record a finished command (and persist when asked). */
  record: (r: CommandRecord) => void;
  /** Persist "this command is running" right after spawn (pid, start time, how to find its tree); it starts after. */
  onSpawn?: (pid: number, procStart: string | undefined, phase: Phase, cmd: string, tree: TreeRef) => Promise<void>;
  /** The running command's output as it comes (shown by `wo submit --wait`), cleared when it ends. */
  live?: { push(chunk: Buffer): void; end(): void };
}

/** The run options' onSpawn for one command of a phase (recorded so recovery can kill its tree). */
function spawnHook(ctx: PhaseContext, phase: Phase, spec: CommandSpec) {
  const on = ctx.onSpawn;
  return on ? { onSpawn: (pid: number, start: string | undefined, tree: TreeRef) => on(pid, start, phase, spec.kind === 'sh' ? spec.cmd : spec.argv.join(' '), tree) } : {};
}

function optsFor(ctx: PhaseContext, phase: Phase) {
  const c = ctx.config;
  return {
    cwd: c.root,
    env: buildEnv(c.exec.path, { WO_ID: ctx.woId, WO_ROOT: c.root }),
    timeoutMs: c.exec.timeout_s * 1000,
    killGraceMs: c.exec.kill_grace_s * 1000,
    tailBytes: c.exec.output_tail_bytes,
    phase,
    signal: ctx.signal,
    ...(ctx.live ? { onOutput: (b: Buffer) => ctx.live!.push(b) } : {}),
  };
}

/** One command, its live output cleared when it ends (its output is in the record then). */
async function runLive(ctx: PhaseContext, spec: CommandSpec, opts: Parameters<typeof runCommand>[1]): Promise<CommandRecord> {
  try {
    return await runCommand(spec, opts);
  } finally {
    ctx.live?.end();
  }
}

/** Turn an aborted command into the WO error its cause calls for. */
function abortError(ctx: PhaseContext, r: CommandRecord): WoError | undefined {
  const why = ctx.abortReason();
  if (why === 'cancel') return new WoError('CANCELLED', `cancelled while running '${r.cmd}'`);
  if (why === 'timeout') return new WoError('TIMEOUT', `the WO ran over its timeout_s while running '${r.cmd}'`);
  if (why === 'shutdown') return new WoError('INTERRUPTED', `the daemon stopped while running '${r.cmd}'`, { transient: true });
  return undefined;
}

/** Run commands in order; the first failure throws the WoError for its phase. */
export async function runCommands(ctx: PhaseContext, phase: 'commands' | 'post_verify', cmds: CommandSpec[]): Promise<void> {
  for (const spec of cmds) {
    if (ctx.signal.aborted) throw abortError(ctx, { cmd: '(next command)' } as CommandRecord)!;
    const r = await runLive(ctx, spec, { ...optsFor(ctx, phase), ...spawnHook(ctx, phase, spec) });
    ctx.record(r);
    const aborted = abortError(ctx, r);
    if (aborted) throw aborted;
    if (r.timed_out) throw new WoError('TIMEOUT', `${phase} command '${r.cmd}' timed out after ${ctx.config.exec.timeout_s}s`, { transient: true });
    if (!commandOk(r)) {
      const tail = (r.stderr_tail || r.stdout_tail).trim().split('\n').slice(-3).join(' | ').slice(0, 300);
      throw new WoError('COMMAND_FAILED', `${phase} command '${r.cmd}' failed (${r.signal ? `signal ${r.signal}` : `exit ${r.exit_code}`})${tail ? `: ${tail}` : ''}`);
    }
  }
}

/** Run acceptance tests: each one's trimmed stdout must equal its expected value. All run; results returned. */
export async function runTests(ctx: PhaseContext, tests: TestSpec[]): Promise<TestResult[]> {
  const results: TestResult[] = [];
  for (const t of tests) {
    if (ctx.signal.aborted) throw abortError(ctx, { cmd: t.name } as CommandRecord)!;
    const r = await runLive(ctx, t.command, { ...optsFor(ctx, 'tests'), ...spawnHook(ctx, 'tests', t.command) });
    ctx.record({ ...r, name: t.name });
    const aborted = abortError(ctx, r);
    if (aborted) throw aborted;
    const actual = r.stdout_tail.trim();
    results.push({ name: t.name, expected: t.expected.trim(), actual, passed: actual === t.expected.trim() && !r.timed_out });
  }
  return results;
}

/** Run a file's `validate: "cmd %s"` on the temp file ($1, never spliced into the string). */
export async function runValidate(ctx: PhaseContext, cmd: string, tempFile: string): Promise<void> {
  const spec = { kind: 'sh' as const, cmd };
  const r = await runLive(ctx, spec, { ...optsFor(ctx, 'validate'), arg: tempFile, ...spawnHook(ctx, 'validate', spec) });
  ctx.record(r);
  const aborted = abortError(ctx, r);
  if (aborted) throw aborted;
  if (!commandOk(r)) {
    const tail = (r.stderr_tail || r.stdout_tail).trim().split('\n').slice(-3).join(' | ').slice(0, 300);
    throw new WoError('VALIDATE_FAILED', `validate '${cmd}' refused the new content (${r.timed_out ? 'timed out' : `exit ${r.exit_code}`})${tail ? `: ${tail}` : ''}`);
  }
}
