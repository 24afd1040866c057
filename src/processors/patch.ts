/** Unified diffs for apply_patch (SPEC §5): strict application with the failing hunk named, and plan diffs. Pure. */
import { applyPatch, createTwoFilesPatch, parsePatch, FILE_HEADERS_ONLY, type StructuredPatch, type StructuredPatchHunk } from 'diff';
import { WoError } from '../errors.js';

const STRICT = { fuzzFactor: 0 } as const;

function fail(path: string, message: string, cause?: unknown): never {
  throw new WoError('PATCH_FAILED', `patch for ${path}: ${message}`, cause === undefined ? {} : { cause });
}

function quoteLine(s: string): string {
  const t = s.length > 80 ? `${s.slice(0, 77)}…` : s;
  return `'${t.replace(/\r$/, '')}'`;
}

/** The one file patch a `patches[]` entry holds (headers optional). */
function parseOne(diffText: string, path: string): StructuredPatch {
  let parsed: StructuredPatch[];
  try {
    parsed = parsePatch(diffText);
  } catch (err) {
    fail(path, `is not a valid unified diff: ${(err as Error).message}`, err);
  }
  const withHunks = parsed.filter((p) => p.hunks.length > 0);
  if (withHunks.length === 0) fail(path, 'holds no hunk (a unified diff has lines like "@@ -1,3 +1,4 @@")');
  if (withHunks.length > 1) fail(path, `holds changes for ${withHunks.length} files; give each file its own patches[] entry`);
  return withHunks[0]!;
}

/** Why a hunk does not apply where its header says: the first context or removed line that differs. */
function mismatch(original: string, hunk: StructuredPatchHunk): string {
  const lines = original.split('\n');
  if (lines.at(-1) === '') lines.pop();
  let n = hunk.oldStart;
  for (const l of hunk.lines) {
    if (l.startsWith('+') || l.startsWith('\\')) continue;
    const want = l.slice(1);
    const have = lines[n - 1];
    if (have === undefined) return `expected line ${n} ${quoteLine(want)}, found the end of the file (it has ${lines.length} lines)`;
    if (have.replace(/\r$/, '') !== want.replace(/\r$/, '')) return `expected line ${n} ${quoteLine(want)}, found ${quoteLine(have)}`;
    n += 1;
  }
  return `its lines match at line ${hunk.oldStart}, but not after the hunks before it were applied (hunks overlap or are out of order)`;
}

/** Why: a patch either applies exactly or fails naming the hunk and the line, so the WO author can fix it. */
export function applyUnifiedDiff(original: string, diffText: string, path: string): string {
  const patch = parseOne(diffText, path);
  const whole = applyPatch(original, patch, STRICT);
  if (whole !== false) return whole;
  const headers = diffText.match(/^@@ [^\n]*?@@/gm) ?? [];
  for (let k = 0; k < patch.hunks.length; k += 1) {
    if (applyPatch(original, { ...patch, hunks: patch.hunks.slice(0, k + 1) }, STRICT) !== false) continue;
    const hunk = patch.hunks[k]!;
    const header = headers[k] ?? `@@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`;
    fail(path, `hunk #${k + 1} (${header}) does not apply: ${mismatch(original, hunk)}`);
  }
  return fail(path, 'does not apply');
}

/** Why: dry-run plans show what would change as a reviewable diff (`a/`, `b/`, /dev/null for absent). */
export function unifiedDiff(path: string, before: string | null, after: string | null): string {
  if (before === after) return '';
  const sep = path.startsWith('/') ? '' : '/';
  const oldName = before === null ? '/dev/null' : `a${sep}${path}`;
  const newName = after === null ? '/dev/null' : `b${sep}${path}`;
  // One side empty: every line is added (or removed), written directly (no diff search needed).
  if (!before || !after) return `--- ${oldName}\n+++ ${newName}\n${oneSided(before ?? '', after ?? '')}`;
  const patch = createTwoFilesPatch(oldName, newName, before, after, undefined, undefined, { context: 3, headerOptions: FILE_HEADERS_ONLY, timeout: DIFF_TIMEOUT_MS });
  return patch ?? `--- ${oldName}\n+++ ${newName}\n(the diff was not computed: the change is too large to compare within ${DIFF_TIMEOUT_MS} ms; ${Buffer.byteLength(before)} → ${Buffer.byteLength(after)} bytes)\n`;
}

/** Bound on computing one diff for a plan: a pathological pair of files must not stall the daemon. */
const DIFF_TIMEOUT_MS = 2000;

/** The one hunk of a diff whose other side is empty, in the exact form jsdiff writes it. */
function oneSided(before: string, after: string): string {
  const text = before || after;
  if (text === '') return '';
  const sign = before ? '-' : '+';
  const lines = text.split('\n');
  const noEol = lines[lines.length - 1] !== '';
  if (!noEol) lines.pop();
  const n = lines.length;
  const range = before ? `-1,${n} +0,0` : `-0,0 +1,${n}`;
  return `@@ ${range} @@\n${lines.map((l) => sign + l).join('\n')}\n${noEol ? '\\ No newline at end of file\n' : ''}`;
}

/** Why: diffs of binary content are noise; a NUL in the first 8 KiB is git's own heuristic. */
export function isProbablyText(buf: Buffer): boolean {
  return !buf.subarray(0, 8192).includes(0);
}

/** Why: one call for plans, text or binary: a diff, `binary file changed …`, or '' when nothing changes. */
export function planDiff(path: string, before: Buffer | null, after: Buffer | null): string {
  if (before !== null && after !== null && before.equals(after)) return '';
  if ((before === null || isProbablyText(before)) && (after === null || isProbablyText(after))) {
    return unifiedDiff(path, before?.toString('utf8') ?? null, after?.toString('utf8') ?? null);
  }
  const size = (b: Buffer | null): string => (b === null ? 'absent' : `${b.length} bytes`);
  return `binary file changed: ${path} (${size(before)} → ${size(after)})\n`;
}
