/** File-system edge of history: the path's facts now, and scanning logs/JSONL for lines naming it. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { sha256 } from '../util/fsx.js';
import type { Expectation, FsFacts, LogLine } from './types.js';

const MAX_READ = 16 * 1024 * 1024;

/** What the path is on disk now; reads content only as far as the checks need. */
export async function fsFacts(abs: string, expect: Expectation | null): Promise<FsFacts> {
  let lst: fs.Stats;
  try {
    lst = await fsp.lstat(abs);
  } catch {
    const parentMissing = !fs.existsSync(path.dirname(abs));
    return { exists: false, parentMissing };
  }
  let st = lst;
  if (lst.isSymbolicLink()) {
    try {
      st = await fsp.stat(abs);
    } catch {
      return { exists: false, kind: 'dangling-symlink', symlinkTarget: await fsp.readlink(abs).catch(() => '?') };
    }
  }
  const facts: FsFacts = {
    exists: true,
    kind: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other',
    mode: (st.mode & 0o7777).toString(8).padStart(4, '0'),
    mtime: st.mtime.toISOString(),
  };
  if (facts.kind !== 'file') return facts;
  facts.size = st.size;
  facts.executable = (st.mode & 0o111) !== 0;
  const wantJson = abs.toLowerCase().endsWith('.json') || expect?.json === true;
  const wantAll = wantJson || Boolean(expect?.sha256);
  try {
    if (wantAll && st.size <= MAX_READ) {
      const buf = await fsp.readFile(abs);
      if (buf.subarray(0, 2).toString() === '#!') facts.shebang = buf.subarray(0, 200).toString('utf8').split('\n')[0]!.trim();
      if (wantJson) {
        try {
          JSON.parse(buf.toString('utf8'));
          facts.json = { valid: true };
        } catch (err) {
          facts.json = { valid: false, error: (err as Error).message };
        }
      }
      if (expect?.sha256) facts.sha256 = sha256(buf);
    } else {
      const fh = await fsp.open(abs, 'r');
      try {
        const head = Buffer.alloc(200);
        const { bytesRead } = await fh.read(head, 0, 200, 0);
        const text = head.subarray(0, bytesRead).toString('utf8');
        if (text.startsWith('#!')) facts.shebang = text.split('\n')[0]!.trim();
      } finally {
        await fh.close();
      }
    }
  } catch {
    /* unreadable: the stat facts stand */
  }
  return facts;
}

const PATH_CHAR = /[\p{L}\p{N}_.\-]/u;

/** Whether `text` names `needle` as a whole path (not as part of a longer name). */
export function namesPath(text: string, needle: string): boolean {
  if (!needle) return false;
  for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) {
    const before = text[i - 1];
    const after = text[i + needle.length];
    const dotSlash = before === '/' && text[i - 2] === '.' && !PATH_CHAR.test(text[i - 3] ?? ' ');
    const okBefore = before === undefined || dotSlash || (!PATH_CHAR.test(before) && (before !== '/' || needle.startsWith('/')));
    const okAfter = after === undefined || (!PATH_CHAR.test(after) && after !== '/') || (after === '.' && !PATH_CHAR.test(text[i + needle.length + 1] ?? ' '));
    if (okBefore && okAfter) return true;
  }
  return false;
}

const TS_RE = /(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)/;

/** A timestamp at (or near) the start of a log line, or from a JSON line's `ts`. */
export function lineTime(line: string): string | undefined {
  if (line.startsWith('{')) {
    try {
      const ts = (JSON.parse(line) as { ts?: unknown }).ts;
      if (typeof ts === 'string' && !Number.isNaN(Date.parse(ts))) return new Date(ts).toISOString();
    } catch {
      /* not JSON after all */
    }
  }
  const m = TS_RE.exec(line.slice(0, 80));
  if (!m) return undefined;
  const raw = m[1]!.replace(' ', 'T');
  const t = Date.parse(raw);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/** Files in a folder matching a name test (none when the folder is absent). */
export async function listFiles(dir: string, test: (name: string) => boolean): Promise<string[]> {
  try {
    return (await fsp.readdir(dir)).filter(test).sort().map((n) => path.join(dir, n));
  } catch {
    return [];
  }
}

/** Lines of text files that satisfy `keep`, with their time (the line's own, else the file's mtime). */
export async function scanLines(files: string[], keep: (line: string) => boolean, label: (file: string) => string): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for (const file of files) {
    let text: string;
    let mtime: string;
    try {
      const st = await fsp.stat(file);
      if (!st.isFile()) continue;
      mtime = st.mtime.toISOString();
      text = await fsp.readFile(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line.trim() || !keep(line)) continue;
      const ts = lineTime(line);
      out.push({ ts: ts ?? mtime, file: label(file), line: line.length > 400 ? line.slice(0, 400) + '…' : line, ...(ts ? {} : { approxTs: true }) });
    }
  }
  return out;
}
