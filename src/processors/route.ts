/** route — the JSON-WO processor: normalise ENTRY work orders, assign ids, deliver each to its lane, all-or-nothing. */
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/load.js';
import { validateWo, type ParseError } from '../wo/parse.js';
import { fsyncDir, moveUnique } from '../util/fsx.js';
import { WoError } from '../errors.js';

export interface Delivery {
  wo_id: string;
  lane: string;
  /** The normalised WO as JSON text. */
  text: string;
}

/** The record id of an ENTRY file: `route-<first 8 hex of its sha256>`. */
export function routeId(sha256hex: string): string {
  return `route-${sha256hex.slice(0, 8)}`;
}

function slug(title: string): string {
  const s = title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 32).replace(/-+$/, '');
  return s || 'wo';
}

/** `WO-YYYYMMDD-HHMMSS-<slug>-<4 hex>` (UTC). */
export function assignId(title: string, now: Date): string {
  const t = now.toISOString();
  const stamp = `${t.slice(0, 4)}${t.slice(5, 7)}${t.slice(8, 10)}-${t.slice(11, 13)}${t.slice(14, 16)}${t.slice(17, 19)}`;
  return `WO-${stamp}-${slug(title)}-${crypto.randomBytes(2).toString('hex')}`;
}

/** The lane a WO goes to: its own `lane`, else the first matching config rule, else the default. */
export function targetLane(wo: { lane?: string | undefined; type?: string | undefined; owner?: string | undefined }, config: Config): string {
  if (wo.lane) return wo.lane;
  for (const rule of config.route.rules) {
    const w = rule.when;
    if (w.type !== undefined && w.type !== wo.type) continue;
    if (w.owner !== undefined && w.owner !== wo.owner) continue;
    return rule.lane;
  }
  return config.route.default_lane;
}

/**
 * Plan the deliveries of an ENTRY document (a WO or a bundle `{"wos":[…]}`); every WO must be valid or none is
 * delivered. `reuseIds` gives a resumed route the ids it assigned before the crash.
 */
export function planRoute(doc: unknown, config: Config, now: Date, reuseIds: readonly string[] = []): Delivery[] {
  const items: unknown[] =
    typeof doc === 'object' && doc !== null && !Array.isArray(doc) && Array.isArray((doc as { wos?: unknown }).wos)
      ? (doc as { wos: unknown[] }).wos
      : [doc];
  if (items.length === 0) throw new WoError('INVALID', 'the bundle has no WOs', { details: [{ path: 'wos', message: 'is empty' }] });
  const errors: ParseError[] = [];
  const out: Delivery[] = [];
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const prefix = items.length > 1 || (doc as { wos?: unknown }).wos ? `wos.${i}.` : '';
    const v = validateWo(item, { ...config.limits, entry: true });
    if (!v.ok) {
      errors.push(...v.errors.map((e) => ({ path: prefix + e.path, message: e.message })));
      return;
    }
    const obj = { ...(item as Record<string, unknown>) };
    const id = v.wo.wo_id ?? reuseIds[i] ?? assignId(v.wo.title, now);
    if (seen.has(id)) errors.push({ path: `${prefix}wo_id`, message: `duplicate id ${id} within the bundle` });
    seen.add(id);
    const lane = targetLane({ lane: v.wo.lane, type: (obj.type as string | undefined) ?? v.wo.type, owner: v.wo.owner }, config);
    if (lane === 'ENTRY') errors.push({ path: `${prefix}lane`, message: 'a WO cannot be routed back into ENTRY' });
    obj.wo_id = id;
    obj.type = obj.type ?? v.wo.type;
    delete obj.lane;
    out.push({ wo_id: id, lane, text: JSON.stringify(obj, null, 2) + '\n' });
  });
  if (errors.length) throw new WoError('INVALID', `the ENTRY WO is invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, { details: errors });
  return out;
}

/**
 * Deliver all WOs: every one is first written and fsynced as a hidden temp in its lane, then each is
 * renamed in (complete: u+x). A delivery already present (a resumed route) is not written twice.
 */
export async function deliver(inboxRoot: string, deliveries: Delivery[], already: (d: Delivery) => Promise<boolean>): Promise<void> {
  const staged: { tmp: string; dir: string; d: Delivery }[] = [];
  try {
    for (const d of deliveries) {
      if (await already(d)) continue;
      const dir = path.join(inboxRoot, d.lane);
      await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
      const tmp = path.join(dir, `.${d.wo_id}.${process.pid}.route.tmp`);
      const fh = await fsp.open(tmp, 'w', 0o700);
      try {
        await fh.writeFile(d.text);
        await fh.chmod(0o700);
        await fh.sync();
      } finally {
        await fh.close();
      }
      staged.push({ tmp, dir, d });
    }
  } catch (err) {
    for (const s of staged) await fsp.unlink(s.tmp).catch(() => {});
    throw err;
  }
  for (const s of staged) await moveUnique(s.tmp, s.dir, `${s.d.wo_id}.json`, { dest: 'shared', noSync: true });
  for (const dir of new Set(staged.map((s) => s.dir))) await fsyncDir(dir);
}
