/** Readers for the non-git sources: config expectations, WO records, telemetry, logs, MLS, service units. */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { layout } from '../layout.js';
import { loadConfig } from '../config/load.js';
import { readMls } from '../mls/ledger.js';
import type { WoRecord } from '../state/record.js';
import { listFiles, namesPath, scanLines } from './files.js';
import type { EvidenceItem, Expectation, LogLine, MlsFact, ServiceFact, TelemetryFact, WoFact } from './types.js';

/** The path asked about: root-relative (posix) and absolute. */
export interface Target {
  root: string;
  rel: string;
  abs: string;
}

/** Whether a text names the target (relative or absolute form). */
export function mentions(text: string, t: Target): boolean {
  return namesPath(text, t.rel) || namesPath(text, t.abs);
}

const toRel = (root: string, p: string): string => (path.isAbsolute(p) ? path.relative(root, p) : path.normalize(p)).split(path.sep).join('/').replace(/\/+$/, '');

/** What wo.config.yaml's guardrail expects of the path (an unreadable config is a note, not a failure). */
export async function expectationFor(t: Target): Promise<{ expect: Expectation | null; note?: EvidenceItem }> {
  try {
    const cfg = await loadConfig(t.root);
    const f = cfg.guardrail.files.find((x) => toRel(t.root, x.path) === t.rel);
    if (f) {
      const { path: _p, ...rest } = f;
      return { expect: { ...rest, from: 'guardrail.files' } };
    }
    const d = cfg.guardrail.dirs.find((x) => t.rel === toRel(t.root, x.path) || t.rel.startsWith(toRel(t.root, x.path) + '/'));
    return { expect: d ? { from: 'guardrail.dirs' } : null };
  } catch (err) {
    const msg = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    return { expect: null, note: { ts: new Date().toISOString(), source: 'fs', detail: `wo.config.yaml unreadable, guardrail expectations not checked: ${msg}` } };
  }
}

function woTime(r: WoRecord): string {
  const t = r.times ?? {};
  return t.rolled_back ?? t.reverted ?? t.finished ?? t.apply ?? t.started ?? t.received ?? '';
}

/** File effects on the path from every WO state record (records are prefiltered by text before parsing). */
export async function woFacts(t: Target): Promise<WoFact[]> {
  const dir = layout(t.root).state;
  const needles = [JSON.stringify(t.rel).slice(1, -1), JSON.stringify(t.abs).slice(1, -1)];
  const out: WoFact[] = [];
  for (const file of await listFiles(dir, (n) => n.endsWith('.json') && !n.startsWith('.'))) {
    let rec: WoRecord;
    let mtime: string;
    try {
      const text = await fsp.readFile(file, 'utf8');
      if (!needles.some((n) => text.includes(n))) continue;
      rec = JSON.parse(text) as WoRecord;
      mtime = (await fsp.stat(file)).mtime.toISOString();
    } catch {
      continue;
    }
    for (const f of Array.isArray(rec.files) ? rec.files : []) {
      if (typeof f?.path !== 'string' || toRel(t.root, f.path) !== t.rel) continue;
      const ts = woTime(rec) || mtime;
      out.push({
        wo_id: String(rec.wo_id), title: String(rec.title ?? ''), status: String(rec.status), action: f.action, ts: new Date(ts).toISOString(),
        rolled_back: rec.rolled_back === true, dry_run: rec.dry_run === true, before_sha256: f.before_sha256 ?? null, after_sha256: f.after_sha256 ?? null,
      });
    }
  }
  return out.sort((a, b) => a.ts.localeCompare(b.ts));
}

/** Telemetry files, current and rotated. */
export async function telemetryFiles(root: string): Promise<string[]> {
  return listFiles(layout(root).telemetryDir, (n) => /^unified(\..+)?\.jsonl$/.test(n));
}

function stringsOf(v: unknown, depth = 0): string[] {
  if (typeof v === 'string') return [v];
  if (depth > 2 || v === null || typeof v !== 'object') return [];
  return Object.values(v as Record<string, unknown>).flatMap((x) => stringsOf(x, depth + 1));
}

/** Drift, restore and rollback events naming the path (or a WO that touched it). */
export async function telemetryFacts(t: Target, woIds: Set<string>): Promise<TelemetryFact[]> {
  const needles = [JSON.stringify(t.rel).slice(1, -1), JSON.stringify(t.abs).slice(1, -1), ...[...woIds].map((id) => `"${id}"`)];
  const out: TelemetryFact[] = [];
  for (const file of await telemetryFiles(t.root)) {
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line || !needles.some((n) => line.includes(n))) continue;
      let ev: Record<string, unknown>;
      try {
        ev = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      const event = String(ev.event ?? '');
      const ts = typeof ev.ts === 'string' && !Number.isNaN(Date.parse(ev.ts)) ? new Date(ev.ts).toISOString() : '';
      if (!ts) continue;
      const wo_id = typeof ev.wo_id === 'string' ? ev.wo_id : undefined;
      const named = stringsOf(ev).some((s) => s !== event && mentions(s, t));
      const names = (k: string) => typeof ev[k] === 'string' && mentions(ev[k] as string, t);
      let kind: TelemetryFact['kind'] | undefined;
      if (event === 'wo_pipeline_drift' && names('missing')) kind = 'missing';
      else if (event === 'wo_pipeline_drift' && names('broken')) kind = 'broken';
      else if (event === 'guardrail_restored' && named) kind = 'restored';
      else if (event === 'wo_rolled_back' && ((wo_id && woIds.has(wo_id)) || named)) kind = 'rolled_back';
      else if (named || (wo_id && woIds.has(wo_id) && /failed|cancelled/.test(event))) kind = 'other';
      if (!kind) continue;
      const extra = kind === 'broken' && ev.why ? ` (${String(ev.why)})` : '';
      out.push({ ts, event, ...(wo_id ? { wo_id } : {}), kind, detail: `${event}${wo_id ? ` ${wo_id}` : ''}${kind === 'missing' ? ': reported missing' : kind === 'broken' ? `: reported broken${extra}` : ''} [${ev.agent ?? '?'}]` });
    }
  }
  return out;
}

const label = (root: string) => (file: string) => path.relative(root, file);

/** Rollback log lines naming the path: `g/logs/rollback_*.log` and the legacy `logs/rollback_*.log`. */
export async function rollbackLines(t: Target): Promise<LogLine[]> {
  const test = (n: string) => /^rollback_.*\.log$/.test(n);
  const files = [...(await listFiles(layout(t.root).logs, test)), ...(await listFiles(path.join(t.root, 'logs'), test))];
  return scanLines(files, (l) => mentions(l, t), label(t.root));
}

/** Guardrail alert lines naming the path (current and legacy place). */
export async function alertLines(t: Target): Promise<LogLine[]> {
  const files = [path.join(layout(t.root).logs, 'guardrail_alerts.log'), path.join(t.root, 'logs', 'guardrail_alerts.log')];
  return scanLines(files, (l) => mentions(l, t), label(t.root));
}

/** MLS ledger entries whose `paths` hold the path or a folder above it (current and legacy ledger). */
export async function mlsFacts(t: Target): Promise<MlsFact[]> {
  const { entries } = await readMls([layout(t.root).ledger, path.join(t.root, 'mls', 'ledger')]);
  return entries
    .filter((e) => Array.isArray(e.paths) && e.paths.some((p) => typeof p === 'string' && (toRel(t.root, p) === t.rel || t.rel.startsWith(toRel(t.root, p) + '/'))))
    .map((e) => ({ ts: new Date(e.ts).toISOString(), type: String(e.type), title: String(e.title) }));
}

/** A service failure as a launchd/systemd log shows it. */
export const SERVICE_FAILURE = /\bexit(?:ed)?(?: with)?(?: code| status)?[ :=]*12[67]\b|command not found|no such file or directory|permission denied/i;

/** Logs where service failures show up: `g/logs/*.log|err` and the legacy `logs/`. */
export async function serviceLogFiles(root: string): Promise<string[]> {
  const test = (n: string) => /\.(log|err|out)$/.test(n) && !n.startsWith('rollback_');
  return [...(await listFiles(layout(root).logs, test)), ...(await listFiles(path.join(root, 'logs'), test))];
}

function isUnit(rel: string): boolean {
  return /^(launchd|systemd)\//.test(rel) || /\.(plist|service|timer)$/.test(rel) || rel.includes('LaunchAgents/');
}

/** Service facts: the unit's installed copy, units that run the path, failure lines naming it. No launchctl/systemctl. */
export async function serviceFacts(t: Target, now: string): Promise<ServiceFact[]> {
  const out: ServiceFact[] = [];
  const base = path.basename(t.rel);
  const exists = (p: string) => fsp.access(p).then(() => true, () => false);
  if (isUnit(t.rel)) {
    const home = os.homedir();
    const installed = base.endsWith('.plist') ? path.join(home, 'Library', 'LaunchAgents', base) : path.join(home, '.config', 'systemd', 'user', base);
    out.push({ ts: now, kind: 'unit', detail: `service unit; installed copy ${installed}: ${(await exists(installed)) ? 'present' : 'absent'}` });
  }
  const unitDirs = [path.join(t.root, 'launchd'), path.join(t.root, 'systemd')];
  for (const dir of unitDirs) {
    for (const f of await listFiles(dir, (n) => /\.(plist|service|timer)$/.test(n))) {
      if (path.relative(t.root, f) === t.rel) continue;
      const text = await fsp.readFile(f, 'utf8').catch(() => '');
      if (mentions(text, t)) out.push({ ts: now, kind: 'reference', detail: `run by service unit ${path.relative(t.root, f)}` });
    }
  }
  const distinctive = base.length >= 5 && /[._]/.test(base);
  const failures = await scanLines(await serviceLogFiles(t.root), (l) => SERVICE_FAILURE.test(l) && (mentions(l, t) || (distinctive && namesPath(l.replace(/\//g, ' '), base))), label(t.root));
  for (const l of failures) out.push({ ts: l.ts, kind: 'failure', detail: `${l.file}: ${l.line}` });
  return out;
}
