/** Follow a WO's record until it ends (or is held), showing stage progress: a live block on a TTY, plain lines otherwise. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { readLive } from '../exec/live.js';
import { layout } from '../layout.js';
import { StateStore } from '../state/store.js';
import { TERMINAL, type WoRecord } from '../state/record.js';
import type { TelemetryEvent } from '../state/telemetry.js';
import { daemonState } from '../daemon/status.js';
import { paint, printable, statusColor } from './common.js';

export interface FollowResult {
  rec: WoRecord | undefined;
  /** Why following stopped without a terminal state. */
  timedOut: boolean;
  daemonRunning: boolean;
  /** The daemon archived this submission as a duplicate of a succeeded WO (`wo_duplicate`): nothing applied. */
  duplicate?: boolean;
  /** The daemon refused this submission without a record of it (CONFLICT, unparsable): from its `wo_rejected` event. */
  refused?: { code: string; message: string };
}

export interface FollowOptions {
  timeoutMs: number;
  /** Only a record of this content counts. */
  sha256?: string;
  /** Only a record written at or after this time (ISO) counts, and only events since then: an older record of the same id is not this submission. */
  since?: string;
  quiet?: boolean;
  /** When following began (for the elapsed time shown); default now. */
  startedAt?: number;
}

function bar(rec: WoRecord, width = 20): string {
  const done = Math.round((rec.stage_index / rec.stages_total) * width);
  return `[${'#'.repeat(done)}${'.'.repeat(width - done)}]`;
}

/** A one-line progress description of a record. */
export function progressLine(rec: WoRecord): string {
  return `${rec.wo_id} ${bar(rec)} ${rec.stage_index}/${rec.stages_total} ${rec.stage} — ${paint(rec.status, statusColor(rec.status))}`;
}

/** The latest time a record carries: a record written for this submission has one at or after its `since`. */
export function recordTime(rec: WoRecord): string {
  return Object.values(rec.times ?? {}).reduce((a, b) => (b > a ? b : a), '');
}

/** Seconds as `12s` / `3m04s`. */
export function fmtElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** Why: on a terminal the person watching wants to know what is running and what it last said (pure: the lines to draw). */
export function liveLines(rec: WoRecord, elapsedMs: number, liveOutput?: string): string[] {
  const lines = [`${progressLine(rec)}  ${paint(fmtElapsed(elapsedMs), 'gray')}`];
  const rc = rec.running_command;
  if (rc) {
    const ranMs = Date.now() - Date.parse(rc.started_at);
    lines.push(`  ${paint('running', 'cyan')} [${rc.phase}] ${printable(rc.cmd)}${Number.isFinite(ranMs) ? ` (${fmtElapsed(Math.max(0, ranMs))})` : ''}`);
  }
  const last = rec.commands[rec.commands.length - 1];
  // The running command's own output as it comes, else what the last finished command said.
  const text = rc && liveOutput !== undefined ? liveOutput : last ? `${last.stdout_tail}\n${last.stderr_tail}` : undefined;
  if (text !== undefined) {
    const tail = text.split('\n').map((l) => l.trimEnd()).filter(Boolean).slice(-3);
    for (const l of tail) lines.push(`  ${paint('|', 'gray')} ${printable(l)}`);
  }
  return lines;
}

/** New telemetry events since the last call (whole lines only; starts at the size the file had when created). */
class EventTail {
  private pos: number;
  private partial = '';
  constructor(private readonly file: string) {
    this.pos = fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0;
  }
  read(): TelemetryEvent[] {
    const size = fs.statSync(this.file, { throwIfNoEntry: false })?.size ?? 0;
    if (size < this.pos) this.pos = 0; // rotated
    if (size === this.pos) return [];
    const buf = Buffer.alloc(size - this.pos);
    const fd = fs.openSync(this.file, 'r');
    try {
      fs.readSync(fd, buf, 0, buf.length, this.pos);
    } finally {
      fs.closeSync(fd);
    }
    this.pos = size;
    const lines = (this.partial + buf.toString('utf8')).split('\n');
    this.partial = lines.pop() ?? '';
    const out: TelemetryEvent[] = [];
    for (const l of lines) {
      try {
        out.push(JSON.parse(l) as TelemetryEvent);
      } catch {
        /* torn */
      }
    }
    return out;
  }
}

/** Draws a block of lines in place on a TTY (stderr). */
class Live {
  private drawn = 0;
  draw(lines: string[]): void {
    const cols = process.stderr.columns || 100;
    // eslint-disable-next-line no-control-regex
    const fit = lines.map((l) => (l.replace(/\x1b\[[0-9;]*m/g, '').length > cols - 1 ? l.replace(/\x1b\[[0-9;]*m/g, '').slice(0, cols - 2) + '…' : l));
    process.stderr.write(`${this.drawn ? `\r${this.drawn > 1 ? `\x1b[${this.drawn - 1}A` : ''}\x1b[J` : ''}${fit.join('\n')}`);
    this.drawn = fit.length;
  }
  /** Keep the first line (the progress) and end it. */
  end(first: string | undefined): void {
    if (!this.drawn) return;
    if (first !== undefined) this.draw([first]);
    process.stderr.write('\n');
    this.drawn = 0;
  }
}

/** Poll the record until terminal, held, refused, duplicate, or timeout. */
export async function followWo(root: string, id: string, opts: FollowOptions): Promise<FollowResult> {
  const L = layout(root);
  const store = new StateStore(L.state);
  const tty = !!process.stderr.isTTY && !opts.quiet;
  const started = opts.startedAt ?? Date.now();
  const deadline = Date.now() + opts.timeoutMs;
  const events = opts.since ? new EventTail(L.telemetry) : undefined;
  const live = new Live();
  let last = '';
  let rec: WoRecord | undefined;
  let mine: WoRecord | undefined;
  for (;;) {
    rec = await store.read(id).catch(() => undefined);
    mine = rec && (!opts.sha256 || rec.sha256 === opts.sha256) && (!opts.since || recordTime(rec) >= opts.since) ? rec : undefined;
    for (const ev of events?.read() ?? []) {
      if (ev.wo_id !== id || ev.ts < opts.since!) continue;
      if (ev.event === 'wo_duplicate' && (!opts.sha256 || ev.sha256 === opts.sha256)) {
        live.end(undefined);
        return { rec, timedOut: false, daemonRunning: true, duplicate: true };
      }
      if (ev.event === 'wo_rejected' && !mine) {
        // A record may follow (the rejection is announced after it is written): prefer it when it is this submission's.
        const again = await store.read(id).catch(() => undefined);
        if (again && (!opts.sha256 || again.sha256 === opts.sha256) && recordTime(again) >= opts.since! && again.status === 'rejected') return { rec: again, timedOut: false, daemonRunning: true };
        live.end(undefined);
        return { rec: undefined, timedOut: false, daemonRunning: true, refused: { code: String(ev.code ?? 'REJECTED'), message: String(ev.message ?? '') } };
      }
    }
    if (mine) {
      const line = progressLine(mine);
      if (tty) live.draw(liveLines(mine, Date.now() - started, mine.running_command ? readLive(L.run, id) : undefined));
      else if (line !== last && !opts.quiet) process.stderr.write(`${line}\n`);
      last = line;
      // Settled: the record is written before the file moves (and its telemetry between the two), so
      // wait for the file to be where the record says before reporting the end.
      const settled = await fsp.access(path.resolve(root, mine.file)).then(() => true, () => false);
      if ((TERMINAL.has(mine.status) || mine.status === 'awaiting_approval') && settled) {
        if (tty) live.end(line);
        return { rec: mine, timedOut: false, daemonRunning: true };
      }
    } else if (tty) {
      live.draw([`${id} waiting to be claimed  ${paint(fmtElapsed(Date.now() - started), 'gray')}`]);
    }
    if (Date.now() > deadline) {
      if (tty) live.end(last || undefined);
      return { rec: mine, timedOut: true, daemonRunning: (await daemonState(L)).running };
    }
    await new Promise((r) => setTimeout(r, tty ? 200 : 50));
  }
}
