/** Prometheus metrics on a private registry (never the global one), every name prefixed `wo_`. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  /** wo_daemon_up: 1 while the daemon runs (set at creation). */
  readonly up: Gauge<string>;
  /** Count a WO reaching a status (counter wo_wos_total{status}). */
  woStatus(status: string): void;
  /** Observe how long a stage took (histogram wo_stage_duration_seconds{stage}). */
  stageDuration(stage: string, seconds: number): void;
  /** WOs waiting to run (gauge wo_queue_depth). */
  queueDepth(n: number): void;
  /** Protected components currently drifted (gauge wo_guardrail_drift). */
  drift(n: number): void;
  /** The exposition text and its content type. */
  render(): Promise<{ contentType: string; body: string }>;
}

/** Build a fresh registry with the wo_ metrics and the default process metrics. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'wo_', eventLoopMonitoringPrecision: 1000 }); // the 10 ms default wakes an idle daemon 100×/s
  const up = new Gauge({ name: 'wo_daemon_up', help: '1 while the daemon is running', registers: [registry] });
  up.set(1);
  const wos = new Counter({ name: 'wo_wos_total', help: 'WOs that reached each status', labelNames: ['status'], registers: [registry] });
  const stages = new Histogram({
    name: 'wo_stage_duration_seconds',
    help: 'time spent in each WO stage',
    labelNames: ['stage'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const queue = new Gauge({ name: 'wo_queue_depth', help: 'WOs claimed or queued and not yet running', registers: [registry] });
  const drift = new Gauge({ name: 'wo_guardrail_drift', help: 'protected components currently drifted', registers: [registry] });
  return {
    registry,
    up,
    woStatus: (status) => wos.inc({ status }),
    stageDuration: (stage, seconds) => stages.observe({ stage }, Math.max(0, seconds)),
    queueDepth: (n) => queue.set(n),
    drift: (n) => drift.set(n),
    render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}
