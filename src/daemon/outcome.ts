/** The one log line per WO outcome: what `journalctl -u` and Console.app show of the daemon's work. */
import type { WoRecord } from '../state/record.js';

export interface OutcomeLine {
  fields: { wo_id: string; lane: string; type: string; status: string; code: string | null; duration_ms: number | null; attempt: number; title: string };
  msg: string;
}

/** Why: pure, so the line's shape is tested without a daemon; duration runs from `received` to `finished` (or now). */
export function outcomeLine(rec: WoRecord, now: Date): OutcomeLine {
  const start = Date.parse(rec.times.received ?? rec.times.started ?? '');
  const end = Date.parse(rec.times.finished ?? '') || now.getTime();
  const duration = Number.isFinite(start) ? Math.max(0, end - start) : null;
  const code = rec.error?.code ?? null;
  const fields = { wo_id: rec.wo_id, lane: rec.lane, type: rec.type, status: rec.status, code, duration_ms: duration, attempt: rec.attempt, title: rec.title };
  const took = duration === null ? '' : ` in ${duration} ms`;
  return { fields, msg: `WO ${rec.wo_id} ${rec.status}${code ? ` (${code})` : ''}${took} [${rec.lane}/${rec.type}]` };
}
