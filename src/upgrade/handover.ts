/** Handover (steps 6–7): stop the live daemon, switch `current`, start the release (self or service manager), wait ready, canary. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { layout } from '../layout.js';
import { readLock, type LockInfo } from '../daemon/lock.js';
import { sameProcess } from '../exec/proc.js';
import { readJson } from '../util/fsx.js';
import { runCmd } from './proc.js';
import { releaseBin } from './releases.js';

export type RestartMode = { kind: 'self' } | { kind: 'systemd'; unit: string } | { kind: 'launchd'; label: string; uid: number };

/** Environment variables of the upgrader that must not reach a daemon it starts. */
const UPGRADER_ONLY = ['WO_TEST_UPGRADE_CRASH_AT', 'WO_DRY_RUN'];

/** Why: kill -9 at each point of the handover is tested; the env var names the point (tests only). */
export function crashPoint(point: string): void {
  if (process.env.WO_TEST_UPGRADE_CRASH_AT === point) process.kill(process.pid, 'SIGKILL');
}

/** The live daemon of a root (from its lock), if one runs. */
export async function liveDaemon(root: string): Promise<LockInfo | undefined> {
  const s = await readLock(layout(root).lockFile);
  return s.held ? s.info : undefined;
}

/** Why: the service manager restarts only a daemon it runs; a unit that runs `g/releases/current` and is active ⇒ service mode. */
export async function detectMode(root: string, configured: 'auto' | 'self' | 'service', env: NodeJS.ProcessEnv = process.env): Promise<RestartMode> {
  if (configured === 'self') return { kind: 'self' };
  const { defaultKind, unitLocation } = await import('../service/units.js');
  const kind = defaultKind();
  const loc = unitLocation(kind, root, env);
  let text: string | undefined;
  try {
    text = fs.readFileSync(loc.file, 'utf8');
  } catch {
    text = undefined;
  }
  const mode: RestartMode = kind === 'systemd' ? { kind, unit: loc.name } : { kind, label: loc.name, uid: process.getuid?.() ?? 0 };
  if (configured === 'service') return mode;
  if (!text || !text.includes(path.join('g', 'releases', 'current'))) return { kind: 'self' };
  const r = kind === 'systemd' ? await runCmd(['systemctl', '--user', 'is-active', loc.name], { timeoutMs: 30_000 }) : await runCmd(['launchctl', 'print', `gui/${process.getuid?.() ?? 0}/${loc.name}`], { timeoutMs: 30_000 });
  return r.code === 0 ? mode : { kind: 'self' };
}

function daemonEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const k of UPGRADER_ONLY) delete env[k];
  return env;
}

/** Spawn a release's daemon detached (own session), output appended to `logFile`; it waits up to waitLockS for the lock. */
export function spawnDaemon(releaseDir: string, root: string, logFile: string, waitLockS: number): number {
  fs.mkdirSync(path.dirname(logFile), { recursive: true, mode: 0o700 });
  const fd = fs.openSync(logFile, 'a', 0o600);
  try {
    const child = spawn(process.execPath, [releaseBin(releaseDir), 'daemon', '--root', root], {
      cwd: root,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: daemonEnv({ WO_DAEMON_LOCK_WAIT_S: String(waitLockS) }),
    });
    child.unref();
    return child.pid!;
  } finally {
    fs.closeSync(fd);
  }
}

/** SIGTERM a daemon (only that pid, checked by start time) and wait until it has let go of the lock. */
export async function stopDaemon(root: string, who: LockInfo, deadlineMs: number): Promise<boolean> {
  if (sameProcess(who.pid, who.proc_start)) {
    try {
      process.kill(who.pid, 'SIGTERM');
    } catch {
      /* gone meanwhile */
    }
  }
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    const cur = await liveDaemon(root);
    if (!sameProcess(who.pid, who.proc_start) && cur?.pid !== who.pid) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function readyz(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(5000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Wait until a daemon other than `notPid` holds the lock, says ready in daemon.json and (with HTTP on) answers /readyz 200. */
export async function waitReady(root: string, opts: { deadlineMs: number; notPid?: number; spawned?: number }): Promise<{ ok: true; pid: number } | { ok: false; why: string }> {
  const L = layout(root);
  const until = Date.now() + opts.deadlineMs;
  let why = 'no daemon took the lock';
  while (Date.now() < until) {
    const live = await liveDaemon(root);
    if (live && live.pid !== opts.notPid) {
      const info = await readJson<{ pid: number; ready?: boolean; port?: number | null }>(L.daemonJson).catch(() => undefined);
      if (info?.pid === live.pid && info.ready) {
        if (typeof info.port !== 'number' || (await readyz(info.port))) return { ok: true, pid: live.pid };
        why = `pid ${live.pid}: /readyz on port ${info.port} is not 200`;
      } else why = `pid ${live.pid} holds the lock but is not ready yet`;
    } else if (opts.spawned !== undefined && !sameProcess(opts.spawned, undefined) && !(live && live.pid === opts.spawned)) {
      return { ok: false, why: `the new daemon (pid ${opts.spawned}) exited before it was ready (see g/logs/upgrade-daemon.log)` };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ok: false, why: `not ready within ${Math.round(opts.deadlineMs / 1000)} s: ${why}` };
}

/** `wo canary` of a release against the live root. */
export async function liveCanary(releaseDir: string, root: string, timeoutS: number): Promise<{ ok: boolean; output: string }> {
  const r = await runCmd([process.execPath, releaseBin(releaseDir), 'canary', '--root', root, '--timeout', String(timeoutS)], { timeoutMs: (timeoutS + 30) * 1000, env: daemonEnv({ NO_COLOR: '1' }) });
  return { ok: r.code === 0, output: r.output };
}

export interface StartOutcome {
  ok: boolean;
  pid?: number;
  detail: string;
}

/**
 * Why: never neither. In self mode the successor is spawned first and waits for the lock, then the old daemon gets
 * SIGTERM (it stops claiming and finishes or checkpoints its WOs); a crash of the upgrader anywhere in between
 * leaves the old daemon running or the successor taking over. Under a service manager the manager restarts it.
 * The `current` link must already name `releaseDir`.
 */
export async function restartOn(root: string, releaseDir: string, mode: RestartMode, t: { stopMs: number; readyMs: number }): Promise<StartOutcome> {
  const old = await liveDaemon(root);
  if (mode.kind === 'self') {
    const spawned = spawnDaemon(releaseDir, root, path.join(layout(root).logs, 'upgrade-daemon.log'), Math.ceil((t.stopMs + t.readyMs) / 1000));
    crashPoint('successor-spawned');
    if (old && !(await stopDaemon(root, old, t.stopMs))) return { ok: false, detail: `the running daemon (pid ${old.pid}) did not stop within ${t.stopMs / 1000} s` };
    crashPoint('old-stopped');
    const r = await waitReady(root, { deadlineMs: t.readyMs, ...(old ? { notPid: old.pid } : {}), spawned });
    return r.ok ? { ok: true, pid: r.pid, detail: `pid ${r.pid} ready (self mode, spawned detached; output in g/logs/upgrade-daemon.log)` } : { ok: false, detail: r.why };
  }
  const argv = mode.kind === 'systemd' ? ['systemctl', '--user', 'restart', mode.unit] : ['launchctl', 'kickstart', '-k', `gui/${mode.uid}/${mode.label}`];
  const r = await runCmd(argv, { timeoutMs: t.stopMs + t.readyMs });
  if (r.code !== 0) return { ok: false, detail: `${argv.join(' ')} failed (exit ${r.code}): ${r.output.trim()}` };
  const w = await waitReady(root, { deadlineMs: t.readyMs, ...(old ? { notPid: old.pid } : {}) });
  return w.ok ? { ok: true, pid: w.pid, detail: `pid ${w.pid} ready (restarted by ${argv.join(' ')})` } : { ok: false, detail: w.why };
}

/** Stop a daemon that is not ready or failed its canary, so the rollback's restart can take the lock. */
export async function stopIfRunning(root: string, stopMs: number): Promise<void> {
  const live = await liveDaemon(root);
  if (live) await stopDaemon(root, live, stopMs);
}
