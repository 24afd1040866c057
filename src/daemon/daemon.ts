/** The daemon: start (lock, recover, watch, serve), run, and stop gracefully — every resource released once, LIFO. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { createRequire } from 'node:module';
import { loadConfig, type Config } from '../config/load.js';
import { layout, runtimeDirs } from '../layout.js';
import { ensureDir, moveUnique, writeJsonAtomic } from '../util/fsx.js';
import { Releases, freeBytes, loadToken, makeLogger } from './resources.js';
import { ForeignRecord, StateStore } from '../state/store.js';
import { Telemetry } from '../state/telemetry.js';
import { UsageError, CheckFailed } from '../errors.js';
import { acquireLock } from './lock.js';
import { admit, reject } from './admit.js';
import { runJob } from './lifecycle.js';
import { Scheduler } from './scheduler.js';
import { Intake, type Claimed } from './intake.js';
import { recoverAll } from './recover.js';
import { startRetention } from '../retention/daemon.js';
import { rotateOwnStdio } from '../util/rotate.js';
import { act, cancelAll, ownUid, actionEntry, type Action, type ActOptions } from './actions.js';
import { serveControl } from './control.js';
import { applyPause, isPaused, pauseView, pauseWords, readPause, writePause, type PauseState } from './pause.js';
import { buildStatus, type DaemonInfo } from './status.js';
import type { Logger, Runtime } from './runtime.js';
import { TERMINAL, type WoRecord } from '../state/record.js';
import { outcomeLine } from './outcome.js';
import { sdNotify, takeNotifySocket } from './sdnotify.js';

const require = createRequire(import.meta.url);
const VERSION = (require('../../package.json') as { version: string }).version;

/**
 * Run the daemon until SIGTERM/SIGINT; resolves with the exit code. A start-up failure releases everything
 * already acquired (LIFO: the lock last) and throws one error with a one-line message (no stack trace).
 */
export async function runDaemon(root: string): Promise<number> {
  const releases = new Releases();
  const sink: { log?: Logger } = {};
  try {
    return await serve(root, releases, sink);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const expected = err instanceof UsageError || err instanceof CheckFailed;
    sink.log?.error(expected ? {} : { err: err instanceof Error ? err.stack : message }, `start-up failed: ${message}`);
    await releases.run(sink.log ?? QUIET);
    if (expected) throw err;
    throw new CheckFailed(`the daemon could not start: ${message.replace(/\s+/g, ' ')}`, { cause: err });
  }
}

/** Load src/otel/ and start the exporter; a bad endpoint is said and the daemon runs without traces. */
async function startTracing(config: Config, root: string, log: Logger): Promise<import('../otel/index.js').Tracing | null> {
  const otel = await import('../otel/index.js');
  try {
    const target = otel.otlpTarget(config.telemetry.otlp.endpoint, process.env);
    if (!target) return null;
    log.info({ url: target.url }, `exporting WO traces over OTLP/HTTP to ${target.url}`);
    return otel.startTracing(target, { version: VERSION, root }, (msg, extra) => log.warn(extra ?? {}, msg));
  } catch (err) {
    log.error({ err: err instanceof Error ? err.message : String(err) }, 'OTLP endpoint unusable: running without traces');
    return null;
  }
}

const QUIET: Logger = { info: () => {}, warn: () => {}, error: () => {} };

/** Start everything (each acquisition registers its release), then serve until a stop signal. */
async function serve(root: string, releases: Releases, sink: { log?: Logger }): Promise<number> {
  let config: Config;
  try {
    config = await loadConfig(root);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read the config: ${(err as Error).message}`);
  }
  const L = layout(root);
  // systemd's notify socket: kept for READY/STOPPING, taken out of the environment so no child inherits it.
  const notifySocket = takeNotifySocket();
  // Take SIGTERM/SIGINT from the first moment: a stop requested during start-up runs once start-up is done.
  let requestStop: (signal: string) => void = (signal) => void (pendingStop = signal);
  let pendingStop: string | undefined;
  const onStopSignal = (signal: NodeJS.Signals) => requestStop(signal);
  process.on('SIGTERM', onStopSignal);
  process.on('SIGINT', onStopSignal);
  releases.add('stop signals', () => {
    process.off('SIGTERM', onStopSignal);
    process.off('SIGINT', onStopSignal);
  });
  for (const d of runtimeDirs(L)) await ensureDir(d);
  for (const lane of config.lanes) {
    await ensureDir(`${L.inbox}/${lane}`);
    await ensureDir(`${L.processing}/${lane}`);
  }
  const log = await makeLogger(`${L.logs}/daemon.log`, () => ({ rotateBytes: config.logs.rotate_bytes, keep: config.logs.keep }));
  sink.log = log;

  let lock = await acquireLock(L.lockFile, L.root);
  // `wo upgrade` starts the successor before it stops the old daemon (WO_DAEMON_LOCK_WAIT_S): it waits for the lock.
  const waitUntil = Date.now() + Math.max(0, Number(process.env.WO_DAEMON_LOCK_WAIT_S) || 0) * 1000;
  while ('held' in lock && Date.now() < waitUntil && pendingStop === undefined) {
    await new Promise((r) => setTimeout(r, 100));
    lock = await acquireLock(L.lockFile, L.root);
  }
  if ('held' in lock) {
    log.error({ holder: lock.held }, `another daemon (pid ${lock.held?.pid ?? '?'}) already runs on ${L.root}`);
    throw new CheckFailed(`another daemon (pid ${lock.held?.pid ?? '?'}) already runs on ${L.root}`);
  }
  if (lock.tookOver) log.warn({ previous: lock.tookOver }, `took over a stale lock left by pid ${lock.tookOver.pid ?? '?'} (no longer running)`);
  releases.add('lock', () => lock.release());

  const telemetry = new Telemetry(L.telemetry, config.telemetry.rotate_bytes);
  telemetry.keepRotated = config.telemetry.keep;
  const repaired = telemetry.open();
  if (repaired) log.warn({ bytes: repaired }, 'repaired a torn last telemetry line left by a crash');
  releases.add('telemetry', () => telemetry.close());

  const token = await loadToken(L.tokenFile);
  const { createMetrics } = await import('../http/metrics.js');
  const metrics = createMetrics({ version: VERSION, holdDir: L.hold });
  // Traces only when an endpoint is set: otherwise nothing of src/otel/ is even loaded.
  const tracing = config.telemetry.otlp.endpoint || process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || process.env.OTEL_EXPORTER_OTLP_ENDPOINT ? await startTracing(config, L.root, log) : null;
  if (tracing) releases.add('tracing', () => tracing.close(750)); // inside the shutdown deadline's 1 s margin
  const { tell, deepLink, heldEvent } = await import('../notify.js');
  const { brakesAt, breakerCause } = await import('../policy/brakes.js');
  const brakes = brakesAt(L.run, (m) => log.warn({}, m));
  await brakes.ready;
  for (const b of brakes.openLanes()) log.warn({ lane: b.lane, ...b.open }, `${breakerCause(b.lane, b.open)} since ${b.open.since}: its WOs wait for approval until \`wo resume --lane ${b.lane}\``);
  let linkPort: number | null = null; // the dashboard's port once it serves (deep links in notifications)
  const woEvent = (event: string, rec: WoRecord, fields: Record<string, unknown>) => {
    const url = deepLink(linkPort, rec.wo_id);
    return { event, wo_id: rec.wo_id, title: rec.title, lane: rec.lane, ...fields, ...(url ? { url } : {}) };
  };

  let paused: string | null = null;
  let stopping = false;
  // The operator's brake (wo pause/resume): read before anything is claimed.
  const readPaused = await readPause(L);
  if (readPaused.problem) log.warn({ file: 'g/run/paused.json' }, `${readPaused.problem}: claiming is not paused (wo pause / wo resume rewrite it)`);
  let pause: PauseState = readPaused.state;
  if (pauseWords(pause)) log.warn(pauseView(pause), `claiming is paused for ${pauseWords(pause)} (g/run/paused.json): wo resume to claim again`);
  const pausedMetric = () => metrics.paused(Object.fromEntries([...new Set([...config.lanes, ...pause.lanes])].map((l) => [l, isPaused(pause, l)])));
  pausedMetric();
  const hooks: Runtime['hooks'] = {};
  const store = new StateStore(L.state);
  store.useSpares(); // the lock is ours: this process is the records' one writer
  const rt: Runtime = { L, config: () => config, store, telemetry, log, now: () => new Date(), hooks };

  // Guardrail (in-process).
  const { createGuardrail } = await import('../guardrail/index.js');
  let scheduler: Scheduler;
  const makeGuardrail = () =>
    createGuardrail({
      config,
      telemetry,
      isLocked: (rel) => scheduler?.lockedPaths().has(`${L.root}/${rel}`) ?? false,
      log: (msg, extra) => log.info(extra ?? {}, msg),
    });
  let guardrail = makeGuardrail();
  hooks.accepted = (rels) => guardrail.acceptChange(rels);
  hooks.unlocked = (rels) => guardrail.unlocked(rels);
  const logOutcome = (rec: WoRecord) => {
    const line = outcomeLine(rec, new Date());
    if (rec.status === 'failed') log.warn(line.fields, line.msg);
    else log.info(line.fields, line.msg);
  };
  hooks.terminal = (rec) => {
    logOutcome(rec);
    metrics.finished(rec);
    tracing?.record(rec);
    if (rec.status === 'succeeded') void tell(config.notify, 'succeeded', woEvent('wo_completed', rec, {}));
    if (rec.status === 'cancelled') void tell(config.notify, 'cancelled', woEvent('wo_cancelled', rec, {}));
    if (rec.status !== 'failed') return;
    void tell(config.notify, 'failed', woEvent('wo_failed', rec, { error: rec.error }));
    // The breaker counts it before the next admission; the hook's promise is its durable write.
    const b = brakes.failed(rec.lane, rt.now(), config.policy.breaker);
    if (b.opened) {
      const reason = breakerCause(rec.lane, b.opened);
      log.warn({ lane: rec.lane, ...b.opened }, `${reason}: its WOs wait for approval until \`wo resume --lane ${rec.lane}\``);
      void tell(config.notify, 'breaker', { event: 'wo_breaker_open', lane: rec.lane, reason, ...b.opened });
    }
    return b.saved;
  };
  hooks.held = (rec) => {
    logOutcome(rec);
    metrics.held(rec);
    void tell(config.notify, 'held', woEvent('wo_held', rec, { ...(heldEvent(rec) as Record<string, unknown>) }));
  };

  // Scheduler and admission.
  const waiters = new Map<string, ((r: WoRecord | undefined) => void)[]>();
  scheduler = new Scheduler(
    rt,
    async (job, ctl) => {
      const out = await runJob(rt, job, ctl);
      if (TERMINAL.has(out.rec.status)) for (const w of waiters.get(job.id)?.splice(0) ?? []) w(out.rec);
      metrics.queueDepth(scheduler.depth);
      return out;
    },
    (job, err) => {
      if (err instanceof ForeignRecord) {
        void unrecordable(job.file, job.name, job.lane, job.id, err).finally(() => {
          for (const w of waiters.get(job.id)?.splice(0) ?? []) w(undefined);
        });
        return;
      }
      log.error({ wo_id: job.id, err: err instanceof Error ? err.stack : String(err) }, 'WO run failed unexpectedly; it stays in processing/ and is resumed at the next start');
    },
  );
  // A WO whose record path holds a folder or a file wo did not write cannot be recorded: it ends in rejected/
  // with the reason (no record is written), said once — never left in processing/ to be retried.
  const unrecordable = async (file: string, name: string, lane: string, id: string | undefined, err: ForeignRecord): Promise<void> => {
    log.warn({ wo_id: id, file: err.file, why: err.why }, `WO ${id ?? name} cannot be recorded: ${err.file} is not a wo record (it ${err.why}); rejected`);
    try {
      if (await fsp.lstat(file).then(() => true, () => false)) await reject(rt, file, name, lane, 'CONFLICT', err.details, id);
    } catch (e) {
      log.error({ file, err: String(e) }, 'could not move the unrecordable WO to bridge/rejected/; it stays in processing/');
    }
  };
  let admitChain = Promise.resolve();
  const admitOne = (file: string, name: string, lane: string, received: string, approved: boolean): Promise<void> => {
    admitChain = admitChain.then(async () => {
      try {
        const a = await admit(rt, file, name, lane, received, approved);
        if (a.kind === 'run') {
          rt.telemetry.emit('daemon', 'wo_received', { wo_id: a.job.id, lane, file: name, type: a.job.type, priority: a.job.wo.priority });
          scheduler.enqueue(a.job);
          metrics.queueDepth(scheduler.depth);
        }
      } catch (err) {
        if (err instanceof ForeignRecord) await unrecordable(file, name, lane, undefined, err);
        else log.error({ file, err: err instanceof Error ? err.stack : String(err) }, 'admission failed; the WO stays in processing/ and is resumed at the next start');
      }
    });
    return admitChain;
  };

  // No listing of the state folder here (it was 5 s and ~200 MB at a million records): the index is verified by
  // the folder's high-water mark alone, and a record read on an id never seen looks on disk (one failing open).
  // The record index: verified against the records' high-water mark, else rebuilt, before any record is written.
  const { WoIndex } = await import('../state/index.js');
  const indexStart = Date.now();
  const { index, rebuilt } = await WoIndex.openWriter(L.index, rt.store, { warn: (m) => log.warn({}, m) });
  if (rebuilt) log.info({ why: rebuilt, ms: Date.now() - indexStart, ...index.status() }, `record index rebuilt from g/followup/state/ (${rebuilt})`);
  // The dashboard feed sees each durable write first (with the status the index still holds), then the index.
  const { WoFeed } = await import('../http/feed.js');
  const feed = new WoFeed((id) => index.statusOf(id));
  rt.store.listener = feed.tee(index.listener());
  rt.index = index;
  releases.add('record index', () => {
    feed.close();
    rt.store.listener = null;
    index.close();
  });
  // Crash recovery before anything new is claimed.
  for (const r of await recoverAll(rt)) await admitOne(r.file, r.name, r.lane, r.received, r.approved);

  const intake = new Intake({
    rt,
    paused: (lane) => paused !== null || stopping || isPaused(pause, lane),
    onClaimed: (batch: Claimed[]) => {
      for (const c of batch) void admitOne(c.file, c.name, c.lane, c.received, false);
    },
    onStrange: async (file, name, lane, why) => {
      const procFile = await moveUnique(file, `${L.processing}/${lane}`, name, { dest: 'owned' }).catch(() => undefined);
      if (procFile) await reject(rt, procFile, name, lane, 'PARSE_ERROR', [{ path: '(file)', message: why }]);
    },
  });

  // g/run/daemon.json: defined before anything that may call it (the disk check); `ready` only once started.
  let port: number | null = null;
  let ready = false;
  const startedAt = new Date().toISOString();
  const writeInfo = async () => {
    const info: DaemonInfo = { pid: process.pid, port, started_at: startedAt, root: L.root, ready, version: VERSION, paused };
    await writeJsonAtomic(L.daemonJson, info, { mode: 0o600 });
  };
  releases.add('daemon.json', () => fsp.unlink(L.daemonJson).catch(() => {}));

  // Disk floor: below it, stop claiming and say so.
  const checkDisk = async () => {
    metrics.drift(guardrail.health().drift.length);
    const free = await freeBytes(L.root).catch(() => Number.POSITIVE_INFINITY);
    const low = free < config.limits.min_free_bytes;
    if (low && paused === null) {
      paused = `free disk ${free} bytes is below limits.min_free_bytes (${config.limits.min_free_bytes}): not claiming new WOs`;
      log.warn({ free }, paused);
      telemetry.emit('daemon', 'wo_pipeline_drift', { ok: false, broken: L.root, why: paused });
      await writeInfo();
    } else if (!low && paused !== null) {
      paused = null;
      log.info({ free }, 'free disk is above the floor again: claiming resumed');
      await writeInfo();
      intake.kickAll();
    }
  };

  // Actions (CLI control channel and HTTP).
  const waitTerminal = (id: string) => new Promise<WoRecord | undefined>((resolve) => (waiters.get(id) ?? waiters.set(id, []).get(id)!).push(resolve));
  const actEnv = () => ({ rt, scheduler, admit: admitOne, waitTerminal });
  const doAction = (action: Action, id: string, opts: ActOptions) => act(actEnv(), action, id, opts);
  // Pause/resume: one at a time (read-modify-write of g/run/paused.json), durable before it takes effect.
  let pauseChain: Promise<unknown> = Promise.resolve();
  const setPause = (pauseIt: boolean, opts: ActOptions & { lane?: string }): Promise<PauseState> => {
    const next = pauseChain.then(async () => {
      const state = applyPause(pause, pauseIt, opts.lane, actionEntry(pauseIt ? 'pause' : 'resume', rt.now(), opts));
      await writePause(L, state);
      pause = state;
      pausedMetric();
      const words = pauseWords(state);
      log.info({ ...pauseView(state), by: state.last?.by, reason: state.last?.reason }, words ? `claiming paused for ${words}` : 'claiming resumed for every lane');
      if (!pauseIt) {
        // Resuming a lane also closes its breaker (policy.breaker): a person has looked.
        const closed = await brakes.reset(opts.lane);
        if (closed.length) log.info({ lanes: closed }, `breaker closed for ${closed.join(', ')}`);
        intake.kickAll();
      }
      return state;
    });
    pauseChain = next.catch(() => {});
    return next;
  };
  const control = serveControl(
    L.run,
    async (req, owner) => {
      const opts = { by: { uid: owner, channel: 'cli' as const }, ...(req.reason !== undefined ? { reason: req.reason } : {}), ...(req.lane !== undefined ? { lane: req.lane } : {}) };
      if (req.action === 'pause' || req.action === 'resume') return { paused: await setPause(req.action === 'pause', opts) };
      if (req.action === 'index-rebuild') {
        const t0 = Date.now();
        const r = await index.rebuild(rt.store);
        log.info({ ...r }, 'record index rebuilt on request (wo index rebuild)');
        return { index: { ...r, ms: Date.now() - t0 } };
      }
      if (req.action === 'prune') {
        const { configPolicy, oneAgePolicy } = await import('../retention/plan.js');
        const policy = req.older_than_days !== undefined ? oneAgePolicy(req.older_than_days) : configPolicy(config.retention);
        return { pruned: await retention.prune(policy, req.dry_run === true) };
      }
      if (req.action === 'cancel' && req.all) return { cancelled: await cancelAll(actEnv(), opts) };
      return { record: await doAction(req.action, req.wo_id!, { ...opts, force: req.force }) };
    },
    (m) => log.warn(m),
  );
  releases.add('control', () => control.close());

  await guardrail.start();
  releases.add('guardrail', () => guardrail.close());

  if (config.http.enabled) {
    const { startHttp } = await import('../http/server.js');
    const server = await startHttp({
      config,
      token,
      store: rt.store,
      index,
      telemetry,
      feed,
      metrics,
      actions: (() => {
        const by = { uid: ownUid(), channel: 'http' as const };
        const a = (action: Action) => (id: string, o: { reason?: string; force?: boolean } = {}) => doAction(action, id, { ...o, by });
        return { approve: a('approve'), reject: a('reject'), cancel: a('cancel'), retry: a('retry'), rollback: a('rollback'), pause: (p: { pause: boolean; lane?: string; reason?: string }) => setPause(p.pause, { ...p, by }) };
      })(),
      status: () => buildStatus(L.root, { index }),
      readiness: async () => {
        const checks = [
          { name: 'lock', ok: true },
          { name: 'watchers', ok: !stopping },
          { name: 'disk', ok: paused === null, ...(paused ? { detail: paused } : {}) },
          { name: 'folders', ok: await fsp.access(L.state, fs.constants.W_OK).then(() => true, () => false) },
        ];
        return { ok: checks.every((c) => c.ok), checks, paused: pauseView(pause) };
      },
      log: (msg, extra) => log.info(extra ?? {}, msg),
    });
    port = server.port;
    linkPort = port;
    releases.add('http', () => server.close());
  }

  await intake.start();
  releases.add('intake', () => intake.close());
  await checkDisk();
  // launchd's StandardOutPath/StandardErrorPath are files nobody else rotates: the daemon does (copy, then truncate).
  const rotateStdio = () => {
    try {
      rotateOwnStdio(L.logs, { rotateBytes: config.logs.rotate_bytes, keep: config.logs.keep });
    } catch (err) {
      log.error({ err: String(err) }, 'rotating the service manager\'s output file failed');
    }
  };
  rotateStdio();
  const diskTimer = setInterval(() => {
    void checkDisk().catch((err) => log.error({ err: String(err) }, 'disk check failed'));
    rotateStdio();
  }, 5000);
  diskTimer.unref();
  releases.add('disk timer', () => clearInterval(diskTimer));
  ready = true;
  await writeInfo();
  telemetry.emit('daemon', 'daemon_started', { pid: process.pid, root: L.root, port, version: VERSION });
  // Retention (after recovery, in the background): a pass now, then every retention.interval_h; stopped before the lock goes.
  const retention = startRetention({
    root: L.root,
    config: () => config,
    telemetry,
    log,
    hold: (id) => scheduler.tryHoldIds([id]),
    onRecordsPruned: (ids) => {
      index.remove(ids);
      rt.store.forget(ids);
    },
  });
  releases.add('retention', () => retention.close());
  log.info({ root: L.root, port, pid: process.pid }, `wo daemon ready on ${L.root}${port ? ` (http://127.0.0.1:${port}/)` : ''}`);
  if (notifySocket) {
    const n = await sdNotify(notifySocket, { READY: '1', STATUS: `watching ${L.root}${port ? `, http on 127.0.0.1:${port}` : ''}` });
    if (n.sent) log.info({}, 'told systemd the daemon is ready (READY=1)');
    else log.warn({ why: n.why }, `could not tell systemd the daemon is ready: ${n.why}`);
  }

  // Config reload: on change of wo.config.yaml and on SIGHUP; an invalid new config is refused, the old one stays.
  const reload = async (why: string) => {
    try {
      const next = await loadConfig(root);
      const guardChanged = JSON.stringify([config.guardrail, config.notify]) !== JSON.stringify([next.guardrail, next.notify]);
      config = next;
      telemetry.keepRotated = config.telemetry.keep;
      retention.reschedule();
      pausedMetric();
      log.info({ why }, 'config reloaded');
      if (guardChanged) {
        // The guardrail reads its config at creation: replace it (the release closes whichever is current).
        await guardrail.close();
        guardrail = makeGuardrail();
        await guardrail.start();
      }
      intake.kickAll();
      scheduler.pump();
    } catch (err) {
      log.error({ why, err: err instanceof Error ? err.message : String(err) }, 'the new config is invalid: keeping the old one');
    }
  };
  let reloadTimer: NodeJS.Timeout | undefined;
  const cfgWatcher = fs.watch(L.root, (_e, name) => {
    if (name !== 'wo.config.yaml') return;
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(() => void reload('wo.config.yaml changed'), 100);
  });
  cfgWatcher.on('error', () => {});
  releases.add('config watcher', () => {
    clearTimeout(reloadTimer);
    cfgWatcher.close();
  });
  const onHup = () => void reload('SIGHUP');
  process.on('SIGHUP', onHup);
  releases.add('SIGHUP', () => void process.off('SIGHUP', onHup));

  // Graceful stop.
  return new Promise<number>((resolve) => {
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      const deadlineMs = config.shutdown.deadline_s * 1000;
      const force = setTimeout(() => {
        log.error({}, `shutdown deadline of ${config.shutdown.deadline_s}s passed: exiting`);
        resolve(1);
      }, deadlineMs + 1000);
      force.unref();
      log.info({ signal }, 'stopping: no new claims; letting running WOs finish or rolling them back');
      if (notifySocket) await sdNotify(notifySocket, { STOPPING: '1', STATUS: `stopping (${signal})` }, { timeoutMs: 2000 });
      await intake.close();
      await scheduler.shutdown(deadlineMs);
      await admitChain;
      telemetry.emit('daemon', 'daemon_stopped', { signal, pid: process.pid });
      await releases.run(log);
      clearTimeout(force);
      resolve(0);
    };
    requestStop = (signal) => void stop(signal);
    if (pendingStop) void stop(pendingStop);
  });
}
