/**
 * Prometheus metrics on a private registry (never the global one). Node and process metrics keep prom-client's
 * own names (`process_cpu_seconds_total`, `nodejs_eventloop_lag_seconds`, …) so stock Node.js dashboards work;
 * wo's own metrics are prefixed `wo_`. docs/metrics.md lists them.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { WoRecord } from '../state/record.js';
import { timelineOf } from '../daemon/timeline.js';

/**
 * Event-loop delay sampling period. Node's monitor records the whole interval between its timer's ticks
 * (resolution + delay), so its raw figures read ≈ the resolution at idle; we subtract it. 200 ms wakes an idle
 * daemon 5×/s: every stall of 200 ms or more is seen, shorter ones in proportion to their length
 * (docs/metrics.md has the measured idle cost of 10/50/100/200/1000 ms).
 */
export const LAG_RESOLUTION_MS = 200;

/** prom-client's event-loop metrics, replaced by ours (same names, corrected values). */
const LAG_NAMES = ['', '_min', '_max', '_mean', '_stddev', '_p50', '_p90', '_p99'].map((s) => `nodejs_eventloop_lag${s}_seconds`);

/** prom-client always starts its own monitor: give it a period it never reaches (24.8 days), so it costs nothing. */
const DORMANT_MS = 2 ** 31 - 1;

const SECONDS_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const E2E_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14_400, 86_400];

export interface MetricsOptions {
  /** Shown in wo_build_info{version}. */
  version?: string;
  /** bridge/hold/: wo_awaiting_approval counts its files at each scrape (so it is right after a restart too). */
  holdDir?: string;
}

export interface Metrics {
  readonly registry: Registry;
  /** wo_daemon_up: 1 while the daemon runs (set at creation). */
  readonly up: Gauge<string>;
  /** A WO reached a terminal status: wo_work_orders_total, wo_work_order_duration_seconds and the stage histograms. */
  finished(rec: WoRecord): void;
  /** A WO was held for approval (wo_held_total{lane,type}). */
  held(rec: WoRecord): void;
  /** Observe how long a stage took (histogram wo_stage_duration_seconds{stage}). */
  stageDuration(stage: string, seconds: number): void;
  /** WOs waiting to run (gauge wo_queue_depth). */
  queueDepth(n: number): void;
  /** Protected components currently drifted (gauge wo_guardrail_drift). */
  drift(n: number): void;
  /** Claiming paused (wo pause) per lane: gauge wo_paused{lane} 1 paused, 0 claiming; replaces the previous set. */
  paused(lanes: Record<string, boolean>): void;
  /** The exposition text and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
}

/** Why: Node's delay monitor reports resolution + delay; the delay alone, in seconds, never below 0. */
export function lagSeconds(rawNs: number, resolutionMs: number): number {
  return Number.isFinite(rawNs) ? Math.max(0, rawNs / 1e9 - resolutionMs / 1000) : 0;
}

/** Build a fresh registry with the wo_ metrics and the default process and Node metrics. */
export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: DORMANT_MS });
  for (const name of LAG_NAMES) registry.removeSingleMetric(name);
  eventLoopMetrics(registry, LAG_RESOLUTION_MS);

  const up = new Gauge({ name: 'wo_daemon_up', help: '1 while the daemon is running', registers: [registry] });
  up.set(1);
  new Gauge({ name: 'wo_build_info', help: 'the running wo version (always 1)', labelNames: ['version', 'node'], registers: [registry] })
    .set({ version: opts.version ?? 'unknown', node: process.version }, 1);
  const wos = new Counter({ name: 'wo_work_orders_total', help: 'WOs that ended, by outcome (terminal status), lane and type', labelNames: ['outcome', 'lane', 'type'], registers: [registry] });
  const heldTotal = new Counter({ name: 'wo_held_total', help: 'WOs put on hold for approval', labelNames: ['lane', 'type'], registers: [registry] });
  const e2e = new Histogram({
    name: 'wo_work_order_duration_seconds',
    help: 'end to end, received → finished (a held WO includes its wait for approval)',
    labelNames: ['outcome', 'lane', 'type'],
    buckets: E2E_BUCKETS,
    registers: [registry],
  });
  const stages = new Histogram({ name: 'wo_stage_duration_seconds', help: 'time spent in each WO stage', labelNames: ['stage'], buckets: SECONDS_BUCKETS, registers: [registry] });
  const queue = new Gauge({ name: 'wo_queue_depth', help: 'WOs claimed or queued and not yet running', registers: [registry] });
  const drift = new Gauge({ name: 'wo_guardrail_drift', help: 'protected components currently drifted', registers: [registry] });
  const pausedGauge = new Gauge({ name: 'wo_paused', help: 'claiming paused by an operator (wo pause): 1 paused, 0 claiming, per lane', labelNames: ['lane'], registers: [registry] });
  const holdDir = opts.holdDir;
  const awaiting: Gauge<string> = new Gauge({
    name: 'wo_awaiting_approval',
    help: 'WOs on hold waiting for a person (files in bridge/hold/)',
    registers: [registry],
    collect: holdDir ? async (): Promise<void> => awaiting.set((await heldFiles(holdDir)).length) : undefined,
  });
  const oldest: Gauge<string> = new Gauge({
    name: 'wo_awaiting_approval_oldest_seconds',
    help: 'how long the oldest held WO has waited (0 when none)',
    registers: [registry],
    collect: holdDir ? async (): Promise<void> => oldest.set(await oldestAge(holdDir)) : undefined,
  });
  awaiting.set(0);
  oldest.set(0);

  const stageDuration = (stage: string, seconds: number) => stages.observe({ stage }, Math.max(0, seconds));
  return {
    registry,
    up,
    finished: (rec) => {
      const t = timelineOf(rec);
      const labels = { outcome: rec.status, lane: rec.lane ?? 'unknown', type: rec.type ?? 'unknown' };
      wos.inc(labels);
      e2e.observe(labels, Math.max(0, (t.end - t.start) / 1000));
      for (const s of t.stages) stageDuration(s.stage, (s.end - s.start) / 1000);
    },
    held: (rec) => heldTotal.inc({ lane: rec.lane ?? 'unknown', type: rec.type ?? 'unknown' }),
    stageDuration,
    queueDepth: (n) => queue.set(n),
    drift: (n) => drift.set(n),
    paused: (lanes) => {
      pausedGauge.reset();
      for (const [lane, p] of Object.entries(lanes)) pausedGauge.set({ lane }, p ? 1 : 0);
    },
    render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}

/** The held WO files (hidden temp files excluded). */
async function heldFiles(dir: string): Promise<string[]> {
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => !n.startsWith('.')).map((n) => path.join(dir, n));
}

/** Seconds since the oldest held file entered hold/ (its ctime: the rename into hold/ sets it). */
async function oldestAge(dir: string): Promise<number> {
  const times = await Promise.all((await heldFiles(dir)).map((f) => fsp.stat(f).then((s) => s.ctimeMs, () => undefined)));
  const known = times.filter((t): t is number => t !== undefined);
  return known.length ? Math.max(0, (Date.now() - Math.min(...known)) / 1000) : 0;
}

/**
 * The event-loop metrics under prom-client's names, measured right: the histogram's figures minus its
 * resolution, reset at each scrape; `nodejs_eventloop_lag_seconds` is how late a setImmediate runs at the scrape.
 */
function eventLoopMetrics(registry: Registry, resolutionMs: number): void {
  let h: IntervalHistogram | undefined;
  try {
    h = monitorEventLoopDelay({ resolution: resolutionMs });
    h.enable();
  } catch {
    h = undefined;
  }
  // Registered first: the registry reads every metric at once, so its collect fills the others synchronously
  // (before its own await) and they are read after it.
  const lag: Gauge<string> = new Gauge({
    name: 'nodejs_eventloop_lag_seconds',
    help: 'Lag of event loop in seconds (how late a setImmediate ran at this scrape).',
    registers: [registry],
    collect: async (): Promise<void> => {
      if (h && h.count > 0) {
        min.set(lagSeconds(h.min, resolutionMs));
        max.set(lagSeconds(h.max, resolutionMs));
        mean.set(lagSeconds(h.mean, resolutionMs));
        stddev.set(Number.isFinite(h.stddev) ? h.stddev / 1e9 : 0);
        p50.set(lagSeconds(h.percentile(50), resolutionMs));
        p90.set(lagSeconds(h.percentile(90), resolutionMs));
        p99.set(lagSeconds(h.percentile(99), resolutionMs));
        h.reset();
      }
      const t0 = process.hrtime.bigint();
      await new Promise((r) => setImmediate(r));
      lag.set(Number(process.hrtime.bigint() - t0) / 1e9);
    },
  });
  const g = (suffix: string, help: string) => new Gauge({ name: `nodejs_eventloop_lag${suffix}_seconds`, help, registers: [registry] });
  const min = g('_min', 'The minimum recorded event loop delay.');
  const max = g('_max', 'The maximum recorded event loop delay.');
  const mean = g('_mean', 'The mean of the recorded event loop delays.');
  const stddev = g('_stddev', 'The standard deviation of the recorded event loop delays.');
  const p50 = g('_p50', 'The 50th percentile of the recorded event loop delays.');
  const p90 = g('_p90', 'The 90th percentile of the recorded event loop delays.');
  const p99 = g('_p99', 'The 99th percentile of the recorded event loop delays.');
}
