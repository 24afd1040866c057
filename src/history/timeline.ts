/**
 * Pure: turn gathered facts into timeline events. Each event is a printable evidence line plus
 * its meaning for the verdict: the path was present, something removed it, something noticed it missing.
 */
import type { Evidence, EvidenceItem, ReflogEntry } from './types.js';

export type Role = 'presence' | 'removal' | 'detection' | 'info';

export interface TimelineEvent {
  item: EvidenceItem;
  role: Role;
  /** For removals: how specific the explanation is (5 names the exact operation, 1 is only a possibility). */
  rank: number;
  /** For removals: the cause as a sentence. */
  cause?: string;
  /** Tie-break within one second: position in its source, oldest lowest. */
  seq: number;
  /** Counts for the verdict but is not worth a line of its own (a reflog commit that kept the file). */
  quiet?: boolean;
}

const short = (sha: string): string => sha.slice(0, 7);

/** `reset: moving to HEAD~1` → the verb and the target. */
export function reflogAction(message: string): { verb: string; target?: string } {
  const verb = message.split(/[:(\s]/, 1)[0] ?? message;
  const reset = /^reset: moving to (.+)$/.exec(message);
  if (reset) return { verb: 'reset', target: reset[1] };
  const co = /^checkout: moving from (.+) to (.+)$/.exec(message);
  if (co) return { verb: 'checkout', target: co[2] };
  return { verb };
}

function reflogCause(r: ReflogEntry): string {
  const { verb, target } = reflogAction(r.message);
  const where = `(reflog ${r.selector}: "${r.message}")`;
  if (verb === 'reset') return `git reset --hard ${target ?? ''} at ${r.ts} ${where}`.replace('  ', ' ');
  if (verb === 'checkout') return `git checkout ${target ?? ''} at ${r.ts} moved HEAD to a commit without the file ${where}`;
  return `git ${verb} at ${r.ts} moved HEAD to a commit without the file ${where}`;
}

function gitEvents(e: Evidence, out: TimelineEvent[]): void {
  const n = e.git.commits.length;
  e.git.commits.forEach((c, i) => {
    const seq = n - i;
    const what = c.status.startsWith('R') ? `renamed from ${c.from ?? '?'}` : c.status.startsWith('C') ? `copied from ${c.from ?? '?'}` : ({ A: 'added', M: 'modified', D: 'deleted', T: 'type changed' } as Record<string, string>)[c.status[0] ?? ''] ?? c.status;
    const detail = `${what} in commit ${short(c.sha)} "${c.subject}" by ${c.author}`;
    const item: EvidenceItem = { ts: c.ts, source: 'git', detail };
    if (c.status.startsWith('D')) out.push({ item, role: 'removal', rank: 5, seq, cause: `deleted in commit ${short(c.sha)} "${c.subject}" by ${c.author} at ${c.ts}` });
    else out.push({ item, role: 'presence', rank: 0, seq });
  });
  const r = e.git.reflog;
  r.forEach((entry, i) => {
    const seq = r.length - i;
    const prev = r[i + 1];
    const { verb } = reflogAction(entry.message);
    const has = entry.hasPath === true ? 'has the file' : entry.hasPath === false ? 'without the file' : 'file unknown';
    const item: EvidenceItem = { ts: entry.ts, source: 'reflog', detail: `${entry.selector} ${short(entry.sha)} ${entry.message} (${has})` };
    if (entry.hasPath === false && prev?.hasPath === true) {
      // A commit that deleted it is already a git event; name the reset/checkout otherwise.
      out.push({ item, role: 'removal', rank: verb === 'commit' ? 2 : 5, seq, cause: reflogCause(entry) });
    } else if (entry.hasPath === true) {
      const appeared = prev !== undefined && prev.hasPath === false;
      const quiet = !appeared && i > 0 && !['reset', 'checkout', 'rebase', 'pull', 'merge', 'stash'].includes(verb);
      out.push({ item, role: 'presence', rank: 0, seq, ...(quiet ? { quiet } : {}) });
    } else if (verb === 'reset' || verb === 'checkout' || verb === 'stash') {
      out.push({ item, role: 'removal', rank: 1, seq, quiet: prev?.hasPath === false, cause: `possibly the git ${verb} at ${entry.ts} (reflog ${entry.selector}: "${entry.message}"), which discards uncommitted changes` });
    } else {
      out.push({ item, role: 'info', rank: 0, seq, quiet: verb === 'commit' && i > 0 });
    }
  });
}

function woEvents(e: Evidence, out: TimelineEvent[]): void {
  const createdBy = new Set<string>();
  e.wo.forEach((w, i) => {
    const seq = i;
    const base = `WO ${w.wo_id} "${w.title}" (${w.status}${w.rolled_back ? ', rolled back' : ''}${w.dry_run ? ', dry run' : ''})`;
    const item = (detail: string): EvidenceItem => ({ ts: w.ts, source: 'wo', detail });
    if (w.dry_run) {
      out.push({ item: item(`${base} planned to ${w.action} it`), role: 'info', rank: 0, seq });
      return;
    }
    const undone = w.rolled_back || w.status === 'reverted';
    const applied = w.status === 'succeeded' || w.status === 'running' || undone;
    if (!applied) {
      out.push({ item: item(`${base} was to ${w.action} it`), role: 'info', rank: 0, seq });
      return;
    }
    if (w.action === 'delete') {
      if (w.before_sha256) out.push({ item: item(`${base}: the file existed before it`), role: 'presence', rank: 0, seq: seq - 0.5 });
      if (undone) out.push({ item: item(`${base} deleted it, then the rollback restored it`), role: 'presence', rank: 0, seq });
      else out.push({ item: item(`${base} deleted it`), role: 'removal', rank: 5, seq, cause: `deleted by WO ${w.wo_id} "${w.title}" at ${w.ts}` });
      return;
    }
    if (undone && w.before_sha256 === null) {
      createdBy.add(w.wo_id);
      out.push({ item: item(`${base} created it; the rollback removed it again`), role: 'removal', rank: 4, seq, cause: `rolled back by WO ${w.wo_id} "${w.title}" at ${w.ts} (the WO had created the file; its rollback removed it)` });
      return;
    }
    const did = w.action === 'write' ? (w.before_sha256 ? 'rewrote' : 'created') : 'patched';
    out.push({ item: item(undone ? `${base} ${did} it, then the rollback restored the earlier content` : `${base} ${did} it`), role: 'presence', rank: 0, seq });
  });
  e.telemetry.forEach((t, i) => {
    const item: EvidenceItem = { ts: t.ts, source: 'telemetry', detail: t.detail };
    const seq = i;
    if (t.kind === 'missing') out.push({ item, role: 'detection', rank: 0, seq });
    else if (t.kind === 'broken' || t.kind === 'restored') out.push({ item, role: 'presence', rank: 0, seq });
    else if (t.kind === 'rolled_back' && t.wo_id && createdBy.has(t.wo_id)) out.push({ item, role: 'removal', rank: 3, seq, cause: `rolled back by WO ${t.wo_id} at ${t.ts}` });
    else out.push({ item, role: 'info', rank: 0, seq });
  });
}

function logEvents(e: Evidence, out: TimelineEvent[]): void {
  e.rollbacks.forEach((l, i) => {
    const item: EvidenceItem = { ts: l.ts, source: 'rollback', detail: `${l.file}: ${l.line}` };
    const restores = /\b(restor|recreat|put back)/i.test(l.line) && !/\b(remov|delet|unlink)/i.test(l.line);
    if (restores) out.push({ item, role: 'presence', rank: 0, seq: i });
    else out.push({ item, role: 'removal', rank: 3, seq: i, cause: `a rollback at ${l.ts} (${l.file}: ${l.line.trim()})` });
  });
  e.alerts.forEach((l, i) => out.push({ item: { ts: l.ts, source: 'telemetry', detail: `guardrail alert (${l.file}): ${l.line}` }, role: 'detection', rank: 0, seq: i }));
  e.mls.forEach((m, i) => out.push({ item: { ts: m.ts, source: 'mls', detail: `${m.type}: ${m.title}` }, role: 'info', rank: 0, seq: i }));
  e.service.forEach((s, i) => out.push({ item: { ts: s.ts, source: 'service', detail: s.detail }, role: 'info', rank: 0, seq: i }));
  e.notes.forEach((n, i) => out.push({ item: n, role: 'info', rank: 0, seq: i }));
}

const ROLE_ORDER: Record<Role, number> = { presence: 0, info: 1, removal: 2, detection: 3 };

/** Oldest first; within one instant a presence comes before what removed it. */
export function compareEvents(a: TimelineEvent, b: TimelineEvent): number {
  return a.item.ts.localeCompare(b.item.ts) || ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.seq - b.seq;
}

/** Every event of the evidence (the fs line excluded), oldest first. */
export function timeline(e: Evidence): TimelineEvent[] {
  const out: TimelineEvent[] = [];
  gitEvents(e, out);
  woEvents(e, out);
  logEvents(e, out);
  return out.sort(compareEvents);
}
