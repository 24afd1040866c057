/** The dashboard's server side: static files under the CSP, and the SSE backlog (last 50 events, then `ready`, then live). */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lastEvents, recentEvents } from '../../src/http/sse.js';
import { record, startHarness, TOKEN, type Harness } from './fixtures.js';
import { tempDir, waitFor } from '../helpers.js';

describe('recentEvents', () => {
  it('returns the last n parsable lines, oldest first, skipping torn and foreign lines', () => {
    const dir = tempDir();
    const file = path.join(dir, 'unified.jsonl');
    const lines = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ ts: 't', agent: 'daemon', event: 'wo_step', ok: true, i, pad: 'x'.repeat(100) }));
    fs.writeFileSync(file, [...lines.slice(0, 4998), 'not json', '[1,2]', lines[4998], lines[4999], '{"torn'].join('\n'));
    const got = recentEvents(file, 50);
    expect(got.map((e) => e.i)).toEqual(Array.from({ length: 50 }, (_, k) => 4950 + k));
    expect(recentEvents(path.join(dir, 'absent.jsonl'))).toEqual([]);
    expect(lastEvents('{"event":"a"}\n{"event":"b"}\n', 5, false).map((e) => e.event)).toEqual(['b']);
    expect(lastEvents('{"event":"a"}\n{"event":"b"}\n', 5, true).map((e) => e.event)).toEqual(['a', 'b']);
  });
});

describe('dashboard server side', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('serves index.html, dashboard.js and dashboard.css with the CSP and no inline code', async () => {
    h = await startHarness([]);
    const page = await fetch(`${h.base}/`);
    const html = await page.text();
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(html).toContain('<script type="module" src="/dashboard.js"></script>');
    expect(html).not.toMatch(/<script>|<style>| on[a-z]+=/);
    const js = await fetch(`${h.base}/dashboard.js`);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await js.text()).toMatch(/^\/\/ @ts-check/);
    const css = await fetch(`${h.base}/dashboard.css`);
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    expect(css.headers.get('x-frame-options')).toBe('DENY');
    expect((await fetch(`${h.base}/dashboard.jsx`)).status).toBe(404);
  });

  it('a new event stream starts with the last 50 events, then `ready`, then live events', async () => {
    h = await startHarness([]);
    for (let i = 0; i < 60; i++) h.telemetry.emit('daemon', 'wo_step', { wo_id: `WO-${i}` });
    let text = '';
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: h!.server.port, path: `/api/events?token=${TOKEN}` }, resolve).on('error', reject);
    });
    res.setEncoding('utf8');
    res.on('data', (c: string) => (text += c));
    await waitFor(() => text.includes('event: ready'), { what: 'backlog end' });
    const before = text.slice(0, text.indexOf('event: ready'));
    const ids = [...before.matchAll(/^data: (.*)$/gm)].map((m) => (JSON.parse(m[1]!) as { wo_id: string }).wo_id);
    expect(ids).toEqual(Array.from({ length: 50 }, (_, k) => `WO-${10 + k}`));
    expect(text).toContain('event: ready\ndata: {"backlog":50,"feed":true}\n\n');
    h.telemetry.emit('daemon', 'wo_started', { wo_id: 'WO-LIVE' });
    await waitFor(() => text.includes('"wo_id":"WO-LIVE"'), { what: 'live event' });
    expect(text.indexOf('WO-LIVE')).toBeGreaterThan(text.indexOf('event: ready'));
    res.destroy();
  });

  it('records written while a stream listens go out as `wos` messages: summaries, the latest per WO, with the status before', async () => {
    h = await startHarness([record({ wo_id: 'WO-OLD', status: 'queued', stage: 'validated', stage_index: 2 })]);
    let text = '';
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: h!.server.port, path: `/api/events?token=${TOKEN}` }, resolve).on('error', reject);
    });
    res.setEncoding('utf8');
    res.on('data', (c: string) => (text += c));
    await waitFor(() => text.includes('event: ready'), { what: 'ready' });
    // Two writes of one WO in the same window are one item (the latest), a new WO has prev_status null.
    await h.store.write(record({ wo_id: 'WO-OLD', status: 'running', stage: 'apply', stage_index: 5, plan: [{ step: 'write', path: 'x', verdict: 'will change', diff: 'big' }] as never }));
    await h.store.write(record({ wo_id: 'WO-OLD', status: 'succeeded' }));
    await h.store.write(record({ wo_id: 'WO-NEW', status: 'queued' }));
    const batches = (): Record<string, unknown>[][] => [...text.matchAll(/event: wos\ndata: (.*)\n\n/g)].map((m) => (JSON.parse(m[1]!) as { items: Record<string, unknown>[] }).items);
    const latest = () => new Map(batches().flat().map((i) => [i.wo_id, i]));
    await waitFor(() => latest().get('WO-OLD')?.status === 'succeeded' && latest().has('WO-NEW'), { what: 'wos messages' });
    // Normally one message; under load the writes may straddle two windows, never one WO twice in a message.
    for (const b of batches()) expect(new Set(b.map((i) => i.wo_id)).size).toBe(b.length);
    const all = batches().flat();
    expect(all.find((i) => i.wo_id === 'WO-OLD')!.prev_status).toBe('queued');
    expect(all.find((i) => i.wo_id === 'WO-NEW')!.prev_status).toBeNull();
    expect(latest().get('WO-OLD')).not.toHaveProperty('plan');
    expect(latest().get('WO-OLD')).toHaveProperty('received');
    res.destroy();
  });
});
