/** What `wo status` and /api/status say about releases and an upgrade in progress. */
import { upgradeInProgress } from './lock.js';
import { CURRENT, PREVIOUS, linkTarget, releasesDir, runningRelease } from './releases.js';

export interface ReleaseStatus {
  current: string | null;
  previous: string | null;
  /** The release the live daemon runs (null: not known, or it runs from a checkout). */
  running: string | null;
}

/** Why: after a crash the link and the running daemon can differ; both are shown. */
export async function upgradeStatus(root: string, daemonPid: number | null) {
  const dir = releasesDir(root);
  const current = linkTarget(dir, CURRENT) ?? null;
  const release: ReleaseStatus | null = current ? { current, previous: linkTarget(dir, PREVIOUS) ?? null, running: daemonPid ? (runningRelease(root, daemonPid) ?? null) : null } : null;
  const u = await upgradeInProgress(root);
  const upgrade = !u ? null : 'stale' in u ? { in_progress: false, stale_lock: true, pid: u.holder?.pid ?? null } : { in_progress: true, pid: u.pid, step: u.step, started_at: u.started_at, report: u.report, candidate: u.candidate ?? null };
  return { release, upgrade };
}
