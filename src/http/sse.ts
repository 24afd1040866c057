/** Server-sent events: one `data:` message per telemetry event, keep-alive comments, listeners removed on close. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventEmitter } from 'node:events';
import type { TelemetryEvent } from '../state/telemetry.js';

export const KEEPALIVE_MS = 15_000;
/** A client that lets this much pile up unread is dropped (it reconnects and re-fetches). */
const MAX_BUFFERED = 1024 * 1024;

/** Stream `bus` 'event's to one client until it goes away; returns the function that ends the stream. */
export function serveEvents(req: IncomingMessage, res: ServerResponse, bus: EventEmitter, keepaliveMs = KEEPALIVE_MS): () => void {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
    'X-Content-Type-Options': 'nosniff',
  });
  res.write('retry: 3000\n: connected\n\n');

  const write = (text: string) => {
    if (res.writableLength > MAX_BUFFERED) {
      end();
      return;
    }
    res.write(text);
  };
  const onEvent = (ev: TelemetryEvent) => write(`data: ${JSON.stringify(ev)}\n\n`);
  const timer = setInterval(() => write(': keep-alive\n\n'), keepaliveMs);
  timer.unref();

  let ended = false;
  function end(): void {
    if (ended) return;
    ended = true;
    clearInterval(timer);
    bus.off('event', onEvent);
    if (!res.writableEnded) res.end();
  }
  bus.on('event', onEvent);
  req.on('close', end);
  res.on('close', end);
  res.on('error', end);
  return end;
}
