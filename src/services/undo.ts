/** Undo a WO's service actions after its files are restored, and tell of any undo that failed (never hidden). */
import path from 'node:path';
import type { Config } from '../config/load.js';
import type { WoRecord } from '../state/record.js';
import type { Telemetry } from '../state/telemetry.js';
import { alertLine } from '../guardrail/alerts.js';
import { tell } from '../notify.js';
import { managerOptions } from './manager.js';
import { compensate } from './step.js';

export interface UndoDeps {
  config: Config;
  telemetry: Telemetry;
  now: () => Date;
  log: (msg: string) => void;
}

/**
 * Why: rollback (a failed attempt or `wo rollback`) must leave services as they were: a loaded agent booted
 * out, an unloaded one re-bootstrapped from its restored plist. Failures go into the record (its compensation,
 * a warning), the alert log and notify; they never stop the rest of the rollback.
 */
export async function undoServices(deps: UndoDeps, rec: WoRecord, plistAbs?: (given: string) => string): Promise<string[]> {
  const recs = rec.services ?? [];
  if (!recs.length) return [];
  const abs = plistAbs ?? ((g: string) => path.resolve(deps.config.root, g));
  const failures = await compensate(recs, managerOptions(deps.config), abs);
  if (!failures.length) return failures;
  for (const f of failures) rec.warnings.push(`service compensation failed: ${f}`);
  const text = `SERVICE UNDO FAILED ${rec.wo_id}: ${failures.join('; ')}`;
  alertLine({ config: deps.config, telemetry: deps.telemetry, now: deps.now, log: deps.log, track: () => {} }, text);
  deps.log(text);
  await tell(deps.config.notify, 'failed', { ts: deps.now().toISOString(), agent: 'daemon', event: 'wo_rolled_back', ok: false, wo_id: rec.wo_id, root: deps.config.root, services_failed: failures }, { log: deps.log }).catch(() => {});
  return failures;
}
