/** Read an old setup's files: scripts, plists, units and followup state, bounded, never following a link. */
import fs from 'node:fs/promises';
import path from 'node:path';

/** The biggest file read (scripts, plists, units, state files); bigger ones are listed as skipped. */
export const MAX_FILE_BYTES = 1024 * 1024;
const MAX_DEPTH = 8;
const MAX_ENTRIES = 50_000;
const SKIP_DIRS = new Set(['.git', 'node_modules', 'bridge', '.Trash']);

export type FileKind = 'script' | 'plist' | 'unit';
export interface Found {
  kind: FileKind;
  abs: string;
  text: string;
}
export interface Skipped {
  file: string;
  why: string;
}

function kindOf(name: string): FileKind | 'maybe-script' | undefined {
  if (/\.(zsh|sh|bash)$/i.test(name)) return 'script';
  if (/\.plist$/i.test(name)) return 'plist';
  if (/\.service$/i.test(name)) return 'unit';
  return name.includes('.') ? undefined : 'maybe-script';
}

/** Why: a regular file's text, or why it is not read (a link, too big, not a file). */
export async function readBounded(abs: string): Promise<{ text?: string; why?: string }> {
  const st = await fs.lstat(abs).catch(() => undefined);
  if (!st) return { why: 'vanished' };
  if (st.isSymbolicLink()) return { why: 'is a symbolic link (not followed)' };
  if (!st.isFile()) return { why: 'is not a regular file' };
  if (st.size > MAX_FILE_BYTES) return { why: `is ${st.size} bytes, over the ${MAX_FILE_BYTES} read` };
  const fh = await fs.open(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW).catch(() => undefined);
  if (!fh) return { why: 'cannot be opened' };
  try {
    const buf = Buffer.alloc(Math.min(st.size, MAX_FILE_BYTES) + 1);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead > MAX_FILE_BYTES) return { why: `grew over the ${MAX_FILE_BYTES} bytes read` };
    return { text: buf.subarray(0, bytesRead).toString('utf8') };
  } finally {
    await fh.close();
  }
}

/** Why: every script, plist and unit under `dir` (bounded depth and count, links not followed, `skip` folders left out). */
export async function scanTree(dir: string, skip: readonly string[] = []): Promise<{ found: Found[]; skipped: Skipped[] }> {
  const found: Found[] = [];
  const skipped: Skipped[] = [];
  const skipAbs = new Set(skip.map((s) => path.resolve(s)));
  let seen = 0;
  const walk = async (d: string, depth: number): Promise<void> => {
    const entries = await fs.readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (++seen > MAX_ENTRIES) return;
      const abs = path.join(d, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name) && !skipAbs.has(abs) && depth < MAX_DEPTH) await walk(abs, depth + 1);
        continue;
      }
      const k = kindOf(e.name);
      if (!k || (!e.isFile() && !e.isSymbolicLink())) continue;
      const got = await readBounded(abs);
      if (got.text === undefined) {
        if (k !== 'maybe-script') skipped.push({ file: abs, why: got.why! });
        continue;
      }
      if (k === 'maybe-script') {
        if (/^#!\S*\b(?:env\s+)?(?:ba|z)?sh\b/.test(got.text.split('\n', 1)[0]!.replace('/usr/bin/env ', 'env '))) found.push({ kind: 'script', abs, text: got.text });
      } else found.push({ kind: k, abs, text: got.text });
    }
  };
  await walk(path.resolve(dir), 0);
  if (seen > MAX_ENTRIES) skipped.push({ file: dir, why: `more than ${MAX_ENTRIES} entries: the rest were not scanned` });
  return { found, skipped };
}

/** Why: the old pipeline's state files (`<dir>/g/followup/state/*.json`), each read bounded. */
export async function scanState(stateDir: string): Promise<{ files: { abs: string; name: string; text?: string; why?: string }[] }> {
  const names = (await fs.readdir(stateDir).catch(() => [] as string[])).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
  const files = [];
  for (const name of names.slice(0, MAX_ENTRIES)) files.push({ abs: path.join(stateDir, name), name, ...(await readBounded(path.join(stateDir, name))) });
  return { files };
}
