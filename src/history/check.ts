/** check-history: gather every source for one path (in parallel), decide the verdict, keep the evidence in the window. */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { openRepo, pathLog, presence, reflog } from './git.js';
import { fsFacts } from './files.js';
import { alertLines, expectationFor, mlsFacts, rollbackLines, serviceFacts, telemetryFacts, woFacts, type Target } from './sources.js';
import { timeline } from './timeline.js';
import type { Evidence, EvidenceItem, GitFacts, HistoryReport } from './types.js';
import { decideVerdict, fsItem } from './verdict.js';

/** Resolve a user's path (relative to the root, or absolute inside it); anything outside is a usage error. */
export function resolveTarget(root: string, p: string): Target {
  const r = path.resolve(root);
  if (!p || !p.trim()) throw new UsageError('check-history needs a path (relative to the root, or absolute inside it)');
  const abs = path.resolve(r, p);
  const inside = (base: string, x: string) => {
    const rel = path.relative(base, x);
    return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : undefined;
  };
  let rel = inside(r, abs);
  if (rel === undefined) {
    // The root may be reached through a symlink (macOS /var → /private/var).
    try {
      rel = inside(fs.realpathSync(r), abs);
    } catch {
      /* root does not exist: handled below */
    }
  }
  if (rel === undefined) throw new UsageError(`${p} is outside the root ${r}: give a path inside the root (relative to it, or absolute)`);
  if (!fs.existsSync(r)) throw new UsageError(`the root ${r} does not exist`);
  const posix = rel.split(path.sep).join('/');
  return { root: r, rel: posix, abs: path.join(r, rel) };
}

async function gitFacts(t: Target): Promise<GitFacts> {
  const repo = await openRepo(t.root);
  const base: GitFacts = { state: repo.state, ...(repo.note ? { note: repo.note } : {}), commits: [], reflog: [], inHead: null };
  if (repo.state !== 'ok') return base;
  try {
    const [commits, entries] = await Promise.all([pathLog(repo, t.rel), reflog(repo)]);
    const has = await presence(repo, ['HEAD', ...entries.map((e) => e.sha)], [t.rel]);
    const at = (rev: string) => has.get(`${rev}:${t.rel}`) ?? null;
    return { ...base, commits, reflog: entries.map((e) => ({ ...e, hasPath: at(e.sha) })), inHead: at('HEAD') };
  } catch (err) {
    return { ...base, state: 'error', note: `git failed: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}` };
  }
}

/** Gather every source of evidence for one path. */
export async function gatherEvidence(t: Target, now = new Date()): Promise<Evidence> {
  const nowIso = now.toISOString();
  const { expect, note } = await expectationFor(t);
  const [git, facts, wo, rollbacks, alerts, mls, service] = await Promise.all([
    gitFacts(t),
    fsFacts(t.abs, expect),
    woFacts(t),
    rollbackLines(t),
    alertLines(t),
    mlsFacts(t).catch(() => []),
    serviceFacts(t, nowIso),
  ]);
  const telemetry = await telemetryFacts(t, new Set(wo.map((w) => w.wo_id)));
  const notes: EvidenceItem[] = note ? [note] : [];
  if (git.note) notes.push({ ts: nowIso, source: 'git', detail: git.note });
  return { path: t.rel, now: nowIso, fs: facts, expect, git, wo, telemetry, rollbacks, alerts, mls, service, notes };
}

/** All evidence lines worth showing, newest first (the fs line on top: it is "now"); `keep` are shown even when quiet. */
export function evidenceItems(e: Evidence, keep: (EvidenceItem | undefined)[] = []): EvidenceItem[] {
  const items = timeline(e)
    .filter((x) => !x.quiet || keep.includes(x.item))
    .map((x) => x.item)
    .reverse();
  return [fsItem(e), ...items];
}

/** Evidence at or after `now - hours` (hours limits what is shown, never the verdict). */
export function inWindow(items: EvidenceItem[], now: string, hours: number): EvidenceItem[] {
  const from = Date.parse(now) - hours * 3600_000;
  return items.filter((i) => Date.parse(i.ts) >= from);
}

/** The report for one path: verdict from all the evidence, evidence shown for the last `hours` (default 24). */
export async function checkHistory(root: string, relPath: string, opts: { hours?: number } = {}): Promise<HistoryReport> {
  return (await checkHistoryDetailed(root, relPath, opts)).report;
}

/** checkHistory plus how many older evidence lines the window hid. */
export async function checkHistoryDetailed(root: string, relPath: string, opts: { hours?: number; now?: Date } = {}): Promise<{ report: HistoryReport; hidden: number; evidence: Evidence }> {
  const t = resolveTarget(root, relPath);
  const e = await gatherEvidence(t, opts.now);
  const v = decideVerdict(e);
  const all = evidenceItems(e, [v.last_seen, v.first_missing]);
  const shown = inWindow(all, e.now, opts.hours ?? 24);
  const report: HistoryReport = {
    path: t.rel,
    verdict: v.verdict,
    summary: v.summary,
    ...(v.last_seen ? { last_seen: v.last_seen } : {}),
    ...(v.first_missing ? { first_missing: v.first_missing } : {}),
    ...(v.cause ? { cause: v.cause } : {}),
    evidence: shown,
  };
  return { report, hidden: all.length - shown.length, evidence: e };
}
