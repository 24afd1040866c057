/** wo forensics: the evidence for a time window (all paths, or some), a likely cause, written to g/reports/wo/forensic_<ts>.json. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { layout } from '../layout.js';
import { readMls } from '../mls/ledger.js';
import type { WoRecord } from '../state/record.js';
import { ensureDir, writeJsonAtomic } from '../util/fsx.js';
import { checkHistoryDetailed, resolveTarget } from './check.js';
import { listFiles, scanLines } from './files.js';
import { openRepo, presence, reflog, windowLog } from './git.js';
import { SERVICE_FAILURE, serviceLogFiles, telemetryFiles } from './sources.js';
import { reflogAction } from './timeline.js';
import type { EvidenceItem, Verdict } from './types.js';

export interface ForensicFindings {
  git_events: EvidenceItem[];
  reflog_events: EvidenceItem[];
  rollbacks: EvidenceItem[];
  drift_events: EvidenceItem[];
  wo_events: EvidenceItem[];
  service_failures: EvidenceItem[];
  mls: EvidenceItem[];
}

export interface ForensicReport {
  investigation_date: string;
  time_window: { since: string; until: string };
  root: string;
  paths: string[];
  findings: ForensicFindings;
  verdicts: { path: string; verdict: Verdict; summary: string; cause?: string }[];
  likely_cause: string;
  notes: string[];
  evidence: EvidenceItem[];
}

const WIPING = new Set(['reset', 'checkout', 'rebase', 'pull', 'merge', 'stash']);
const newestFirst = (a: EvidenceItem, b: EvidenceItem) => b.ts.localeCompare(a.ts);

async function gitFindings(root: string, since: Date, until: Date, rels: string[], notes: string[]) {
  const repo = await openRepo(root);
  if (repo.note) notes.push(repo.note);
  const inWin = (ts: string) => ts >= since.toISOString() && ts <= until.toISOString();
  const [commits, entries] = await Promise.all([windowLog(repo, since, until, rels), reflog(repo, 2000)]);
  const git_events: EvidenceItem[] = commits.map((c) => {
    const files = c.files.slice(0, 10).map((f) => `${f.status[0]} ${f.path}`).join(', ') + (c.files.length > 10 ? `, … ${c.files.length - 10} more` : '');
    return { ts: c.ts, source: 'git', detail: `commit ${c.sha.slice(0, 7)} "${c.subject}" by ${c.author}${files ? `: ${files}` : ''}` };
  });
  const deletions = commits.filter((c) => c.files.some((f) => f.status.startsWith('D')));
  const has = await presence(repo, entries.map((e) => e.sha), rels);
  const reflog_events: EvidenceItem[] = [];
  const removals: { ts: string; text: string }[] = [];
  entries.forEach((e, i) => {
    if (!inWin(e.ts)) return;
    const prev = entries[i + 1];
    const { verb } = reflogAction(e.message);
    const removed = prev ? rels.filter((r) => has.get(`${prev.sha}:${r}`) === true && has.get(`${e.sha}:${r}`) === false) : [];
    if (!WIPING.has(verb) && !removed.length) return;
    const detail = `${e.selector} ${e.sha.slice(0, 7)} ${e.message}${removed.length ? ` — removed ${removed.join(', ')}` : ''}`;
    reflog_events.push({ ts: e.ts, source: 'reflog', detail });
    if (removed.length || verb === 'reset') removals.push({ ts: e.ts, text: `${verb === 'reset' ? `git reset --hard ${reflogAction(e.message).target ?? ''}` : `git ${verb}`} at ${e.ts} (reflog ${e.selector}: "${e.message}")${removed.length ? ` removed ${removed.join(', ')}` : ''}` });
  });
  return { git_events, reflog_events, deletions, removals };
}

async function telemetryFindings(root: string, inWin: (ts: string) => boolean) {
  const rollbacks: EvidenceItem[] = [];
  const drift: EvidenceItem[] = [];
  for (const file of await telemetryFiles(root)) {
    const text = await fsp.readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      if (!/wo_rolled_back|wo_pipeline_drift|guardrail_restored/.test(line)) continue;
      let ev: Record<string, unknown>;
      try {
        ev = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      const ts = typeof ev.ts === 'string' && !Number.isNaN(Date.parse(ev.ts)) ? new Date(ev.ts).toISOString() : '';
      if (!ts || !inWin(ts)) continue;
      const { ts: _t, agent: _a, event, ok: _o, ...rest } = ev;
      const item: EvidenceItem = { ts, source: 'telemetry', detail: `${String(event)} ${JSON.stringify(rest)}` };
      (event === 'wo_rolled_back' ? rollbacks : drift).push(item);
    }
  }
  return { rollbacks, drift };
}

async function woFindings(root: string, inWin: (ts: string) => boolean, rels: string[]): Promise<EvidenceItem[]> {
  const out: EvidenceItem[] = [];
  for (const file of await listFiles(layout(root).state, (n) => n.endsWith('.json') && !n.startsWith('.'))) {
    let r: WoRecord;
    try {
      r = JSON.parse(await fsp.readFile(file, 'utf8')) as WoRecord;
    } catch {
      continue;
    }
    const ts = Object.values(r.times ?? {}).filter((t) => typeof t === 'string' && inWin(new Date(t).toISOString())).sort().pop();
    if (!ts) continue;
    const files = (Array.isArray(r.files) ? r.files : []).filter((f) => !rels.length || rels.includes(f.path));
    const deletes = files.filter((f) => f.action === 'delete').map((f) => f.path);
    const interesting = deletes.length || r.rolled_back || ['failed', 'reverted', 'cancelled'].includes(r.status);
    if (!interesting || (rels.length && !files.length)) continue;
    const what = [deletes.length ? `deleted ${deletes.join(', ')}` : '', r.rolled_back ? 'rolled back' : '', r.error ? `${r.error.code}: ${r.error.message}` : ''].filter(Boolean).join('; ');
    out.push({ ts: new Date(ts).toISOString(), source: 'wo', detail: `WO ${r.wo_id} "${r.title}" ${r.status}${what ? ` (${what})` : ''}` });
  }
  return out;
}

async function logFindings(root: string, inWin: (ts: string) => boolean) {
  const l = layout(root);
  const label = (f: string) => path.relative(root, f);
  const test = (n: string) => /^rollback_.*\.log$/.test(n);
  const rb = await scanLines([...(await listFiles(l.logs, test)), ...(await listFiles(path.join(root, 'logs'), test))], () => true, label);
  const alerts = await scanLines([path.join(l.logs, 'guardrail_alerts.log'), path.join(root, 'logs', 'guardrail_alerts.log')], () => true, label);
  const svc = await scanLines(await serviceLogFiles(root), (x) => SERVICE_FAILURE.test(x), label);
  const item = (source: EvidenceItem['source'], prefix = '') => (x: { ts: string; file: string; line: string }): EvidenceItem => ({ ts: x.ts, source, detail: `${prefix}${x.file}: ${x.line}` });
  return {
    rollbacks: rb.filter((x) => inWin(x.ts)).map(item('rollback')),
    alerts: alerts.filter((x) => inWin(x.ts)).map(item('telemetry', 'guardrail alert ')),
    service: svc.filter((x) => inWin(x.ts)).map(item('service')),
  };
}

/** The most likely cause, from the most specific finding to the vaguest. */
export function likelyCause(f: ForensicFindings, verdicts: ForensicReport['verdicts'], resets: { ts: string; text: string }[], deletions: { sha: string; subject: string; files: { status: string; path: string }[] }[]): string {
  const vanished = verdicts.filter((v) => v.verdict === 'vanished' && v.cause);
  if (vanished.length) return vanished.map((v) => `${v.path}: ${v.cause}`).join('; ');
  const reset = [...resets].sort((a, b) => a.ts.localeCompare(b.ts))[0];
  if (reset) return reset.text;
  const del = deletions[deletions.length - 1];
  if (del) return `commit ${del.sha.slice(0, 7)} "${del.subject}" deleted ${del.files.filter((x) => x.status.startsWith('D')).map((x) => x.path).slice(0, 5).join(', ')}`;
  const woDel = f.wo_events.find((e) => /deleted|rolled back/.test(e.detail));
  if (woDel) return woDel.detail;
  const rb = [...f.rollbacks].sort(newestFirst).pop();
  if (rb) return `rollback: ${rb.detail}`;
  const svc = [...f.service_failures].sort(newestFirst).pop();
  if (svc) return `service failures (exit 127 / command not found: a wrong PATH or a missing script), first at ${svc.ts}: ${svc.detail}`;
  if (f.drift_events.length) return 'components went missing, but no reset, deletion, rollback or WO in the window explains it (removed outside git and wo)';
  return 'unknown: no reset, deletion, rollback, drift or service failure in the window';
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** Gather the window's evidence, decide a likely cause, write the report atomically; returns it and its file. */
export async function runForensics(root: string, opts: { since: Date; until: Date; paths?: string[]; now?: Date }): Promise<{ file: string; report: ForensicReport }> {
  const now = opts.now ?? new Date();
  const targets = (opts.paths ?? []).map((p) => resolveTarget(root, p));
  const rels = targets.map((t) => t.rel);
  const r = path.resolve(root);
  const lo = opts.since.toISOString();
  const hi = opts.until.toISOString();
  const inWin = (ts: string) => ts >= lo && ts <= hi;
  const notes: string[] = [];
  const [g, tel, wo_events, logs, mls, verdicts] = await Promise.all([
    gitFindings(r, opts.since, opts.until, rels, notes),
    telemetryFindings(r, inWin),
    woFindings(r, inWin, rels),
    logFindings(r, inWin),
    readMls([layout(r).ledger, path.join(r, 'mls', 'ledger')]).then(({ entries }) => entries),
    Promise.all(rels.map(async (p) => {
      const { report } = await checkHistoryDetailed(r, p, { now });
      return { path: p, verdict: report.verdict, summary: report.summary, ...(report.cause ? { cause: report.cause } : {}) };
    })),
  ]);
  const findings: ForensicFindings = {
    git_events: g.git_events,
    reflog_events: g.reflog_events,
    rollbacks: [...tel.rollbacks, ...logs.rollbacks].sort(newestFirst),
    drift_events: [...tel.drift, ...logs.alerts].sort(newestFirst),
    wo_events: wo_events.sort(newestFirst),
    service_failures: logs.service.sort(newestFirst),
    mls: mls.filter((e) => inWin(new Date(e.ts).toISOString())).map((e) => ({ ts: new Date(e.ts).toISOString(), source: 'mls' as const, detail: `${e.type}: ${e.title}` })).reverse(),
  };
  const report: ForensicReport = {
    investigation_date: now.toISOString(),
    time_window: { since: lo, until: hi },
    root: r,
    paths: rels,
    findings,
    verdicts,
    likely_cause: likelyCause(findings, verdicts, g.removals, g.deletions),
    notes,
    evidence: Object.values(findings).flat().sort(newestFirst),
  };
  const dir = layout(r).woReports;
  await ensureDir(dir);
  let file = path.join(dir, `forensic_${stamp(now)}.json`);
  for (let n = 1; fs.existsSync(file); n++) file = path.join(dir, `forensic_${stamp(now)}-${n}.json`);
  await writeJsonAtomic(file, report);
  return { file, report };
}
