/**
 * The dashboard at size against the real daemon: 300 records seeded (the index is rebuilt from them at start), the
 * first render is one page with the totals of all 300, "Load more" follows the cursor, a new WO and a status change
 * arrive through the event stream (no list request), filters are server-side.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { record } from './fixtures.js';
import { dropComplete, readRecord, startDaemon, tempRoot, waitFor, type DaemonHandle } from '../helpers.js';
import { layout } from '../../src/layout.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
const LAUNCH = ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const N = 300;
const STATUS = ['succeeded', 'failed', 'cancelled'] as const;
const idOf = (i: number) => `WO-P-${String(i).padStart(3, '0')}`;
/** Seeded record i: received i minutes after 2024-01-01 (so WO-P-299 is the newest), status by i mod 3. */
function seed(i: number) {
  const received = new Date(Date.UTC(2024, 0, 1) + i * 60_000).toISOString();
  const status = STATUS[i % 3]!;
  return record({ wo_id: idOf(i), title: `seeded ${i}`, status, times: { received, finished: received }, ...(status === 'failed' ? { error: { code: 'TEST_FAILED', message: 'x' } } : {}) });
}

const NEW = `wo_id: WO-P-NEW
title: a new one
type: apply_patch
files:
  - path: tmp/paging.txt
    content: |
      hello
`;

/** A port free right now (the daemon is restarted on it, so the page's event stream reconnects to the same URL). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

const rowIds = (page: Page) => page.locator('#rows tr.wo').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.id!));

describe.skipIf(!haveChromium)('dashboard paging and live updates on the real daemon (300 records)', () => {
  let root: string;
  let daemon: DaemonHandle;
  let base: string;
  let token: string;
  let browser: Browser;
  let page: Page;
  /** The query strings of every list request (/api/wos, not /api/wos/<id>) the page made. */
  const lists: string[] = [];
  /** Every list and stream request with its time, for the message of a failed count. */
  const trail: string[] = [];
  const problems: string[] = [];

  beforeAll(async () => {
    root = tempRoot(`http:\n  port: ${await freePort()}\nlanes: [CLC, OTHER]\n`);
    const state = layout(root).state;
    fs.mkdirSync(state, { recursive: true, mode: 0o700 });
    for (let i = 0; i < N; i++) fs.writeFileSync(path.join(state, `${idOf(i)}.json`), JSON.stringify(seed(i)));
    daemon = await startDaemon(root);
    const info = JSON.parse(fs.readFileSync(path.join(root, 'g/run/daemon.json'), 'utf8'));
    base = `http://127.0.0.1:${info.port}`;
    token = fs.readFileSync(path.join(root, 'g/run/token'), 'utf8').trim();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname === '/api/wos') lists.push(u.search);
      if (u.pathname === '/api/wos' || u.pathname === '/api/events') trail.push(`${Date.now() % 100_000} ${u.pathname}${u.search.replace(/token=[^&]*/, 'token=…')}`);
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    expect(await daemon?.stop()).toBe(0);
  });

  it('first render: one page of 50 and the totals of all 300', async () => {
    await page.goto(`${base}/#token=${token}`);
    await page.waitForFunction(() => document.querySelectorAll('#rows tr.wo').length === 50, undefined, { timeout: 20_000 });
    const ids = await rowIds(page);
    expect(ids[0]).toBe(idOf(N - 1));
    expect(ids[49]).toBe(idOf(N - 50));
    await page.waitForFunction(() => document.getElementById('shown')!.textContent === '50 of 300', undefined, { timeout: 10_000 });
    await page.locator('#allCount').filter({ hasText: '300 in all' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('#counts').textContent()).toContain('failed 100');
    // The page is read with a limit; never the whole list.
    expect(lists.length).toBeGreaterThan(0);
    for (const q of lists.filter((s) => !s.includes('awaiting_approval'))) expect(new URLSearchParams(q).get('limit')).toBe('50');
    expect(await page.locator('#more').isVisible()).toBe(true);
  });

  it('"Load more" adds the next 50, in order, without duplicates', async () => {
    await page.click('#more');
    await page.waitForFunction(() => document.querySelectorAll('#rows tr.wo').length >= 100, undefined, { timeout: 20_000 });
    await page.waitForFunction(() => !(document.getElementById('more') as HTMLButtonElement).disabled);
    const ids = await rowIds(page);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.slice(0, 100)).toEqual(Array.from({ length: 100 }, (_, k) => idOf(N - 1 - k)));
    expect(lists.some((q) => new URLSearchParams(q).has('cursor'))).toBe(true);
    expect(await page.locator('#shown').textContent()).toBe(`${ids.length} of 300`);
  });

  it('a new WO appears at the top through the event stream, and a status change updates its row in place — no list request', async () => {
    const before = lists.length;
    const shown = (await rowIds(page)).length;
    dropComplete(root, 'CLC', 'new.yaml', NEW);
    await page.locator('#rows tr.wo[data-id="WO-P-NEW"]').waitFor({ timeout: 30_000 });
    expect((await rowIds(page))[0]).toBe('WO-P-NEW');
    await waitFor(() => readRecord(root, 'WO-P-NEW')?.status === 'succeeded', { timeout: 30_000, what: 'new WO succeeded' });
    await page.waitForFunction(() => document.querySelector('tr[data-id="WO-P-NEW"] .st')?.textContent === 'succeeded', undefined, { timeout: 10_000 });
    await page.locator('#allCount').filter({ hasText: '301 in all' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('#shown').textContent()).toBe(`${shown + 1} of 301`);

    // Rolled back over the API: the same row element changes, in place.
    await page.evaluate(() => ((document.querySelector('tr[data-id="WO-P-NEW"]') as HTMLElement).dataset.mark = 'kept'));
    const r = await fetch(`${base}/api/wos/WO-P-NEW/rollback`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{}' });
    expect(r.status).toBe(200);
    await page.waitForFunction(() => document.querySelector('tr[data-id="WO-P-NEW"] .st')?.textContent === 'reverted', undefined, { timeout: 20_000 });
    expect(await page.locator('tr[data-id="WO-P-NEW"]').getAttribute('data-mark')).toBe('kept');
    expect((await rowIds(page))[0]).toBe('WO-P-NEW');
    expect(await page.locator('#rows tr.wo').count()).toBe(shown + 1);
    expect(lists.slice(before)).toEqual([]);
  });

  it('filters reload page 1 from the server', async () => {
    const before = lists.length;
    await page.selectOption('#fStatus', 'failed');
    await waitFor(() => lists.slice(before).some((q) => new URLSearchParams(q).get('status') === 'failed'), { what: 'a request with status=failed' });
    // Page 1 of the 100 failed ones (the list's end may be in view, so scrolling may load page 2 at once).
    await page.waitForFunction(() => [...document.querySelectorAll('#rows tr.wo .st')].every((e) => e.textContent === 'failed') && document.querySelectorAll('#rows tr.wo').length >= 50, undefined, { timeout: 10_000 });
    await page.waitForFunction(() => /^(50|100) of 100$/.test(document.getElementById('shown')!.textContent ?? ''), undefined, { timeout: 10_000 });

    const mark = lists.length;
    await page.fill('#fText', 'P-01');
    await waitFor(() => lists.slice(mark).some((q) => new URLSearchParams(q).get('q') === 'P-01' && new URLSearchParams(q).get('status') === 'failed'), { what: 'a request with q and status' });
    const want = Array.from({ length: N }, (_, i) => i).filter((i) => i % 3 === 1 && idOf(i).includes('P-01')).map(idOf).reverse();
    await page.waitForFunction((n) => document.querySelectorAll('#rows tr.wo').length === n, want.length, { timeout: 10_000 });
    expect(await rowIds(page)).toEqual(want);
    expect(await page.locator('#shown').textContent()).toBe(`${want.length} of ${want.length}`);
    expect(await page.locator('#more').isHidden()).toBe(true);

    // The text filter reloads after a 250 ms pause in typing: wait for that request before the next change, so no
    // load of this test arrives during the next ones.
    const cleared = lists.length;
    await page.fill('#fText', '');
    await waitFor(() => lists.slice(cleared).some((q) => !new URLSearchParams(q).has('q')), { what: 'the reload without q' });
    await page.selectOption('#fStatus', '');
    await page.waitForFunction(() => document.querySelectorAll('#rows tr.wo').length >= 50 && document.querySelector('#rows tr.wo')!.getAttribute('data-id') === 'WO-P-NEW', undefined, { timeout: 10_000 });
  });

  it('Pause/Resume claiming from the header', async () => {
    await page.locator('#pauseBtn').filter({ hasText: 'Pause claiming' }).waitFor({ timeout: 10_000 });
    await page.click('#pauseBtn');
    await page.locator('#paused').filter({ hasText: 'paused: all lanes' }).waitFor({ timeout: 10_000 });
    expect(JSON.parse(fs.readFileSync(path.join(root, 'g/run/paused.json'), 'utf8')).all).toBe(true);
    await page.locator('#pauseBtn').filter({ hasText: 'Resume claiming' }).waitFor();
    await page.click('#pauseBtn');
    await page.locator('#paused').waitFor({ state: 'hidden', timeout: 10_000 });
  });

  it('a reconnect (the daemon restarted) reloads page 1 once, then goes on with live updates', async () => {
    expect(await daemon.stop()).toBe(0);
    await page.locator('#live.warn').waitFor({ timeout: 20_000 });
    const before = lists.length;
    daemon = await startDaemon(root);
    await page.locator('#live.ok').waitFor({ timeout: 30_000 });
    await waitFor(() => lists.length > before, { timeout: 20_000, what: 'page 1 reloaded after the reconnect' });
    dropComplete(root, 'CLC', 'after.yaml', NEW.replace('WO-P-NEW', 'WO-P-AFTER').replace('paging.txt', 'after.txt'));
    await page.locator('#rows tr.wo[data-id="WO-P-AFTER"]').waitFor({ timeout: 30_000 });
    expect((await rowIds(page))[0]).toBe('WO-P-AFTER');
    expect(lists.slice(before).filter((q) => !q.includes('awaiting_approval')), trail.join('\n')).toHaveLength(1);
    expect(new URLSearchParams(lists[before]!).has('cursor')).toBe(false);
    // A failed fetch while the daemon was down is the only expected console noise.
    expect(problems.filter((p) => !/ERR_CONNECTION_REFUSED|Failed to load resource|net::/.test(p))).toEqual([]);
  });
});
