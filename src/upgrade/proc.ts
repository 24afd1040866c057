/** Running a command for a step: output captured (bounded), a deadline, never a shell. */
import { spawn } from 'node:child_process';

export interface CmdResult {
  code: number | null;
  output: string;
  timedOut: boolean;
}

/** Run argv in cwd; resolves with the exit code and the combined output (its last 64 KiB). */
export function runCmd(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CmdResult> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let output = '';
    const add = (d: Buffer) => {
      output += d.toString();
      if (output.length > 131_072) output = output.slice(-65_536);
    };
    child.stdout.on('data', add);
    child.stderr.on('data', add);
    let timedOut = false;
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, opts.timeoutMs)
      : undefined;
    child.on('error', (err) => {
      output += `\n${err.message}`;
    });
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, output, timedOut });
    });
  });
}
