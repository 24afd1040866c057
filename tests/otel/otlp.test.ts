/** OpenTelemetry: the real daemon exports each WO as a trace over OTLP/HTTP to a tiny receiver; without an endpoint src/otel/ is never loaded. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { otlpTarget, parseHeaders } from '../../src/otel/config.js';
import { CLI, childEnv, dropComplete, readRecord, startDaemon, tempDir, tempRoot, waitFor } from '../helpers.js';

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: Record<string, unknown> }[];
  status: { code: number; message?: string };
}
interface Received {
  path: string;
  contentType: string;
  headers: http.IncomingHttpHeaders;
  body: { resourceSpans: { resource: { attributes: Span['attributes'] }; scopeSpans: { scope: { name: string }; spans: Span[] }[] }[] };
}

/** A local OTLP/HTTP receiver: records every POST and answers 200 `{}`. */
async function receiver(): Promise<{ url: string; got: Received[]; close: () => Promise<void> }> {
  const got: Received[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      got.push({ path: req.url ?? '', contentType: req.headers['content-type'] ?? '', headers: req.headers, body: JSON.parse(raw) });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got, close: () => new Promise((r) => server.close(() => r())) };
}

const attr = (s: Span, key: string): unknown => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v ? Object.values(v)[0] : undefined;
};
const spansOf = (got: Received[]) => got.flatMap((g) => g.body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
const traceOf = (got: Received[], id: string) => {
  const root = spansOf(got).find((s) => !s.parentSpanId && attr(s, 'wo.id') === id);
  return root ? spansOf(got).filter((s) => s.traceId === root.traceId) : [];
};
const within = (child: Span, parent: Span) => BigInt(child.startTimeUnixNano) >= BigInt(parent.startTimeUnixNano) && BigInt(child.endTimeUnixNano) <= BigInt(parent.endTimeUnixNano);

const WO_OK = 'wo_id: WO-T-OK\ntitle: traced\ntype: exec\npaths: [tmp]\ncommands: ["echo one", "echo two"]\npost_verify: ["test -d ."]\n';
const WO_BAD = 'wo_id: WO-T-BAD\ntitle: traced failure\ntype: exec\npaths: [tmp]\ncommands: ["echo one", "false"]\n';

describe('OTLP traces from the real daemon', () => {
  let rx: Awaited<ReturnType<typeof receiver>>;
  beforeAll(async () => {
    rx = await receiver();
  });
  afterAll(async () => {
    await rx?.close();
  });

  it('telemetry.otlp.endpoint: one trace per WO, a span per stage and per command, with wo id, lane and status', async () => {
    const root = tempRoot(`http:\n  enabled: false\ntelemetry:\n  otlp:\n    endpoint: ${rx.url}\n`);
    const d = await startDaemon(root, { env: { OTEL_SERVICE_NAME: 'wo-test', OTEL_EXPORTER_OTLP_HEADERS: 'x-team=ops%20one' } });
    dropComplete(root, 'CLC', 'ok.yaml', WO_OK);
    await waitFor(() => readRecord(root, 'WO-T-OK')?.status === 'succeeded', { timeout: 30_000, what: 'WO-T-OK succeeded' });
    const spans = await waitFor(() => {
      const t = traceOf(rx.got, 'WO-T-OK');
      return t.filter((s) => s.name.startsWith('command ')).length === 3 ? t : undefined;
    }, { timeout: 20_000, what: 'the trace of WO-T-OK' });
    expect(await d.stop()).toBe(0);

    const post = rx.got.find((g) => spansOf([g]).some((s) => attr(s, 'wo.id') === 'WO-T-OK'))!;
    expect(post.path).toBe('/v1/traces');
    expect(post.contentType).toBe('application/json');
    expect(post.headers['x-team']).toBe('ops one');
    const res = post.body.resourceSpans[0]!.resource.attributes;
    expect(res.find((a) => a.key === 'service.name')?.value).toEqual({ stringValue: 'wo-test' });

    const root_ = spans.find((s) => !s.parentSpanId)!;
    expect(root_.name).toBe('wo exec');
    expect([attr(root_, 'wo.id'), attr(root_, 'wo.lane'), attr(root_, 'wo.status'), attr(root_, 'wo.type')]).toEqual(['WO-T-OK', 'CLC', 'succeeded', 'exec']);
    expect(root_.status.code).toBe(1);
    expect(root_.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(root_.spanId).toMatch(/^[0-9a-f]{16}$/);

    const stages = spans.filter((s) => s.name.startsWith('stage '));
    const rec = readRecord(root, 'WO-T-OK')!;
    const expected = ['received', 'validated', 'held', 'snapshot', 'apply', 'commands', 'post_verify', 'tests', 'commit'].filter((st) => rec.times[st]);
    expect(stages.map((s) => s.name)).toEqual(expected.map((st) => `stage ${st}`));
    for (const s of stages) {
      expect(s.parentSpanId).toBe(root_.spanId);
      expect([attr(s, 'wo.id'), attr(s, 'wo.lane'), attr(s, 'wo.status')]).toEqual(['WO-T-OK', 'CLC', 'succeeded']);
      expect(within(s, root_)).toBe(true);
    }
    const stageSpan = (st: string) => stages.find((s) => s.name === `stage ${st}`)!;
    const cmds = spans.filter((s) => s.name.startsWith('command '));
    expect(cmds.map((c) => [c.name, attr(c, 'process.command_line'), attr(c, 'process.exit.code')])).toEqual([
      ['command commands', 'echo one', '0'],
      ['command commands', 'echo two', '0'],
      ['command post_verify', 'test -d .', '0'],
    ]);
    expect(cmds[0]!.parentSpanId).toBe(stageSpan('commands').spanId);
    expect(cmds[1]!.parentSpanId).toBe(stageSpan('commands').spanId);
    expect(cmds[2]!.parentSpanId).toBe(stageSpan('post_verify').spanId);
    for (const c of cmds) expect(attr(c, 'wo.id')).toBe('WO-T-OK');
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(spans.length);
  }, 90_000);

  it('OTEL_EXPORTER_OTLP_ENDPOINT alone turns tracing on; a failing command and its WO are errors', async () => {
    const root = tempRoot('http:\n  enabled: false\n');
    const d = await startDaemon(root, { env: { OTEL_EXPORTER_OTLP_ENDPOINT: `${rx.url}/` } });
    dropComplete(root, 'CLC', 'bad.yaml', WO_BAD);
    await waitFor(() => readRecord(root, 'WO-T-BAD')?.status === 'failed', { timeout: 30_000, what: 'WO-T-BAD failed' });
    const spans = await waitFor(() => {
      const t = traceOf(rx.got, 'WO-T-BAD');
      return t.some((s) => s.name === 'command commands' && attr(s, 'process.command_line') === 'false') ? t : undefined;
    }, { timeout: 20_000, what: 'the trace of WO-T-BAD' });
    expect(await d.stop()).toBe(0);
    const root_ = spans.find((s) => !s.parentSpanId)!;
    expect(attr(root_, 'wo.status')).toBe('failed');
    expect(root_.status.code).toBe(2);
    const bad = spans.find((s) => attr(s, 'process.command_line') === 'false')!;
    expect(bad.status.code).toBe(2);
    expect(attr(bad, 'process.exit.code')).toBe('1');
    expect(spans.find((s) => attr(s, 'process.command_line') === 'echo one')!.status.code).toBe(0);
  }, 90_000);
});

describe('without an endpoint nothing of src/otel/ is loaded', () => {
  /** Start the daemon with a module-resolution hook that logs every dist/otel/ module it loads. */
  async function loadedOtelModules(config: string, env: Record<string, string> = {}): Promise<string[]> {
    const dir = tempDir('wo-otel-hook-');
    const log = path.join(dir, 'loaded.txt');
    fs.writeFileSync(log, '');
    fs.writeFileSync(path.join(dir, 'hooks.mjs'), `import fs from 'node:fs';\nexport async function resolve(spec, ctx, next) {\n  const r = await next(spec, ctx);\n  if (r.url.includes('/dist/otel/')) fs.appendFileSync(${JSON.stringify(log)}, r.url + '\\n');\n  return r;\n}\n`);
    fs.writeFileSync(path.join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(new URL(`file://${path.join(dir, 'hooks.mjs')}`).href)});\n`);
    const root = tempRoot(config);
    const child = spawn(process.execPath, ['--import', path.join(dir, 'register.mjs'), CLI, 'daemon', '--root', root], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    try {
      await waitFor(() => {
        if (child.exitCode !== null) throw new Error(`daemon exited with ${child.exitCode}:\n${out}`);
        try {
          return (JSON.parse(fs.readFileSync(path.join(root, 'g/run/daemon.json'), 'utf8')) as { ready?: boolean }).ready === true;
        } catch {
          return false;
        }
      }, { timeout: 30_000, what: 'daemon ready' });
      dropComplete(root, 'CLC', 'ok.yaml', WO_OK);
      await waitFor(() => readRecord(root, 'WO-T-OK')?.status === 'succeeded', { timeout: 30_000, what: 'WO-T-OK succeeded' });
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
    return fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
  }

  it('no endpoint: no otel module is resolved, even after a WO ran', async () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: '', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '' };
    expect(await loadedOtelModules('http:\n  enabled: false\n', env)).toEqual([]);
  }, 90_000);

  it('the hook does see them when an endpoint is set (so the check above can fail)', async () => {
    const loaded = await loadedOtelModules('http:\n  enabled: false\ntelemetry:\n  otlp:\n    endpoint: http://127.0.0.1:9/\n');
    expect(loaded.some((u) => u.endsWith('/dist/otel/index.js'))).toBe(true);
  }, 90_000);
});

describe('otlpTarget', () => {
  it('reads the config key first, then the standard variables; a base endpoint gets /v1/traces', () => {
    expect(otlpTarget(null, {})).toBeNull();
    expect(otlpTarget('http://h:4318', {})!.url).toBe('http://h:4318/v1/traces');
    expect(otlpTarget('http://h:4318/v1/traces', {})!.url).toBe('http://h:4318/v1/traces');
    expect(otlpTarget(null, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/otlp/' })!.url).toBe('http://c:4318/otlp/v1/traces');
    expect(otlpTarget(null, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:1/custom', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })!.url).toBe('http://t:1/custom');
    expect(otlpTarget('http://h:4318', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })!.url).toBe('http://h:4318/v1/traces');
    expect(otlpTarget('http://h:4318', { OTEL_SDK_DISABLED: 'true' })).toBeNull();
    expect(otlpTarget(null, {})).toBeNull();
    expect(otlpTarget(null, { OTEL_SERVICE_NAME: 'x', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:1' })!.serviceName).toBe('x');
    expect(() => otlpTarget(null, { OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://c:1' })).toThrow(/http/);
  });

  it('parses OTEL_EXPORTER_OTLP_HEADERS', () => {
    expect(parseHeaders('a=1, b = two%20words,bad,=x')).toEqual({ a: '1', b: 'two words' });
    expect(parseHeaders(undefined)).toEqual({});
  });
});
