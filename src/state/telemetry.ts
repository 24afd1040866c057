/** The JSONL telemetry stream: one whole line per event, an open fd, torn tail repaired, rotated by size. */
import fs from 'node:fs';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import { appendLineSync } from '../util/fsx.js';

export const EVENTS = [
  'daemon_started', 'daemon_stopped', 'wo_received', 'wo_rejected', 'wo_held', 'wo_approved', 'wo_started', 'wo_step',
  'wo_completed', 'wo_failed', 'wo_rolled_back', 'wo_duplicate', 'wo_routed', 'wo_cancelled', 'wo_pipeline_drift',
  'wo_pipeline_healthy', 'guardrail_restored', 'retention_pruned',
  'wo_upgrade_started', 'wo_upgrade_step', 'wo_upgrade_promoted', 'wo_upgrade_rolled_back',
] as const;
export type EventName = (typeof EVENTS)[number];
export type Agent = 'daemon' | 'router' | 'apply_patch' | 'exec' | 'guardrail' | 'cli';

export interface TelemetryEvent {
  ts: string;
  agent: Agent;
  event: EventName;
  ok: boolean;
  wo_id?: string;
  [key: string]: unknown;
}

/** Remove a torn (unterminated) last line left by a crash mid-write. Returns bytes removed. */
export function repairTornTail(file: string): number {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return 0;
    const chunk = Buffer.alloc(Math.min(size, 1 << 20));
    let pos = size;
    // Walk back in chunks until a newline is found.
    while (pos > 0) {
      const len = Math.min(chunk.length, pos);
      pos -= len;
      fs.readSync(fd, chunk, 0, len, pos);
      if (pos + len === size && chunk[len - 1] === 0x0a) return 0;
      const nl = chunk.subarray(0, len).lastIndexOf(0x0a);
      if (nl >= 0) {
        const keep = pos + nl + 1;
        fs.ftruncateSync(fd, keep);
        fs.fsyncSync(fd);
        return size - keep;
      }
    }
    fs.ftruncateSync(fd, 0);
    fs.fsyncSync(fd);
    return size;
  } finally {
    fs.closeSync(fd);
  }
}

/** Why: rotated telemetry must stay bounded in count too; remove the oldest `unified.<stamp>.jsonl` beyond `keep`, then fsync the folder. */
export function dropOldRotated(file: string, keep: number): void {
  const dir = path.dirname(file);
  const base = path.basename(file, '.jsonl');
  // The stamp is an ISO time (sortable as text); `-<n>` disambiguates rotations within one millisecond.
  const rotated = fs.readdirSync(dir).filter((n) => n.startsWith(`${base}.`) && n.endsWith('.jsonl') && n !== path.basename(file)).sort();
  const drop = rotated.slice(0, Math.max(0, rotated.length - keep));
  for (const n of drop) fs.rmSync(path.join(dir, n), { force: true });
  if (!drop.length) return;
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } catch {
    /* some file systems refuse fsync on a folder */
  } finally {
    fs.closeSync(fd);
  }
}

/** Appends events to `unified.jsonl`; emits each on `.bus` for SSE and metrics. */
export class Telemetry {
  readonly bus = new EventEmitter();
  private fd: number | null = null;
  private size = 0;
  /** Rotated `unified.<stamp>.jsonl` files kept (config telemetry.keep); the oldest beyond are removed at rotation. */
  keepRotated = 20;

  constructor(
    readonly file: string,
    private readonly rotateBytes: number,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.bus.setMaxListeners(0);
  }

  /** Open (creating the folder), repairing a torn last line first. Returns bytes repaired. */
  open(): number {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const repaired = repairTornTail(this.file);
    this.fd = fs.openSync(this.file, 'a', 0o600);
    this.size = fs.fstatSync(this.fd).size;
    return repaired;
  }

  /** Write one event as one line (synchronously: a single write, so lines never interleave). */
  emit(agent: Agent, event: EventName, fields: Omit<Partial<TelemetryEvent>, 'agent' | 'event'> & { ok?: boolean } = {}): TelemetryEvent {
    const ev: TelemetryEvent = { ts: this.now().toISOString(), agent, event, ok: fields.ok ?? true, ...fields };
    if (this.fd === null) this.open();
    const line = JSON.stringify(ev) + '\n';
    if (this.size + line.length > this.rotateBytes && this.size > 0) this.rotate();
    appendLineSync(this.fd!, line);
    this.size += Buffer.byteLength(line);
    this.bus.emit('event', ev);
    return ev;
  }

  private syncTimer: NodeJS.Timeout | null = null;

  /**
   * Make what was written durable soon: one coalesced, asynchronous fsync within ~50 ms (called on terminal
   * events; the state records, not telemetry, are what recovery trusts, so the loop is not blocked for it).
   */
  sync(): void {
    if (this.fd === null || this.syncTimer) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      if (this.fd !== null) fs.fsync(this.fd, () => {});
    }, 50);
    this.syncTimer.unref();
  }

  private rotate(): void {
    fs.fsyncSync(this.fd!);
    fs.closeSync(this.fd!);
    const stamp = this.now().toISOString().replace(/[:.]/g, '-');
    let target = this.file.replace(/\.jsonl$/, `.${stamp}.jsonl`);
    for (let n = 1; fs.existsSync(target); n++) target = this.file.replace(/\.jsonl$/, `.${stamp}-${n}.jsonl`);
    fs.renameSync(this.file, target);
    this.fd = fs.openSync(this.file, 'a', 0o600);
    this.size = 0;
    dropOldRotated(this.file, this.keepRotated);
  }

  close(): void {
    if (this.syncTimer) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    if (this.fd === null) return;
    try {
      fs.fsyncSync(this.fd);
    } finally {
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }
}

/** Read telemetry lines (skipping unparsable ones), oldest first, from the current file. */
export function readTelemetry(file: string): TelemetryEvent[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: TelemetryEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as TelemetryEvent);
    } catch {
      /* a torn line: skipped */
    }
  }
  return out;
}
