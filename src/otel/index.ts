/**
 * Traces over OTLP/HTTP (JSON), imported lazily by the daemon only when an endpoint is set. Each finished WO
 * attempt becomes one trace, built from its durable record and queued; a batch is posted when it fills or
 * after a short delay (no timer while the queue is empty, so an idle daemon does no tracing work).
 */
import crypto from 'node:crypto';
import os from 'node:os';
import type { WoRecord } from '../state/record.js';
import type { OtlpTarget } from './config.js';
import { attrs, spansOf, type IdSource, type OtlpSpan } from './spans.js';

export { otlpTarget, type OtlpTarget } from './config.js';

export interface Tracing {
  /** Queue the trace of a finished attempt (never throws, never blocks the pipeline). */
  record(rec: WoRecord): void;
  /** Post what is queued, within `deadlineMs`. */
  close(deadlineMs?: number): Promise<void>;
}

const BATCH = 512;
const MAX_QUEUED = 8192;
const DELAY_MS = 1000;
const TIMEOUT_MS = 10_000;

const randomIds: IdSource = { trace: () => crypto.randomBytes(16).toString('hex'), span: () => crypto.randomBytes(8).toString('hex') };

/** Why: the exporter the daemon holds; `warn` is told once per failure streak (never per span). */
export function startTracing(target: OtlpTarget, meta: { version: string; root: string }, warn: (msg: string, extra?: object) => void): Tracing {
  const resource = {
    attributes: attrs({
      'service.name': target.serviceName,
      'service.version': meta.version,
      'service.instance.id': `${os.hostname()}:${process.pid}`,
      'host.name': os.hostname(),
      'process.pid': process.pid,
      'wo.root': meta.root,
    }),
  };
  const scope = { name: 'wo', version: meta.version };
  let queue: OtlpSpan[] = [];
  let dropped = 0;
  let failing = false;
  let timer: NodeJS.Timeout | undefined;
  let inflight = Promise.resolve();
  const closing = new AbortController(); // aborts what is still in flight when the close deadline passes

  const post = async (spans: OtlpSpan[]): Promise<void> => {
    const body = JSON.stringify({ resourceSpans: [{ resource, scopeSpans: [{ scope, spans }] }] });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const res = await fetch(target.url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', ...target.headers },
          body,
          signal: AbortSignal.any([AbortSignal.timeout(TIMEOUT_MS), closing.signal]),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          if (failing) warn('OTLP export works again', { url: target.url });
          failing = false;
          return;
        }
        if (![429, 502, 503, 504].includes(res.status) || attempt === 1) throw new Error(`HTTP ${res.status}`);
      } catch (err) {
        if (attempt === 1 || (err instanceof Error && err.message.startsWith('HTTP '))) {
          if (!failing) warn(`OTLP export failed: ${err instanceof Error ? err.message : String(err)}; spans dropped`, { url: target.url, spans: spans.length });
          failing = true;
          return;
        }
      }
      if (closing.signal.aborted) return;
      await new Promise((r) => setTimeout(r, 500));
    }
  };

  const flush = (): Promise<void> => {
    clearTimeout(timer);
    timer = undefined;
    while (queue.length) {
      const batch = queue.slice(0, BATCH);
      queue = queue.slice(BATCH);
      inflight = inflight.then(() => post(batch));
    }
    return inflight;
  };

  return {
    record(rec) {
      try {
        queue.push(...spansOf(rec, randomIds));
        if (queue.length > MAX_QUEUED) {
          dropped += queue.length - MAX_QUEUED;
          queue = queue.slice(queue.length - MAX_QUEUED);
          warn(`OTLP queue full: ${dropped} spans dropped so far`);
        }
        if (queue.length >= BATCH) void flush();
        else if (!timer) {
          timer = setTimeout(() => void flush(), DELAY_MS);
          timer.unref();
        }
      } catch (err) {
        warn(`could not build the trace of ${rec.wo_id}: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
    async close(deadlineMs = 3000) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([flush(), new Promise<void>((r) => (t = setTimeout(r, deadlineMs)))]);
      clearTimeout(t);
      closing.abort();
    },
  };
}
