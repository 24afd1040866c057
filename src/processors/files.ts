/** apply_patch's file part: plan every write, patch and delete first (all-or-nothing), then apply them. */
import path from 'node:path';
import type { WorkOrder } from '../wo/parse.js';
import type { FileEffect, PlanStep } from '../state/record.js';
import type { Target } from '../snapshot/backup.js';
import { sha256 } from '../util/fsx.js';
import { WoError } from '../errors.js';
import { applyUnifiedDiff, unifiedDiff, isProbablyText } from './patch.js';
import { openParent, withParent, type Dir } from '../util/confined.js';

export interface FileOp {
  action: 'write' | 'patch' | 'delete';
  target: Target;
  /** New bytes (write/patch). */
  content?: Buffer;
  mode?: number;
  validate?: string;
  before: { exists: boolean; mode: number | null; sha256: string | null; bytes: Buffer | null };
}

/** The target's current bytes and mode, read through the confined walk (a link anywhere is refused). */
async function current(t: Target): Promise<FileOp['before']> {
  try {
    const file = await withParent(t, {}, (dir, name) => dir.readFile(name));
    if (!file) return { exists: false, mode: null, sha256: null, bytes: null };
    return { exists: true, mode: file.mode, sha256: sha256(file.bytes), bytes: file.bytes };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EISDIR') throw new WoError('INVALID', `${t.abs} is a folder, not a file`);
    throw err;
  }
}

/** Compute every file change of a WO before touching anything; a patch that does not apply fails here. */
export async function planFileOps(wo: WorkOrder, targetOf: (p: string) => Target): Promise<FileOp[]> {
  const ops: FileOp[] = [];
  for (const f of wo.files) {
    const target = targetOf(f.path);
    const before = await current(target);
    ops.push({ action: 'write', target, content: f.content, mode: f.mode ?? before.mode ?? 0o644, ...(f.validate ? { validate: f.validate } : {}), before });
  }
  for (const p of wo.patches) {
    const target = targetOf(p.path);
    const before = await current(target);
    const next = applyUnifiedDiff(before.bytes?.toString('utf8') ?? '', p.diff, p.path);
    ops.push({ action: 'patch', target, content: Buffer.from(next), mode: before.mode ?? 0o644, before });
  }
  for (const d of wo.delete) {
    const target = targetOf(d);
    ops.push({ action: 'delete', target, before: await current(target) });
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

/**
 * Apply one planned op through the target folder's handle (parents created one level at a time, no link
 * followed, atomic write). The chain is verified before and after the change: a folder renamed or swapped
 * for a link meanwhile is refused (POLICY_REFUSED, the caller rolls back) and this op is undone in place.
 */
export async function applyFileOp(op: FileOp, validate: Validator): Promise<FileEffect> {
  const { target } = op;
  const effect: FileEffect =
    op.action === 'delete'
      ? { path: target.rel, action: 'delete', before_sha256: op.before.sha256, after_sha256: null, mode: null, before_mode: fmtMode(op.before.mode) }
      : { path: target.rel, action: op.action, before_sha256: op.before.sha256, after_sha256: sha256(op.content!), mode: fmtMode(op.mode ?? 0o644), before_mode: fmtMode(op.before.mode) };
  const opened = await openParent(target, { create: op.action !== 'delete' });
  if (!opened) {
    if (!op.before.exists) return effect;
    throw new WoError('POLICY_REFUSED', `path '${target.abs}': its folder vanished before the delete`);
  }
  const { dir, name } = opened;
  try {
    if (op.action === 'delete') {
      await dir.verify();
      if (op.before.exists) await dir.unlink(name);
      await dir.sync();
    } else {
      if (op.validate) await validateIn(dir, name, op, validate);
      await dir.verify();
      await dir.writeFile(name, op.content!, { mode: op.mode ?? 0o644 });
    }
    await verifyOrUndo(dir, name, op);
  } catch (err) {
    if (err instanceof WoError && err.code === 'POLICY_REFUSED') await dir.removeCreated();
    throw err;
  } finally {
    await dir.close();
  }
  return effect;
}

async function validateIn(dir: Dir, name: string, op: FileOp, validate: Validator): Promise<void> {
  const tmpName = `.${name}.wo-validate-${process.pid}.tmp`;
  await dir.writeFile(tmpName, op.content!, { mode: op.mode ?? 0o644, noDirSync: true });
  try {
    // The command gets the lexical path: if the folder was swapped meanwhile it sees the swap (and fails), we never follow it.
    await validate(op.validate!, path.join(path.dirname(op.target.abs), tmpName));
  } finally {
    await dir.unlink(tmpName).catch(() => {});
  }
}

/** After the change: if the folder no longer sits at its path, put its previous state back through the handle and refuse. */
async function verifyOrUndo(dir: Dir, name: string, op: FileOp): Promise<void> {
  try {
    await dir.verify();
  } catch (err) {
    if (op.before.exists && op.before.bytes) await dir.writeFile(name, op.before.bytes, { mode: op.before.mode ?? 0o644 }).catch(() => {});
    else await dir.unlink(name).catch(() => {});
    throw err;
  }
}
