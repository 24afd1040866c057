/** The status report (`wo status --json`, `/api/status`): daemon, guardrail, counts, recent WOs. Works with the daemon down. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { layout, type Layout } from '../layout.js';
import { readJson } from '../util/fsx.js';
import { readLock } from './lock.js';
import { laneFolderProblem } from './intake.js';
import { StateStore } from '../state/store.js';
import { STATUSES, type WoRecord } from '../state/record.js';
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

/** A compact view of a record for listings. */
export function summary(r: WoRecord) {
  return {
    wo_id: r.wo_id,
    title: r.title,
    lane: r.lane,
    type: r.type,
    priority: r.priority,
    status: r.status,
    stage: r.stage,
    stage_index: r.stage_index,
    stages_total: r.stages_total,
    attempt: r.attempt,
    received: r.times?.received,
    finished: r.times?.finished,
    ...(r.error ? { error: r.error } : {}),
    ...(r.hold_reasons ? { hold_reasons: r.hold_reasons } : {}),
    ...(r.dry_run ? { dry_run: true } : {}),
    ...(r.given_up ? { given_up: true } : {}),
  };
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

/** Build the whole status report. */
export async function buildStatus(root: string, opts: { limit?: number } = {}) {
  const L = layout(root);
  const [daemon, { records: recs, unreadable }, guardrail, files, ignored, pause] = await Promise.all([
    daemonState(L),
    new StateStore(L.state).scan(),
    import('../guardrail/index.js').then((g) => g.readHealth(L.root)).catch(() => undefined),
    pending(L),
    ignoredLanes(L),
    readPause(L),
  ]);
  const upgrade = await import('../upgrade/status.js').then((u) => u.upgradeStatus(L.root, daemon.pid)).catch(() => undefined);
  const counts: Record<string, number> = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const r of recs) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return {
    daemon,
    guardrail: guardrail ?? { healthy: null, checked_at: null, note: 'the guardrail has not run on this root yet' },
    /** Claiming paused by an operator (wo pause; g/run/paused.json), whether or not the daemon runs. */
    paused: { ...pauseView(pause.state), ...(pause.state.last ? { last: pause.state.last } : {}), ...(pause.problem ? { problem: pause.problem } : {}) },
    counts,
    pending: files,
    wos: recs.slice(0, opts.limit ?? 20).map(summary),
    /** The releases (g/releases/: current, previous, the one the daemon runs) and a `wo upgrade` in progress. */
    release: upgrade?.release ?? null,
    upgrade: upgrade?.upgrade ?? null,
    /** Files in g/followup/state/ that are not wo records (foreign, corrupt, folders): listed, never touched. */
    unreadable,
    /** Folders under bridge/inbox/ that are not lanes (their names do not match the lane pattern). */
    ignored_lanes: ignored,
  };
}
