/**
 * The durable state store: one JSON record per wo_id, rewritten atomically (temp → fsync → rename → fsync dir).
 * Every read is validated: a file at a record's path that wo did not write (a folder, a link, garbage, another
 * program's JSON) is "foreign" — reported, never returned as a record, never overwritten.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { writeJsonAtomic } from '../util/fsx.js';
import { SparePool } from '../util/spare.js';
import { WoError } from '../errors.js';
import type { WoRecord } from './record.js';
import { MAX_RECORD_BYTES, recordProblem } from './valid.js';

const ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

function validId(id: string): boolean {
  return ID_RE.test(id) && id !== '.' && id !== '..';
}

/** What is at a record's path. */
export type Inspected = { kind: 'absent' } | { kind: 'ok'; record: WoRecord } | { kind: 'foreign'; file: string; why: string };

/** A file under the state folder that is not a wo record: its name and what is wrong with it. */
export interface Unreadable {
  file: string;
  why: string;
}

/** A record cannot be written: its path holds something wo did not write (a folder, a foreign file). */
export class ForeignRecord extends WoError {
  constructor(
    readonly file: string,
    readonly why: string,
  ) {
    super('CONFLICT', `${file} is not a wo record (it ${why}); wo does not overwrite what it did not write, so this WO cannot be recorded: move that away and submit again`, {
      details: [{ path: file, message: why }],
    });
  }
}

/** Why a .json file in the state folder is not a record by its name alone. */
export const BAD_NAME = 'has a name that is not <wo_id>.json (a wo_id is letters, digits, . _ -)';

const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | (fs.constants.O_NONBLOCK ?? 0);

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? 'error';
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').slice(0, 200);
}

/** Told of every record write (the daemon's index): `writing` before it starts, `written`/`failed` once it is durable or not. */
export interface StoreListener {
  writing(id: string): void;
  written(rec: WoRecord): void;
  failed(id: string): void;
  /** A file that is not a record was found at a record's path (`name` in the state folder). */
  foreign?(name: string, why: string): void;
}

/** How `inspectFile` judges a file at a record's path: these three steps. */
function openProblem(err: unknown): Inspected | string {
  const code = errCode(err);
  if (code === 'ENOENT') return { kind: 'absent' };
  if (code === 'ELOOP' || code === 'EMLINK') return 'is a symbolic link (never followed in the state folder)';
  return `cannot be opened (${code})`;
}

function statProblem(st: fs.Stats): string | undefined {
  if (st.isDirectory()) return 'is a folder';
  if (!st.isFile()) return 'is not a regular file';
  if (st.size === 0) return 'is empty (0 bytes)';
  if (st.size > MAX_RECORD_BYTES) return `is ${st.size} bytes, over the ${MAX_RECORD_BYTES} a record can be`;
  return undefined;
}

function judgeText(text: string, id: string, foreign: (why: string) => Inspected): Inspected {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return err instanceof SyntaxError ? foreign(`is not JSON (${oneLine(err.message)})`) : foreign(`cannot be read (${errCode(err)})`);
  }
  const why = recordProblem(value, id);
  return why === undefined ? { kind: 'ok', record: value as WoRecord } : foreign(why);
}

export class StateStore {
  /** Set by the daemon: keeps the index right behind the records (record first; the index may lag, never lead). */
  listener: StoreListener | null = null;
  /** Ids whose path holds a record of ours (read valid, or written here): writing there replaces only our own. */
  private ours = new Set<string>();
  /** The daemon's store (the one writer while it holds the lock) rewrites records into spare inodes. */
  private spares: SparePool | undefined;

  /** `label` names the folder in messages (relative to the root). */
  constructor(
    readonly dir: string,
    readonly label = 'g/followup/state',
  ) {}

  /** Why: see util/spare.ts. Only for the daemon's store: spare names are fixed, so one process may use them. */
  useSpares(): void {
    this.spares = new SparePool(this.dir);
    this.spares.clear();
  }

  /** Why: retention deleted these records; a later write at their path is a new record, not a known one. */
  forget(ids: readonly string[]): void {
    for (const id of ids) this.ours.delete(id);
  }

  file(id: string): string {
    if (!validId(id)) throw new Error(`not a valid wo_id: ${JSON.stringify(id)}`);
    return path.join(this.dir, `${id}.json`);
  }

  /** Why: tell an absent record from a valid one and from a foreign file at its path (always looks on disk). */
  async inspect(id: string): Promise<Inspected> {
    if (!validId(id)) return { kind: 'absent' };
    const got = this.inspectFile(`${id}.json`, id);
    if (got.kind === 'ok') this.ours.add(id);
    else this.ours.delete(id);
    if (got.kind === 'foreign') this.listener?.foreign?.(`${id}.json`, got.why);
    return got;
  }

  /** A valid record, or undefined when there is none — or only a foreign file (tell them apart with `inspect`). */
  async read(id: string): Promise<WoRecord | undefined> {
    if (!validId(id)) return undefined;
    const got = await this.inspect(id);
    return got.kind === 'ok' ? got.record : undefined;
  }

  /** Durably write a record; resolves only once it is on disk. Throws ForeignRecord rather than replace a file wo did not write. */
  async write(rec: WoRecord): Promise<void> {
    const l = this.listener;
    if (!l) return this.writeRecord(rec);
    l.writing(rec.wo_id);
    try {
      await this.writeRecord(rec);
    } catch (err) {
      l.failed(rec.wo_id);
      throw err;
    }
    l.written(rec);
  }

  private async writeRecord(rec: WoRecord): Promise<void> {
    const file = this.file(rec.wo_id);
    if (!this.ours.has(rec.wo_id)) {
      const got = await this.inspect(rec.wo_id);
      if (got.kind === 'foreign') throw new ForeignRecord(got.file, got.why);
    }
    try {
      // Spares for a rewrite only (a record of ours is there): a first write has nothing to keep, and its link
      // attempt would fail once per new WO on the hot path.
      await writeJsonAtomic(file, rec, { spares: this.ours.has(rec.wo_id) ? this.spares : undefined });
    } catch (err) {
      const code = errCode(err);
      // A folder made at the path since we looked (rename(2) refuses to replace a folder with a file).
      if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') {
        this.ours.delete(rec.wo_id);
        throw new ForeignRecord(`${this.label}/${rec.wo_id}.json`, 'is a folder');
      }
      throw err;
    }
    this.ours.add(rec.wo_id);
  }

  /** Why: the index rebuild reads every record once, in chunks, synchronously; same checks as `inspect`. */
  inspectNameSync(name: string): Inspected | { kind: 'badname' } {
    if (!name.endsWith('.json') || name.startsWith('.')) return { kind: 'absent' };
    const id = name.slice(0, -5);
    if (!validId(id)) return { kind: 'badname' };
    return this.inspectFile(name, id);
  }

  /**
   * What is at `name` (a record's path): one open/fstat/read/close, synchronous (a record is ≤ MAX_RECORD_BYTES;
   * a thread-pool round trip per call costs more than the read: see fsyncFd in util/fsx.ts).
   */
  private inspectFile(name: string, id: string): Inspected {
    const foreign = (why: string): Inspected => ({ kind: 'foreign', file: `${this.label}/${name}`, why });
    let fd: number;
    try {
      fd = fs.openSync(path.join(this.dir, name), OPEN_FLAGS);
    } catch (err) {
      const p = openProblem(err);
      return typeof p === 'string' ? foreign(p) : p;
    }
    try {
      const st = fs.fstatSync(fd);
      const bad = statProblem(st);
      if (bad) return foreign(bad);
      const buf = Buffer.allocUnsafe(st.size);
      let got = 0;
      while (got < st.size) {
        const n = fs.readSync(fd, buf, got, st.size - got, got);
        if (n <= 0) break;
        got += n;
      }
      return judgeText(buf.subarray(0, got).toString('utf8'), id, foreign);
    } catch (err) {
      return foreign(`cannot be read (${errCode(err)})`);
    } finally {
      try {
        fs.closeSync(fd);
      } catch {
        /* already closed */
      }
    }
  }

  /** Why: listings show every record and name every file that is not one (status, API) instead of failing. */
  async scan(): Promise<{ records: WoRecord[]; unreadable: Unreadable[] }> {
    let names: string[];
    try {
      names = await fsp.readdir(this.dir);
    } catch (err) {
      if (errCode(err) === 'ENOENT') return { records: [], unreadable: [] };
      throw err;
    }
    const records: WoRecord[] = [];
    const unreadable: Unreadable[] = [];
    for (const n of names.sort()) {
      if (!n.endsWith('.json') || n.startsWith('.')) continue;
      const id = n.slice(0, -5);
      if (!validId(id)) {
        unreadable.push({ file: n, why: BAD_NAME });
        continue;
      }
      const got = this.inspectFile(n, id);
      if (got.kind === 'ok') records.push(got.record);
      else if (got.kind === 'foreign') unreadable.push({ file: n, why: got.why });
    }
    records.sort((a, b) => (b.times.received ?? '').localeCompare(a.times.received ?? ''));
    return { records, unreadable };
  }

  /** Every valid record, newest `times.received` first (files that are not records are left out: see `scan`). */
  async list(): Promise<WoRecord[]> {
    return (await this.scan()).records;
  }
}
