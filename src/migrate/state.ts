/** The old pipeline's followup state files as wo records marked `imported: true`. Pure. */
import { STAGES, stageIndex, type Status, type WoRecord } from '../state/record.js';
import { WO_ID_RE } from '../wo/schema.js';

const validId = (id: string): boolean => WO_ID_RE.test(id) && id !== '.' && id !== '..';

/** The old pipeline's statuses mapped to wo's; anything not finished becomes `cancelled` (wo never runs it). */
const STATUS_MAP: Record<string, Status> = {
  completed: 'succeeded', complete: 'succeeded', done: 'succeeded', success: 'succeeded', succeeded: 'succeeded', ok: 'succeeded', applied: 'succeeded',
  failed: 'failed', failure: 'failed', error: 'failed', errored: 'failed',
  rejected: 'rejected', refused: 'rejected',
  cancelled: 'cancelled', canceled: 'cancelled', aborted: 'cancelled',
  rolled_back: 'reverted', rolledback: 'reverted', reverted: 'reverted',
};

export function mapStatus(old: unknown): { status: Status; note?: string } {
  const s = typeof old === 'string' ? old.trim().toLowerCase() : '';
  const got = STATUS_MAP[s];
  if (got) return { status: got };
  return { status: 'cancelled', note: `was '${typeof old === 'string' ? old.slice(0, 40) : String(old)}' in the old pipeline; wo did not run it` };
}

const str = (v: unknown, max = 500): string | undefined => (typeof v === 'string' && v !== '' ? v.slice(0, max) : undefined);

/** Why: one old state file (parsed JSON, its file name, its sha256) as a wo record, or why it cannot be imported. */
export function importedRecord(value: unknown, fileName: string, sha: string, sourceRel: string, now: Date): { record?: WoRecord; why?: string } {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { why: 'is not a JSON object' };
  const o = value as Record<string, unknown>;
  const stem = fileName.replace(/\.json$/i, '');
  const id = str(o.wo_id) ?? str(o.id) ?? stem;
  if (!validId(id)) return { why: `its id ${JSON.stringify(id.slice(0, 80))} is not a valid wo_id (1–128 of A-Z a-z 0-9 . _ -)` };
  const { status, note } = mapStatus(o.status ?? o.state);
  const stage = status === 'succeeded' ? 'commit' : 'received';
  const times: Record<string, string> = { imported: now.toISOString() };
  for (const k of ['created_at', 'updated_at', 'started_at', 'completed_at', 'finished_at']) {
    const t = str(o[k], 100);
    if (t) times[k] = t;
  }
  const priority = typeof o.priority === 'string' && /^P[0-3]$/.test(o.priority) ? o.priority : 'P2';
  const type = o.type === 'exec' || o.type === 'route' ? o.type : 'apply_patch';
  const record: WoRecord & { imported: true; imported_from: { file: string; status: unknown } } = {
    schema: 1,
    wo_id: id,
    title: str(o.title) ?? str(o.name) ?? id,
    lane: str(o.lane, 64) ?? 'imported',
    type,
    priority,
    ...(str(o.owner, 200) ? { owner: str(o.owner, 200) } : {}),
    status,
    stage,
    stage_index: stageIndex(stage),
    stages_total: STAGES.length,
    attempt: 0,
    attempts: [],
    sha256: sha,
    file: sourceRel,
    source_name: fileName,
    rolled_back: status === 'reverted',
    dry_run: false,
    times,
    files: [],
    commands: [],
    tests: [],
    warnings: [`imported by wo migrate from ${sourceRel}${note ? `: ${note}` : ''}`],
    imported: true,
    imported_from: { file: sourceRel, status: o.status ?? o.state ?? null },
  };
  return { record };
}
