import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { parseConfig } from '../../src/config/load.js';
import { startHttp, createMetrics } from '../../src/http/index.js';
import { record, startHarness, TOKEN, type Harness } from './fixtures.js';
import { waitFor } from '../helpers.js';

interface Raw {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A request with full control over headers (fetch will not set Host). */
function raw(port: number, opts: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string }): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const auth = { Authorization: `Bearer ${TOKEN}` };

describe('http server', () => {
  let h: Harness;
  const get = (path: string, headers: Record<string, string> = {}) => raw(h.server.port, { path, headers });

  beforeAll(async () => {
    h = await startHarness([
      record({ wo_id: 'WO-A', status: 'succeeded', lane: 'CLC', times: { received: '2024-01-01T00:00:01Z' } }),
      record({ wo_id: 'WO-B', status: 'failed', lane: 'OPS', times: { received: '2024-01-01T00:00:02Z' } }),
      record({ wo_id: 'WO-H', status: 'awaiting_approval', lane: 'CLC', hold_reasons: ['writes outside tmp/'], times: { received: '2024-01-01T00:00:03Z' } }),
      record({ wo_id: 'BAD-INPUT', status: 'awaiting_approval', times: { received: '2024-01-01T00:00:00Z' } }),
    ]);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers /healthz, /readyz and /metrics without a token', async () => {
    const hz = await fetch(`${h.base}/healthz`);
    expect(hz.status).toBe(200);
    expect(await hz.json()).toEqual({ ok: true });
    const rz = await fetch(`${h.base}/readyz`);
    expect(rz.status).toBe(200);
    expect((await rz.json()).ok).toBe(true);
    const m = await fetch(`${h.base}/metrics`);
    expect(m.status).toBe(200);
    const text = await m.text();
    expect(text).toMatch(/^wo_daemon_up 1$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m); // Node/process metrics under prom-client's own names
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) expect(line).toMatch(/^(wo|process|nodejs)_/);
  });

  it('refuses /api/ without the token, or with a wrong one', async () => {
    expect((await fetch(`${h.base}/api/wos`)).status).toBe(401);
    const wrong = await fetch(`${h.base}/api/wos`, { headers: { Authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect((await wrong.json()).error).toMatch(/token/);
    expect((await fetch(`${h.base}/api/wos?token=${TOKEN}`)).status).toBe(401); // query token only for /api/events
    expect((await fetch(`${h.base}/api/status`)).status).toBe(401);
    expect((await fetch(`${h.base}/api/nothing-here`)).status).toBe(401);
  });

  it('lists and filters WOs with the token', async () => {
    const all = await fetch(`${h.base}/api/wos`, { headers: auth });
    expect(all.status).toBe(200);
    const ids = ((await all.json()).wos as { wo_id: string }[]).map((w) => w.wo_id);
    expect(ids).toEqual(['WO-H', 'WO-B', 'WO-A', 'BAD-INPUT']);
    const failed = await (await fetch(`${h.base}/api/wos?status=failed`, { headers: auth })).json();
    expect(failed.wos.map((w: { wo_id: string }) => w.wo_id)).toEqual(['WO-B']);
    const ops = await (await fetch(`${h.base}/api/wos?lane=OPS`, { headers: auth })).json();
    expect(ops.wos.map((w: { wo_id: string }) => w.wo_id)).toEqual(['WO-B']);
    const two = await (await fetch(`${h.base}/api/wos?status=succeeded,failed&limit=1`, { headers: auth })).json();
    expect(two.wos.map((w: { wo_id: string }) => w.wo_id)).toEqual(['WO-B']);
    const bad = await fetch(`${h.base}/api/wos?status=bogus`, { headers: auth });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatch(/unknown status "bogus"/);
    expect((await fetch(`${h.base}/api/wos?limit=-3`, { headers: auth })).status).toBe(400);
    const sum = await (await fetch(`${h.base}/api/wos?view=summary&status=failed`, { headers: auth })).json();
    expect(sum.wos[0]).toMatchObject({ wo_id: 'WO-B', status: 'failed', counts: { commands: 0, tests: 0 } });
    expect(sum.wos[0].commands).toBeUndefined();
    expect((await fetch(`${h.base}/api/wos?view=everything`, { headers: auth })).status).toBe(400);
  });

  it('returns one record, 404 JSON for an unknown id', async () => {
    const one = await fetch(`${h.base}/api/wos/WO-A`, { headers: auth });
    expect(one.status).toBe(200);
    expect((await one.json()).wo_id).toBe('WO-A');
    const none = await fetch(`${h.base}/api/wos/WO-NOPE`, { headers: auth });
    expect(none.status).toBe(404);
    expect(none.headers.get('content-type')).toMatch(/application\/json/);
    expect((await none.json()).error).toMatch(/WO-NOPE/);
    expect((await fetch(`${h.base}/api/wos/..%2F..%2Fetc`, { headers: auth })).status).toBe(404);
  });

  it('serves /api/status', async () => {
    const st = await (await fetch(`${h.base}/api/status`, { headers: auth })).json();
    expect(st.daemon.running).toBe(true);
    expect(st.counts.succeeded).toBe(1);
  });

  it('refuses a wrong Host header (DNS rebinding), any route', async () => {
    for (const path of ['/healthz', '/api/wos', '/']) {
      const r = await get(path, { Host: `evil.example:${h.server.port}`, ...auth });
      expect(r.status).toBe(403);
      expect(JSON.parse(r.body).error).toMatch(/Host/);
    }
    expect((await get('/healthz', { Host: '127.0.0.1:1' })).status).toBe(403);
    expect((await get('/healthz', { Host: `localhost:${h.server.port}` })).status).toBe(200);
  });

  it('acts on WOs: token required, 404 unknown, 409 wrong state, 400 usage error, 200 ok', async () => {
    const post = (path: string, headers: Record<string, string> = auth) => fetch(`${h.base}${path}`, { method: 'POST', headers });
    expect((await post('/api/wos/WO-H/approve', {})).status).toBe(401);
    expect(h.acted).toEqual([]);
    expect((await post('/api/wos/WO-NOPE/approve')).status).toBe(404);
    const conflict = await post('/api/wos/WO-A/approve');
    expect(conflict.status).toBe(409);
    expect((await conflict.json()).error).toMatch(/succeeded/);
    expect((await post('/api/wos/BAD-INPUT/reject')).status).toBe(400);
    const ok = await post('/api/wos/WO-H/approve');
    expect(ok.status).toBe(200);
    expect((await ok.json()).status).toBe('queued');
    expect(h.acted).toEqual(['approve:WO-H']);
  });

  it('answers 413 for a 70 KiB body, 404 unknown routes, 405 wrong methods, and keeps serving', async () => {
    const big = Buffer.alloc(70 * 1024, 'x');
    const r = await raw(h.server.port, { method: 'POST', path: '/api/wos/WO-B/cancel', headers: { ...auth, 'Content-Type': 'application/json' }, body: big });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error).toMatch(/too large/);
    // chunked, no Content-Length: counted while reading
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: h.server.port, method: 'POST', path: '/api/wos/WO-B/cancel', headers: auth }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 70; i++) req.write(Buffer.alloc(1024, 'y'));
      req.end();
    });
    expect(chunked).toBe(413);
    expect((await fetch(`${h.base}/nope`)).status).toBe(404);
    const m = await fetch(`${h.base}/healthz`, { method: 'POST' });
    expect(m.status).toBe(405);
    expect(m.headers.get('allow')).toContain('GET');
    expect((await fetch(`${h.base}/api/wos/WO-A/approve`, { headers: auth })).status).toBe(405);
    expect((await fetch(`${h.base}/api/wos`, { method: 'DELETE', headers: auth })).status).toBe(405);
    expect((await fetch(`${h.base}/healthz`)).status).toBe(200);
  });

  it('delivers a telemetry event emitted after connecting over SSE (token in the query)', async () => {
    const denied = await raw(h.server.port, { path: '/api/events' });
    expect(denied.status).toBe(401);
    let text = '';
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: h.server.port, path: `/api/events?token=${TOKEN}` }, resolve).on('error', reject);
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/event-stream/);
    res.setEncoding('utf8');
    res.on('data', (d) => (text += d));
    await waitFor(() => text.includes(': connected'), { what: 'stream open' });
    const before = h.telemetry.bus.listenerCount('event');
    h.telemetry.emit('daemon', 'wo_completed', { wo_id: 'WO-SSE' });
    await waitFor(() => /data: .*"WO-SSE"/.test(text), { what: 'SSE event' });
    const line = text.split('\n').find((l) => l.includes('WO-SSE'))!;
    expect(JSON.parse(line.slice('data: '.length))).toMatchObject({ event: 'wo_completed', wo_id: 'WO-SSE', ok: true });
    res.destroy();
    await waitFor(() => h.telemetry.bus.listenerCount('event') === before - 1, { what: 'listener removed' });
  });

  it('sends keep-alive comments on an idle stream', async () => {
    const { serveEvents } = await import('../../src/http/sse.js');
    const { EventEmitter } = await import('node:events');
    const bus = new EventEmitter();
    const srv = http.createServer((req, res) => serveEvents(req, res, bus, 30));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    let text = '';
    const res = await new Promise<http.IncomingMessage>((resolve) => http.get({ host: '127.0.0.1', port: (srv.address() as net.AddressInfo).port, path: '/' }, resolve));
    res.setEncoding('utf8');
    res.on('data', (d) => (text += d));
    await waitFor(() => text.includes(': keep-alive'), { what: 'keep-alive comment' });
    expect(bus.listenerCount('event')).toBe(1);
    res.destroy();
    await waitFor(() => bus.listenerCount('event') === 0, { what: 'listener removed' });
    srv.close();
  });

  it('HEAD on the event stream answers without holding the connection', async () => {
    const r = await raw(h.server.port, { method: 'HEAD', path: `/api/events?token=${TOKEN}` });
    expect(r.status).toBe(200);
    expect(r.body).toBe('');
  });

  it('serves the page with a Content-Security-Policy', async () => {
    const r = await fetch(`${h.base}/`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/html/);
    const csp = r.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(await r.text()).toContain('<title>wo dashboard</title>');
  });
});

describe('http close', () => {
  it('ends open event streams and resolves', async () => {
    const h = await startHarness([]);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: h.server.port, path: `/api/events?token=${TOKEN}` }, resolve).on('error', reject);
    });
    const ended = new Promise<void>((resolve) => res.on('end', resolve).on('close', resolve));
    res.resume();
    await waitFor(() => h.telemetry.bus.listenerCount('event') === 1, { what: 'stream open' });
    await h.close();
    await ended;
    expect(h.telemetry.bus.listenerCount('event')).toBe(0);
    await expect(fetch(`${h.base}/healthz`)).rejects.toThrow();
  });
});

describe('http port selection', () => {
  async function occupy(): Promise<{ port: number; close: () => Promise<void> }> {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    return { port: (srv.address() as net.AddressInfo).port, close: () => new Promise((r) => srv.close(() => r())) };
  }

  it('an explicitly configured busy port is a clear start-up error', async () => {
    const busy = await occupy();
    try {
      const err = await startHarness([], { config: `http:\n  port: ${busy.port}\n` }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(new RegExp(`http.port ${busy.port} .*already in use`));
    } finally {
      await busy.close();
    }
  });

  it('a busy default port falls back to a free one and says so', async () => {
    const busy = await occupy();
    const h = await startHarness([]);
    const logs: string[] = [];
    try {
      const config = { ...parseConfig('', h.root, {}), http: { enabled: true, port: busy.port } };
      expect(config.portExplicit).toBe(false);
      const srv = await startHttp({
        config,
        store: h.store,
        telemetry: h.telemetry,
        token: TOKEN,
        actions: { approve: async () => { throw new Error('x'); }, reject: async () => { throw new Error('x'); }, cancel: async () => { throw new Error('x'); } },
        readiness: async () => ({ ok: false, checks: [{ name: 'disk', ok: false, detail: 'below floor' }, { name: 'lock', ok: true }] }),
        status: async () => ({}),
        metrics: createMetrics(),
        log: (m) => logs.push(m),
      });
      try {
        expect(srv.port).not.toBe(busy.port);
        expect(logs.join('\n')).toMatch(new RegExp(`default port ${busy.port} is already in use; serving on 127.0.0.1:${srv.port}`));
        const rz = await fetch(`http://127.0.0.1:${srv.port}/readyz`);
        expect(rz.status).toBe(503);
        expect((await rz.json()).failing).toEqual([{ name: 'disk', ok: false, detail: 'below floor' }]);
      } finally {
        await srv.close();
        await srv.close(); // twice is safe
      }
    } finally {
      await h.close();
      await busy.close();
    }
  });
});
