/**
 * The handover guard: a detached process started before the handover that outlives a killed upgrader. If the
 * upgrader dies (kill -9: its upgrade.lock is left behind) and no daemon becomes ready, it starts `current`, and
 * when that does not come up, switches back to `previous` and starts it — so the old or the new release serves.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { layout } from '../layout.js';
import { readLock } from '../daemon/lock.js';
import { sameProcess, procStartTime } from '../exec/proc.js';
import { upgradeLockFile } from './lock.js';
import { CURRENT, PREVIOUS, linkTarget, promoteLinks, releasesDir } from './releases.js';
import { spawnDaemon, waitReady } from './handover.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Start the guard for this upgrader (detached, own session; output in g/logs/upgrade-guard.log). */
export function startGuard(selfArgv: string[], root: string): number {
  const L = layout(root);
  fs.mkdirSync(L.logs, { recursive: true, mode: 0o700 });
  const fd = fs.openSync(path.join(L.logs, 'upgrade-guard.log'), 'a', 0o600);
  try {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.WO_TEST_UPGRADE_CRASH_AT;
    const child = spawn(selfArgv[0]!, [...selfArgv.slice(1), 'upgrade', '--guard', `${process.pid}:${procStartTime(process.pid) ?? ''}`, '--root', root], { detached: true, stdio: ['ignore', fd, fd], env });
    child.unref();
    return child.pid!;
  } finally {
    fs.closeSync(fd);
  }
}

/** The guard's loop; returns what it did (one line, also printed to its log). */
export async function runGuard(root: string, upgrader: { pid: number; start?: string }, readyMs: number): Promise<string> {
  const lockFile = upgradeLockFile(root);
  while (sameProcess(upgrader.pid, upgrader.start)) await sleep(200);
  const l = await readLock(lockFile);
  if (l.info?.pid !== upgrader.pid) return `upgrader ${upgrader.pid} ended normally: nothing to do`;
  // The upgrader died holding its lock: make sure someone serves.
  const dir = releasesDir(root);
  // A daemon holding the lock serves or is starting (a successor takes the lock the moment it is free);
  // nobody holding it for a while means nobody is coming.
  const until = Date.now() + Math.min(readyMs, 15_000);
  while (Date.now() < until) {
    const holder = await readLock(layout(root).lockFile);
    if (holder.held && holder.info) return `upgrader ${upgrader.pid} died; pid ${holder.info.pid} holds the daemon lock: nothing to do`;
    await sleep(200);
  }
  for (const which of [CURRENT, PREVIOUS]) {
    const name = linkTarget(dir, which);
    if (!name) continue;
    if (which === PREVIOUS) await promoteLinks(dir, name);
    const pid = spawnDaemon(path.join(dir, name), root, path.join(layout(root).logs, 'upgrade-daemon.log'), Math.ceil(readyMs / 1000));
    const r = await waitReady(root, { deadlineMs: readyMs, spawned: pid });
    if (r.ok) return `upgrader ${upgrader.pid} died and nothing served: started ${name} (${which}), pid ${r.pid}`;
  }
  return `upgrader ${upgrader.pid} died and neither the current nor the previous release started`;
}
