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

/** The path of `fd` when it is a regular file inside `dir` (matched by device and inode), else undefined. */
function fileOfFd(fd: number, dir: string, names: (n: string) => boolean): { file: string; size: number } | undefined {
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch {
    return undefined;
  }
  if (!st.isFile()) return undefined;
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return undefined;
  }
  for (const n of entries.filter(names)) {
    const s = fs.statSync(path.join(dir, n), { throwIfNoEntry: false });
    if (s && s.ino === st.ino && s.dev === st.dev) return { file: path.join(dir, n), size: st.size };
  }
  return undefined;
}

/**
 * Why: launchd points the daemon's stdout/stderr at g/logs/launchd.out.log / launchd.err.log and never rotates them.
 * The daemon cannot reopen its own fds 1 and 2, so when one is such a file and past `rotateBytes` it is copied to
 * `<name>.1.log` (older copies shifted, `keep` kept) and truncated in place (launchd opens it O_APPEND, so the next
 * write lands at the new end). A line written between the copy and the truncation is lost; stdout carries nothing
 * there (daemon.log has every line), stderr only what node itself prints. Returns the files rotated.
 */
export function rotateOwnStdio(logsDir: string, limits: RotateLimits, fds: number[] = [1, 2]): string[] {
  const done: string[] = [];
  for (const fd of fds) {
    const own = fileOfFd(fd, logsDir, (n) => /^launchd\.(?:out|err)\.log$/.test(n));
    if (!own || own.size <= limits.rotateBytes) continue;
    ignoreGone(() => fs.unlinkSync(rotatedName(own.file, limits.keep)));
    for (let i = limits.keep - 1; i >= 1; i--) ignoreGone(() => fs.renameSync(rotatedName(own.file, i), rotatedName(own.file, i + 1)));
    fs.copyFileSync(own.file, rotatedName(own.file, 1));
    fs.ftruncateSync(fd, 0);
    fsyncDir(logsDir);
    done.push(own.file);
  }
  return done;
}
