/** One release's `wo` as a child process for the shadow run: a deadline, bounded output, its whole group killed. */
import { spawn } from 'node:child_process';

export interface BinResult {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  /** stdout went over `maxBytes` (the child was killed; `stdout` holds what was read). */
  overflow: boolean;
  stdout: string;
  /** The last 2,000 characters of stderr. */
  stderrTail: string;
}

/** The environment a release runs with: ours minus what would aim it elsewhere or force a dry run. */
export function shadowEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env, NO_COLOR: '1', WO_NOTIFY_DESKTOP: '0' };
  for (const k of ['WO_ROOT', 'WO_DRY_RUN', 'NODE_OPTIONS', 'WO_TEST_CRASH_AT', 'WO_TEST_FAIL_AT']) delete out[k];
  return out;
}

/** Why: a release's `wo` is untrusted for time and size: it gets a deadline and a cap, and its group dies with it. */
export function runBin(bin: string, args: string[], opts: { cwd: string; timeoutMs: number; maxBytes?: number }): Promise<BinResult> {
  const maxBytes = opts.maxBytes ?? 16 * 1024 * 1024;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: opts.cwd, env: shadowEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const chunks: Buffer[] = [];
    let size = 0;
    let stderr = '';
    let timedOut = false;
    let overflow = false;
    const kill = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, opts.timeoutMs);
    timer.unref();
    child.stdout.on('data', (d: Buffer) => {
      if (overflow) return;
      size += d.length;
      if (size > maxBytes) {
        overflow = true;
        kill();
        return;
      }
      chunks.push(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-2000);
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, timedOut, overflow, stdout: '', stderrTail: err.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, overflow, stdout: Buffer.concat(chunks).toString('utf8'), stderrTail: stderr });
    });
  });
}
