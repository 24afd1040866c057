/** Tell a person: run `notify.command` through /bin/sh with the event as JSON on stdin. Never throws. */
import { spawn } from 'node:child_process';

const TIMEOUT_MS = 10_000;
const TAIL = 2048;

/**
 * Run `command` (SPEC §12 `notify.command`) with `event` as JSON on stdin, bounded by 10 s (the whole
 * process group is killed then). Resolves when it ends; failures are written to stderr, never thrown.
 */
export async function notify(command: string | null, event: object, opts: { timeoutMs?: number; log?: (msg: string) => void } = {}): Promise<void> {
  if (!command) return;
  const log = opts.log ?? ((msg: string) => process.stderr.write(`wo notify: ${msg}\n`));
  try {
    await new Promise<void>((resolve) => {
      const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'ignore', 'pipe'], detached: true });
      let stderr = '';
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }, opts.timeoutMs ?? TIMEOUT_MS);
      timer.unref();
      child.stderr!.on('data', (d: Buffer) => {
        stderr = (stderr + d.toString('utf8')).slice(-TAIL);
      });
      child.on('error', (err) => {
        clearTimeout(timer);
        log(`could not run ${JSON.stringify(command)}: ${err.message}`);
        resolve();
      });
      // 'exit', not 'close': a grandchild holding stderr open must not keep us waiting.
      child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (timedOut) log(`${JSON.stringify(command)} timed out after ${(opts.timeoutMs ?? TIMEOUT_MS) / 1000} s and was killed`);
        else if (code !== 0) log(`${JSON.stringify(command)} failed (${signal ? `signal ${signal}` : `exit ${code}`})${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
        child.stderr!.destroy();
        resolve();
      });
      child.stdin!.on('error', () => {
        /* the command did not read its stdin (EPIPE): not a failure */
      });
      child.stdin!.end(JSON.stringify(event) + '\n');
    });
  } catch (err) {
    log(`could not run ${JSON.stringify(command)}: ${(err as Error).message}`);
  }
}
