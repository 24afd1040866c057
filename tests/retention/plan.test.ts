import { describe, expect, it } from 'vitest';
import { configPolicy, oneAgePolicy, planRetention, type FileEntry, type RecordEntry, type RetentionPolicy } from '../../src/retention/plan.js';
import { archiveIds } from '../../src/retention/scan.js';
import { STATUSES, TERMINAL, type Status } from '../../src/state/record.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-01T00:00:00Z');
const ago = (days: number) => NOW - days * DAY;
const POLICY: RetentionPolicy = { records_days: 90, archive_days: 30, rejected_days: 30, backups_days: 14, logs_days: 30 };

const rec = (id: string, status: Status | undefined, days: number, extra: Partial<RecordEntry> = {}): RecordEntry => ({
  id,
  mtimeMs: ago(days),
  ...(status ? { status, finishedMs: ago(days) } : {}),
  ...extra,
});
const file = (kind: FileEntry['kind'], rel: string, days: number, ids?: string[]): FileEntry => ({ kind, rel, mtimeMs: ago(days), ...(ids ? { ids } : {}) });
const backup = (id: string, days: number) => file('backup', `g/backups/${id}`, days, [id]);
const archive = (name: string, days: number) => file('archive', `bridge/archive/${name}`, days, archiveIds(name));
const plan = (records: RecordEntry[], files: FileEntry[], policy = POLICY) => planRetention({ now: NOW, policy, records, files });
const rels = (p: ReturnType<typeof plan>) => p.delete.map((d) => d.rel).sort();

const LIVE = STATUSES.filter((s) => !TERMINAL.has(s));

describe('retention planner', () => {
  it.each(LIVE)('never prunes anything of a %s WO, however old', (status) => {
    const p = plan([rec('WO-L', status, 400)], [backup('WO-L', 400), archive('WO-L.1.yaml', 400), file('live', 'g/run/live/WO-L.txt', 400, ['WO-L'])]);
    expect(p.delete).toEqual([]);
    expect(p.protectedLive).toBe(3);
  });

  it.each([...TERMINAL])('prunes an old %s WO: backup, archive and record, backup before record', (status) => {
    const p = plan([rec('WO-T', status, 100)], [backup('WO-T', 100), archive('WO-T.1.yaml', 100)]);
    expect(p.delete.map((d) => d.kind)).toEqual(['backup', 'archive', 'record']);
    expect(p.delete.at(-1)).toMatchObject({ rel: 'g/followup/state/WO-T.json', id: 'WO-T' });
  });

  it('keeps the record (and backup) of a WO finished within backups_days even when records_days is shorter', () => {
    const p = plan([rec('WO-R', 'succeeded', 10)], [backup('WO-R', 10)], { ...POLICY, records_days: 5 });
    expect(p.delete).toEqual([]);
    expect(p.keptForRollback).toBe(1);
  });

  it('keeps a record while its backup is kept (backups forever), prunes it when the WO had no backup', () => {
    const p = plan([rec('WO-B', 'succeeded', 200), rec('WO-N', 'failed', 200)], [backup('WO-B', 200)], { ...POLICY, backups_days: null });
    expect(rels(p)).toEqual(['g/followup/state/WO-N.json']);
    expect(p.keptForRollback).toBe(1);
  });

  it('keeps a record whose snapshot is inside it while within backups_days', () => {
    const p = plan([rec('WO-S', 'succeeded', 10, { inRecordSnapshot: true })], [], { ...POLICY, records_days: 1 });
    expect(p.delete).toEqual([]);
    const later = plan([rec('WO-S', 'succeeded', 20, { inRecordSnapshot: true })], [], { ...POLICY, records_days: 1 });
    expect(rels(later)).toEqual(['g/followup/state/WO-S.json']);
  });

  it('backups of terminal WOs go after backups_days, their records stay until records_days', () => {
    const p = plan([rec('WO-X', 'succeeded', 20)], [backup('WO-X', 20)]);
    expect(rels(p)).toEqual(['g/backups/WO-X']);
  });

  it('an unread or foreign record protects its backup and live output and is never deleted; not its archive file', () => {
    const p = plan([rec('WO-U', undefined, 400)], [backup('WO-U', 400), file('live', 'g/run/live/WO-U.txt', 400, ['WO-U']), archive('WO-U.1.yaml', 400)]);
    expect(rels(p)).toEqual(['bridge/archive/WO-U.1.yaml']);
    expect(p.protectedLive).toBe(2);
  });

  it('ages a WO by the newer of its finish time and its record file (a record rewritten lately is young)', () => {
    const p = plan([{ id: 'WO-A', mtimeMs: ago(1), status: 'reverted', finishedMs: ago(200) }], [backup('WO-A', 200), archive('WO-A.1.yaml', 200)]);
    expect(p.delete).toEqual([]);
  });

  it('orphan backups and archive files (no record) go by their own age', () => {
    const p = plan([], [backup('WO-O', 15), backup('WO-P', 13), archive('WO-O.1.yaml', 31), archive('WO-P.dup-2.yaml', 29)]);
    expect(rels(p)).toEqual(['bridge/archive/WO-O.1.yaml', 'g/backups/WO-O']);
  });

  it('a backup with no record is never removed younger than a day (a first attempt snapshots before its first record write)', () => {
    const p = plan([], [backup('WO-FIRST', 0.5), backup('WO-GONE', 2)], oneAgePolicy(0));
    expect(rels(p)).toEqual(['g/backups/WO-GONE']);
  });

  it('a rejected file is protected by a live record pointing at it, else goes after rejected_days', () => {
    const files = [file('rejected', 'bridge/rejected/a.yaml', 40), file('rejected', 'bridge/rejected/b.yaml', 40), file('rejected', 'bridge/rejected/b.yaml.reason.json', 20)];
    const p = plan([rec('WO-Q', 'queued', 40, { file: 'bridge/rejected/a.yaml' })], files);
    expect(rels(p)).toEqual(['bridge/rejected/b.yaml']);
  });

  it('logs, telemetry and reports go after logs_days; 0 and null keep forever', () => {
    const files = [file('log', 'g/logs/daemon.1.log', 31), file('telemetry', 'g/telemetry/unified.x.jsonl', 31), file('report', 'g/reports/canary-x.json', 29)];
    expect(rels(plan([], files))).toEqual(['g/logs/daemon.1.log', 'g/telemetry/unified.x.jsonl']);
    expect(plan([], files, { ...POLICY, logs_days: 0 }).delete).toEqual([]);
    expect(plan([], files, { ...POLICY, logs_days: null }).delete).toEqual([]);
  });

  it('records_days null keeps every record; --older-than keeps records and applies one age to files', () => {
    expect(plan([rec('WO-1', 'failed', 1000)], [], { ...POLICY, records_days: null }).delete).toEqual([]);
    const p = plan([rec('WO-1', 'failed', 10)], [backup('WO-1', 10), archive('WO-1.1.yaml', 10)], oneAgePolicy(7));
    expect(rels(p)).toEqual(['bridge/archive/WO-1.1.yaml', 'g/backups/WO-1']);
    expect(oneAgePolicy(0).archive_days).toBeGreaterThan(0);
  });

  it('configPolicy: rejected_days absent follows archive_days; given (even null) it is its own', () => {
    const base = { records_days: 90, archive_days: 30, backups_days: 14, logs_days: 30 };
    expect(configPolicy(base).rejected_days).toBe(30);
    expect(configPolicy({ ...base, rejected_days: null }).rejected_days).toBeNull();
    expect(configPolicy({ ...base, rejected_days: 7 }).rejected_days).toBe(7);
  });

  it('archiveIds reads ids with dots, attempts and duplicates', () => {
    expect(archiveIds('WO-1.2.yaml')).toEqual(['WO-1']);
    expect(archiveIds('a.b.3.json')).toEqual(['a.b']);
    expect(archiveIds('WO-1.dup-4.yaml')).toEqual(['WO-1']);
    expect(archiveIds('notes.txt')).toEqual([]);
  });

  it('a mix: only the expected set, in a safe order', () => {
    const records = [rec('OLD', 'succeeded', 120), rec('MID', 'failed', 40), rec('NEW', 'succeeded', 2), rec('RUN', 'running', 120), rec('HELD', 'awaiting_approval', 120)];
    const files = [backup('OLD', 120), backup('MID', 40), backup('NEW', 2), backup('RUN', 120), archive('OLD.1.yaml', 120), archive('MID.1.yaml', 40), archive('NEW.1.yaml', 2)];
    const p = plan(records, files);
    expect(rels(p)).toEqual(['bridge/archive/MID.1.yaml', 'bridge/archive/OLD.1.yaml', 'g/backups/MID', 'g/backups/OLD', 'g/followup/state/OLD.json']);
    const kinds = p.delete.map((d) => d.kind);
    expect(kinds.indexOf('record')).toBe(kinds.length - 1);
  });
});
