/** route — the JSON-WO processor: normalise ENTRY work orders, assign ids, deliver each to its lane, all-or-nothing. */
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/load.js';
import { decodeFile, validateWo, type ParseError, type WorkOrder } from '../wo/parse.js';
import type { PlanStep } from '../state/record.js';
import type { Decoded } from './types.js';
export { ENTRY_LANE } from './types.js';
import { fsyncDir, moveUnique, sha256 } from '../util/fsx.js';
import { WoError, toWoError } from '../errors.js';
import { TERMINAL, type WoRecord } from '../state/record.js';
import { setStage, type Job, type Runtime } from '../daemon/runtime.js';
import { endAttempt, reject, transition } from '../daemon/journal.js';

export interface Delivery {
  wo_id: string;
  lane: string;
  /** The normalised WO as JSON text. */
  text: string;
}

/** A route job's WorkOrder stand-in: the entry file itself. */
function routeWo(name: string, doc: unknown): WorkOrder {
  const wos = (doc as { wos?: unknown })?.wos;
  const title = Array.isArray(wos)
    ? `route: bundle of ${wos.length} WO${wos.length === 1 ? '' : 's'} (${name})`
    : typeof (doc as { title?: unknown })?.title === 'string' ? `route: ${(doc as { title: string }).title}` : `route: ${name}`;
  return {
    wo_id: undefined, title, type: 'route', priority: 'P2', owner: undefined, created_at: undefined, description: undefined, lane: undefined,
    dry_run: false, files: [], patches: [], delete: [], commands: [], idempotent: true, paths: [], post_verify: [], tests: [], services: [],
    timeout_s: undefined, retry: undefined, extra: {},
  };
}

/** Decode an ENTRY file (JSON or YAML, a WO or a bundle): its record id comes from its bytes. */
export function decodeEntry(bytes: Buffer, name: string): Decoded {
  const doc = decodeFile(bytes, name);
  if (!doc.ok) return { ok: false, message: doc.message };
  const digest = sha256(bytes);
  return { ok: true, id: routeId(digest), sha256: digest, wo: routeWo(name, doc.value), doc: doc.value };
}

/** The deliveries an entry file would make, as plan steps (nothing is delivered). */
export async function planEntry(rt: Runtime, job: Job): Promise<PlanStep[]> {
  return planRoute(job.doc, rt.config(), rt.now()).map((d) => ({ step: `deliver ${d.wo_id} to ${d.lane}`, path: `bridge/inbox/${d.lane}/${d.wo_id}.json`, verdict: 'will change' as const }));
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

/**
 * The lane a WO goes to. A WO that names its `lane` goes there unless a rule with `when.lane` equal to that name
 * (and its other conditions) sends it elsewhere; a WO without one goes to the first matching rule that has no
 * `when.lane`, else the default lane.
 */
export function targetLane(wo: { lane?: string | undefined; type?: string | undefined; owner?: string | undefined }, config: Config): string {
  for (const rule of config.route.rules) {
    const w = rule.when;
    if ((w.lane ?? undefined) !== (wo.lane || undefined)) continue;
    if (w.type !== undefined && w.type !== wo.type) continue;
    if (w.owner !== undefined && w.owner !== wo.owner) continue;
    return rule.lane;
  }
  return wo.lane || config.route.default_lane;
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
    const v = validateWo(item, { ...config.limits, entry: true, lenient: config.intake.lenient });
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

/** Route an ENTRY file: plan every delivery (all valid or none), record them, deliver, end `routed`. */
export async function runRoute(rt: Runtime, job: Job, rec: WoRecord): Promise<WoRecord> {
  let deliveries;
  try {
    const prev = await rt.store.read(job.id);
    const resumed = prev && prev.sha256 === job.sha256 && !TERMINAL.has(prev.status) ? (prev.routed_ids ?? []) : [];
    deliveries = planRoute(job.doc, rt.config(), rt.now(), resumed);
  } catch (err) {
    const e = toWoError(err);
    await reject(rt, job.file, job.name, job.lane, e.code, e.details.length ? e.details : [{ path: '(file)', message: e.message }], job.id, job);
    return (await rt.store.read(job.id)) ?? rec;
  }
  rec.times.started = rt.now().toISOString();
  setStage(rt, rec, 'apply');
  rec.routed_ids = deliveries.map((d) => d.wo_id);
  rec.deliveries = deliveries.map((d) => ({ wo_id: d.wo_id, lane: d.lane }));
  await transition(rt, rec, 'running', { name: 'route-start' }); // write-ahead: a resumed route delivers only what is missing
  await deliver(rt.L.inbox, deliveries, async (d) => {
    const existing = await rt.store.read(d.wo_id);
    if (existing) return true;
    try {
      await fsp.lstat(path.join(rt.L.inbox, d.lane, `${d.wo_id}.json`));
      return true;
    } catch {
      return false;
    }
  });
  setStage(rt, rec, 'commit');
  await endAttempt(rt, job.file, rec, 'routed', () => {
    for (const d of deliveries) rt.telemetry.emit('router', 'wo_routed', { wo_id: d.wo_id, lane: d.lane, from: rec.wo_id });
  });
  return rec;
}

