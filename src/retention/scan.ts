/** The listing the retention planner reads: wo's own files under a root, their ages, and the records' statuses. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Layout } from '../layout.js';
import { StateStore } from '../state/store.js';
import type { FileEntry, FileKind, RecordEntry, RetentionPolicy } from './plan.js';

const DAY_MS = 86_400_000;
/** Entries looked at between two yields to the event loop. */
const YIELD_EVERY = 256;

/** Names of the files wo writes, per folder (nothing else there is ever listed, so never deleted). */
export const ROTATED_TELEMETRY = /^unified\..+\.jsonl$/;
export const ROTATED_LOG = /^(?:daemon|guardrail_alerts|launchd\.out|launchd\.err)\.\d+\.log$|^rollback_\d{8}(?:\.\d+)?\.log$/;
/** Reports wo writes to g/reports/wo/ (`wo canary`, `wo forensics`); users' own reports in g/reports/ are never touched. */
export const WO_REPORT = /^(?:canary-.+|forensic_.+)\.json$/;

export const yieldLoop = () => new Promise<void>((r) => setImmediate(r));

/** The WO ids an archive name may belong to: `<id>.<attempt><.ext>` or `<id>.dup-<n><.ext>` (ids may hold dots). */
export function archiveIds(name: string): string[] {
  const parts = name.split('.');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) if (/^(?:\d+|dup-\d+)$/.test(parts[i]!)) out.push(parts.slice(0, i).join('.'));
  return out;
}

/** lstat, or undefined when it cannot be (gone meanwhile, unreadable): synchronous, see fsyncFd in util/fsx.ts. */
function lstatOrNot(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}

async function list(dir: string): Promise<string[]> {
  return (await fsp.readdir(dir).catch(() => [] as string[])).filter((n) => !n.startsWith('.')).sort();
}

/** The youngest age (days) anything may be deleted at: records younger than it are not even read. */
function minDays(p: RetentionPolicy): number | null {
  const ds = [p.records_days, p.archive_days, p.rejected_days, p.backups_days, p.logs_days].filter((d): d is number => d !== null && d > 0);
  return ds.length ? Math.min(...ds) : null;
}

/** Why: the planner is pure; this gathers its input, reading only the records old enough to matter, yielding as it goes. */
export async function scanRetention(L: Layout, policy: RetentionPolicy, now: number): Promise<{ records: RecordEntry[]; files: FileEntry[] }> {
  const records: RecordEntry[] = [];
  const files: FileEntry[] = [];
  const min = minDays(policy);
  if (min === null) return { records, files };
  const readBefore = now - min * DAY_MS;
  const store = new StateStore(L.state);
  let n = 0;
  const tick = async () => {
    if (++n % YIELD_EVERY === 0) await yieldLoop();
  };

  for (const name of await list(L.state)) {
    await tick();
    if (!name.endsWith('.json')) continue;
    const id = name.slice(0, -5);
    const st = lstatOrNot(path.join(L.state, name));
    if (!st?.isFile()) continue;
    const entry: RecordEntry = { id, mtimeMs: st.mtimeMs };
    if (st.mtimeMs < readBefore) {
      const got = await store.inspect(id).catch(() => undefined);
      if (got?.kind === 'ok') {
        const r = got.record;
        entry.status = r.status;
        const fin = r.times.finished ? Date.parse(r.times.finished) : NaN;
        if (Number.isFinite(fin)) entry.finishedMs = fin;
        if (typeof r.file === 'string') entry.file = r.file;
        if (r.snapshot) entry.inRecordSnapshot = true;
      }
    }
    records.push(entry);
  }

  const add = async (dir: string, kind: FileKind, match: (name: string) => boolean, ids?: (name: string) => string[]) => {
    for (const name of await list(dir)) {
      await tick();
      if (!match(name)) continue;
      const st = lstatOrNot(path.join(dir, name));
      if (!st) continue;
      const e: FileEntry = { kind, rel: path.relative(L.root, path.join(dir, name)), mtimeMs: st.mtimeMs };
      const got = ids?.(name);
      if (got?.length) e.ids = got;
      files.push(e);
    }
  };
  await add(L.backups, 'backup', () => true, (name) => [name]);
  await add(L.archive, 'archive', () => true, archiveIds);
  await add(L.rejected, 'rejected', () => true);
  await add(path.join(L.run, 'live'), 'live', (name) => name.endsWith('.txt'), (name) => [name.slice(0, -4)]);
  await add(L.telemetryDir, 'telemetry', (name) => ROTATED_TELEMETRY.test(name));
  await add(L.logs, 'log', (name) => ROTATED_LOG.test(name));
  await add(L.woReports, 'report', (name) => WO_REPORT.test(name));
  return { records, files };
}
