/** The bench's scale section at a tiny size: it runs end to end (real daemon, CLI, HTTP) and writes its JSON keys. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { tempDir } from '../helpers.js';

const MAIN = path.resolve('dist/bench/main.js');

describe('npm run bench: the scale section', () => {
  it('runs at 500 records with a burst of 40 and writes every figure with its target (no time asserted)', () => {
    const out = tempDir('wo-bench-scale-test-');
    onTestFinished(() => fs.rmSync(out, { recursive: true, force: true }));
    const r = spawnSync(process.execPath, [MAIN, '--only', 'scale', '--scale-records', '500', '--scale-burst', '40', '--json', '--report-dir', out], { encoding: 'utf8', timeout: 280_000, env: { ...process.env, WO_NOTIFY_DESKTOP: '0' } });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { scale: Record<string, any>; rows: { metric: string; goal: string; pass: boolean | null }[] };
    const files = fs.readdirSync(out).filter((f) => /^bench-.*\.json$/.test(f));
    expect(files).toHaveLength(1);
    expect(JSON.parse(fs.readFileSync(path.join(out, files[0]!), 'utf8'))).toEqual(report);
    const s = report.scale;
    expect(s.records).toBe(500);
    for (const k of ['config', 'load_avg', 'synthesise', 'start', 'rss_mb', 'api', 'cli', 'dashboard', 'rebuild', 'burst', 'targets', 'passed']) expect(s, k).toHaveProperty(k);
    expect(s.start.ready_ms.length).toBeGreaterThan(0);
    expect(typeof s.start.first_ready_ms).toBe('number');
    for (const k of ['after_start', 'after_refreshes']) expect(s.rss_mb[k]).toBeGreaterThan(0);
    for (const k of ['first_page', 'first_page_items', 'deep_page']) for (const q of ['p50_ms', 'p99_ms']) expect(typeof s.api[k][q]).toBe('number');
    expect(s.api.deep_page.depth).toBeGreaterThanOrEqual(250);
    expect(s.cli.wo_status.exit).toBe(0);
    expect(s.cli.wo_ls_failed.exit).toBe(0);
    expect(s.rebuild.rows).toBeGreaterThanOrEqual(500);
    expect(typeof s.rebuild.s_per_million).toBe('number');
    // Every burst WO of both runs completed.
    expect(s.burst.without_records).toMatchObject({ n: 40, completed: 40, failed: 0 });
    expect(s.burst.with_records).toMatchObject({ n: 40, completed: 40, failed: 0 });
    expect(s.burst.without_records_after).toMatchObject({ n: 40, completed: 40, failed: 0 });
    if (fs.existsSync('/usr/bin/chromium')) expect(s.dashboard.rows).toBeGreaterThan(0);
    else expect(s.dashboard.skipped).toBeTruthy();
    // Each issue-10 target is a table row with its goal beside it.
    const goals = report.rows.map((x) => x.goal);
    for (const g of ['≤ 1500', '≤ 150', '≤ 400', 'p99 ≤ 20', '≤ 500', '≤ 60', '≥ 0.95× without']) expect(goals).toContain(g);
  }, 300_000);
});
