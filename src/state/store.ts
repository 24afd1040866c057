/** The durable state store: one JSON record per wo_id, rewritten atomically (temp → fsync → rename → fsync dir). */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { readJson, writeJsonAtomic } from '../util/fsx.js';
import type { WoRecord } from './record.js';

const ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

export class StateStore {
  /** Ids known to have a record (daemon only, after primeIds): a miss needs no failing read. */
  private ids: Set<string> | null = null;

  constructor(readonly dir: string) {}

  /** For the one process that writes records (the daemon, holding the lock): list the ids once, then track writes. */
  async primeIds(): Promise<void> {
    const names = await fsp.readdir(this.dir).catch(() => [] as string[]);
    this.ids = new Set(names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).map((n) => n.slice(0, -5)));
  }

  file(id: string): string {
    if (!ID_RE.test(id) || id === '.' || id === '..') throw new Error(`not a valid wo_id: ${JSON.stringify(id)}`);
    return path.join(this.dir, `${id}.json`);
  }

  async read(id: string): Promise<WoRecord | undefined> {
    if (!ID_RE.test(id) || (this.ids !== null && !this.ids.has(id))) return undefined;
    return readJson<WoRecord>(this.file(id));
  }

  /** Durably write a record; resolves only once it is on disk. */
  async write(rec: WoRecord): Promise<void> {
    await writeJsonAtomic(this.file(rec.wo_id), rec);
    this.ids?.add(rec.wo_id);
  }

  /** Every record (unreadable ones skipped), newest `times.received` first. */
  async list(): Promise<WoRecord[]> {
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const recs: WoRecord[] = [];
    for (const n of names) {
      if (!n.endsWith('.json') || n.startsWith('.')) continue;
      try {
        const r = await readJson<WoRecord>(path.join(this.dir, n));
        if (r && typeof r.wo_id === 'string') recs.push(r);
      } catch {
        /* a record being replaced or corrupt: skipped in listings */
      }
    }
    return recs.sort((a, b) => (b.times?.received ?? '').localeCompare(a.times?.received ?? ''));
  }
}
