/** The lessons ledger (MLS): append-only JSONL files `g/mls/ledger/YYYY-MM.jsonl`. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { appendLineSync } from '../util/fsx.js';

export interface MlsEntry {
  ts: string;
  type: string;
  title: string;
  body: string;
  tags: string[];
  paths: string[];
}

/** Append one entry (a single write of a whole line, fsynced). */
export function appendMls(ledgerDir: string, entry: Omit<MlsEntry, 'ts'> & { ts?: string }): MlsEntry {
  const full: MlsEntry = { ts: entry.ts ?? new Date().toISOString(), type: entry.type, title: entry.title, body: entry.body, tags: entry.tags, paths: entry.paths };
  fs.mkdirSync(ledgerDir, { recursive: true, mode: 0o700 });
  const file = path.join(ledgerDir, `${full.ts.slice(0, 7)}.jsonl`);
  const fd = fs.openSync(file, 'a', 0o600);
  try {
    appendLineSync(fd, JSON.stringify(full));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return full;
}

/** Read every entry from the `*.jsonl` files of one or more ledger folders; bad lines are reported, not fatal. */
export async function readMls(ledgerDirs: string[]): Promise<{ entries: MlsEntry[]; bad: { file: string; line: number }[] }> {
  const entries: MlsEntry[] = [];
  const bad: { file: string; line: number }[] = [];
  for (const dir of ledgerDirs) {
    let names: string[];
    try {
      names = (await fsp.readdir(dir)).filter((n) => n.endsWith('.jsonl')).sort();
    } catch {
      continue;
    }
    for (const n of names) {
      const file = path.join(dir, n);
      const lines = (await fsp.readFile(file, 'utf8')).split('\n');
      lines.forEach((line, i) => {
        if (!line.trim()) return;
        try {
          const e = JSON.parse(line) as MlsEntry;
          if (typeof e === 'object' && e && typeof e.ts === 'string') entries.push(e);
          else bad.push({ file, line: i + 1 });
        } catch {
          bad.push({ file, line: i + 1 });
        }
      });
    }
  }
  entries.sort((a, b) => a.ts.localeCompare(b.ts));
  return { entries, bad };
}
