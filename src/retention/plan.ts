/**
 * The retention planner (pure): from a listing of wo's own files with their ages and the records' statuses, what to
 * delete and why. A WO that is not terminal (or whose record was not read, or is not a valid record) keeps
 * everything; a WO whose backup is kept keeps its record (`wo rollback` needs both).
 */
import { TERMINAL, type Status } from '../state/record.js';

const DAY_MS = 86_400_000;

/** Ages in days; null or 0: keep forever. */
export interface RetentionPolicy {
  records_days: number | null;
  archive_days: number | null;
  rejected_days: number | null;
  backups_days: number | null;
  logs_days: number | null;
}

/**
 * One record file in g/followup/state/. `status` is absent when the record was not read (its mtime is recent) or is
 * not a valid record: such a WO counts as live for its backup and live output, and its record is never deleted.
 */
export interface RecordEntry {
  id: string;
  mtimeMs: number;
  status?: Status;
  finishedMs?: number;
  /** The record's `file` (where the WO file is now, relative to the root). */
  file?: string;
  /** The pre-apply snapshot is inside the record (every target was absent): the record is the backup. */
  inRecordSnapshot?: boolean;
}

export type FileKind = 'archive' | 'rejected' | 'backup' | 'telemetry' | 'log' | 'report' | 'live';

/** One file (or backup folder) of wo's, relative to the root. `ids`: the WOs it may belong to (from its name). */
export interface FileEntry {
  kind: FileKind;
  rel: string;
  mtimeMs: number;
  ids?: string[];
}

export type DeletionKind = FileKind | 'record';

export interface Deletion {
  kind: DeletionKind;
  rel: string;
  id?: string;
  why: string;
}

export interface RetentionPlan {
  /** Backups first, records last: a record goes only after its backup. */
  delete: Deletion[];
  /** Files kept because their WO is live (not terminal, or its record was not read): counted, never deleted. */
  protectedLive: number;
  /** Records kept because their WO's backup (or in-record snapshot) is still within backups_days. */
  keptForRollback: number;
}

/** The youngest a backup without a record may be removed at (days). */
export const ORPHAN_BACKUP_MIN_DAYS = 1;

const forever = (d: number | null | undefined): boolean => d === null || d === undefined || d <= 0;

/** Whether something of age reference `refMs` is older than `days` at `now`. */
function older(refMs: number, days: number | null | undefined, now: number): boolean {
  return !forever(days) && now - refMs > days! * DAY_MS;
}

/** Why: one place decides what retention may delete; the executor and `wo prune --dry-run` show the same plan. */
export function planRetention(input: { now: number; policy: RetentionPolicy; records: RecordEntry[]; files: FileEntry[] }): RetentionPlan {
  const { now, policy } = input;
  const recs = new Map(input.records.map((r) => [r.id, r]));
  const byFile = new Map(input.records.filter((r) => r.file).map((r) => [r.file!, r]));
  // A WO's age reference: the newer of its finish time and its record's last write (conservative either way).
  const refOf = (r: RecordEntry) => Math.max(r.mtimeMs, r.finishedMs ?? 0);
  const live = (r: RecordEntry) => r.status === undefined || !TERMINAL.has(r.status);
  const out: Deletion[] = [];
  let protectedLive = 0;
  let keptForRollback = 0;

  const owners = (f: FileEntry): RecordEntry[] => {
    const found = new Set<RecordEntry>();
    const byF = byFile.get(f.rel);
    if (byF) found.add(byF);
    for (const id of f.ids ?? []) {
      const r = recs.get(id);
      if (r) found.add(r);
    }
    return [...found];
  };

  const daysFor: Record<FileKind, number | null> = {
    archive: policy.archive_days,
    rejected: policy.rejected_days,
    backup: policy.backups_days,
    telemetry: policy.logs_days,
    log: policy.logs_days,
    report: policy.logs_days,
    live: policy.logs_days,
  };
  const backupGone = new Set<string>();
  const backupKept = new Set<string>();
  for (const f of input.files) {
    // Archived and rejected files are the WO's input, not its rollback: only a read, non-terminal record protects them
    // (a young record is not read; a foreign file at a record's path says nothing). Backups and live output are kept
    // for any WO whose record was not read as terminal.
    const own = owners(f).filter((o) => o.status !== undefined || (f.kind !== 'archive' && f.kind !== 'rejected'));
    if (own.some(live)) {
      protectedLive++;
      if (f.kind === 'backup') for (const o of own) backupKept.add(o.id);
      continue;
    }
    const ref = Math.max(f.mtimeMs, ...own.map(refOf));
    // A backup with no record may be a first attempt's snapshot in progress (its record is written right after):
    // never younger than a day, whatever the age asked.
    const days = f.kind === 'backup' && own.length === 0 && !forever(daysFor.backup) ? Math.max(daysFor.backup!, ORPHAN_BACKUP_MIN_DAYS) : daysFor[f.kind];
    if (!older(ref, days, now)) {
      if (f.kind === 'backup') for (const o of own) backupKept.add(o.id);
      continue;
    }
    const id = f.kind === 'backup' ? f.ids?.[0] : own[0]?.id;
    out.push({ kind: f.kind, rel: f.rel, ...(id !== undefined ? { id } : {}), why: `${f.kind} older than ${days} days${own.length ? ` (its WO is ${own.map((o) => o.status).join(', ')})` : ''}` });
    if (f.kind === 'backup') for (const o of own) backupGone.add(o.id);
  }

  const records: Deletion[] = [];
  for (const r of input.records) {
    if (live(r)) continue;
    const ref = refOf(r);
    if (!older(ref, policy.records_days, now)) continue;
    const rollbackWindow = (r.inRecordSnapshot || backupKept.has(r.id) || backupGone.has(r.id)) && !older(ref, policy.backups_days, now);
    if (backupKept.has(r.id) || rollbackWindow) {
      keptForRollback++;
      continue;
    }
    records.push({ kind: 'record', rel: `g/followup/state/${r.id}.json`, id: r.id, why: `a ${r.status} WO finished over ${policy.records_days} days ago, its backup gone` });
  }
  // Backups first (a record never outlives the need for it), records last.
  const order: DeletionKind[] = ['backup', 'archive', 'rejected', 'live', 'telemetry', 'log', 'report', 'record'];
  const sorted = [...out, ...records].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
  return { delete: sorted, protectedLive, keptForRollback };
}

/** The policy of `wo prune --older-than D`: one age for every file; records kept (they are check-history's history). */
export function oneAgePolicy(days: number): RetentionPolicy {
  days = Math.max(days, 1e-9); // `--older-than 0m`: everything, not "forever"
  return { records_days: null, archive_days: days, rejected_days: days, backups_days: days, logs_days: days };
}

/** The policy from the config's `retention:` section (rejected_days absent: as archive_days). */
export function configPolicy(r: { records_days: number | null; archive_days: number | null; rejected_days?: number | null | undefined; backups_days: number | null; logs_days: number | null }): RetentionPolicy {
  return { records_days: r.records_days, archive_days: r.archive_days, rejected_days: r.rejected_days === undefined ? r.archive_days : r.rejected_days, backups_days: r.backups_days, logs_days: r.logs_days };
}
