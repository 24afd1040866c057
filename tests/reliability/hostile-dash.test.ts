/**
 * The incremental dashboard under a burst: with the page open on seeded records, a burst of WOs (one with a hostile
 * title) runs through the real daemon. The page makes no list request for any of it, and once the daemon is idle
 * the rows it shows (id, status, order) and its totals equal what the API answers read afresh.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { readRecord, tempRoot, waitFor } from '../helpers.js';
import { T, daemonPool, dropAtomic, size, woText } from './common.js';
import { record } from '../http/fixtures.js';
import { layout } from '../../src/layout.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
const LAUNCH = ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const pool = daemonPool();
afterEach(() => pool.cleanup());

const SEEDED = 120;
const BURST = size(60, 1000);
const HOSTILE = '<img src=x id=pwned onerror="document.title=1">';

describe.skipIf(!haveChromium)('reliability: the dashboard through a burst', () => {
  it(`${BURST} WOs while the page is open: no list re-fetch, and it ends equal to the API read afresh`, async () => {
    const root = tempRoot('http:\n  port: 0\nconcurrency: 4\nlanes: [CLC]\npolicy:\n  autonomy: auto\n');
    const state = layout(root).state;
    fs.mkdirSync(state, { recursive: true, mode: 0o700 });
    for (let i = 0; i < SEEDED; i++) {
      const received = new Date(Date.UTC(2024, 0, 1) + i * 1000).toISOString();
      const rec = record({ wo_id: `SEED-${String(i).padStart(4, '0')}`, status: i % 2 ? 'failed' : 'succeeded', times: { received, finished: received } });
      fs.writeFileSync(path.join(state, `${rec.wo_id}.json`), JSON.stringify(rec));
    }
    const daemon = await pool.start(root);
    const info = JSON.parse(fs.readFileSync(path.join(root, 'g/run/daemon.json'), 'utf8'));
    const base = `http://127.0.0.1:${info.port}`;
    const token = fs.readFileSync(path.join(root, 'g/run/token'), 'utf8').trim();
    const get = async (p: string) => (await fetch(`${base}${p}`, { headers: { Authorization: `Bearer ${token}` } })).json();

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const lists: string[] = [];
      page.on('request', (r) => {
        const u = new URL(r.url());
        if (u.pathname === '/api/wos') lists.push(u.search);
      });
      await page.goto(`${base}/#token=${token}`);
      await page.waitForFunction(() => document.querySelectorAll('#rows tr.wo').length === 50, undefined, { timeout: 20_000 });
      await page.locator('#live.ok').waitFor();
      const before = lists.length;

      const inbox = path.join(root, 'bridge/inbox/CLC');
      const ids = Array.from({ length: BURST }, (_, i) => `DB-${String(i).padStart(5, '0')}`);
      for (const [i, id] of ids.entries()) {
        const text = i === 7 ? woText(id, 'new').replace(/^title: .*$/m, `title: ${JSON.stringify(HOSTILE)}`) : woText(id, 'new');
        dropAtomic(inbox, `${id}.yaml`, text);
      }
      await waitFor(() => ids.every((id) => readRecord(root, id)?.status === 'succeeded'), { timeout: T(60_000, 600_000), interval: 200, what: 'the burst done' });

      // Fresh from the API: page 1 and the pages after it, as many rows as the page shows.
      const total = SEEDED + BURST;
      const want: [string, string][] = [];
      for (let cursor: string | null = null; ;) {
        const pg: { items: { wo_id: string; status: string }[]; next_cursor: string | null } = await get(`/api/wos?view=items&limit=500${cursor ? `&cursor=${cursor}` : ''}`);
        want.push(...pg.items.map((w) => [w.wo_id, w.status] as [string, string]));
        cursor = pg.next_cursor;
        if (!cursor || want.length >= 50 + BURST) break;
      }
      const status = await get('/api/status');
      expect(Object.values(status.counts as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(total);

      const shown = () => page.locator('#rows tr.wo').evaluateAll((els) => els.map((e) => [(e as HTMLElement).dataset.id!, e.querySelector('.st')!.textContent!] as [string, string]));
      // Every new WO is newer than every seeded one: the page shows them all above its first 50 seeded rows.
      await waitFor(async () => JSON.stringify(await shown()) === JSON.stringify(want.slice(0, 50 + BURST)), { timeout: T(20_000, 120_000), interval: 250, what: 'the page equal to the API' });
      await page.waitForFunction(({ n, rows }) => document.getElementById('allCount')?.textContent === `${n} in all` && document.getElementById('shown')?.textContent === `${rows} of ${n}`, { n: total, rows: 50 + BURST }, { timeout: 20_000 });
      expect(lists.slice(before)).toEqual([]);
      // Text from the stream stays text.
      expect(await page.locator('#pwned').count()).toBe(0);
      expect(await page.locator('tr[data-id="DB-00007"]').textContent()).toContain('<img src=x');
      expect(await daemon.stop()).toBe(0);
    } finally {
      await browser.close();
    }
  }, T(120_000, 900_000));
});
