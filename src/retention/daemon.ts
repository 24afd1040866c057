/** The daemon's retention: one pass in the background at start, then every `retention.interval_h`; stopped on shutdown. */
import type { Config } from '../config/load.js';
import type { Telemetry } from '../state/telemetry.js';
import type { Logger } from '../daemon/runtime.js';
import { configPolicy, type RetentionPolicy } from './plan.js';
import { runRetention, type RetentionResult } from './run.js';

export interface RetentionService {
  /** Run a pass now (one at a time: a call during a pass returns that pass). */
  runNow(): Promise<void>;
  /** Re-arm the timer from the current config (after a reload changed `retention.interval_h`). */
  reschedule(): void;
  /** `wo prune` while the daemon runs: the same pass with the given policy, after any pass in progress. */
  prune(policy: RetentionPolicy, dryRun: boolean): Promise<RetentionResult>;
  /** Stop the timer and the pass in progress (between batches); resolves when it has stopped. */
  close(): Promise<void>;
}

const HOUR_MS = 3_600_000;

/** Why: a year of records must not pile up by hand; the daemon prunes by the config, never blocking its loop for long. */
export function startRetention(deps: {
  root: string;
  config: () => Config;
  telemetry: Telemetry;
  log: Logger;
  onRecordsPruned?: (ids: string[]) => void | Promise<void>;
  /** The scheduler's per-id lock (see RetentionOptions.hold). */
  hold?: (id: string) => (() => void) | undefined;
}): RetentionService {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let closed = false;
  let lastPassAt = Date.now();

  const schedule = () => {
    clearTimeout(timer);
    const h = deps.config().retention.interval_h;
    if (closed || h <= 0) return;
    // Counted from the last pass (a reload re-arms without postponing); setTimeout's limit is ~24.8 days.
    const due = lastPassAt + h * HOUR_MS - Date.now();
    timer = setTimeout(() => (Date.now() >= lastPassAt + h * HOUR_MS ? void runNow() : schedule()), Math.min(Math.max(0, due), 2 ** 31 - 1));
    timer.unref();
  };

  // One writer: every deletion the daemon makes goes through its per-id locks and tells its index.
  const prune = (policy: RetentionPolicy, dryRun = false) =>
    runRetention({
      root: deps.root,
      policy,
      batch: deps.config().retention.batch,
      dryRun,
      ...(dryRun ? {} : { telemetry: deps.telemetry }),
      signal: abort.signal,
      ...(deps.onRecordsPruned ? { onRecordsPruned: deps.onRecordsPruned } : {}),
      ...(deps.hold ? { hold: deps.hold } : {}),
    });

  const pass = async () => {
    lastPassAt = Date.now();
    try {
      const res = await prune(configPolicy(deps.config().retention));
      const fields = { removed: res.removed.length, counts: res.counts, skipped: res.skipped.length, protected_live: res.protected_live, kept_for_rollback: res.kept_for_rollback };
      if (res.removed.length || res.skipped.length) deps.log.info(fields, `retention removed ${res.removed.length} file(s)${res.skipped.length ? `, kept ${res.skipped.length} that changed since the scan` : ''}`);
    } catch (err) {
      deps.log.error({ err: String(err) }, 'retention pass failed');
    }
  };

  const runNow = (): Promise<void> => {
    if (closed) return Promise.resolve();
    running ??= pass().finally(() => {
      running = undefined;
      schedule();
    });
    return running;
  };

  if (deps.config().retention.interval_h > 0) void runNow();
  return {
    runNow,
    reschedule: () => {
      if (!running) schedule();
    },
    async prune(policy, dryRun) {
      await running;
      return prune(policy, dryRun);
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      abort.abort();
      await running;
    },
  };
}
