/** Where drift is told: telemetry, g/logs/guardrail_alerts.log, the MLS ledger, and notify (command, desktop). */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/load.js';
import { appendMls } from '../mls/ledger.js';
import { appendRotated } from '../util/rotate.js';
import { tell } from '../notify.js';
import type { Telemetry } from '../state/telemetry.js';
import { describeDrift, driftFields } from './drift.js';
import { guardPaths } from './store.js';
import type { Drift } from './types.js';

export interface AlertCtx {
  config: Config;
  telemetry: Telemetry;
  now: () => Date;
  log: (msg: string, extra?: object) => void;
  /** Keeps a pending notify so close() can wait for it. */
  track: (p: Promise<void>) => void;
}

/** Append one line to the alert log (never throws: a full disk must not stop the guardrail). */
export function alertLine(ctx: AlertCtx, text: string): void {
  const file = guardPaths(ctx.config.root).alertsLog;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    appendRotated(file, `${ctx.now().toISOString()} ${text.replace(/\n/g, ' ')}\n`, { rotateBytes: ctx.config.logs.rotate_bytes, keep: ctx.config.logs.keep });
  } catch (err) {
    ctx.log(`guardrail: cannot write ${file}: ${(err as Error).message}`);
  }
}

const vaultRel = (sha: string) => `g/guardrail/vault/${sha}`;

/** A path went from healthy (or another drift) to this drift. */
export function alertDrift(ctx: AlertCtx, d: Drift, kept?: string): void {
  const keptNote = kept ? `; its current content is kept in the vault at ${vaultRel(kept)}` : '';
  const fields = { ...driftFields(d), ...(kept ? { kept: vaultRel(kept) } : {}) };
  try {
    ctx.telemetry.emit('guardrail', 'wo_pipeline_drift', { ok: false, ...fields });
  } catch (err) {
    ctx.log(`guardrail: cannot write telemetry: ${(err as Error).message}`);
  }
  alertLine(ctx, `DRIFT ${describeDrift(d)}${keptNote}`);
  try {
    appendMls(guardPaths(ctx.config.root).ledger, {
      ts: ctx.now().toISOString(),
      type: 'incident',
      title: `guardrail: ${d.path} ${d.kind}`,
      body: `${describeDrift(d)}${keptNote}`,
      tags: ['guardrail'],
      paths: [d.path],
    });
  } catch (err) {
    ctx.log(`guardrail: cannot write the MLS ledger: ${(err as Error).message}`);
  }
  ctx.log(`guardrail: drift ${describeDrift(d)}${keptNote}`, fields);
  ctx.track(tell(ctx.config.notify, 'drift', { ts: ctx.now().toISOString(), agent: 'guardrail', event: 'wo_pipeline_drift', root: ctx.config.root, ...fields }));
}

/** A drifted path is as expected again (by itself, a person, or a restore). */
export function alertRecovered(ctx: AlertCtx, relPath: string): void {
  alertLine(ctx, `RECOVERED ${relPath}: healthy again`);
  ctx.log(`guardrail: ${relPath} healthy again`);
}

/** A restore put a path back. */
export function alertRestored(ctx: AlertCtx, relPath: string, info: { sha256?: string; mode?: number; kept?: string }): void {
  const fields = {
    path: relPath,
    ...(info.sha256 ? { sha256: info.sha256, from: vaultRel(info.sha256) } : { kind: 'dir' }),
    ...(info.mode !== undefined ? { mode: info.mode.toString(8).padStart(4, '0') } : {}),
    ...(info.kept ? { kept: vaultRel(info.kept) } : {}),
  };
  try {
    ctx.telemetry.emit('guardrail', 'guardrail_restored', { ok: true, ...fields });
  } catch (err) {
    ctx.log(`guardrail: cannot write telemetry: ${(err as Error).message}`);
  }
  const what = info.sha256 ? `from ${vaultRel(info.sha256)}` : 'as an empty folder';
  alertLine(ctx, `RESTORED ${relPath} ${what}${info.kept ? `; the version it replaced is kept at ${vaultRel(info.kept)}` : ''}`);
  ctx.log(`guardrail: restored ${relPath} ${what}`, fields);
}

/** A restore was wanted but refused or impossible. */
export function alertNotRestored(ctx: AlertCtx, relPath: string, why: string): void {
  alertLine(ctx, `NOT RESTORED ${relPath}: ${why}`);
  ctx.log(`guardrail: not restoring ${relPath}: ${why}`);
}
