/** The CLI's exit codes (one table, shown in `wo --help` and docs/SPEC.md §9) and the error → code mapping. */
import { CommanderError } from 'commander';
import { HeldOrDown, TimedOut, UsageError } from '../errors.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, held: 3, timedOut: 4 } as const;

/** The epilog of `wo --help`. */
export const EXIT_HELP = `Exit codes:
  0  ok (for submit --wait: succeeded, or a duplicate of a succeeded WO: nothing applied)
  1  the thing checked failed (WO failed/rejected/cancelled, drift found, canary failed, unknown id)
  2  usage error or invalid input (bad option, unknown command, invalid WO or config)
  3  held for approval (wo approve <id>), or no daemon is running
  4  timed out waiting (--wait --timeout)`;

/** Why: scripts branch on the code, so every error class maps to exactly one (never on message text). */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof HeldOrDown) return EXIT.held;
  if (err instanceof TimedOut) return EXIT.timedOut;
  return EXIT.failed;
}

/** True for the error a write to a closed pipe gives (`wo logs | head -1`). */
export function isEpipe(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';
}

/** Why: the reader of a pipe may go away (`| head -1`): that is the reader's choice, not our failure, so end quietly with 0. */
export function quietOnEpipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (err) => {
    if (isEpipe(err)) process.exit(EXIT.ok);
    throw err;
  });
}
