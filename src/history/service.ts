/** check-history of a service (a launchd label or systemd unit): its manager's status now, its plist/unit file's git history, what wo did to it. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../config/load.js';
import { UsageError } from '../errors.js';
import { layout } from '../layout.js';
import { kindOfName } from '../guardrail/services.js';
import { managerOptions, serviceStatus } from '../services/manager.js';
import { LABEL_RE, UNIT_RE, problemOf, type ServiceKind, type ServiceStatus } from '../services/status.js';
import { openRepo, pathLog } from './git.js';
import type { EvidenceItem } from './types.js';

export interface ServiceReport {
  service: string;
  kind: ServiceKind;
  verdict: 'healthy' | 'unhealthy' | 'unknown';
  summary: string;
  status: ServiceStatus | null;
  /** Its plist or unit file inside the root, when one is known (root-relative). */
  file?: string;
  evidence: EvidenceItem[];
}

/** Why: a bare name that is no path here (or --service) is a service when it can only be one (listed, or a unit name). */
export function looksLikeService(name: string, supervised: readonly string[]): boolean {
  return !name.includes('/') && (supervised.includes(name) || UNIT_RE.test(name));
}

/** Where its file is in the root: launchd's reported plist (inside the root), else `<label>.plist` / the unit in git or a WO record. */
async function findFile(root: string, name: string, kind: ServiceKind, status: ServiceStatus | null, fromRecords: string[]): Promise<string | undefined> {
  if (status?.plist) {
    const rel = path.relative(root, status.plist);
    if (rel && !rel.startsWith('..') && !path.isAbsolute(rel)) return rel.split(path.sep).join('/');
  }
  if (fromRecords[0]) return fromRecords[0];
  const repo = await openRepo(root);
  if (!repo.git || repo.state !== 'ok') return undefined;
  const file = kind === 'launchd' ? `${name}.plist` : name;
  const out = await repo.git.raw(['log', '--all', '--name-only', '--format=', '--', `:(glob)**/${file}`]).catch(() => '');
  const hit = out.split('\n').map((l) => l.trim()).find((l) => l.endsWith(`/${file}`) || l === file);
  return hit && hit.startsWith(repo.prefix) ? hit.slice(repo.prefix.length) : hit;
}

/** WO records whose services: step acted on this service (newest first), and the plists they named. */
async function woActions(stateDir: string, name: string): Promise<{ items: EvidenceItem[]; plists: string[] }> {
  const items: EvidenceItem[] = [];
  const plists: string[] = [];
  const names = await fsp.readdir(stateDir).catch(() => [] as string[]);
  for (const f of names.filter((n) => n.endsWith('.json'))) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const rec: any = await fsp.readFile(path.join(stateDir, f), 'utf8').then(JSON.parse, () => undefined);
    for (const s of Array.isArray(rec?.services) ? rec.services : []) {
      if (s?.name !== name) continue;
      if (typeof s.plist === 'string') plists.push(s.plist);
      const ts = rec.times?.finished ?? rec.times?.started ?? rec.times?.received ?? '';
      const undo = s.compensation ? `; undone by ${s.compensation.cmd} (${s.compensation.ok ? 'ok' : `FAILED: ${s.compensation.problem}`})` : '';
      items.push({ ts, source: 'wo', detail: `${rec.wo_id} (${rec.status}): ${s.action}: ${s.cmd} → ${s.ok ? 'ok' : s.problem}${undo}` });
    }
  }
  return { items, plists };
}

/** Guardrail events about this service (drift, restarts). */
async function telemetryItems(file: string, name: string): Promise<EvidenceItem[]> {
  const text = await fsp.readFile(file, 'utf8').catch(() => '');
  const needle = `"service":${JSON.stringify(name)}`;
  const out: EvidenceItem[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes(needle)) continue;
    try {
      const e = JSON.parse(line) as { ts: string; event: string; why?: string; cmd?: string; ok?: boolean };
      out.push({ ts: e.ts, source: 'telemetry', detail: `${e.event}${e.why ? `: ${e.why}` : ''}${e.cmd ? ` (${e.cmd}${e.ok === false ? ', failed' : ''})` : ''}` });
    } catch {
      /* a torn line: skipped */
    }
  }
  return out;
}

/** Why: "what happened to this agent" with evidence: the manager now, its file in git, wo's actions and the guardrail's events. */
export async function serviceHistory(root: string, name: string, opts: { hours?: number; now?: Date } = {}): Promise<ServiceReport> {
  if (!LABEL_RE.test(name) && !UNIT_RE.test(name)) throw new UsageError(`${JSON.stringify(name)} is not a launchd label or systemd unit name (letters, digits, @ . _ : -)`);
  const config = await loadConfig(root);
  const L = layout(root);
  const now = (opts.now ?? new Date()).toISOString();
  const kind = kindOfName(name);
  const { status, call } = await serviceStatus({ kind, name }, managerOptions(config));
  const wo = await woActions(L.state, name);
  const file = await findFile(root, name, kind, status, wo.plists);
  const evidence: EvidenceItem[] = [];
  const facts = status
    ? `loaded ${status.loaded ? 'yes' : 'no'}, running ${status.running ? `yes${status.pid ? ` (pid ${status.pid})` : ''}` : 'no'}, last exit ${status.last_exit ?? '-'}${status.exit_meaning ? ` (${status.exit_meaning})` : ''}`
    : `status unknown: ${call.error ?? `${call.cmd} exited ${call.exit_code}`}`;
  evidence.push({ ts: now, source: 'service', detail: `${call.cmd}: ${facts}` });
  if (file) {
    const repo = await openRepo(root);
    for (const c of await pathLog(repo, file)) evidence.push({ ts: c.ts, source: 'git', detail: `${c.sha.slice(0, 10)} ${c.status} ${c.path} — ${c.subject} (${c.author})` });
  }
  evidence.push(...wo.items, ...(await telemetryItems(L.telemetry, name)));
  const from = Date.parse(now) - (opts.hours ?? 24) * 3600_000;
  const shown = [evidence[0]!, ...evidence.slice(1).filter((e) => Date.parse(e.ts) >= from).sort((a, b) => b.ts.localeCompare(a.ts))];
  const problem = status ? problemOf(status) : null;
  const verdict = !status ? 'unknown' : problem === null ? 'healthy' : 'unhealthy';
  const summary = !status ? `${name}: ${facts}` : problem === null ? `${name} is loaded and running` : `${name} is ${problem}${problem === 'exited 127' ? ` (${status.exit_meaning})` : ''}`;
  return { service: name, kind, verdict, summary, status, ...(file ? { file } : {}), evidence: shown };
}

/** The report as text. */
export function renderServiceReport(r: ServiceReport): string {
  const lines = [`${r.service} (${r.kind}): ${r.verdict} — ${r.summary}`];
  if (r.file) lines.push(`file: ${r.file}`);
  for (const e of r.evidence) lines.push(`  ${e.ts}  ${e.source.padEnd(9)} ${e.detail}`);
  return `${lines.join('\n')}\n`;
}
