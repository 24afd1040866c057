import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { record, startHarness, TOKEN, type Harness } from './fixtures.js';
import { waitFor } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
if (!haveChromium) console.log(`dashboard browser tests skipped: ${CHROMIUM} is missing (apt-get install chromium)`);

const DIFF = '--- a/tmp/x.txt\n+++ b/tmp/x.txt\n@@ -1 +1 @@\n-old line\n+new line\n';

describe.skipIf(!haveChromium)('dashboard in headless Chromium', () => {
  let h: Harness;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  beforeAll(async () => {
    h = await startHarness([
      record({
        wo_id: 'WO-OK',
        status: 'succeeded',
        times: { received: '2024-05-01T10:00:00Z', finished: '2024-05-01T10:00:02Z' },
        files: [{ path: 'tmp/x.txt', action: 'write', before_sha256: 'b'.repeat(64), after_sha256: 'c'.repeat(64), mode: '0644' }],
        plan: [{ step: 'write', path: 'tmp/x.txt', verdict: 'will change', diff: DIFF }],
        commands: [{ phase: 'post_verify', cmd: 'cat tmp/x.txt', exit_code: 0, signal: null, timed_out: false, duration_ms: 12, stdout_tail: 'new line\n', stderr_tail: '' }],
      }),
      record({
        wo_id: 'WO-FAIL',
        lane: 'OPS',
        status: 'failed',
        stage: 'tests',
        stage_index: 8,
        rolled_back: true,
        times: { received: '2024-05-01T10:01:00Z' },
        tests: [{ name: 'All agents running', expected: '4', actual: '3', passed: false }],
        error: { code: 'TEST_FAILED', message: 'test \'All agents running\': expected "4", got "3"' },
      }),
      record({
        wo_id: 'WO-HELD',
        status: 'awaiting_approval',
        stage: 'held',
        stage_index: 3,
        title: '<img src=x id=pwned onerror="document.title=1">',
        hold_reasons: ['command `rm` is not in policy.allow_commands'],
        times: { received: '2024-05-01T10:02:00Z' },
      }),
    ]);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('loads with the token in the fragment, lists WOs, shows detail, updates live, approves', async () => {
    await page.goto(`${h.base}/#token=${TOKEN}`);
    await page.locator('tr[data-id="WO-FAIL"]').waitFor();
    expect(await page.locator('tbody#rows tr.wo').count()).toBe(3);
    expect(await page.locator('#daemon').textContent()).toMatch(/daemon running/);
    expect(await page.locator('#guard').textContent()).toBe('guardrail healthy');
    await page.locator('#live.ok').waitFor();

    // hostile text is shown as text, never parsed
    expect(await page.locator('#pwned').count()).toBe(0);
    expect(await page.locator('[data-held="WO-HELD"]').textContent()).toContain('rm` is not in policy.allow_commands');
    expect(await page.locator('tr[data-id="WO-HELD"]').textContent()).toContain('<img src=x');

    // filters
    await page.selectOption('#fStatus', 'failed');
    expect(await page.locator('tbody#rows tr.wo').count()).toBe(1);
    await page.selectOption('#fStatus', '');
    await page.selectOption('#fLane', 'OPS');
    expect(await page.locator('tbody#rows tr.wo').count()).toBe(1);
    await page.selectOption('#fLane', '');
    await page.fill('#fText', 'agents');
    await page.waitForFunction(() => document.querySelectorAll('tbody#rows tr.wo').length === 1);
    await page.fill('#fText', '');

    // detail: tests expected/actual and the error; files and diff
    await page.click('tr[data-id="WO-FAIL"]');
    await page.locator('#detail >> text=TEST_FAILED').waitFor();
    expect(await page.locator('#detail').textContent()).toContain('All agents running');
    await page.click('tr[data-id="WO-OK"]');
    await page.locator('#detail pre.diff').waitFor();
    expect(await page.locator('#detail .d-add').first().textContent()).toBe('+new line\n');
    expect(await page.locator('#detail .d-del').first().textContent()).toBe('-old line\n');
    expect(await page.locator('#detail').textContent()).toContain('cat tmp/x.txt');
    await page.screenshot({ path: path.join(h.root, 'dashboard-detail.png'), fullPage: true });

    // a NEW record + telemetry after load shows up without reload
    const marker = await page.evaluate(() => ((window as unknown as { __marker: number }).__marker = 42));
    await h.store.write(record({ wo_id: 'WO-NEW', status: 'running', stage: 'apply', stage_index: 5, times: { received: new Date().toISOString() } }));
    h.telemetry.emit('daemon', 'wo_started', { wo_id: 'WO-NEW' });
    await page.locator('tr[data-id="WO-NEW"]').waitFor({ timeout: 10_000 });
    expect(await page.evaluate(() => (window as unknown as { __marker: number }).__marker)).toBe(marker);
    expect(await page.locator('#events').textContent()).toContain('wo_started');
    expect(await page.locator('tr[data-id="WO-NEW"]').textContent()).toContain('apply 5/9');

    // approve a held WO through the API with the bearer header
    await page.click('[data-held="WO-HELD"] button.approve');
    await waitFor(() => h.acted.includes('approve:WO-HELD'), { what: 'approve posted' });
    h.telemetry.emit('daemon', 'wo_approved', { wo_id: 'WO-HELD' });
    await page.waitForFunction(() => !document.querySelector('[data-held="WO-HELD"]'));
    await page.screenshot({ path: path.join(h.root, 'dashboard.png'), fullPage: true });
    if (process.env.WO_SCREENSHOT_DIR) fs.copyFileSync(path.join(h.root, 'dashboard-detail.png'), path.join(process.env.WO_SCREENSHOT_DIR, 'dashboard-detail.png'));
    expect(fs.statSync(path.join(h.root, 'dashboard.png')).size).toBeGreaterThan(1000);
    expect(problems.filter((p) => !/favicon/.test(p))).toEqual([]);
  });

  it('without a token it says how to get one', async () => {
    const p2 = await browser.newPage();
    await p2.goto(`${h.base}/`);
    await p2.locator('#banner.show').waitFor();
    expect(await p2.locator('#banner').textContent()).toMatch(/wo dashboard/);
    await p2.close();
  });
});
