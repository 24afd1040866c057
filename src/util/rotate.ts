/**
 * Size-rotated log files: `x.log` → `x.1.log` → … → `x.<keep>.log`, the oldest dropped. Rotated names keep the
 * `.log` suffix so forensics and check-history still read them. Renames are followed by an fsync of the folder.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface RotateLimits {
  /** Rotate before a write would take the file past this many bytes. */
  rotateBytes: number;
  /** Rotated files kept (x.1.log … x.<keep>.log). */
  keep: number;
}

/** The name of the n-th rotated file of `file` (n ≥ 1): daemon.log → daemon.<n>.log. */
export function rotatedName(file: string, n: number): string {
  const ext = path.extname(file);
  return `${file.slice(0, file.length - ext.length)}.${n}${ext}`;
}

/** Whether a write of `adding` bytes to a file of `size` bytes must rotate first (an empty file never does). */
export function mustRotate(size: number, adding: number, limits: RotateLimits): boolean {
  return size > 0 && size + adding > limits.rotateBytes;
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    /* best effort: some file systems refuse fsync on a folder */
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

const ignoreGone = (fn: () => void) => {
  try {
    fn();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
};

/** Why: every log the daemon writes must stay bounded; shift x.<i>.log up one, drop the oldest, x.log becomes x.1.log. */
export function rotateFile(file: string, keep: number): void {
  ignoreGone(() => fs.unlinkSync(rotatedName(file, keep)));
  for (let i = keep - 1; i >= 1; i--) ignoreGone(() => fs.renameSync(rotatedName(file, i), rotatedName(file, i + 1)));
  ignoreGone(() => fs.renameSync(file, rotatedName(file, 1)));
  fsyncDir(path.dirname(file));
}

/** Why: guardrail alerts and rollback lines are appended rarely, from several places; rotate by size, then append. */
export function appendRotated(file: string, text: string, limits: RotateLimits): void {
  let size = 0;
  try {
    size = fs.statSync(file).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (mustRotate(size, Buffer.byteLength(text), limits)) rotateFile(file, limits.keep);
  fs.appendFileSync(file, text, { mode: 0o600 });
}

/**
 * An append-only file that rotates itself by size: a synchronous sink for pino (`write(line)`), so a line is on
 * disk when the call returns. Limits are read at each write (a config reload changes them).
 */
export class RotatingFile {
  private fd: number;
  private size: number;
  constructor(
    readonly file: string,
    private readonly limits: () => RotateLimits,
  ) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    this.fd = fs.openSync(file, 'a', 0o600);
    this.size = fs.fstatSync(this.fd).size;
  }

  /** Append one chunk (pino calls this with one whole line). */
  write(chunk: string | Uint8Array): boolean {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (mustRotate(this.size, buf.length, this.limits())) this.rotate();
    fs.writeSync(this.fd, buf);
    this.size += buf.length;
    return true;
  }

  private rotate(): void {
    // Another process may have rotated under us (a second daemon that failed to start): then just reopen.
    let ours = false;
    try {
      const a = fs.fstatSync(this.fd);
      const b = fs.statSync(this.file);
      ours = a.ino === b.ino && a.dev === b.dev;
    } catch {
      ours = false;
    }
    fs.closeSync(this.fd);
    if (ours) rotateFile(this.file, this.limits().keep);
    this.fd = fs.openSync(this.file, 'a', 0o600);
    this.size = fs.fstatSync(this.fd).size;
  }

  /** Close the file (idempotent). */
  close(): void {
    if (this.fd < 0) return;
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}
