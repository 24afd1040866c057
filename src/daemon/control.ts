/**
 * The CLI → daemon control channel: request files in g/run/control/ (0700, so file permissions are the
 * authentication), answered by reply files. The HTTP API calls the same actions in-process.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import { CheckFailed, UsageError } from '../errors.js';
import { readJson, writeJsonAtomic } from '../util/fsx.js';
import type { WoRecord } from '../state/record.js';
import { ACTIONS, type Action } from './actions.js';

export interface ControlRequest {
  action: Action;
  wo_id: string;
  force?: boolean;
}

export interface ControlReply {
  ok: boolean;
  record?: WoRecord;
  error?: { kind: 'usage' | 'check' | 'other'; message: string };
}

/** The control folder of a run dir. */
export function controlDir(runDir: string): string {
  return path.join(runDir, 'control');
}

/** Daemon side: watch for requests and answer each once. */
export function serveControl(runDir: string, handle: (req: ControlRequest) => Promise<WoRecord>, log: (msg: string) => void): { close(): void; poke(): void } {
  const dir = controlDir(runDir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const inFlight = new Set<string>();
  const scan = async () => {
    let names: string[];
    try {
      names = await fsp.readdir(dir);
    } catch {
      return;
    }
    for (const n of names) {
      if (!n.endsWith('.req.json') || inFlight.has(n)) continue;
      inFlight.add(n);
      const file = path.join(dir, n);
      void (async () => {
        let reply: ControlReply;
        try {
          const req = await readJson<ControlRequest>(file);
          if (!req || !ACTIONS.includes(req.action) || typeof req.wo_id !== 'string') throw new UsageError('malformed control request');
          reply = { ok: true, record: await handle(req) };
        } catch (err) {
          const kind = err instanceof UsageError ? 'usage' : err instanceof CheckFailed ? 'check' : 'other';
          reply = { ok: false, error: { kind, message: err instanceof Error ? err.message : String(err) } };
          if (kind === 'other') log(`control request ${n} failed: ${String(err)}`);
        }
        await writeJsonAtomic(file.replace(/\.req\.json$/, '.reply.json'), reply).catch(() => {});
        await fsp.unlink(file).catch(() => {});
        inFlight.delete(n);
      })();
    }
  };
  const watcher = fs.watch(dir, () => void scan());
  watcher.on('error', () => {});
  const timer = setInterval(() => void scan(), 1000);
  timer.unref();
  void scan();
  return {
    close: () => {
      watcher.close();
      clearInterval(timer);
    },
    poke: () => void scan(),
  };
}

/** CLI side: send a request and wait for its reply. */
export async function sendControl(runDir: string, req: ControlRequest, timeoutMs: number, alive: () => boolean): Promise<ControlReply> {
  const dir = controlDir(runDir);
  const id = `${Date.now()}-${process.pid}-${crypto.randomBytes(3).toString('hex')}`;
  const reqFile = path.join(dir, `${id}.req.json`);
  const replyFile = path.join(dir, `${id}.reply.json`);
  await writeJsonAtomic(reqFile, req);
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const reply = await readJson<ControlReply>(replyFile).catch(() => undefined);
      if (reply) return reply;
      if (Date.now() > deadline) throw new CheckFailed(`the daemon did not answer within ${Math.round(timeoutMs / 1000)} s`);
      if (!alive()) throw new CheckFailed('the daemon stopped before answering');
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    await fsp.unlink(replyFile).catch(() => {});
    await fsp.unlink(reqFile).catch(() => {});
  }
}
