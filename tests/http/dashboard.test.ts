/** The dashboard in headless Chromium: layout at 1280 and 390 px, keyboard, deep links, backlog, actions with reasons. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { record, startHarness, TOKEN, type Harness } from './fixtures.js';
import { waitFor } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) console.log(`dashboard browser tests skipped: ${CHROMIUM} is missing (apt-get install chromium)`);

/** Screenshots land here (the test output folder), to be looked at. */
const ARTIFACTS = path.resolve(process.env.WO_SCREENSHOT_DIR ?? 'dist/test-artifacts');

const DIFF = '--- a/tmp/x.txt\n+++ b/tmp/x.txt\n@@ -1 +1 @@\n-old line\n+new line\n';
const FAIL_DIFF = '--- a/app/config.json\n+++ b/app/config.json\n@@ -1,3 +1,3 @@\n {\n-  "agents": 4\n+  "agents": 3\n }\n';
const HELD_DIFF = '--- /dev/null\n+++ b/scripts/deploy.sh\n@@ -0,0 +1,2 @@\n+#!/bin/sh\n+node deploy.js <script>x</script>\n';
const LONG_ID = `WO-${'very-long-identifier-'.repeat(5)}end`;

/** Stage times 10:00:00 → 10:00:05.1 (durations 500 ms … 2.0 s). */
const TIMES = {
  received: '2024-05-01T10:00:00.000Z',
  validated: '2024-05-01T10:00:00.500Z',
  snapshot: '2024-05-01T10:00:01.000Z',
  apply: '2024-05-01T10:00:01.200Z',
  commands: '2024-05-01T10:00:02.000Z',
  post_verify: '2024-05-01T10:00:04.000Z',
  tests: '2024-05-01T10:00:04.500Z',
  commit: '2024-05-01T10:00:05.000Z',
  finished: '2024-05-01T10:00:05.100Z',
};

const LAUNCH = ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function records() {
  return [
    record({
      wo_id: 'WO-OK',
      status: 'succeeded',
      times: TIMES,
      files: [{ path: 'tmp/x.txt', action: 'write', before_sha256: 'b'.repeat(64), after_sha256: 'c'.repeat(64), mode: '0644' }],
      plan: [{ step: 'write', path: 'tmp/x.txt', verdict: 'will change', diff: DIFF }],
      commands: [{ phase: 'post_verify', cmd: 'cat tmp/x.txt', exit_code: 0, signal: null, timed_out: false, duration_ms: 12, stdout_tail: 'new line\n', stderr_tail: '' }],
      ...({ actions: [{ action: 'approve', ts: '2024-05-01T10:00:00.400Z', by: { uid: 1000, channel: 'http' }, reason: 'looked at the diff' }] } as object),
    }),
    record({
      wo_id: 'WO-FAIL',
      lane: 'OPS',
      status: 'failed',
      stage: 'tests',
      stage_index: 8,
      rolled_back: true,
      times: { received: '2024-05-01T10:01:00.000Z', validated: '2024-05-01T10:01:00.250Z', snapshot: '2024-05-01T10:01:00.500Z', apply: '2024-05-01T10:01:01.000Z', tests: '2024-05-01T10:01:03.000Z', finished: '2024-05-01T10:01:04.000Z' },
      plan: [{ step: 'write', path: 'app/config.json', verdict: 'will change', diff: FAIL_DIFF }],
      tests: [{ name: 'All agents running', expected: '4', actual: '3', passed: false }],
      error: { code: 'TEST_FAILED', message: 'test \'All agents running\': expected "4", got "3"' },
    }),
    record({
      wo_id: 'WO-HELD',
      type: 'exec',
      status: 'awaiting_approval',
      stage: 'held',
      stage_index: 3,
      title: '<img src=x id=pwned onerror="document.title=1">',
      hold_reasons: ["'node' is not on policy.allow_commands"],
      times: { received: '2024-05-01T10:02:00.000Z', validated: '2024-05-01T10:02:00.100Z', held: '2024-05-01T10:02:00.200Z' },
      plan: [
        { step: 'write', path: 'scripts/deploy.sh', verdict: 'will change', diff: HELD_DIFF },
        { step: 'command', cmd: 'node deploy.js', verdict: 'unknown', ...({ policy: 'held', why: ["'node' is not on policy.allow_commands"] } as object) },
      ] as never,
    }),
    record({ wo_id: LONG_ID, title: 'x'.repeat(300), status: 'running', stage: 'apply', stage_index: 5, times: { received: '2024-05-01T10:03:00.000Z' } }),
  ];
}

async function noSideScroll(page: Page): Promise<{ scrollWidth: number; innerWidth: number }> {
  return page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
}

describe.skipIf(!haveChromium)('dashboard in headless Chromium', () => {
  let h: Harness;
  let browser: Browser;
  const problems: string[] = [];
  const posts: { url: string; body: string | null; auth: string | undefined }[] = [];

  async function open(width: number, hash = `#token=${TOKEN}`): Promise<Page> {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('request', (r) => {
      if (r.method() === 'POST') posts.push({ url: r.url(), body: r.postData(), auth: r.headers()['authorization'] });
    });
    await page.goto(`${h.base}/${hash}`);
    await page.locator('tr[data-id="WO-FAIL"]').waitFor();
    return page;
  }

  beforeAll(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    h = await startHarness(records());
    // Events written before any page is open: the feed must start with them.
    h.telemetry.emit('daemon', 'wo_received', { wo_id: 'WO-OK' });
    h.telemetry.emit('daemon', 'wo_failed', { wo_id: 'WO-FAIL', ok: false });
    h.telemetry.emit('daemon', 'wo_held', { wo_id: 'WO-HELD' });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH });
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('1280 px: full-width list, backlog in the feed, guardrail in words, hostile text stays text, no CSP violations', async () => {
    const page = await open(1280);
    expect(await page.locator('#rows tr.wo').count()).toBe(4);
    expect(await page.locator('#daemon').textContent()).toMatch(/daemon running/);
    expect(await page.locator('#guardText').textContent()).toMatch(/^healthy — 2 protected components/);
    expect(await page.locator('#paused').isHidden()).toBe(true);
    await page.locator('#live.ok').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('#events li.backlog').length === 3);
    expect(await page.locator('#events').textContent()).toContain('wo_failed');
    // the list takes the width; the drawer is closed
    const table = await page.locator('table.wos').boundingBox();
    expect(table!.width).toBeGreaterThan(1100);
    expect(await page.locator('#drawer').isHidden()).toBe(true);
    expect(await noSideScroll(page)).toEqual({ scrollWidth: 1280, innerWidth: 1280 });
    // hostile text is shown as text, never parsed
    expect(await page.locator('#pwned').count()).toBe(0);
    expect(await page.locator('tr[data-id="WO-HELD"]').textContent()).toContain('<img src=x');
    expect(await page.locator('[data-held="WO-HELD"] .d-add').last().textContent()).toBe('+node deploy.js <script>x</script>\n');
    // filters (server-side: a changed filter reloads page 1; the text matches the id or the title)
    await page.selectOption('#fStatus', 'failed');
    await page.waitForFunction(() => document.querySelectorAll('#rows tr.wo').length === 1);
    expect(await page.locator('#rows tr.wo').getAttribute('data-id')).toBe('WO-FAIL');
    await page.selectOption('#fStatus', '');
    await page.waitForFunction(() => document.querySelectorAll('#rows tr.wo').length === 4);
    await page.fill('#fText', 'img src');
    await page.waitForFunction(() => document.querySelectorAll('#rows tr.wo').length === 1);
    expect(await page.locator('#rows tr.wo').getAttribute('data-id')).toBe('WO-HELD');
    await page.fill('#fText', '');
    await page.waitForFunction(() => document.querySelectorAll('#rows tr.wo').length === 4);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-1280.png'), fullPage: true });

    // a live event is announced through the aria-live region and the list updates without reload
    await h.store.write(record({ wo_id: 'WO-NEW', status: 'running', stage: 'apply', stage_index: 5, times: { received: new Date().toISOString() } }));
    h.telemetry.emit('daemon', 'wo_started', { wo_id: 'WO-NEW' });
    await page.locator('tr[data-id="WO-NEW"]').waitFor({ timeout: 10_000 });
    expect(await page.locator('#announce[aria-live="polite"]').textContent()).toBe('wo_started WO-NEW');
    expect(await page.locator('#events li').first().textContent()).toContain('wo_started');
    await page.close();
  });

  it('keyboard: rows are focusable, Enter opens the drawer with a stage timeline, arrows move, Escape closes', async () => {
    const page = await open(1280);
    // newest first: … WO-FAIL, WO-OK
    await page.locator('tr[data-id="WO-FAIL"]').focus();
    await page.keyboard.press('ArrowDown');
    expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.id)).toBe('WO-OK');
    await page.keyboard.press('ArrowUp');
    expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.id)).toBe('WO-FAIL');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await page.locator('#drawer .timeline').waitFor();
    expect(await page.locator('#drawerTitle').textContent()).toContain('WO-OK');
    expect(page.url()).toContain('wo=WO-OK');
    expect(await page.locator('#drawer [data-stage="commands"]').textContent()).toBe('2.0 s');
    expect(await page.locator('#drawer [data-stage="apply"]').textContent()).toBe('800 ms');
    expect(await page.locator('#drawer .dur.total').last().textContent()).toBe('5.1 s');
    expect(await page.locator('#drawer .d-add').first().textContent()).toBe('+new line\n');
    expect(await page.locator('#drawer .d-del').first().textContent()).toBe('-old line\n');
    expect(await page.locator('#drawer').textContent()).toContain('cat tmp/x.txt');
    expect(await page.locator('#drawer .actions-log').textContent()).toMatch(/approve by uid 1000 via http .*looked at the diff/);
    expect(await page.locator('#drawer button[data-action]').allTextContents()).toEqual(['Roll back']);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-1280-drawer.png') });
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => document.getElementById('drawer')!.hidden);
    expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.id)).toBe('WO-OK');
    expect(page.url()).not.toContain('wo=');
    await page.close();
  });

  it('a #wo=ID deep link opens that WO, and following another link switches it', async () => {
    const page = await open(1280, `#token=${TOKEN}&wo=WO-FAIL`);
    await page.locator('#drawer pre.diff').waitFor();
    expect(await page.locator('#drawerTitle').textContent()).toContain('WO-FAIL');
    expect(await page.locator('#drawer').textContent()).toContain('Plan (what it attempted)');
    expect(await page.locator('#drawer .d-add').first().textContent()).toBe('+  "agents": 3\n');
    await page.evaluate(() => { location.hash = 'wo=WO-OK'; });
    await page.waitForFunction(() => document.getElementById('drawerTitle')!.textContent!.includes('WO-OK'));
    await page.close();
  });

  it('retry of a failed WO: confirmed in a dialog, the reason is POSTed with the bearer token', async () => {
    const page = await open(1280, `#token=${TOKEN}&wo=WO-FAIL`);
    await page.locator('#drawer button[data-action="retry"]').click();
    await page.locator('#confirm[open]').waitFor();
    expect(await page.locator('#confirmTitle').textContent()).toBe('Retry WO-FAIL?');
    // Going back does nothing
    await page.locator('#confirmNo').click();
    await page.waitForFunction(() => !document.querySelector('#confirm[open]'));
    expect(h.acted).not.toContain('retry:WO-FAIL');
    await page.locator('#drawer button[data-action="retry"]').click();
    await page.fill('#confirmReason', 'flaky agent count');
    await page.locator('#confirmYes').click();
    await waitFor(() => h.acted.includes('retry:WO-FAIL'), { what: 'retry posted' });
    const post = posts.find((p) => p.url.endsWith('/api/wos/WO-FAIL/retry'));
    expect(post?.auth).toBe(`Bearer ${TOKEN}`);
    expect(JSON.parse(post!.body!)).toEqual({ reason: 'flaky agent count' });
    await page.waitForFunction(() => document.querySelector('#drawerTitle .st')?.textContent === 'queued');
    expect(await page.locator('#drawer button[data-action]').allTextContents()).toEqual(['Cancel']);
    await page.close();
  });

  it('approval of a held WO with its plan (diff and command policy) in front of you', async () => {
    const page = await open(1280);
    const card = page.locator('[data-held="WO-HELD"]');
    expect(await card.locator('pre.diff').count()).toBe(1);
    expect(await card.textContent()).toContain('needs approval');
    await card.locator('button[data-action="approve"]').click();
    await page.locator('#confirm[open]').waitFor();
    await page.locator('#confirmYes').click();
    await waitFor(() => h.acted.includes('approve:WO-HELD'), { what: 'approve posted' });
    expect(JSON.parse(posts.find((p) => p.url.endsWith('/api/wos/WO-HELD/approve'))!.body!)).toEqual({});
    await page.waitForFunction(() => !document.querySelector('[data-held="WO-HELD"]'));
    await page.close();
  });

  it('390 px: no sideways scroll, list or drawer; a refused action says why', async () => {
    const page = await open(390);
    await page.locator('#live.ok').waitFor();
    const list = await noSideScroll(page);
    expect(list.scrollWidth).toBeLessThanOrEqual(list.innerWidth);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-390.png'), fullPage: true });
    await page.locator(`tr[data-id="${LONG_ID}"]`).click();
    await page.locator('#drawer .timeline').waitFor();
    const drawer = await noSideScroll(page);
    expect(drawer.scrollWidth).toBeLessThanOrEqual(drawer.innerWidth);
    expect((await page.locator('#drawer').boundingBox())!.width).toBeLessThanOrEqual(390);
    const inner = await page.evaluate(() => { const d = document.getElementById('detail')!; return { scrollWidth: d.scrollWidth, clientWidth: d.clientWidth }; });
    expect(inner.scrollWidth).toBeLessThanOrEqual(inner.clientWidth);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-390-drawer.png') });
    await page.keyboard.press('Escape');
    await page.locator('tr[data-id="WO-OK"]').click();
    await page.locator('#drawer pre.diff').waitFor();
    const diff = await noSideScroll(page);
    expect(diff.scrollWidth).toBeLessThanOrEqual(diff.innerWidth);
    const inner2 = await page.evaluate(() => { const d = document.getElementById('detail')!; return { scrollWidth: d.scrollWidth, clientWidth: d.clientWidth }; });
    expect(inner2.scrollWidth).toBeLessThanOrEqual(inner2.clientWidth);
    // the harness refuses a rollback of a WO that is no longer succeeded
    const rec = (await h.store.read('WO-OK'))!;
    await h.store.write({ ...rec, status: 'reverted' });
    await page.locator('#drawer button[data-action="rollback"]').click();
    await page.locator('#confirmYes').click();
    await page.locator('#banner.show').waitFor();
    expect(await page.locator('#banner').textContent()).toMatch(/Roll back WO-OK: .*reverted/);
    await h.store.write(rec);
    await page.close();
    expect(fs.statSync(path.join(ARTIFACTS, 'dashboard-390.png')).size).toBeGreaterThan(1000);
    expect(problems.filter((p) => !/favicon|409/.test(p))).toEqual([]);
  });

  it('without a token it says how to get one', async () => {
    const p2 = await browser.newPage();
    await p2.goto(`${h.base}/`);
    await p2.locator('#banner.show').waitFor();
    expect(await p2.locator('#banner').textContent()).toMatch(/wo dashboard/);
    await p2.close();
  });
});

describe.skipIf(!haveChromium)('dashboard: drift and pause in words', () => {
  it('names the drifted components and the paused lanes', async () => {
    const h = await startHarness([record({ wo_id: 'WO-A' })], {
      deps: {
        status: async () => ({
          daemon: { running: true, pid: process.pid, root: '/r' },
          guardrail: { healthy: false, protected: 3, drift: [{ kind: 'missing', path: 'bin/agent' }, { kind: 'broken', path: 'etc/app.json', code: 'invalid_json', why: 'not valid JSON' }] },
          counts: { succeeded: 1 },
          paused: { all: false, lanes: ['CLC', 'OPS'] },
        }),
      },
    });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: LAUNCH });
    try {
      const page = await browser.newPage({ viewport: { width: 390, height: 800 } });
      await page.goto(`${h.base}/#token=${TOKEN}`);
      await page.locator('tr[data-id="WO-A"]').waitFor();
      expect(await page.locator('#guardText').textContent()).toBe('2 components drifted: bin/agent, etc/app.json');
      expect(await page.locator('#guardDrift').textContent()).toContain('etc/app.json: not valid JSON');
      expect(await page.locator('#guard').textContent()).toBe('guardrail: 2 drifted');
      expect(await page.locator('#paused').textContent()).toBe('paused: CLC, OPS');
      const s = await noSideScroll(page);
      expect(s.scrollWidth).toBeLessThanOrEqual(s.innerWidth);
      await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-390-drift.png'), fullPage: true });
    } finally {
      await browser.close();
      await h.close();
    }
  });
});
