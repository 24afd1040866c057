/** Pure: parse a point in time for --since/--until: ISO dates (zone-less = local time), `now`, or relative `90m`, `2h`, `3d`, `1w` ago. */
import { UsageError } from '../errors.js';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** The instant `text` names, relative ones counted back from `now`. */
export function parseWhen(text: string, now: Date = new Date(), flag = 'time'): Date {
  const s = text.trim();
  if (s === 'now') return new Date(now);
  const rel = /^(\d+(?:\.\d+)?)\s*([smhdw])(?:\s*ago)?$/i.exec(s);
  if (rel) return new Date(now.getTime() - Number(rel[1]) * UNIT_MS[rel[2]!.toLowerCase()]!);
  const local = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(s);
  if (local) {
    const [, y, mo, d, h = '0', mi = '0', se = '0'] = local;
    const t = new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se));
    if (!Number.isNaN(t.getTime()) && t.getMonth() === Number(mo) - 1) return t;
  } else if (/^\d{4}-\d{2}-\d{2}T/.test(s)) {
    const t = Date.parse(s);
    if (!Number.isNaN(t)) return new Date(t);
  }
  throw new UsageError(`${flag}: ${JSON.stringify(text)} is not a time; use an ISO date (2025-11-13, 2025-11-13 01:50, 2025-11-13T01:50:00Z), 'now', or a relative age (30m, 2h, 3d, 1w)`);
}
