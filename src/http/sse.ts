/**
 * Server-sent events: the recent backlog first (one `data:` message per event, then an `event: ready` message),
 * then one `data:` message per telemetry event as it is written, keep-alive comments, listeners removed on close.
 * With a feed (feed.ts), also an `event: wos` message per batch of written records (their summaries), and the
 * `ready` message says `"feed":true` so the dashboard applies those rather than re-fetching its list.
 */
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventEmitter } from 'node:events';
import type { TelemetryEvent } from '../state/telemetry.js';

export const KEEPALIVE_MS = 15_000;
/** A client that lets this much pile up unread is dropped (it reconnects and re-fetches). */
const MAX_BUFFERED = 1024 * 1024;
/** How many recent events a new client gets before the live ones. */
export const BACKLOG = 50;
const TAIL_CHUNK = 64 * 1024;

/** Pure: the last `n` whole, parsable event lines of a chunk (its first line is dropped when it may be partial). */
export function lastEvents(text: string, n: number, fromStart: boolean): TelemetryEvent[] {
  const lines = text.split('\n');
  if (!fromStart) lines.shift();
  const out: TelemetryEvent[] = [];
  for (let i = lines.length - 1; i >= 0 && out.length < n; i--) {
    const line = lines[i];
    if (!line) continue;
    try {
      const ev = JSON.parse(line) as TelemetryEvent;
      if (ev && typeof ev === 'object' && typeof ev.event === 'string') out.push(ev);
    } catch {
      /* a torn or foreign line: skipped */
    }
  }
  return out.reverse();
}

/**
 * Why: a dashboard opened now should see what just happened. Reads (synchronously, so no event can slip in between
 * this read and the live listener) the last `n` events of the telemetry file, oldest first, from a tail window
 * that grows until it holds `n` lines or the whole file. A missing or unreadable file gives no backlog.
 */
export function recentEvents(file: string, n = BACKLOG): TelemetryEvent[] {
  if (n <= 0) return [];
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return [];
  }
  try {
    const size = fs.fstatSync(fd).size;
    for (let want = TAIL_CHUNK; ; want *= 4) {
      const len = Math.min(size, want);
      const buf = Buffer.alloc(len);
      const got = fs.readSync(fd, buf, 0, len, size - len);
      const events = lastEvents(buf.subarray(0, got).toString('utf8'), n, len === size);
      if (events.length >= n || len === size) return events;
    }
  } catch {
    return [];
  } finally {
    fs.closeSync(fd);
  }
}

/** Stream `backlog` then `bus` 'event's to one client until it goes away; returns the function that ends the stream. */
export function serveEvents(
  req: IncomingMessage,
  res: ServerResponse,
  bus: EventEmitter,
  keepaliveMs = KEEPALIVE_MS,
  backlog: readonly TelemetryEvent[] = [],
  feed?: EventEmitter,
): () => void {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
    'X-Content-Type-Options': 'nosniff',
  });
  res.write('retry: 3000\n: connected\n\n');
  // The backlog and its end marker go out in one write, before any live event.
  res.write(backlog.map((ev) => `data: ${JSON.stringify(ev)}\n\n`).join('') + `event: ready\ndata: {"backlog":${backlog.length}${feed ? ',"feed":true' : ''}}\n\n`);

  const write = (text: string) => {
    if (res.writableLength > MAX_BUFFERED) {
      end();
      return;
    }
    res.write(text);
  };
  const onEvent = (ev: TelemetryEvent) => write(`data: ${JSON.stringify(ev)}\n\n`);
  const onWos = (items: unknown[]) => write(`event: wos\ndata: ${JSON.stringify({ items })}\n\n`);
  const timer = setInterval(() => write(': keep-alive\n\n'), keepaliveMs);
  timer.unref();

  let ended = false;
  function end(): void {
    if (ended) return;
    ended = true;
    clearInterval(timer);
    bus.off('event', onEvent);
    feed?.off('wos', onWos);
    if (!res.writableEnded) res.end();
  }
  bus.on('event', onEvent);
  feed?.on('wos', onWos);
  req.on('close', end);
  res.on('close', end);
  res.on('error', end);
  return end;
}
