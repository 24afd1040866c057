/** Hostile: an OTLP collector that hangs, fails or is not there never slows a WO, never fails one, never blocks the stop. */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { readRecord, startDaemon, tempRoot, waitFor } from '../helpers.js';
import { CONFIG, dropAtomic, size } from './common.js';
import path from 'node:path';

const N = size(6, 60);

type Mode = 'hang' | 'http500' | 'refused' | 'garbage';

/** A collector that misbehaves in one way; counts the requests it saw. */
async function badCollector(mode: Mode): Promise<{ url: string; seen: () => number; close: () => Promise<void> }> {
  let seen = 0;
  if (mode === 'refused') {
    // A port that was just free: nothing listens there.
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    return { url: `http://127.0.0.1:${port}`, seen: () => 0, close: async () => {} };
  }
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    seen++;
    req.resume();
    if (mode === 'hang') return; // never answers
    if (mode === 'http500') {
      res.writeHead(500);
      res.end('no');
      return;
    }
    req.socket.end('garbage, not HTTP\r\n\r\n');
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen: () => seen,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('hostile OTLP collectors', () => {
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of closers) await c();
  });

  it.each<Mode>(['hang', 'http500', 'refused', 'garbage'])('%s: every WO succeeds, the daemon stops with 0 and says the failure once', async (mode) => {
    const col = await badCollector(mode);
    closers.push(col.close);
    const root = tempRoot(`${CONFIG}telemetry:\n  otlp:\n    endpoint: ${col.url}\n`);
    const d = await startDaemon(root);
    const inbox = path.join(root, 'bridge/inbox/CLC');
    const ids = Array.from({ length: N }, (_, i) => `WO-OT-${mode}-${i}`);
    for (const id of ids) dropAtomic(inbox, `${id}.yaml`, `wo_id: ${id}\ntitle: t\ntype: exec\npaths: [tmp]\ncommands: ["echo ${id}"]\n`);
    await waitFor(() => ids.every((id) => readRecord(root, id)?.status === 'succeeded'), { timeout: 60_000, what: `${N} WOs succeeded` });
    if (mode !== 'refused') await waitFor(() => col.seen() > 0, { timeout: 20_000, what: 'the collector was tried' });
    if (mode !== 'hang') await waitFor(() => /OTLP export failed/.test(d.output()), { timeout: 30_000, what: 'the failure said' });
    expect(await d.stop()).toBe(0);
    expect(d.output().match(/OTLP export failed/g)?.length ?? 0).toBeLessThanOrEqual(1);
  }, 120_000);
});
