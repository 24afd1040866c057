/** Shared setup for the HTTP tests: a temp root with real StateStore + Telemetry and the server in-process. */
import fs from 'node:fs';
import path from 'node:path';
import { CheckFailed, UsageError } from '../../src/errors.js';
import { parseConfig } from '../../src/config/load.js';
import { layout } from '../../src/layout.js';
import { StateStore } from '../../src/state/store.js';
import { Telemetry } from '../../src/state/telemetry.js';
import type { WoRecord } from '../../src/state/record.js';
import { createMetrics, startHttp, type HttpDeps, type HttpServer } from '../../src/http/index.js';
import { WoFeed } from '../../src/http/feed.js';
import { tempRoot } from '../helpers.js';

export const TOKEN = 'test-token-0123456789abcdef';

/** A complete record with sensible defaults. */
export function record(over: Partial<WoRecord> & { wo_id: string }): WoRecord {
  return {
    schema: 1,
    title: `title of ${over.wo_id}`,
    lane: 'CLC',
    type: 'apply_patch',
    priority: 'P2',
    status: 'succeeded',
    stage: 'commit',
    stage_index: 9,
    stages_total: 9,
    attempt: 1,
    attempts: [],
    sha256: 'a'.repeat(64),
    file: `bridge/archive/${over.wo_id}.1.yaml`,
    source_name: `${over.wo_id}.yaml`,
    rolled_back: false,
    dry_run: false,
    times: { received: new Date().toISOString() },
    files: [],
    commands: [],
    tests: [],
    warnings: [],
    ...over,
  };
}

export interface Harness {
  root: string;
  store: StateStore;
  telemetry: Telemetry;
  server: HttpServer;
  base: string;
  acted: string[];
  logs: string[];
  close(): Promise<void>;
}

/** Start the server on a fresh root holding `recs`. */
export async function startHarness(recs: WoRecord[], opts: { config?: string; deps?: Partial<HttpDeps> } = {}): Promise<Harness> {
  const root = tempRoot(opts.config ?? 'http:\n  port: 0\n');
  const l = layout(root);
  fs.mkdirSync(l.state, { recursive: true, mode: 0o700 });
  const store = new StateStore(l.state);
  for (const r of recs) fs.writeFileSync(path.join(l.state, `${r.wo_id}.json`), JSON.stringify(r));
  // The dashboard feed, as the daemon wires it: each write noted with the status before it (here kept in a map).
  const statuses = new Map(recs.map((r) => [r.wo_id, r.status as string]));
  const feed = new WoFeed((id) => statuses.get(id) ?? null);
  store.listener = feed.tee({ writing: () => {}, written: (r) => void statuses.set(r.wo_id, r.status), failed: () => {} });
  const telemetry = new Telemetry(l.telemetry, 1 << 20);
  telemetry.open();
  const acted: string[] = [];
  const logs: string[] = [];
  const act = (name: string) => async (id: string) => {
    const rec = await store.read(id);
    if (!rec) throw new CheckFailed(`unknown id ${id}`);
    if (id === 'BAD-INPUT') throw new UsageError('bad input');
    const from: Record<string, string[]> = { retry: ['failed', 'rejected', 'cancelled', 'reverted'], rollback: ['succeeded'] };
    if (!(from[name] ?? ['awaiting_approval']).includes(rec.status) && name !== 'cancel') throw new CheckFailed(`${id} is ${rec.status}; ${name} does not apply`);
    acted.push(`${name}:${id}`);
    const to: Record<string, WoRecord['status']> = { approve: 'queued', reject: 'rejected', cancel: 'cancelled', retry: 'queued', rollback: 'reverted' };
    const next: WoRecord = { ...rec, status: to[name]! };
    await store.write(next);
    return next;
  };
  const config = parseConfig(opts.config ?? 'http:\n  port: 0\n', root, {});
  const server = await startHttp({
    config,
    store,
    telemetry,
    feed,
    token: TOKEN,
    actions: { approve: act('approve'), reject: act('reject'), cancel: act('cancel'), retry: act('retry'), rollback: act('rollback') },
    readiness: async () => ({ ok: true, checks: [{ name: 'lock', ok: true }] }),
    status: async () => {
      const wos = await store.list();
      const counts: Record<string, number> = {};
      for (const w of wos) counts[w.status] = (counts[w.status] ?? 0) + 1;
      return { daemon: { running: true, pid: process.pid, started_at: new Date().toISOString(), root }, guardrail: { healthy: true, protected: 2 }, counts, wos };
    },
    metrics: createMetrics(),
    log: (msg) => logs.push(msg),
    ...opts.deps,
  });
  return {
    root,
    store,
    telemetry,
    server,
    base: `http://127.0.0.1:${server.port}`,
    acted,
    logs,
    close: async () => {
      await server.close();
      feed.close();
      telemetry.close();
    },
  };
}
