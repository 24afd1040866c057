/**
 * The live output of a WO's running command, for `wo submit --wait` on a terminal: the last few KiB of what the
 * command wrote (redacted of the daemon's secrets), in `g/run/live/<wo_id>.txt`. It is a view, not state: written
 * at most twice a second without fsync, removed when the command ends, and never read by recovery.
 */
import fs from 'node:fs';
import path from 'node:path';
import { redact } from './redact.js';

const KEEP = 4096;
const EVERY_MS = 500;

/** Where a WO's live output is shown. */
export function liveFile(runDir: string, woId: string): string {
  return path.join(runDir, 'live', `${woId}.txt`);
}

/** Why: a person watching a long command wants its output now, not when it has ended. */
export class LiveOutput {
  private buf = Buffer.alloc(0);
  private timer: NodeJS.Timeout | undefined;
  private readonly file: string;

  constructor(runDir: string, woId: string) {
    this.file = liveFile(runDir, woId);
  }

  push(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    if (this.buf.length > KEEP) this.buf = this.buf.subarray(this.buf.length - KEEP);
    this.timer ??= setTimeout(() => this.flush(), EVERY_MS);
    this.timer.unref();
  }

  private flush(): void {
    this.timer = undefined;
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
      fs.writeFileSync(this.file, redact(this.buf.toString('utf8')), { mode: 0o600 });
    } catch {
      /* a view only: a failed write changes nothing */
    }
  }

  /** The command ended: its output is in the record now. */
  end(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.buf = Buffer.alloc(0);
    fs.rmSync(this.file, { force: true });
  }
}

/** The live output of a WO's running command, or undefined (CLI side). */
export function readLive(runDir: string, woId: string): string | undefined {
  try {
    return fs.readFileSync(liveFile(runDir, woId), 'utf8');
  } catch {
    return undefined;
  }
}
