/** `wo canary`: an end-to-end self-test through the running daemon; report in g/reports/wo/canary-<ts>.json. */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { paint, printJson, rootOf, withRoot } from '../common.js';
import { layout } from '../../layout.js';
import { CheckFailed, HeldOrDown, UsageError } from '../../errors.js';
import { daemonState } from '../../daemon/status.js';
import { dropFileUnique, ensureDir, writeJsonAtomic } from '../../util/fsx.js';
import { readTelemetry } from '../../state/telemetry.js';
import { loadConfig } from '../../config/load.js';
import { followWo } from '../follow.js';

/** The canary WO of the original plan, with a unique id and nonce. */
export function canaryWo(id: string, nonce: string): string {
  return `wo_id: ${id}
title: "Pipeline health check (wo canary)"
priority: P0
owner: wo-canary
type: apply_patch
files:
  - path: tmp/canary_test.txt
    mode: "0644"
    content: |
      canary ${nonce}
post_verify:
  - "test -f tmp/canary_test.txt"
tests:
  - name: "canary file exists"
    command: "test -f tmp/canary_test.txt && echo canary_ok"
    expected: "canary_ok"
  - name: "canary content"
    command: "cat tmp/canary_test.txt"
    expected: "canary ${nonce}"
`;
}

export function register(program: Command, name: string): void {
  withRoot(program.command(name))
    .description('end-to-end self-test: drop a canary WO through the running daemon and check file, state and telemetry')
    .option('--timeout <s>', 'how long to wait for the canary', '30')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { root?: string; timeout: string; json?: boolean }) => {
      const timeoutS = Number(opts.timeout);
      if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new UsageError(`--timeout ${opts.timeout}: give a number of seconds`);
      const root = rootOf(opts);
      const L = layout(root);
      const d = await daemonState(L);
      if (!d.running) throw new HeldOrDown(`no daemon is running on ${root}: the canary needs one (start it with npm start or wo daemon)`);
      const config = await loadConfig(root);
      const started = new Date();
      const nonce = crypto.randomBytes(6).toString('hex');
      const id = `WO-CANARY-${started.toISOString().replace(/[-:]/g, '').slice(0, 15)}-${nonce.slice(0, 4)}`;
      const lane = config.submit_lane;
      await ensureDir(path.join(L.inbox, lane));
      await dropFileUnique(path.join(L.inbox, lane), `${id}.yaml`, canaryWo(id, nonce), 0o700);
      const r = await followWo(root, id, { timeoutMs: timeoutS * 1000, quiet: !!opts.json });
      const checks: { name: string; ok: boolean; detail: string }[] = [];
      const add = (n: string, ok: boolean, detail: string) => checks.push({ name: n, ok, detail });
      add('daemon', true, `pid ${d.pid}`);
      add('outcome', r.rec?.status === 'succeeded', r.timedOut ? `not finished within ${timeoutS} s (${r.rec?.status ?? 'never claimed'})` : `${r.rec?.status}${r.rec?.error ? `: ${r.rec.error.code} ${r.rec.error.message}` : ''}${r.rec?.hold_reasons ? `: ${r.rec.hold_reasons.join('; ')}` : ''}`);
      const content = await fs.readFile(path.join(root, 'tmp/canary_test.txt'), 'utf8').catch(() => null);
      add('file', content === `canary ${nonce}\n`, content === null ? 'tmp/canary_test.txt missing' : `tmp/canary_test.txt ${content === `canary ${nonce}\n` ? 'holds the canary nonce' : 'holds other content'}`);
      add('tests', !!r.rec?.tests?.length && r.rec.tests.every((t) => t.passed), `${r.rec?.tests?.filter((t) => t.passed).length ?? 0}/${r.rec?.tests?.length ?? 0} passed`);
      const evs = readTelemetry(L.telemetry).filter((e) => e.wo_id === id).map((e) => e.event);
      add('telemetry', evs.includes('wo_started') && evs.includes('wo_completed'), evs.join(', ') || 'no events');
      const ok = checks.every((c) => c.ok);
      const report = { ts: started.toISOString(), wo_id: id, ok, duration_ms: Date.now() - started.getTime(), checks };
      await ensureDir(L.woReports);
      const file = path.join(L.woReports, `canary-${started.toISOString().replace(/[:.]/g, '-')}.json`);
      await writeJsonAtomic(file, report);
      if (opts.json) printJson({ ...report, report_file: file });
      else {
        for (const c of checks) process.stdout.write(`${c.ok ? paint('ok  ', 'green') : paint('FAIL', 'red')} ${c.name.padEnd(10)} ${c.detail}\n`);
        process.stdout.write(`report: ${path.relative(root, file)}\n`);
      }
      if (!ok) throw new CheckFailed(`canary ${id} failed`);
    });
}
