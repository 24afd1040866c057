/** End to end: the real daemon (child process) serving HTTP, the real CLI printing the URL, a real browser. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { dropComplete, readRecord, runCli, startDaemon, tempRoot, waitFor, type DaemonHandle } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);

const HELD = `wo_id: WO-E2E-HOLD
title: needs approval
type: exec
commands:
  - "rm -f tmp/nothing"
paths: [tmp]
`;
const OK = `wo_id: WO-E2E-OK
title: write a file
type: apply_patch
files:
  - path: tmp/e2e.txt
    mode: "0644"
    content: |
      hello
tests:
  - name: file there
    command: "cat tmp/e2e.txt"
    expected: "hello"
`;

const FLAKY = `wo_id: WO-E2E-FLAKY
title: needs tmp/state.txt to say ready
type: apply_patch
files:
  - path: tmp/flaky.txt
    content: |
      x
tests:
  - name: state is ready
    command: "cat tmp/state.txt"
    expected: "ready"
`;

describe('dashboard and API against the real daemon', () => {
  let root: string;
  let daemon: DaemonHandle;
  let url: string;
  let base: string;
  let token: string;

  beforeAll(async () => {
    root = tempRoot('http:\n  port: 0\n');
    daemon = await startDaemon(root);
    const r = runCli(['dashboard', '--no-open'], { root, env: { DISPLAY: '' } });
    expect(r.stderr).toBe('');
    url = r.stdout.trim();
    const m = /^http:\/\/127\.0\.0\.1:(\d+)\/#token=(\w+)$/.exec(url);
    expect(m).not.toBeNull();
    base = `http://127.0.0.1:${m![1]}`;
    token = m![2]!;
  });
  afterAll(async () => {
    expect(await daemon?.stop()).toBe(0);
  });

  it('serves health, metrics and the API with the token from g/run/token', async () => {
    expect(fs.readFileSync(path.join(root, 'g/run/token'), 'utf8').trim()).toBe(token);
    expect(fs.statSync(path.join(root, 'g/run/token')).mode & 0o777).toBe(0o600);
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ ok: true });
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${base}/metrics`)).text()).toMatch(/^wo_daemon_up 1$/m);
    expect((await fetch(`${base}/api/wos`)).status).toBe(401);
    const st = await (await fetch(`${base}/api/status`, { headers: { Authorization: `Bearer ${token}` } })).json();
    expect(st.daemon.running).toBe(true);
  });

  it.skipIf(!haveChromium)('the page shows WOs dropped after it loaded, and approving a held one runs it', async () => {
    const browser: Browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(url);
      await page.locator('#live.ok').waitFor();
      dropComplete(root, 'CLC', 'ok.yaml', OK);
      await page.locator('tr[data-id="WO-E2E-OK"] .st-succeeded').waitFor({ timeout: 20_000 });
      // Held after OK created tmp/: approval re-plans, and a target that changed since the hold would hold it again.
      dropComplete(root, 'CLC', 'held.yaml', HELD);
      await page.locator('[data-held="WO-E2E-HOLD"]').waitFor({ timeout: 20_000 });
      expect(await page.locator('[data-held="WO-E2E-HOLD"]').textContent()).toMatch(/not on policy\.allow_commands/);
      await page.click('[data-held="WO-E2E-HOLD"] button.approve');
      await page.locator('#confirm[open]').waitFor();
      await page.click('#confirmYes');
      await waitFor(() => readRecord(root, 'WO-E2E-HOLD')?.status === 'succeeded', { timeout: 20_000, what: 'approved WO succeeded' });
      await page.locator('tr[data-id="WO-E2E-HOLD"] .st-succeeded').waitFor({ timeout: 10_000 });
      expect(await page.locator('[data-held]').count()).toBe(0);
      await page.screenshot({ path: path.join(root, 'e2e.png'), fullPage: true });

      // a failed WO is retried from its drawer (a deep link) once its cause is fixed
      dropComplete(root, 'CLC', 'flaky.yaml', FLAKY);
      await waitFor(() => readRecord(root, 'WO-E2E-FLAKY')?.status === 'failed', { timeout: 20_000, what: 'flaky WO failed' });
      await page.goto(`${url}&wo=WO-E2E-FLAKY`);
      await page.locator('#drawer button[data-action="retry"]').waitFor({ timeout: 10_000 });
      // a failed WO keeps the plan it attempted once the daemon records it (issue 13); the drawer then shows its diff
      if (readRecord(root, 'WO-E2E-FLAKY')?.plan?.length) expect(await page.locator('#drawer .d-add').first().textContent()).toBe('+x\n');
      fs.mkdirSync(path.join(root, 'tmp'), { recursive: true });
      fs.writeFileSync(path.join(root, 'tmp/state.txt'), 'ready\n');
      await page.click('#drawer button[data-action="retry"]');
      await page.fill('#confirmReason', 'state fixed');
      await page.click('#confirmYes');
      await waitFor(() => readRecord(root, 'WO-E2E-FLAKY')?.status === 'succeeded', { timeout: 20_000, what: 'retried WO succeeded' });
      expect(readRecord(root, 'WO-E2E-FLAKY')!.attempt).toBe(2);
      await page.waitForFunction(() => document.querySelector('#drawerTitle .st')?.textContent === 'succeeded', undefined, { timeout: 10_000 });
    } finally {
      await browser.close();
    }
  });
});
