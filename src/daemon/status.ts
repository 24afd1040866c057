/** The status report (`wo status --json`, `/api/status`): daemon, guardrail, counts, recent WOs. Works with the daemon down. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { layout, type Layout } from '../layout.js';
import { readJson } from '../util/fsx.js';
import { readLock } from './lock.js';
import { laneFolderProblem } from './intake.js';
import type { WoRecord } from '../state/record.js';
import type { WoIndex } from '../state/index.js';
import { summaryOf } from '../state/index-query.js';
import { pauseView, readPause } from './pause.js';

export interface DaemonInfo {
  pid: number;
  port: number | null;
  started_at: string;
  root: string;
  ready: boolean;
  version?: string;
  paused?: string | null;
}

export interface DaemonState {
  running: boolean;
  pid: number | null;
  started_at: string | null;
  uptime_s: number | null;
  root: string;
  port: number | null;
  stale_lock: boolean;
  paused: string | null;
}

/** Is a daemon running on this root, and where? */
export async function daemonState(L: Layout): Promise<DaemonState> {
  const [lock, info] = await Promise.all([readLock(L.lockFile), readJson<DaemonInfo>(L.daemonJson).catch(() => undefined)]);
  const running = lock.held && !!lock.info;
  const started = running ? (info?.pid === lock.info!.pid ? info.started_at : lock.info!.started_at) : null;
  return {
    running,
    pid: running ? lock.info!.pid : null,
    started_at: started,
    uptime_s: started ? Math.round((Date.now() - Date.parse(started)) / 1000) : null,
    root: L.root,
    port: running && info?.pid === lock.info!.pid ? info.port : null,
    stale_lock: lock.stale && lock.info !== undefined,
    paused: running ? (info?.paused ?? null) : null,
  };
}

/** A compact view of a record for listings (the index stores exactly this). */
export function summary(r: WoRecord) {
  return summaryOf(r);
}

/** Folders under bridge/inbox/ the daemon ignores because their name is not a lane name. */
async function ignoredLanes(L: Layout): Promise<{ name: string; why: string }[]> {
  const out: { name: string; why: string }[] = [];
  for (const e of await fsp.readdir(L.inbox, { withFileTypes: true }).catch(() => [])) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const why = laneFolderProblem(e.name);
    if (why) out.push({ name: e.name, why });
  }
  return out;
}

/** WO files waiting: in the inboxes (not yet claimed) and in processing/ (claimed, queued or running). */
async function pending(L: Layout): Promise<{ inbox: number; processing: number }> {
  const count = async (dir: string) => {
    let n = 0;
    for (const lane of await fsp.readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!lane.isDirectory() || laneFolderProblem(lane.name)) continue;
      n += (await fsp.readdir(path.join(dir, lane.name)).catch(() => [] as string[])).filter((f) => !f.startsWith('.')).length;
    }
    return n;
  };
  const [inbox, processing] = await Promise.all([count(L.inbox), count(L.processing)]);
  return { inbox, processing };
}

/** Why: a lane whose breaker tripped holds every WO; the operator must see which, since when and why. */
async function openBreakers(L: Layout): Promise<{ lane: string; since: string; failures: number; window_s: number }[]> {
  const { parseBreakerState } = await import('../policy/brakes.js');
  const state = parseBreakerState(await readJson(path.join(L.run, 'breaker.json')).catch(() => undefined));
  return Object.entries(state.lanes).flatMap(([lane, b]) => (b.open ? [{ lane, ...b.open }] : []));
}

/** Build the whole status report: counts and the most recent WOs from the record index (the daemon passes its own). */
export async function buildStatus(root: string, opts: { limit?: number; index?: WoIndex } = {}) {
  const L = layout(root);
  const [daemon, guardrail, files, ignored, pause, breakers] = await Promise.all([
    daemonState(L),
    import('../guardrail/index.js').then((g) => g.readHealth(L.root)).catch(() => undefined),
    pending(L),
    ignoredLanes(L),
    readPause(L),
    openBreakers(L),
  ]);
  const own = opts.index === undefined;
  const { index, source } = opts.index ? { index: opts.index, source: 'index' as const } : await import('./listing.js').then((m) => m.readIndex(L, daemon.running));
  let counts: Record<string, number>, page: ReturnType<WoIndex['query']>, unreadable: ReturnType<WoIndex['unreadable']>;
  try {
    counts = index.counts();
    page = index.query({ limit: opts.limit ?? 20 });
    unreadable = index.unreadable();
  } finally {
    if (own) index.close();
  }
  const upgrade = await import('../upgrade/status.js').then((u) => u.upgradeStatus(L.root, daemon.pid)).catch(() => undefined);
  return {
    daemon,
    guardrail: guardrail ?? { healthy: null, checked_at: null, note: 'the guardrail has not run on this root yet' },
    /** Lanes whose breaker is open (g/run/breaker.json): every WO there is held until `wo resume --lane L`. */
    breakers,
    /** Claiming paused by an operator (wo pause; g/run/paused.json), whether or not the daemon runs. */
    paused: { ...pauseView(pause.state), ...(pause.state.last ? { last: pause.state.last } : {}), ...(pause.problem ? { problem: pause.problem } : {}) },
    counts,
    /** Records in all (the sum of counts). */
    total: page.total,
    pending: files,
    /** The most recent WOs (newest received first); `wo ls` pages through the rest. */
    wos: page.items,
    /** Where counts and wos came from: the index file, the index rebuilt now (it was missing or stale), or a scan. */
    index: source,
    /**
     * Files in g/followup/state/ that are not wo records (foreign, corrupt, folders): listed, never touched.
     * As of the index's last rebuild (a rebuild happens whenever the folder changed while the daemon was down).
     */
    /** The releases (g/releases/: current, previous, the one the daemon runs) and a `wo upgrade` in progress. */
    release: upgrade?.release ?? null,
    upgrade: upgrade?.upgrade ?? null,
    unreadable,
    /** Folders under bridge/inbox/ that are not lanes (their names do not match the lane pattern). */
    ignored_lanes: ignored,
  };
}
