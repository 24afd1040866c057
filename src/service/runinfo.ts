/** What `g/run/` says about the daemon: daemon.json (pid, port, ready) and whether that pid still runs. */
import fsp from 'node:fs/promises';
import type { Layout } from '../layout.js';
import { pidAlive } from '../exec/proc.js';

export interface RunInfo {
  pid: number;
  port: number | null;
  started_at?: string;
  root?: string;
  ready?: boolean;
}

export type RunState =
  | { state: 'absent' }
  | { state: 'running'; info: RunInfo }
  | { state: 'stale'; info: RunInfo }
  | { state: 'unreadable'; error: string };

/** Read daemon.json (falling back to the lock file) and judge it. */
export async function readRunState(L: Layout): Promise<RunState> {
  for (const file of [L.daemonJson, L.lockFile]) {
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      return { state: 'unreadable', error: `${file}: ${(err as Error).message}` };
    }
    let info: RunInfo;
    try {
      info = JSON.parse(text) as RunInfo;
    } catch {
      return { state: 'unreadable', error: `${file}: not valid JSON` };
    }
    if (typeof info.pid !== 'number') return { state: 'unreadable', error: `${file}: no pid` };
    const withPort = { ...info, port: typeof info.port === 'number' ? info.port : null };
    return pidAlive(info.pid) ? { state: 'running', info: withPort } : { state: 'stale', info: withPort };
  }
  return { state: 'absent' };
}
