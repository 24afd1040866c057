/**
 * `npm run bench`: the real daemon (a child process) on temp roots, measured against the goals, the PEER
 * (watcher + one handler process per WO) and the machine's raw limits. Prints a table and writes
 * g/reports/bench-<ts>.json (in the checkout and in the bench's temp root).
 *   --quick   small N (500 WOs, 10 s idle) so a smoke run fits in CI
 *   --json    print only the JSON
 *   --n N     burst size (default 10000, quick 500)
 * The burst runs twice: tuned (concurrency 8) and with the default config (concurrency 2, io_concurrency 16)
 * on a 2,000-WO burst (quick and full alike), each beside the peer.
 * The scale section (src/bench/scale.ts): 1,000,000 synthesised records (quick 20,000) and a real burst of
 * 10,000 on top (quick 2,000), HTTP on, measured against issue 10's targets.
 *   --scale-records N / --scale-burst N   its sizes;  --only scale   run that section alone
 *   --only bursts   the tuned and default-config bursts and the peer, alone
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { scale, type BenchRow } from './scale.js';
import { DIST, REPO, CLI, benchRoot, childEnv, contentOf, cpuTicks, dropComplete, pct, rssBytes, sleep, startDaemon, TelemetryTail, tempDir, until, woYaml, type Ev } from './util.js';

const args = process.argv.slice(2);
const KNOWN = new Set(['--quick', '--json', '--n', '--help', '-h', '--scale-records', '--scale-burst', '--only', '--report-dir']);
const VALUED = new Set(['--n', '--scale-records', '--scale-burst', '--only', '--report-dir']);
const unknown = args.filter((a, i) => a.startsWith('-') && !KNOWN.has(a) && !VALUED.has(args[i - 1] ?? ''));
if (args.includes('--help') || args.includes('-h') || unknown.length) {
  process.stdout.write(`usage: npm run bench -- [--quick] [--json] [--n N]\n  --quick   a smoke run: 500 WOs, 10 s idle (a few minutes)\n  --json    print only the JSON report\n  --n N     burst size (default 10000; quick 500)\n  --scale-records N  records synthesised for the scale section (default 1000000; quick 20000)\n  --scale-burst N    the scale section's burst (default 10000; quick 2000)\n  --only scale       run only the scale section\n  --only bursts      run only the bursts (tuned, defaults) and the peer\n  --report-dir D     write the report there (default g/reports/ of the checkout)\nWrites g/reports/bench-<ts>.json. The full run takes about 5 minutes.\n`);
  if (unknown.length) process.stderr.write(`bench: unknown option ${unknown.join(' ')}\n`);
  process.exit(unknown.length ? 2 : 0);
}
const QUICK = args.includes('--quick');
const JSON_ONLY = args.includes('--json');
const nArg = args.indexOf('--n');
const N = nArg >= 0 ? Number(args[nArg + 1]) : QUICK ? 500 : 10_000;
const valueOf = (flag: string): string | undefined => { const i = args.indexOf(flag); return i >= 0 ? args[i + 1] : undefined; };
const ONLY = valueOf('--only');
if (ONLY !== undefined && ONLY !== 'scale' && ONLY !== 'bursts') {
  process.stderr.write(`bench: --only takes "scale" or "bursts", got ${JSON.stringify(ONLY)}\n`);
  process.exit(2);
}
const SCALE = {
  records: Number(valueOf('--scale-records') ?? (QUICK ? 20_000 : 1_000_000)),
  burst: Number(valueOf('--scale-burst') ?? (QUICK ? 2000 : 10_000)),
};
const REPORT_DIR = valueOf('--report-dir') ?? path.join(REPO, 'g', 'reports');
const CHROMIUM = '/usr/bin/chromium';
for (const [k, v] of Object.entries(SCALE)) if (!Number.isInteger(v) || v < 1) { process.stderr.write(`bench: --scale-${k} must be a positive integer\n`); process.exit(2); }
const SIZES = {
  latency: QUICK ? 100 : 300,
  peer: QUICK ? 60 : 300,
  archived: QUICK ? 500 : 1000,
  idleS: QUICK ? 10 : 60,
  /** Start-up work and V8's post-start GCs (memory reducer, ~8 s after the last allocation burst) end before idle is measured. */
  settleS: QUICK ? 12 : 15,
  restarts: QUICK ? 3 : 5,
  raw: QUICK ? 500 : 2000,
  guardTrials: QUICK ? 3 : 5,
  commits: 10_000,
};
const CONCURRENCY = 8;
const CONFIG = `http:\n  enabled: false\nconcurrency: ${CONCURRENCY}\n`;
/** The defaults (only HTTP off, as everywhere in the bench): what users run. */
const DEFAULT_CONFIG = 'http:\n  enabled: false\n';
const DEFAULT_N = 2000;

const say = (s: string) => { if (!JSON_ONLY) process.stderr.write(s + '\n'); };
const round = (x: number, d = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x);

/** drop→start latency at light load: one WO every 30 ms, start = wo_started ts − rename time. */
async function latency(n: number): Promise<{ p50: number; p99: number; max: number; n: number }> {
  const root = benchRoot(CONFIG);
  const d = await startDaemon(root);
  const tail = new TelemetryTail(root);
  const inbox = path.join(root, 'bridge/inbox/CLC');
  const dropped = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const id = `LAT-${String(i).padStart(6, '0')}`;
    dropped.set(id, dropComplete(inbox, `${id}.yaml`, woYaml(id)));
    await sleep(30);
  }
  const started = new Map<string, number>();
  await until(() => {
    for (const e of tail.read()) if (e.event === 'wo_started' && e.wo_id) started.set(e.wo_id, Date.parse(e.ts));
    return started.size >= n;
  }, 60_000, 'every latency WO started', 20);
  await d.stop();
  const lats = [...dropped].map(([id, t]) => Math.max(0, started.get(id)! - t));
  return { p50: round(pct(lats, 50)), p99: round(pct(lats, 99)), max: round(Math.max(...lats)), n };
}

interface Burst {
  n: number;
  seconds: number;
  wo_per_s: number;
  lost: number;
  not_succeeded: number;
  wrong_bytes: number;
  drop_seconds: number;
  root: string;
}

/** A burst of n complete drops while the daemon runs; measured until every record is succeeded. */
async function burst(n: number, opts: { postVerify?: boolean; prefix: string; keep?: boolean; config?: string }): Promise<Burst & { daemon?: Awaited<ReturnType<typeof startDaemon>> }> {
  const root = benchRoot(opts.config ?? CONFIG);
  const d = await startDaemon(root);
  const tail = new TelemetryTail(root);
  const inbox = path.join(root, 'bridge/inbox/CLC');
  const ids = Array.from({ length: n }, (_, i) => `${opts.prefix}-${String(i).padStart(6, '0')}`);
  const texts = ids.map((id) => woYaml(id, { postVerify: opts.postVerify }));
  const t0 = performance.timeOrigin + performance.now();
  for (let i = 0; i < n; i++) dropComplete(inbox, `${ids[i]}.yaml`, texts[i]!);
  const dropSeconds = (performance.timeOrigin + performance.now() - t0) / 1000;
  const done = new Set<string>();
  let last = t0;
  const failed: Ev[] = [];
  await until(() => {
    for (const e of tail.read()) {
      if (e.event === 'wo_completed' && e.wo_id) {
        done.add(e.wo_id);
        last = Math.max(last, Date.parse(e.ts));
      } else if (e.event === 'wo_failed' || e.event === 'wo_rejected') failed.push(e);
    }
    return done.size + failed.length >= n;
  }, Math.max(120_000, n * 50), `${n} WOs completed`, 50).catch((err) => say(`  ! ${String(err)}`));
  const seconds = (last - t0) / 1000;
  // Verify: every record succeeded, every target holds exactly its bytes.
  let notSucceeded = 0;
  let lost = 0;
  let wrong = 0;
  for (const id of ids) {
    let rec: { status?: string } | undefined;
    try {
      rec = JSON.parse(fs.readFileSync(path.join(root, 'g/followup/state', `${id}.json`), 'utf8'));
    } catch {
      lost++;
      continue;
    }
    if (rec?.status !== 'succeeded') notSucceeded++;
    try {
      if (fs.readFileSync(path.join(root, 'out', `${id}.txt`), 'utf8') !== contentOf(id)) wrong++;
    } catch {
      wrong++;
    }
  }
  if (failed.length) say(`  ! ${failed.length} failed/rejected, e.g. ${JSON.stringify(failed[0])}`);
  const out = { n, seconds: round(seconds, 3), wo_per_s: round(n / seconds, 1), lost, not_succeeded: notSucceeded, wrong_bytes: wrong, drop_seconds: round(dropSeconds, 3), root };
  if (opts.keep) return { ...out, daemon: d };
  await d.stop();
  return out;
}

/** The peer: fs.watch + one `node` handler process per WO, two at a time, each doing the durable work. */
async function peer(n: number): Promise<{ n: number; seconds: number; wo_per_s: number; lost: number }> {
  const root = tempDir('wo-bench-peer-');
  const child = spawn(process.execPath, [path.join(DIST, 'bench', 'peer.js'), 'watch', root], { env: childEnv(), stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (b) => (out += b));
  await until(() => out.includes('ready\n'), 20_000, 'peer ready');
  const inbox = path.join(root, 'inbox');
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const id = `PEER-${String(i).padStart(6, '0')}`;
    dropComplete(inbox, `${id}.yaml`, woYaml(id));
  }
  await until(() => (out.match(/^done /gm)?.length ?? 0) >= n, Math.max(120_000, n * 1000), 'peer done', 20);
  const seconds = (performance.now() - t0) / 1000;
  child.kill('SIGTERM');
  let lost = 0;
  for (let i = 0; i < n; i++) {
    const id = `PEER-${String(i).padStart(6, '0')}`;
    try {
      if (fs.readFileSync(path.join(root, 'out', `${id}.txt`), 'utf8') !== contentOf(id)) lost++;
    } catch {
      lost++;
    }
  }
  return { n, seconds: round(seconds, 3), wo_per_s: round(n / seconds, 2), lost };
}

/** Raw limits: node fs.watch event latency for a renamed-in file; a bare temp+fsync+rename+dir-fsync loop. */
async function raw(n: number): Promise<{ watch_p50_ms: number; watch_p99_ms: number; durable_writes_per_s: number }> {
  const dir = tempDir('wo-bench-raw-');
  const inbox = path.join(dir, 'in');
  fs.mkdirSync(inbox);
  let want = '';
  let resolve: (() => void) | undefined;
  const w = fs.watch(inbox, (_e, name) => {
    if (name === want && resolve) {
      const r = resolve;
      resolve = undefined;
      r();
    }
  });
  const lats: number[] = [];
  const m = Math.min(n, 500);
  for (let i = 0; i < m; i++) {
    want = `f${i}.yaml`;
    const tmp = path.join(inbox, `.f${i}.tmp`);
    fs.writeFileSync(tmp, 'x', { mode: 0o700 });
    const seen = new Promise<void>((r) => (resolve = r));
    const t = performance.now();
    fs.renameSync(tmp, path.join(inbox, want));
    await seen;
    lats.push(performance.now() - t);
  }
  w.close();
  const data = Buffer.alloc(1024, 'x');
  const out = path.join(dir, 'out');
  fs.mkdirSync(out);
  const dfd = fs.openSync(out, 'r');
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const tmp = path.join(out, `.s${i}.tmp`);
    const fd = fs.openSync(tmp, 'wx', 0o600);
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, path.join(out, `s${i}.json`));
    fs.fsyncSync(dfd);
  }
  const secs = (performance.now() - t0) / 1000;
  fs.closeSync(dfd);
  return { watch_p50_ms: round(pct(lats, 50), 3), watch_p99_ms: round(pct(lats, 99), 3), durable_writes_per_s: round(n / secs, 0) };
}

/** Start→ready (median of restarts) and idle CPU/RSS over `idleS` seconds on a root with `archived` finished WOs. */
async function idle(archived: number, idleS: number, restarts: number, settleS: number): Promise<{ archived: number; ready_ms: number[]; ready_ms_median: number; settle_s: number; idle_s: number; cpu_pct: number; rss_mb: number; rss_mb_max: number }> {
  const b = await burst(archived, { prefix: 'IDLE' });
  const readies: number[] = [];
  let d: Awaited<ReturnType<typeof startDaemon>> | undefined;
  for (let i = 0; i < restarts; i++) {
    if (d) await d.stop();
    d = await startDaemon(b.root);
    readies.push(round(d.readyMs, 1));
  }
  await sleep(settleS * 1000); // start-up work and V8's post-start GCs settle first
  const hz = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  const c0 = cpuTicks(d!.pid);
  const t0 = performance.now();
  let rssMax = 0;
  while (performance.now() - t0 < idleS * 1000) {
    rssMax = Math.max(rssMax, rssBytes(d!.pid));
    await sleep(1000);
  }
  const secs = (performance.now() - t0) / 1000;
  const cpu = ((cpuTicks(d!.pid) - c0) / hz / secs) * 100;
  const rss = rssBytes(d!.pid);
  await d!.stop();
  return { archived, ready_ms: readies, ready_ms_median: pct(readies, 50), settle_s: settleS, idle_s: round(secs, 1), cpu_pct: round(cpu, 3), rss_mb: round(rss / 2 ** 20, 1), rss_mb_max: round(Math.max(rss, rssMax) / 2 ** 20, 1) };
}

/** Guardrail: delete a protected file, time until wo_pipeline_drift names it. */
async function guardrail(trials: number): Promise<{ trials_ms: number[]; median_ms: number; max_ms: number }> {
  const root = benchRoot(`${CONFIG}guardrail:\n  files:\n    - path: tools/x.sh\n      executable: true\n`);
  const file = path.join(root, 'tools/x.sh');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '#!/bin/sh\necho ok\n', { mode: 0o755 });
  const d = await startDaemon(root);
  const tail = new TelemetryTail(root);
  const out: number[] = [];
  await sleep(500);
  for (let i = 0; i < trials; i++) {
    tail.read();
    const t = performance.timeOrigin + performance.now();
    fs.unlinkSync(file);
    const ev = await until(() => tail.read().find((e) => e.event === 'wo_pipeline_drift' && JSON.stringify(e).includes('tools/x.sh')), 10_000, 'wo_pipeline_drift', 1).catch(() => undefined);
    out.push(ev ? round(Math.max(0, Date.parse(ev.ts) - t), 1) : NaN);
    fs.writeFileSync(file, '#!/bin/sh\necho ok\n', { mode: 0o755 });
    await sleep(700);
  }
  await d.stop();
  return { trials_ms: out, median_ms: pct(out, 50), max_ms: Math.max(...out) };
}

/** A 10,000-commit repo (git fast-import) in which tools/x.sh is added, edited, then deleted. */
function historyRepo(commits: number): string {
  const root = tempDir('wo-bench-hist-');
  const git = (...a: string[]) => spawnSync('git', a, { cwd: root, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' } });
  git('init', '-q', '-b', 'main');
  const now = Math.floor(Date.now() / 1000);
  const parts: string[] = [];
  const data = (s: string) => `data ${Buffer.byteLength(s)}\n${s}\n`;
  for (let i = 1; i <= commits; i++) {
    const ts = now - (commits - i) * 30;
    parts.push(`commit refs/heads/main\nmark :${i}\ncommitter Bench <bench@example.com> ${ts} +0000\n${data(`commit ${i}`)}`);
    parts.push(`M 100644 inline src/f${i % 200}.txt\n${data(`v${i}\n`)}`);
    if (i === 50) parts.push(`M 100755 inline tools/x.sh\n${data('#!/bin/sh\necho ok\n')}`);
    if (i === 5000) parts.push(`M 100755 inline tools/x.sh\n${data('#!/bin/sh\necho ok 2\n')}`);
    if (i === commits - 500) parts.push('D tools/x.sh\n');
    parts.push('\n');
  }
  const r = spawnSync('git', ['fast-import', '--quiet'], { cwd: root, input: parts.join(''), encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`git fast-import: ${r.stderr}`);
  git('reset', '--hard', '-q', 'main');
  return root;
}

async function history(commits: number): Promise<{ commits: number; gen_s: number; fn_ms: number; fn_ms_runs: number[]; cli_ms: number; verdict: string; cli_exit: number | null }> {
  const t0 = performance.now();
  const root = historyRepo(commits);
  const gen = (performance.now() - t0) / 1000;
  const { checkHistory } = (await import(path.join(DIST, 'history', 'check.js'))) as typeof import('../history/check.js');
  const runs: number[] = [];
  let verdict = '';
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    verdict = (await checkHistory(root, 'tools/x.sh')).verdict;
    runs.push(round(performance.now() - t, 1));
  }
  const t = performance.now();
  const cli = spawnSync(process.execPath, [CLI, 'check-history', 'tools/x.sh', '--json', '--root', root], { env: childEnv(), encoding: 'utf8' });
  const cliMs = performance.now() - t;
  return { commits, gen_s: round(gen, 2), fn_ms: pct(runs, 50), fn_ms_runs: runs, cli_ms: round(cliMs, 1), verdict, cli_exit: cli.status };
}


/** The throughput rows: tuned burst, its integrity, the defaults' burst, defaults ÷ peer, tuned ÷ peer. */
function burstRows(b1: Burst, b0: Burst, pr: { wo_per_s: number; lost: number }): BenchRow[] {
  const vsPeer = b1.wo_per_s / pr.wo_per_s;
  const defVsPeer = b0.wo_per_s / pr.wo_per_s;
  return [
    { metric: `burst ${b1.n} (WO/s)`, ours: b1.wo_per_s, goal: '≥ 300', ref: pr.wo_per_s, ratio: `${round(vsPeer, 1)}× peer`, pass: b1.wo_per_s >= 300 },
    { metric: `burst lost / not ok / torn`, ours: `${b1.lost}/${b1.not_succeeded}/${b1.wrong_bytes}`, goal: '0/0/0', ref: pr.lost, ratio: '', pass: b1.lost + b1.not_succeeded + b1.wrong_bytes === 0 },
    { metric: `burst ${b0.n}, defaults (WO/s)`, ours: b0.wo_per_s, goal: '≥ 300', ref: pr.wo_per_s, ratio: `${round(defVsPeer, 1)}× peer`, pass: b0.wo_per_s >= 300 && b0.lost + b0.not_succeeded + b0.wrong_bytes === 0 },
    { metric: 'defaults ÷ peer', ours: round(defVsPeer, 1), goal: '≥ 30×', ref: pr.wo_per_s, ratio: '', pass: defVsPeer >= 30 },
    { metric: 'ours ÷ peer', ours: round(vsPeer, 1), goal: '≥ 30×', ref: pr.wo_per_s, ratio: '', pass: vsPeer >= 30 },
  ];
}

function table(rows: BenchRow[]): string {
  const cols: (keyof BenchRow)[] = ['metric', 'ours', 'goal', 'ref', 'ratio', 'pass'];
  const head = ['metric', 'ours', 'goal', 'peer/limit', 'ratio', 'pass'];
  const cell = (r: BenchRow, c: keyof BenchRow) => (c === 'pass' ? (r.pass === null ? '-' : r.pass ? 'PASS' : 'FAIL') : String(r[c]));
  const w = cols.map((c, i) => Math.max(head[i]!.length, ...rows.map((r) => cell(r, c).length)));
  const line = (xs: string[]) => xs.map((x, i) => x.padEnd(w[i]!)).join('  ');
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map((r) => line(cols.map((c) => cell(r, c))))].join('\n');
}

async function main(): Promise<void> {
  const started = new Date();
  say(`wo bench (${QUICK ? 'quick' : 'full'}): N=${N}, concurrency ${CONCURRENCY}, http off, ${os.cpus().length} cpus, node ${process.version}`);
  say('- raw limits'); const lim = await raw(SIZES.raw);
  say('- drop→start latency'); const lat = await latency(SIZES.latency);
  say(`- burst of ${N}`); const b1 = await burst(N, { prefix: 'B' });
  say(`- burst of ${N} with a post_verify command each`); const b2 = await burst(N, { prefix: 'C', postVerify: true });
  say(`- burst of ${DEFAULT_N} with the default config`); const b0 = await burst(DEFAULT_N, { prefix: 'D', config: DEFAULT_CONFIG });
  say(`- peer (${SIZES.peer} WOs)`); const pr = await peer(SIZES.peer);
  say(`- start→ready and idle (${SIZES.archived} archived, ${SIZES.idleS} s)`); const idl = await idle(SIZES.archived, SIZES.idleS, SIZES.restarts, SIZES.settleS);
  say('- guardrail detection'); const gr = await guardrail(SIZES.guardTrials);
  say(`- check-history on ${SIZES.commits} commits`); const hi = await history(SIZES.commits);
  say(`- scale: ${SCALE.records} records + a burst of ${SCALE.burst}`); const sc = await runScale();

  const vsPeer = b1.wo_per_s / pr.wo_per_s;
  const defVsPeer = b0.wo_per_s / pr.wo_per_s;
  const bursts = burstRows(b1, b0, pr);
  const rows: BenchRow[] = [
    { metric: 'drop→start p50 (ms)', ours: lat.p50, goal: '≤ 5', ref: lim.watch_p50_ms, ratio: `${round(lat.p50 / lim.watch_p50_ms, 1)}× watch`, pass: lat.p50 <= 5 },
    { metric: 'drop→start p99 (ms)', ours: lat.p99, goal: '≤ 30', ref: lim.watch_p99_ms, ratio: `${round(lat.p99 / lim.watch_p99_ms, 1)}× watch`, pass: lat.p99 <= 30 },
    ...bursts.slice(0, 4),
    { metric: `burst + command (WO/s)`, ours: b2.wo_per_s, goal: '≥ 150', ref: '', ratio: '', pass: b2.wo_per_s >= 150 && b2.lost + b2.not_succeeded + b2.wrong_bytes === 0 },
    ...bursts.slice(4),
    { metric: 'share of raw durable writes', ours: `${round((100 * b1.wo_per_s) / lim.durable_writes_per_s, 1)} %`, goal: '', ref: `${lim.durable_writes_per_s}/s`, ratio: '', pass: null },
    { metric: 'idle CPU (%)', ours: idl.cpu_pct, goal: '≤ 0.1', ref: '', ratio: '', pass: idl.cpu_pct <= 0.1 },
    { metric: 'idle RSS (MB)', ours: idl.rss_mb_max, goal: '≤ 90', ref: '', ratio: '', pass: idl.rss_mb_max <= 90 },
    { metric: 'start→ready (ms, median)', ours: idl.ready_ms_median, goal: '≤ 700', ref: '', ratio: '', pass: idl.ready_ms_median <= 700 },
    { metric: 'guardrail detect (ms, max)', ours: gr.max_ms, goal: '≤ 100', ref: '', ratio: '', pass: gr.max_ms <= 100 },
    { metric: 'check-history fn (ms)', ours: hi.fn_ms, goal: '≤ 1000', ref: '', ratio: '', pass: hi.fn_ms <= 1000 && hi.verdict === 'vanished' },
    { metric: 'check-history CLI (ms)', ours: hi.cli_ms, goal: '≤ 1000', ref: '', ratio: '', pass: hi.cli_ms <= 1000 && hi.cli_exit === 1 },
    ...sc.rows,
  ];
  const strip = <T extends { root?: string }>(x: T) => { const { root: _r, ...rest } = x; return rest; };
  const report = {
    kind: 'bench',
    ts: started.toISOString(),
    mode: QUICK ? 'quick' : 'full',
    machine: { cpus: os.cpus().length, node: process.version, platform: `${os.platform()} ${os.release()}` },
    config: { concurrency: CONCURRENCY, http: false, lane: 'CLC' },
    latency: lat,
    burst: strip(b1),
    burst_command: strip(b2),
    burst_default: { ...strip(b0), config: { concurrency: 2, io_concurrency: 16, http: false } },
    peer: pr,
    raw: lim,
    ratios: { ours_vs_peer: round(vsPeer, 2), default_vs_peer: round(defVsPeer, 2), command_vs_peer: round(b2.wo_per_s / pr.wo_per_s, 2), share_of_raw_durable_writes: round(b1.wo_per_s / lim.durable_writes_per_s, 4), latency_p50_vs_watch: round(lat.p50 / lim.watch_p50_ms, 2) },
    idle: idl,
    guardrail: gr,
    history: hi,
    scale: sc.report,
    rows,
    passed: rows.every((r) => r.pass !== false),
  };
  write(started, report, rows, [b1.root, sc.root]);
}

/** The scale section with this run's sizes. */
function runScale(): ReturnType<typeof scale> {
  return scale({
    records: SCALE.records,
    burst: SCALE.burst,
    refreshes: 100,
    apiSamples: QUICK ? 100 : 300,
    cliRuns: QUICK ? 3 : 5,
    restarts: 3,
    renders: 3,
    chromium: CHROMIUM,
    say,
  });
}

/** Writes the report to REPORT_DIR and each bench root's g/reports/, then prints the table (or the JSON). */
function write(started: Date, report: Record<string, unknown>, rows: BenchRow[], roots: string[]): void {
  const name = `bench-${started.toISOString().replace(/[:.]/g, '-')}.json`;
  const text = JSON.stringify(report, null, 2) + '\n';
  for (const dir of [REPORT_DIR, ...roots.map((r) => path.join(r, 'g', 'reports'))]) {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  if (JSON_ONLY) process.stdout.write(text);
  else {
    process.stdout.write(table(rows) + '\n');
    process.stdout.write(`report: ${path.join(REPORT_DIR, name)}\n`);
  }
}

/** `--only scale`: the scale section alone (its own report, same shape: scale + rows + passed). */
async function mainScale(): Promise<void> {
  const started = new Date();
  say(`wo bench, scale only: ${SCALE.records} records + a burst of ${SCALE.burst}, ${os.cpus().length} cpus, node ${process.version}`);
  const sc = await runScale();
  const report = { kind: 'bench', ts: started.toISOString(), mode: 'scale', machine: { cpus: os.cpus().length, node: process.version, platform: `${os.platform()} ${os.release()}` }, scale: sc.report, rows: sc.rows, passed: sc.rows.every((r) => r.pass !== false) };
  write(started, report, sc.rows, [sc.root]);
}

/** `--only bursts`: the tuned and the default-config bursts beside the peer (the throughput goals alone). */
async function mainBursts(): Promise<void> {
  const started = new Date();
  say(`wo bench, bursts only: N=${N} tuned, ${DEFAULT_N} defaults, peer ${SIZES.peer}, ${os.cpus().length} cpus, node ${process.version}`);
  say(`- burst of ${N}`); const b1 = await burst(N, { prefix: 'B' });
  say(`- burst of ${DEFAULT_N} with the default config`); const b0 = await burst(DEFAULT_N, { prefix: 'D', config: DEFAULT_CONFIG });
  say(`- peer (${SIZES.peer} WOs)`); const pr = await peer(SIZES.peer);
  const rows = burstRows(b1, b0, pr);
  const strip = <T extends { root?: string }>(x: T) => { const { root: _r, ...rest } = x; return rest; };
  const report = { kind: 'bench', ts: started.toISOString(), mode: 'bursts', machine: { cpus: os.cpus().length, node: process.version, platform: `${os.platform()} ${os.release()}` }, burst: strip(b1), burst_default: { ...strip(b0), config: { concurrency: 2, io_concurrency: 16, http: false } }, peer: pr, rows, passed: rows.every((r) => r.pass !== false) };
  write(started, report, rows, [b0.root]);
}

await (ONLY === 'scale' ? mainScale() : ONLY === 'bursts' ? mainBursts() : main());
