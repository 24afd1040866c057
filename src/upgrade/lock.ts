/** Single flight for `wo upgrade`: g/run/upgrade.lock (the daemon lock's code: pid + start time, stale takeover) and its progress file. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { acquireLock, readLock, type AcquiredLock, type LockInfo } from '../daemon/lock.js';
import { readJson, writeJsonAtomic } from '../util/fsx.js';

/** g/run/upgrade.lock of a root. */
export function upgradeLockFile(root: string): string {
  return path.join(path.resolve(root), 'g', 'run', 'upgrade.lock');
}

function progressFile(root: string): string {
  return path.join(path.resolve(root), 'g', 'run', 'upgrade.json');
}

/** Take the upgrade lock or learn who holds it. */
export async function acquireUpgradeLock(root: string): Promise<AcquiredLock | { held: LockInfo | undefined }> {
  return acquireLock(upgradeLockFile(root), path.resolve(root));
}

export interface UpgradeProgress {
  pid: number;
  step: string;
  candidate?: string;
  report: string;
  started_at: string;
}

/** Record the step in progress (for `wo status`); durable like every state change. */
export async function writeProgress(root: string, p: UpgradeProgress): Promise<void> {
  await writeJsonAtomic(progressFile(root), p, { mode: 0o600 });
}

/** Forget the progress file at the end of an upgrade. */
export async function clearProgress(root: string): Promise<void> {
  await fsp.unlink(progressFile(root)).catch(() => {});
}

/** Why: `wo status` shows an upgrade in progress only while its lock's holder runs; a dead one's progress is stale. */
export async function upgradeInProgress(root: string): Promise<(UpgradeProgress & { holder: LockInfo }) | { stale: true; holder?: LockInfo } | undefined> {
  const lock = await readLock(upgradeLockFile(root));
  if (!lock.info && !lock.held) return undefined;
  if (!lock.held) return { stale: true, ...(lock.info ? { holder: lock.info } : {}) };
  const p = await readJson<UpgradeProgress>(progressFile(root)).catch(() => undefined);
  return { pid: lock.info!.pid, step: p?.pid === lock.info!.pid ? p.step : 'starting', report: p?.report ?? '', started_at: lock.info!.started_at, ...(p?.candidate ? { candidate: p.candidate } : {}), holder: lock.info! };
}
