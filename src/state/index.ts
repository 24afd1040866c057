/**
 * The record index (`g/followup/index/wo.sqlite`, SQLite in WAL mode): one summary row per record, derived from
 * the records and never the truth. The daemon updates it right after each durable record write (the record
 * first: the index may lag, never lead) and checks it at start against the state folder's high-water mark —
 * the folder's inode and mtime (every record write is a rename into it, which sets it), taken only while no
 * write is in flight and once it is older than the clock's tick. A mismatch,
 * a missing or unreadable file means a rebuild from the records; deleting the file loses nothing.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { StateStore, StoreListener, Unreadable } from './store.js';
import { BAD_NAME } from './store.js';
import { STATUSES, type WoRecord } from './record.js';
import { buildQuery, encodeCursor, rowOf, type IndexRow, type WoQuery, type WoSummary } from './index-query.js';

const SCHEMA_VERSION = '1';
/** A folder mtime this close to the moment it was read may still be shared by a later write (coarse kernel clock). */
const SETTLE_MS = 50;
/** Records read (synchronously) between two turns of the event loop during a rebuild. */
const READ_BATCH = 256;

/** The secondary indexes (dropped during a rebuild's bulk insert, made again after: faster than keeping them). */
const INDEXES = `
CREATE INDEX IF NOT EXISTS wos_received ON wos(received, wo_id);
CREATE INDEX IF NOT EXISTS wos_status ON wos(status, received, wo_id);
CREATE INDEX IF NOT EXISTS wos_lane ON wos(lane, received, wo_id);
CREATE INDEX IF NOT EXISTS wos_type ON wos(type, received, wo_id);
CREATE INDEX IF NOT EXISTS wos_owner ON wos(owner, received, wo_id);
`;
const DROP_INDEXES = 'DROP INDEX IF EXISTS wos_received; DROP INDEX IF EXISTS wos_status; DROP INDEX IF EXISTS wos_lane; DROP INDEX IF EXISTS wos_type; DROP INDEX IF EXISTS wos_owner;';

const DDL = `
CREATE TABLE IF NOT EXISTS wos (
  wo_id TEXT PRIMARY KEY, status TEXT NOT NULL, stage TEXT NOT NULL, lane TEXT NOT NULL, type TEXT NOT NULL,
  priority TEXT NOT NULL, owner TEXT, title TEXT NOT NULL, error_code TEXT, received TEXT NOT NULL,
  started TEXT, finished TEXT, attempt INTEGER NOT NULL, duration_ms INTEGER, summary TEXT NOT NULL
) WITHOUT ROWID;
${INDEXES}
CREATE TABLE IF NOT EXISTS counts (status TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS unreadable (file TEXT PRIMARY KEY, why TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
`;

const COLS = ['wo_id', 'status', 'stage', 'lane', 'type', 'priority', 'owner', 'title', 'error_code', 'received', 'started', 'finished', 'attempt', 'duration_ms', 'summary'] as const;

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);
}

/** The index file of a root's state folder. */
export function indexFile(indexDir: string): string {
  return path.join(indexDir, 'wo.sqlite');
}

/** The state folder's high-water mark: inode:mtime_ns, and when it was read. */
function markOf(stateDir: string): { mark: string; mtimeMs: number } | null {
  try {
    const st = fs.statSync(stateDir, { bigint: true });
    return { mark: `${st.ino}:${st.mtimeNs}`, mtimeMs: Number(st.mtimeNs / 1_000_000n) };
  } catch {
    return null;
  }
}

/** `wo index status`: what the index holds and whether it matches the records. */
export interface IndexStatus {
  file: string;
  exists: boolean;
  ok: boolean;
  rows: number;
  unreadable: number;
  high_water: string | null;
  current: string | null;
  built_at: string | null;
  why?: string;
}

/** A page of a listing. */
export interface Page {
  items: WoSummary[];
  next_cursor: string | null;
  total: number;
}

export class WoIndex {
  private pending = 0;
  private broken = false;
  private settleTimer: NodeJS.Timeout | null = null;
  /** Rows written by the daemon while a rebuild reads the records: applied over what it read. */
  private during: Map<string, IndexRow | null> | null = null;
  private readonly upsertStmt: Database.Statement;
  /** Prepared once per SQL text: preparing on every record write cost more than the write itself. */
  private readonly stmts = new Map<string, Database.Statement>();

  private constructor(
    readonly db: Database.Database,
    readonly stateDir: string,
    readonly file: string,
    readonly readonly: boolean,
    private readonly warn: (msg: string) => void = () => {},
  ) {
    this.upsertStmt = readonly
      ? db.prepare('SELECT 1')
      : db.prepare(`INSERT INTO wos (${COLS.join(',')}) VALUES (${COLS.map((c) => `@${c}`).join(',')}) ON CONFLICT(wo_id) DO UPDATE SET ${COLS.slice(1).map((c) => `${c}=excluded.${c}`).join(',')}`);
  }

  /** Why: the daemon (and `wo index rebuild` with it down, holding the lock) opens it to write: verified, else rebuilt. */
  static async openWriter(file: string, store: StateStore, opts: { warn?: (msg: string) => void; force?: boolean } = {}): Promise<{ index: WoIndex; rebuilt: string | null }> {
    await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    // Deleting the file loses nothing: a file this version cannot use is removed and made anew.
    const fresh = async (): Promise<WoIndex> => {
      for (const f of [file, `${file}-wal`, `${file}-shm`]) await fsp.rm(f, { force: true });
      return new WoIndex(WoIndex.openDb(file, false), store.dir, file, false, opts.warn);
    };
    let db: Database.Database | null = null;
    let index: WoIndex;
    let why: string | null;
    try {
      db = WoIndex.openDb(file, false);
      const version = WoIndex.metaOf(db).version;
      if (version !== undefined && version !== SCHEMA_VERSION) throw new Error(`built by another version of wo (index schema ${version})`);
      why = opts.force ? 'asked to rebuild' : await WoIndex.verify(db, store.dir);
      index = new WoIndex(db, store.dir, file, false, opts.warn);
    } catch (err) {
      why = `unreadable (${firstLine(err)}); removed`;
      try {
        db?.close();
      } catch {
        /* closing a corrupt file */
      }
      index = await fresh();
    }
    if (why !== null) {
      try {
        await index.rebuild(store);
      } catch (err) {
        index.close();
        why = `${why}; the rebuild failed (${firstLine(err)}), so it was made anew`;
        index = await fresh();
        await index.rebuild(store);
      }
    }
    return { index, rebuilt: why };
  }

  /** Why: the CLI acting with the daemon down (holding the lock) keeps a current index current, and leaves a stale one for the next rebuild. */
  static openIfCurrent(file: string, store: StateStore): WoIndex | null {
    if (!fs.existsSync(file)) return null;
    let db: Database.Database | null = null;
    try {
      db = WoIndex.openDb(file, false);
      const meta = WoIndex.metaOf(db);
      if (meta.version === SCHEMA_VERSION && meta.built === '1' && !!meta.mark && markOf(store.dir)?.mark === meta.mark) return new WoIndex(db, store.dir, file, false);
      db.close();
    } catch {
      try {
        db?.close();
      } catch {
        /* ignore */
      }
    }
    return null;
  }

  private sql(text: string): Database.Statement {
    let st = this.stmts.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.stmts.set(text, st);
    }
    return st;
  }

  private static openDb(file: string, readonly: boolean): Database.Database {
    const db = new Database(file, readonly ? { readonly: true, fileMustExist: true } : {});
    if (!readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('cache_size = -32000');
      db.exec(DDL);
    }
    db.pragma('busy_timeout = 2000');
    // A garbage file fails here (SQLITE_NOTADB) or at the first read.
    db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table'").get();
    return db;
  }

  /** Why the index does not match the records (null: it does). Cheap: meta and one stat. */
  private static async verify(db: Database.Database, stateDir: string): Promise<string | null> {
    const meta = WoIndex.metaOf(db);
    if (meta.version !== SCHEMA_VERSION) return meta.version ? `built by another version (${meta.version})` : 'new (never built)';
    if (meta.built !== '1') return 'a rebuild was interrupted';
    if (!meta.mark) return 'the daemon stopped while writing (no high-water mark)';
    const cur = markOf(stateDir);
    if (!cur || cur.mark !== meta.mark) return 'records were written since it was last updated';
    return null;
  }

  private static metaOf(db: Database.Database): Record<string, string | undefined> {
    const rows = db.prepare('SELECT k, v FROM meta').all() as { k: string; v: string }[];
    return Object.fromEntries(rows.map((r) => [r.k, r.v]));
  }

  /**
   * Why: readers in other processes (CLI) open it read-only. With the daemon running its index is current (it
   * may lag by the writes in flight); with it down the index must match the records' high-water mark. Null:
   * missing, unusable, being rebuilt or stale — the caller rebuilds it under the lock or scans.
   */
  static openReader(file: string, stateDir: string, daemonRunning: boolean): WoIndex | null {
    if (!fs.existsSync(file)) return null;
    let db: Database.Database | null = null;
    try {
      db = WoIndex.openDb(file, true);
      const meta = WoIndex.metaOf(db);
      const fine = meta.version === SCHEMA_VERSION && meta.built === '1' && (daemonRunning || (!!meta.mark && markOf(stateDir)?.mark === meta.mark));
      if (!fine) {
        db.close();
        return null;
      }
      return new WoIndex(db, stateDir, file, true);
    } catch {
      try {
        db?.close();
      } catch {
        /* ignore */
      }
      return null;
    }
  }

  /** Why: with no usable index file, the same queries run over rows built in memory from a scan (the fallback). */
  static fromScan(records: WoRecord[], unreadable: Unreadable[]): WoIndex {
    const db = new Database(':memory:');
    db.exec(DDL);
    const ix = new WoIndex(db, '', ':memory:', false);
    ix.db.transaction(() => {
      for (const r of records) ix.put(rowOf(r));
      for (const u of unreadable) db.prepare('INSERT OR REPLACE INTO unreadable (file, why) VALUES (?, ?)').run(u.file, u.why);
    })();
    return ix;
  }

  /** Why: the daemon's hook on StateStore.write — counts writes in flight and indexes each one once it is durable. */
  listener(): StoreListener {
    return {
      writing: () => {
        this.pending++;
        this.clearMark();
      },
      written: (rec) => {
        this.pending--;
        this.apply(rec.wo_id, rowOf(rec));
      },
      failed: () => {
        this.pending--;
        this.settleSoon();
      },
      foreign: (name, why) => {
        if (this.broken) return;
        try {
          this.sql('INSERT OR REPLACE INTO unreadable (file, why) VALUES (?, ?)').run(name, why);
        } catch (err) {
          this.fail(err);
        }
      },
    };
  }

  /** The mark is dropped while writes are in flight (kept in memory: the stored one stays until the next settle). */
  private clearMark(): void {
    if (this.settleTimer) {
      clearTimeout(this.settleTimer);
      this.settleTimer = null;
    }
  }

  private apply(id: string, row: IndexRow | null): void {
    if (this.broken) return;
    try {
      this.during?.set(id, row);
      this.db.transaction(() => {
        if (row) {
          this.put(row);
          this.sql('DELETE FROM unreadable WHERE file = ?').run(`${id}.json`);
        } else this.del(id);
      })();
    } catch (err) {
      this.fail(err);
      return;
    }
    this.settleSoon();
  }

  /** Upsert a row and keep the counts (one transaction with the caller). */
  private put(row: IndexRow): void {
    const old = this.sql('SELECT status FROM wos WHERE wo_id = ?').get(row.wo_id) as { status: string } | undefined;
    this.upsertStmt.run(row);
    if (old?.status === row.status) return;
    if (old) this.sql('UPDATE counts SET n = n - 1 WHERE status = ?').run(old.status);
    this.sql('INSERT INTO counts (status, n) VALUES (?, 1) ON CONFLICT(status) DO UPDATE SET n = n + 1').run(row.status);
  }

  private del(id: string): void {
    const old = this.sql('SELECT status FROM wos WHERE wo_id = ?').get(id) as { status: string } | undefined;
    if (!old) return;
    this.sql('DELETE FROM wos WHERE wo_id = ?').run(id);
    this.sql('UPDATE counts SET n = n - 1 WHERE status = ?').run(old.status);
  }

  /** An index write failed: stop using it for writes, and leave it unmarked so the next start rebuilds it. */
  private fail(err: unknown): void {
    this.broken = true;
    this.warn(`the record index could not be updated (${err instanceof Error ? err.message : String(err)}); it is rebuilt at the next start`);
    try {
      this.sql("DELETE FROM meta WHERE k = 'mark'").run();
    } catch {
      /* the next start finds it unusable or unmarked either way */
    }
  }

  /** Once no write is in flight and the folder's mtime is older than the clock's tick, store it as the high-water mark. */
  private settleSoon(delay = 200): void {
    if (this.pending > 0 || this.broken || this.during || this.readonly) return;
    this.clearMark();
    this.settleTimer = setTimeout(() => {
      this.settleTimer = null;
      if (!this.storeMark()) this.settleSoon(SETTLE_MS * 2);
    }, delay);
    this.settleTimer.unref();
  }

  /** Store the mark now if it is settled (synchronous: no write can start in between). */
  private storeMark(): boolean {
    if (this.pending > 0 || this.broken || this.during) return true;
    const cur = markOf(this.stateDir);
    if (!cur) return true;
    if (Date.now() - cur.mtimeMs < SETTLE_MS) return false;
    try {
      this.sql("INSERT OR REPLACE INTO meta (k, v) VALUES ('mark', ?)").run(cur.mark);
    } catch (err) {
      this.fail(err);
    }
    return true;
  }

  /**
   * Why: rebuild from the records — read a batch of files at a time into a staging table (never every record in
   * memory), then swap in one transaction; rows the daemon wrote meanwhile are applied over what was read.
   */
  async rebuild(store: StateStore): Promise<{ rows: number; unreadable: number }> {
    this.clearMark();
    this.during = new Map();
    try {
      this.db.exec("CREATE TEMP TABLE IF NOT EXISTS staging (wo_id TEXT PRIMARY KEY, row TEXT NOT NULL) WITHOUT ROWID; DELETE FROM temp.staging; DELETE FROM meta WHERE k IN ('mark', 'built')");
      const unreadable: Unreadable[] = [];
      const names = (await fsp.readdir(store.dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort();
      const stage = this.sql('INSERT OR REPLACE INTO temp.staging (wo_id, row) VALUES (?, ?)');
      for (let i = 0; i < names.length; i += READ_BATCH) {
        // A chunk at a time, then the event loop runs (the daemon stays responsive while it rebuilds).
        if (i > 0) await new Promise((r) => setImmediate(r));
        const batch = names.slice(i, i + READ_BATCH);
        const got = batch.map((n) => store.inspectNameSync(n));
        this.db.transaction(() => {
          got.forEach((g, j) => {
            if (g.kind === 'ok') stage.run(g.record.wo_id, JSON.stringify(rowOf(g.record)));
            else if (g.kind === 'foreign') unreadable.push({ file: batch[j]!, why: g.why });
            else if (g.kind === 'badname') unreadable.push({ file: batch[j]!, why: BAD_NAME });
          });
        })();
      }
      const during = this.during;
      let rows = 0;
      this.db.transaction(() => {
        this.db.exec(`DELETE FROM wos; DELETE FROM counts; DELETE FROM unreadable; ${DROP_INDEXES}`);
        this.db.exec(`INSERT INTO wos (${COLS.join(',')}) SELECT ${COLS.map((c) => `json_extract(row, '$.${c}')`).join(',')} FROM temp.staging`);
        for (const [id, row] of during) {
          if (row) this.upsertStmt.run(row);
          else this.sql('DELETE FROM wos WHERE wo_id = ?').run(id);
        }
        this.db.exec(INDEXES);
        this.db.exec('INSERT INTO counts (status, n) SELECT status, count(*) FROM wos GROUP BY status; DELETE FROM temp.staging');
        const insU = this.sql('INSERT OR REPLACE INTO unreadable (file, why) VALUES (?, ?)');
        for (const u of unreadable) insU.run(u.file, u.why);
        const meta = this.sql('INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)');
        meta.run('version', SCHEMA_VERSION);
        meta.run('built', '1');
        meta.run('built_at', new Date().toISOString());
        rows = (this.sql('SELECT count(*) AS n FROM wos').get() as { n: number }).n;
      })();
      this.broken = false;
      return { rows, unreadable: unreadable.length };
    } finally {
      this.during = null;
      this.settleSoon(0);
    }
  }

  /** Why: retention removes records; their rows go too (after the record files are gone). */
  remove(ids: string[]): void {
    if (this.readonly || this.broken) return;
    try {
      this.db.transaction(() => {
        for (const id of ids) {
          this.during?.set(id, null);
          this.del(id);
        }
      })();
    } catch (err) {
      this.fail(err);
      return;
    }
    this.settleSoon();
  }

  /** One page of a listing, newest received first, with the cursor of the next page and the total matching. */
  query(q: WoQuery): Page {
    const { page, total } = buildQuery(q);
    const rows = this.sql(page.sql).all(...page.params) as { wo_id: string; received: string; summary: string }[];
    const more = rows.length > q.limit;
    const shown = more ? rows.slice(0, q.limit) : rows;
    const last = shown[shown.length - 1];
    let n: number;
    if (total) n = (this.sql(total.sql).get(...total.params) as { n: number }).n;
    else {
      const c = this.counts();
      n = q.statuses?.length ? q.statuses.reduce((a, s) => a + (c[s] ?? 0), 0) : Object.values(c).reduce((a, b) => a + b, 0);
    }
    return { items: shown.map((r) => JSON.parse(r.summary) as WoSummary), next_cursor: more && last ? encodeCursor(last.received, last.wo_id) : null, total: n };
  }

  /** Counts by status (every status present, 0 when none). */
  counts(): Record<string, number> {
    const out: Record<string, number> = Object.fromEntries(STATUSES.map((s) => [s, 0]));
    for (const r of this.sql('SELECT status, n FROM counts').all() as { status: string; n: number }[]) if (r.n > 0) out[r.status] = r.n;
    return out;
  }

  /** Why: the dashboard feed tells a WO's previous status with each update (totals move exactly); null: not indexed. */
  statusOf(id: string): string | null {
    const row = this.sql('SELECT status FROM wos WHERE wo_id = ?').get(id) as { status: string } | undefined;
    return row?.status ?? null;
  }

  /** Files in the state folder that are not records, as of the last rebuild. */
  unreadable(): Unreadable[] {
    return this.sql('SELECT file, why FROM unreadable ORDER BY file').all() as Unreadable[];
  }

  /** Queued WO ids (of one lane), for `wo cancel --all` with the daemon down. */
  queuedIds(lane?: string): string[] {
    const rows = lane === undefined ? this.sql("SELECT wo_id FROM wos WHERE status = 'queued'").all() : this.sql("SELECT wo_id FROM wos WHERE status = 'queued' AND lane = ?").all(lane);
    return (rows as { wo_id: string }[]).map((r) => r.wo_id);
  }

  /** Every row as the summary it returns, by wo_id (tests compare an index with a rebuild). */
  allRows(): Record<string, unknown>[] {
    return (this.sql(`SELECT ${COLS.join(',')} FROM wos ORDER BY wo_id`).all() as Record<string, unknown>[]);
  }

  /** `wo index status`. */
  status(): IndexStatus {
    const meta = WoIndex.metaOf(this.db);
    const cur = markOf(this.stateDir);
    const rows = Object.values(this.counts()).reduce((a, b) => a + b, 0);
    return { file: this.file, exists: true, ok: meta.built === '1' && !!meta.mark && cur?.mark === meta.mark, rows, unreadable: this.unreadable().length, high_water: meta.mark ?? null, current: cur?.mark ?? null, built_at: meta.built_at ?? null };
  }

  /** Why: at a graceful stop no write is in flight: store the mark (waiting out the clock's tick) so the next start needs no rebuild. */
  close(): void {
    this.clearMark();
    if (!this.readonly && !this.broken && this.pending === 0 && !this.during) {
      const cur = markOf(this.stateDir);
      if (cur) {
        const wait = SETTLE_MS - (Date.now() - cur.mtimeMs);
        if (wait > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait + 1);
      }
      this.storeMark();
    }
    try {
      this.db.close();
    } catch {
      /* already closed */
    }
  }
}
