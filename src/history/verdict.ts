/** Pure: the check-history verdict from gathered evidence (no I/O, no clock). */
import type { Evidence, EvidenceItem, FsFacts, Expectation, VerdictResult } from './types.js';
import { timeline, type TimelineEvent } from './timeline.js';

/** Empty files that are empty on purpose. */
const PLACEHOLDERS = new Set(['.gitkeep', '.keep', '__init__.py', '.nojekyll']);

/** Why an existing path is broken (empty list: it is fine). */
export function brokenReasons(path: string, fs: FsFacts, expect: Expectation | null, now: string): string[] {
  if (fs.kind === 'dangling-symlink') return [`dangling symlink (points to ${fs.symlinkTarget ?? '?'}, which does not exist)`];
  if (!fs.exists) return [];
  const why: string[] = [];
  const cfg = `configured in wo.config.yaml ${expect?.from ?? 'guardrail.files'}`;
  if (fs.kind === 'dir') {
    if (expect && expect.from === 'guardrail.files') why.push(`a folder where a file is expected (${cfg})`);
    return why;
  }
  const base = path.split('/').pop() ?? path;
  if (fs.kind === 'file' && fs.size === 0 && !PLACEHOLDERS.has(base)) why.push('empty file (0 bytes)');
  if (fs.shebang && fs.executable === false) why.push(`starts with ${fs.shebang} but is not executable (mode ${fs.mode ?? '?'})`);
  else if (expect?.executable && fs.executable === false) why.push(`not executable (mode ${fs.mode ?? '?'}) though ${cfg} with executable: true`);
  if (fs.json && !fs.json.valid) why.push(`invalid JSON: ${fs.json.error ?? 'does not parse'}`);
  if (expect?.sha256 && fs.sha256 && fs.sha256 !== expect.sha256) why.push(`content differs from the sha256 ${cfg} (${expect.sha256.slice(0, 12)}…, found ${fs.sha256.slice(0, 12)}…)`);
  if (expect?.max_age_s && fs.mtime) {
    const age = (Date.parse(now) - Date.parse(fs.mtime)) / 1000;
    if (age > expect.max_age_s) why.push(`stale: last modified ${Math.round(age)} s ago (max_age_s ${expect.max_age_s})`);
  }
  return why;
}

/** One line describing the path on disk now. */
export function describeFs(fs: FsFacts): string {
  if (fs.kind === 'dangling-symlink') return `dangling symlink → ${fs.symlinkTarget ?? '?'}`;
  if (!fs.exists) return `does not exist${fs.parentMissing ? ' (its parent folder is missing too)' : ''}`;
  const parts = [`exists: ${fs.kind === 'dir' ? 'folder' : fs.kind === 'file' ? 'file' : 'special file'}`];
  if (fs.mode) parts.push(`mode ${fs.mode}`);
  if (fs.kind === 'file') {
    parts.push(`${fs.size ?? 0} bytes`);
    parts.push(fs.executable ? 'executable' : 'not executable');
    if (fs.shebang) parts.push(`starts with ${fs.shebang}`);
    if (fs.json) parts.push(fs.json.valid ? 'valid JSON' : 'invalid JSON');
  }
  if (fs.mtime) parts.push(`modified ${fs.mtime}`);
  return parts.join(', ');
}

/** The file-system line of the evidence. */
export function fsItem(e: Evidence): EvidenceItem {
  return { ts: e.now, source: 'fs', detail: describeFs(e.fs) };
}

function gitNote(e: Evidence): string {
  return e.git.note ? ` (${e.git.note})` : '';
}

/** The removal that explains the disappearance: the first after the last presence; specific beats vague within 2 s. */
function pickCause(removals: TimelineEvent[]): TimelineEvent | undefined {
  const strong = removals.filter((r) => r.rank >= 2);
  const pool = strong.length ? strong : removals;
  const first = pool[0];
  if (!first) return undefined;
  const t0 = Date.parse(first.item.ts);
  const cluster = pool.filter((r) => Date.parse(r.item.ts) - t0 <= 2000);
  return cluster.reduce((best, r) => (r.rank > best.rank ? r : best), first);
}

function vanished(e: Evidence, events: TimelineEvent[]): VerdictResult | undefined {
  const last = events.filter((x) => x.role === 'presence').at(-1);
  const hasRemoval = events.some((x) => x.role === 'removal' && x.rank >= 2);
  if (!last && !hasRemoval) return undefined;
  const after = events.slice(last ? events.indexOf(last) + 1 : 0);
  let removals = after.filter((x) => x.role === 'removal');
  // Clock skew or an incomplete record: fall back to the newest strong removal anywhere.
  if (!removals.some((r) => r.rank >= 2)) {
    const strong = events.filter((x) => x.role === 'removal' && x.rank >= 2);
    if (strong.length) removals = [strong[strong.length - 1]!, ...removals];
  }
  const causeEv = pickCause(removals);
  const missing = after.find((x) => x.role === 'removal' || x.role === 'detection') ?? causeEv;
  let cause = causeEv?.cause;
  if (!cause && e.git.inHead === true) {
    cause = `removed from the working tree outside git and wo: it is still committed at HEAD (restore it with: git restore -- '${e.path}')`;
  } else if (!cause) {
    cause = 'unknown: no commit, reset, WO or rollback explains it (removed outside git and wo, e.g. rm or an untracked-file cleanup)';
  }
  const parts = [`${e.path} is missing.`];
  if (last) parts.push(`Last seen ${last.item.ts} (${last.item.source}: ${last.item.detail}).`);
  if (missing) parts.push(`First missing ${missing.item.ts} (${missing.item.source}: ${missing.item.detail}).`);
  parts.push(`Most likely cause: ${cause}.`);
  return {
    verdict: 'vanished',
    summary: parts.join(' ') + gitNote(e),
    ...(last ? { last_seen: last.item } : {}),
    ...(missing ? { first_missing: missing.item } : {}),
    cause,
  };
}

/** healthy | never-existed | vanished | broken, with the summary and (for vanished) when, where and why. */
export function decideVerdict(e: Evidence): VerdictResult {
  const events = timeline(e);
  const reasons = brokenReasons(e.path, e.fs, e.expect, e.now);
  if (reasons.length) return { verdict: 'broken', summary: `${e.path} exists but is broken: ${reasons.join('; ')}.` };
  if (e.fs.exists) {
    const rev = [...events].reverse();
    const last = rev.find((x) => x.role === 'presence' && x.item.source !== 'reflog') ?? rev.find((x) => x.role === 'presence');
    const missed = rev.find((x) => x.role === 'removal' && x.rank >= 2);
    let summary = `${e.path} is healthy: ${describeFs(e.fs).replace(/^exists: /, '')}.`;
    if (last) summary += ` Last change on record: ${last.item.ts} (${last.item.source}: ${last.item.detail}).`;
    if (missed && (!last || missed.item.ts > last.item.ts)) summary += ` Note: ${missed.cause ?? missed.item.detail}, but it is present now.`;
    return { verdict: 'healthy', summary: summary + gitNote(e) };
  }
  const v = vanished(e, events);
  if (v) return v;
  const detected = events.find((x) => x.role === 'detection');
  let summary = `${e.path} never existed: no commit, reflog entry, WO, telemetry or log shows it was ever there.`;
  if (detected) summary += ` The guardrail has expected it (reported missing ${detected.item.ts}), but nothing shows it was ever created.`;
  else if (e.expect) summary += ` It is protected in wo.config.yaml ${e.expect.from}, but was never created.`;
  return { verdict: 'never-existed', summary: summary + gitNote(e) };
}
