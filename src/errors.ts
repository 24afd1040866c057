/** The project's one error model: a few classes, used for control flow, never matched on message text. */

/** The error codes a WO record can carry (SPEC §4). */
export const ERROR_CODES = [
  'PARSE_ERROR', 'INVALID', 'POLICY_REFUSED', 'CONFLICT', 'PATCH_FAILED', 'VALIDATE_FAILED',
  'COMMAND_FAILED', 'TIMEOUT', 'TEST_FAILED', 'INTERRUPTED', 'CANCELLED', 'DISK_FULL', 'IO_ERROR', 'SERVICE_FAILED',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** A bad command line or an invalid input file: the CLI exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The thing checked failed (WO not succeeded, drift found, unknown id): the CLI exits 1. */
export class CheckFailed extends Error {
  override name = 'CheckFailed';
}

/** The WO is held for approval, or no daemon is running to take it: the CLI exits 3. */
export class HeldOrDown extends Error {
  override name = 'HeldOrDown';
}

/** The CLI gave up waiting (--wait --timeout): exit 4. */
export class TimedOut extends Error {
  override name = 'TimedOut';
}

/** A WO failure with its SPEC error code; `transient` ones may be retried, all others are final. */
export class WoError extends Error {
  override name = 'WoError';
  readonly code: ErrorCode;
  readonly transient: boolean;
  readonly details: { path: string; message: string }[];
  constructor(code: ErrorCode, message: string, opts: { transient?: boolean; cause?: unknown; details?: { path: string; message: string }[] } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.transient = opts.transient ?? false;
    this.details = opts.details ?? [];
  }
}

/** Map an arbitrary thrown value to a WoError (ENOSPC ⇒ DISK_FULL, other I/O ⇒ IO_ERROR). */
export function toWoError(err: unknown): WoError {
  if (err instanceof WoError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') return new WoError('DISK_FULL', message, { cause: err, transient: true });
  if (code === 'EBUSY' || code === 'EAGAIN' || code === 'EMFILE' || code === 'ENFILE') {
    return new WoError('IO_ERROR', message, { cause: err, transient: true });
  }
  return new WoError('IO_ERROR', message, { cause: err });
}

/** True for the errno a racing claimant or a vanished file produces: expected, not an error. */
export function isGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
