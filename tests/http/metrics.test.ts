/** /metrics: Node/process metrics under prom-client's names, ours under wo_, and the docs' dashboards/alerts use only real names. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { createMetrics, lagSeconds, LAG_RESOLUTION_MS } from '../../src/http/metrics.js';
import type { WoRecord } from '../../src/state/record.js';
import { REPO, dropComplete, readRecord, startDaemon, tempDir, tempRoot, waitFor, type DaemonHandle } from '../helpers.js';

/** Sample lines of an exposition as [name, labels text, value]. */
function samples(text: string): { name: string; labels: string; value: number }[] {
  return text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)/.exec(l);
    if (!m) throw new Error(`not an exposition line: ${l}`);
    return { name: m[1]!, labels: m[2] ?? '', value: Number(m[3]) };
  });
}

/** Every name a scrape can return: samples, plus each declared metric with its histogram/summary series. */
function exposedNames(text: string): Set<string> {
  const names = new Set(samples(text).map((s) => s.name));
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]!);
    if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(m[1]! + s);
    if (m[2] === 'summary') for (const s of ['_sum', '_count']) names.add(m[1]! + s);
  }
  return names;
}

/** Metric names a PromQL expression uses: ours and the Node/process ones (label values and strings stripped). */
function promqlMetrics(expr: string): string[] {
  const bare = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\{[^}]*\}/g, '{}');
  return [...bare.matchAll(/(?<![\w:$])((?:wo|process|nodejs)_[a-zA-Z0-9_:]*|up)(?![\w:(])/g)].map((m) => m[1]!);
}

const value = (text: string, name: string, labels = ''): number | undefined => samples(text).find((s) => s.name === name && s.labels === labels)?.value;

function record(over: Partial<WoRecord>): WoRecord {
  return {
    schema: 1, wo_id: 'WO-X', title: 't', lane: 'CLC', type: 'exec', priority: 'normal', status: 'succeeded', stage: 'commit', stage_index: 9, stages_total: 9,
    attempt: 1, attempts: [], sha256: 'x', file: 'f', source_name: 'f', rolled_back: false, dry_run: false, files: [], commands: [], tests: [], warnings: [],
    times: { received: '2024-01-01T00:00:00.000Z', validated: '2024-01-01T00:00:00.100Z', commands: '2024-01-01T00:00:00.200Z', commit: '2024-01-01T00:00:01.000Z', finished: '2024-01-01T00:00:02.500Z' },
    ...over,
  };
}

describe('createMetrics', () => {
  it('names Node and process metrics as prom-client does, with nothing prefixed twice', async () => {
    const { body } = await createMetrics({ version: '9.9.9' }).render();
    const names = exposedNames(body);
    for (const n of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_open_fds', 'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_gc_duration_seconds_count', 'wo_daemon_up', 'wo_work_orders_total', 'wo_work_order_duration_seconds_bucket', 'wo_stage_duration_seconds_bucket', 'wo_awaiting_approval', 'wo_awaiting_approval_oldest_seconds', 'wo_held_total', 'wo_build_info', 'wo_queue_depth', 'wo_guardrail_drift']) {
      expect(names, n).toContain(n);
    }
    expect([...names].filter((n) => /^wo_(process|nodejs)_/.test(n))).toEqual([]);
    expect(body).toMatch(new RegExp(`^wo_build_info\\{version="9\\.9\\.9",node="${process.version.replace(/\./g, '\\.')}"\\} 1$`, 'm'));
  });

  it('takes the monitor resolution off the event-loop delay (Node records resolution + delay)', () => {
    expect(lagSeconds((LAG_RESOLUTION_MS + 3) * 1e6, LAG_RESOLUTION_MS)).toBeCloseTo(0.003, 9);
    expect(lagSeconds((LAG_RESOLUTION_MS - 1) * 1e6, LAG_RESOLUTION_MS)).toBe(0);
    expect(lagSeconds(Number.NaN, LAG_RESOLUTION_MS)).toBe(0);
  });

  it('counts an ended WO by outcome, lane and type, end to end and per stage', async () => {
    const m = createMetrics();
    m.finished(record({}));
    m.finished(record({ wo_id: 'WO-Y', status: 'failed', lane: 'OPS', type: 'apply_patch' }));
    m.held(record({ status: 'awaiting_approval' }));
    const { body } = await m.render();
    expect(value(body, 'wo_work_orders_total', '{outcome="succeeded",lane="CLC",type="exec"}')).toBe(1);
    expect(value(body, 'wo_work_orders_total', '{outcome="failed",lane="OPS",type="apply_patch"}')).toBe(1);
    expect(value(body, 'wo_work_order_duration_seconds_sum', '{outcome="succeeded",lane="CLC",type="exec"}')).toBeCloseTo(2.5, 6);
    expect(value(body, 'wo_stage_duration_seconds_sum', '{stage="commit"}')).toBeCloseTo(3, 6); // 1.5 s each
    expect(value(body, 'wo_stage_duration_seconds_count', '{stage="commands"}')).toBe(2);
    expect(value(body, 'wo_held_total', '{lane="CLC",type="exec"}')).toBe(1);
  });

  it('reads wo_awaiting_approval from the hold folder at each scrape', async () => {
    const hold = tempDir('wo-hold-');
    const m = createMetrics({ holdDir: hold });
    expect(value((await m.render()).body, 'wo_awaiting_approval')).toBe(0);
    fs.writeFileSync(path.join(hold, 'WO-1.yaml'), 'x');
    fs.writeFileSync(path.join(hold, 'WO-2.yaml'), 'x');
    fs.writeFileSync(path.join(hold, '.WO-3.yaml.tmp'), 'x');
    const body = (await m.render()).body;
    expect(value(body, 'wo_awaiting_approval')).toBe(2);
    expect(value(body, 'wo_awaiting_approval_oldest_seconds')).toBeGreaterThanOrEqual(0);
    fs.rmSync(hold, { recursive: true });
    expect(value((await m.render()).body, 'wo_awaiting_approval')).toBe(0);
  });
});

describe('a real daemon\'s /metrics and the docs that use it', () => {
  let root: string;
  let daemon: DaemonHandle;
  let text: string;

  beforeAll(async () => {
    root = tempRoot('http:\n  port: 0\n');
    daemon = await startDaemon(root);
    dropComplete(root, 'CLC', 'ok.yaml', 'wo_id: WO-M-OK\ntitle: ok\ntype: exec\npaths: [tmp]\ncommands: ["echo hi"]\n');
    dropComplete(root, 'CLC', 'bad.yaml', 'wo_id: WO-M-BAD\ntitle: bad\ntype: exec\npaths: [tmp]\ncommands: ["false"]\n');
    dropComplete(root, 'CLC', 'held.yaml', 'wo_id: WO-M-HELD\ntitle: held\ntype: exec\npaths: [tmp]\ncommands: ["rm -f tmp/nothing"]\n');
    await waitFor(() => readRecord(root, 'WO-M-OK')?.status === 'succeeded' && readRecord(root, 'WO-M-BAD')?.status === 'failed' && readRecord(root, 'WO-M-HELD')?.status === 'awaiting_approval', { timeout: 30_000, what: 'the three WOs settled' });
    const port = (JSON.parse(fs.readFileSync(path.join(root, 'g/run/daemon.json'), 'utf8')) as { port: number }).port;
    // The terminal hook runs after the record is written: wait until the scrape shows both outcomes.
    text = await waitFor(async () => {
      const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return value(t, 'wo_work_orders_total', '{outcome="failed",lane="CLC",type="exec"}') === 1 && value(t, 'wo_work_orders_total', '{outcome="succeeded",lane="CLC",type="exec"}') === 1 ? t : undefined;
    }, { timeout: 15_000, what: 'both outcomes counted' });
  }, 60_000);
  afterAll(async () => {
    expect(await daemon?.stop()).toBe(0);
  });

  it('reports the WOs it ran, the hold, the version and sane Node figures', () => {
    const version = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
    expect(text).toMatch(new RegExp(`^wo_build_info\\{version="${version.replace(/\./g, '\\.')}",node="[^"]+"\\} 1$`, 'm'));
    expect(value(text, 'wo_awaiting_approval')).toBe(1);
    expect(value(text, 'wo_held_total', '{lane="CLC",type="exec"}')).toBe(1);
    expect(value(text, 'wo_work_order_duration_seconds_count', '{outcome="succeeded",lane="CLC",type="exec"}')).toBe(1);
    expect(value(text, 'wo_stage_duration_seconds_count', '{stage="commands"}')).toBe(2);
    expect(value(text, 'wo_daemon_up')).toBe(1);
    expect(value(text, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    // Before the fix every figure read ≈ the 1 s monitor period; the smallest delay seen is now far below it.
    const minLag = value(text, 'nodejs_eventloop_lag_min_seconds');
    expect(minLag).toBeDefined();
    expect(minLag!).toBeLessThan(LAG_RESOLUTION_MS / 1000);
  });

  it('every metric the Prometheus alerts use exists', () => {
    const names = exposedNames(text);
    const doc = YAML.parse(fs.readFileSync(path.join(REPO, 'docs/prometheus-alerts.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
    const rules = doc.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining(['WoDaemonDown', 'WoHeldTooLong', 'WoFailureRate', 'WoGuardrailDrift']));
    for (const r of rules) {
      const used = promqlMetrics(r.expr);
      expect(used.length, r.alert).toBeGreaterThan(0);
      for (const n of used) if (n !== 'up') expect(names, `${r.alert} uses ${n}`).toContain(n);
    }
  });

  it('every metric the Grafana dashboard uses exists', () => {
    const names = exposedNames(text);
    const dash = JSON.parse(fs.readFileSync(path.join(REPO, 'docs/grafana-dashboard.json'), 'utf8')) as { panels: { title: string; targets?: { expr: string }[] }[]; templating: { list: { name: string; definition: string }[] } };
    const exprs = [
      ...dash.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr }))),
      ...dash.templating.list.map((v) => ({ where: `$${v.name}`, expr: v.definition })),
    ];
    expect(exprs.length).toBeGreaterThan(10);
    for (const { where, expr } of exprs) {
      const used = promqlMetrics(expr);
      expect(used.length, where).toBeGreaterThan(0);
      for (const n of used) expect(names, `${where} uses ${n}`).toContain(n);
    }
  });
});
