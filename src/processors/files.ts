/** apply_patch's file part: plan every write, patch and delete first (all-or-nothing), then apply them. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { WorkOrder } from '../wo/parse.js';
import type { FileEffect, PlanStep } from '../state/record.js';
import type { Target } from '../snapshot/backup.js';
import { sha256, writeFileAtomic } from '../util/fsx.js';
import { WoError } from '../errors.js';
import { applyUnifiedDiff, unifiedDiff, isProbablyText } from './patch.js';
import { ensureParents, recheckParent } from '../policy/paths.js';

export interface FileOp {
  action: 'write' | 'patch' | 'delete';
  target: Target;
  /** New bytes (write/patch). */
  content?: Buffer;
  mode?: number;
  validate?: string;
  before: { exists: boolean; mode: number | null; sha256: string | null; bytes: Buffer | null };
}

async function current(abs: string): Promise<FileOp['before']> {
  try {
    const [st, bytes] = await Promise.all([fsp.lstat(abs), fsp.readFile(abs)]);
    return { exists: true, mode: st.mode & 0o7777, sha256: sha256(bytes), bytes };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { exists: false, mode: null, sha256: null, bytes: null };
    if (code === 'EISDIR') throw new WoError('INVALID', `${abs} is a folder, not a file`);
    throw err;
  }
}

/** Compute every file change of a WO before touching anything; a patch that does not apply fails here. */
export async function planFileOps(wo: WorkOrder, targetOf: (p: string) => Target): Promise<FileOp[]> {
  const ops: FileOp[] = [];
  for (const f of wo.files) {
    const target = targetOf(f.path);
    const before = await current(target.abs);
    ops.push({ action: 'write', target, content: f.content, mode: f.mode ?? before.mode ?? 0o644, ...(f.validate ? { validate: f.validate } : {}), before });
  }
  for (const p of wo.patches) {
    const target = targetOf(p.path);
    const before = await current(target.abs);
    const next = applyUnifiedDiff(before.bytes?.toString('utf8') ?? '', p.diff, p.path);
    ops.push({ action: 'patch', target, content: Buffer.from(next), mode: before.mode ?? 0o644, before });
  }
  for (const d of wo.delete) {
    const target = targetOf(d);
    ops.push({ action: 'delete', target, before: await current(target.abs) });
  }
  return ops;
}

/** The honest dry-run steps for file operations. */
export function planSteps(ops: FileOp[]): PlanStep[] {
  return ops.map((op) => {
    const step = `${op.action} ${op.target.rel}`;
    if (op.action === 'delete') {
      return op.before.exists
        ? { step, path: op.target.rel, verdict: 'will change' as const, diff: diffOf(op.target.rel, op.before.bytes, null) }
        : { step, path: op.target.rel, verdict: 'no change' as const };
    }
    const same = op.before.exists && op.before.sha256 === sha256(op.content!) && op.before.mode === op.mode;
    if (same) return { step, path: op.target.rel, verdict: 'no change' as const };
    const modeNote = op.before.exists && op.before.mode !== op.mode ? `mode ${fmtMode(op.before.mode)} → ${fmtMode(op.mode ?? null)}\n` : '';
    return { step, path: op.target.rel, verdict: 'will change' as const, diff: modeNote + diffOf(op.target.rel, op.before.bytes, op.content!) };
  });
}

function diffOf(rel: string, before: Buffer | null, after: Buffer | null): string {
  if ((before && !isProbablyText(before)) || (after && !isProbablyText(after))) return `binary file ${rel} changed\n`;
  return unifiedDiff(rel, before?.toString('utf8') ?? null, after?.toString('utf8') ?? null);
}

/** Format a mode as "0644". */
export function fmtMode(mode: number | null | undefined): string | null {
  return mode === null || mode === undefined ? null : '0' + (mode & 0o7777).toString(8).padStart(3, '0');
}

export type Validator = (cmd: string, tempFile: string) => Promise<void>;

/** Apply one planned op (parents created one level at a time, atomic write, parent re-checked). */
export async function applyFileOp(op: FileOp, validate: Validator): Promise<FileEffect> {
  const { target } = op;
  if (op.action === 'delete') {
    if (op.before.exists) await fsp.unlink(target.abs);
    return { path: target.rel, action: 'delete', before_sha256: op.before.sha256, after_sha256: null, mode: null, before_mode: fmtMode(op.before.mode) };
  }
  await ensureParents(target);
  if (op.validate) {
    const tmp = path.join(path.dirname(target.abs), `.${path.basename(target.abs)}.wo-validate-${process.pid}.tmp`);
    await writeFileAtomic(tmp, op.content!, { mode: op.mode ?? 0o644, noDirSync: true });
    try {
      await validate(op.validate, tmp);
    } finally {
      await fsp.unlink(tmp).catch(() => {});
    }
  }
  await writeFileAtomic(target.abs, op.content!, { mode: op.mode ?? 0o644 });
  await recheckParent(target);
  return {
    path: target.rel,
    action: op.action,
    before_sha256: op.before.sha256,
    after_sha256: sha256(op.content!),
    mode: fmtMode(op.mode ?? 0o644),
    before_mode: fmtMode(op.before.mode),
  };
}
