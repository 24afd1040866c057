import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { StateStore } from '../../src/state/store.js';
import { WoIndex } from '../../src/state/index.js';
import { buildQuery, decodeCursor, encodeCursor, parseQuery, QueryError, rowOf } from '../../src/state/index-query.js';
import type { WoRecord } from '../../src/state/record.js';
import { record } from '../http/fixtures.js';
import { tempDir } from '../helpers.js';

const NOW = new Date('2026-06-01T12:00:00.000Z');
const at = (i: number) => new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString();

function setup(): { dir: string; store: StateStore; file: string } {
  const root = tempDir('wo-index-');
  const dir = path.join(root, 'state');
  fs.mkdirSync(dir);
  return { dir, store: new StateStore(dir), file: path.join(root, 'index', 'wo.sqlite') };
}

function recs(n: number): WoRecord[] {
  const statuses = ['succeeded', 'failed', 'queued', 'awaiting_approval'] as const;
  return Array.from({ length: n }, (_, i) =>
    record({
      wo_id: `WO-${String(i).padStart(4, '0')}`,
      title: i % 5 === 0 ? `Deploy thing ${i}` : `fix ${i}`,
      status: statuses[i % 4]!,
      lane: i % 3 === 0 ? 'OPS' : 'CLC',
      type: i % 2 ? 'exec' : 'apply_patch',
      ...(i % 7 === 0 ? { owner: 'mary' } : {}),
      // Some share a received time: the cursor's tie-break on wo_id must still page exactly.
      times: { received: at(Math.floor(i / 3)), ...(i % 4 === 0 ? { started: at(i), finished: at(i + 1) } : {}) },
      ...(i % 4 === 1 ? { error: { code: 'TEST_FAILED' as const, message: 'no' } } : {}),
    }),
  );
}

async function writeAll(store: StateStore, rs: WoRecord[]): Promise<void> {
  for (const r of rs) await store.write(r);
}

/** Every page of a query, following next_cursor. */
function allPages(ix: WoIndex, input: Record<string, string>): string[] {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const page = ix.query(parseQuery({ ...input, ...(cursor ? { cursor } : {}) }, { now: NOW }));
    ids.push(...page.items.map((w) => w.wo_id));
    if (!page.next_cursor) return ids;
    cursor = page.next_cursor;
  }
  throw new Error('no last page');
}

/** The expected listing computed directly from the records (newest received first, then wo_id descending). */
function expected(rs: WoRecord[], pred: (r: WoRecord) => boolean): string[] {
  return rs
    .filter(pred)
    .sort((a, b) => (b.times.received ?? '').localeCompare(a.times.received ?? '') || (b.wo_id < a.wo_id ? -1 : b.wo_id > a.wo_id ? 1 : 0))
    .map((r) => r.wo_id);
}

describe('the listing query (pure)', () => {
  it('checks its input: statuses, limit bounds, since, cursor', () => {
    expect(parseQuery({}, { now: NOW })).toEqual({ limit: 50 });
    expect(parseQuery({ status: 'failed,queued', limit: '500' }, { now: NOW })).toMatchObject({ statuses: ['failed', 'queued'], limit: 500 });
    expect(() => parseQuery({ status: 'bogus' }, { now: NOW })).toThrow(QueryError);
    for (const limit of ['0', '501', '-3', 'x', '1.5']) expect(() => parseQuery({ limit }, { now: NOW })).toThrow(/limit/);
    expect(parseQuery({ since: '2h' }, { now: NOW }).since).toBe('2026-06-01T10:00:00.000Z');
    expect(parseQuery({ since: '2026-05-01' }, { now: NOW }).since).toBe('2026-05-01T00:00:00.000Z');
    expect(() => parseQuery({ since: 'yesterday' }, { now: NOW })).toThrow(/since/);
    expect(() => parseQuery({ cursor: 'not a cursor!' }, { now: NOW })).toThrow(/cursor/);
    expect(() => parseQuery({ cursor: Buffer.from('{"a":1}').toString('base64url') }, { now: NOW })).toThrow(/cursor/);
    expect(decodeCursor(encodeCursor('2026-01-01T00:00:00.000Z', 'WO-1'))).toEqual({ received: '2026-01-01T00:00:00.000Z', wo_id: 'WO-1' });
  });

  it('builds a keyset page query; the total comes from counts unless a non-status filter applies', () => {
    const q = buildQuery(parseQuery({ status: 'failed', cursor: encodeCursor('t', 'WO-9'), limit: '10' }, { now: NOW }));
    expect(q.page.sql).toMatch(/ORDER BY received DESC, wo_id DESC LIMIT \?$/);
    // A row value (SQLite seeks the index to it; the OR form scanned it from the top: a deep page cost O(depth)).
    expect(q.page.sql).toMatch(/\(received, wo_id\) < \(\?, \?\)/);
    expect(q.page.params).toEqual(['failed', 't', 'WO-9', 11]);
    expect(q.total).toBeNull();
    const f = buildQuery(parseQuery({ lane: 'OPS', q: 'dep' }, { now: NOW }));
    expect(f.total?.sql).toMatch(/count\(\*\)/);
    expect(f.total?.sql).not.toMatch(/wo_id </);
  });

  it('maps a record to its row (duration from started/finished, error code)', () => {
    const r = rowOf(record({ wo_id: 'WO-R', owner: 'ann', times: { received: at(0), started: at(1), finished: at(3) }, error: { code: 'TEST_FAILED', message: 'x' } }));
    expect(r).toMatchObject({ wo_id: 'WO-R', owner: 'ann', error_code: 'TEST_FAILED', duration_ms: 120_000, received: at(0) });
    expect(JSON.parse(r.summary)).toMatchObject({ wo_id: 'WO-R', duration_ms: 120_000, error: { code: 'TEST_FAILED' } });
  });
});

describe('the record index (SQLite, temp db)', () => {
  it('filters and pages exactly like the records say, with totals and counts', async () => {
    const { store, file } = setup();
    const rs = recs(157);
    await writeAll(store, rs);
    const { index, rebuilt } = await WoIndex.openWriter(file, store);
    expect(rebuilt).toBe('new (never built)');
    try {
      const cases: [Record<string, string>, (r: WoRecord) => boolean][] = [
        [{ limit: '7' }, () => true],
        [{ status: 'failed', limit: '5' }, (r) => r.status === 'failed'],
        [{ status: 'failed,queued', lane: 'OPS', limit: '4' }, (r) => (r.status === 'failed' || r.status === 'queued') && r.lane === 'OPS'],
        [{ type: 'exec', limit: '9' }, (r) => r.type === 'exec'],
        [{ owner: 'mary', limit: '3' }, (r) => r.owner === 'mary'],
        [{ q: 'DEPLOY', limit: '6' }, (r) => r.title.toLowerCase().includes('deploy')],
        [{ q: 'WO-001' }, (r) => r.wo_id.includes('WO-001')],
        [{ since: at(30), limit: '8' }, (r) => r.times.received! >= at(30)],
      ];
      for (const [input, pred] of cases) {
        const want = expected(rs, pred);
        expect(allPages(index, input), JSON.stringify(input)).toEqual(want);
        expect(index.query(parseQuery(input, { now: NOW })).total, JSON.stringify(input)).toBe(want.length);
      }
      expect(index.counts()).toMatchObject({ succeeded: 40, failed: 39, queued: 39, awaiting_approval: 39, running: 0 });
    } finally {
      index.close();
    }
  });

  it('pages without duplicates or gaps while records are written between pages', async () => {
    const { store, file } = setup();
    const base = recs(120);
    await writeAll(store, base);
    const { index } = await WoIndex.openWriter(file, store);
    store.listener = index.listener();
    try {
      const seen: string[] = [];
      let cursor: string | undefined;
      let extra = 0;
      for (;;) {
        const page = index.query(parseQuery({ limit: '11', ...(cursor ? { cursor } : {}) }, { now: NOW }));
        seen.push(...page.items.map((w) => w.wo_id));
        // Between pages: new WOs arrive (newest), and existing ones change status (same received).
        for (let k = 0; k < 3; k++) await store.write(record({ wo_id: `WO-NEW-${extra++}`, times: { received: at(10_000 + extra) } }));
        const moved = base[(extra * 7) % base.length]!;
        await store.write({ ...moved, status: 'failed' });
        if (!page.next_cursor) break;
        cursor = page.next_cursor;
      }
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual(expected(base, () => true));
      expect(index.query(parseQuery({}, { now: NOW })).total).toBe(base.length + extra);
    } finally {
      store.listener = null;
      index.close();
    }
  });

  it('after a graceful close it opens without a rebuild; a record written behind its back makes it stale', async () => {
    const { dir, store, file } = setup();
    await writeAll(store, recs(10));
    (await WoIndex.openWriter(file, store)).index.close();
    const again = await WoIndex.openWriter(file, store);
    expect(again.rebuilt).toBeNull();
    again.index.close();
    expect(WoIndex.openReader(file, dir, false)).not.toBeNull();
    // A record written while the index was not updated (a kill -9 between record write and index update).
    await new StateStore(dir).write(record({ wo_id: 'WO-BEHIND', times: { received: at(999) } }));
    expect(WoIndex.openReader(file, dir, false)).toBeNull();
    expect(WoIndex.openReader(file, dir, true)).not.toBeNull(); // with the daemon up, it is the daemon's to keep
    const { index, rebuilt } = await WoIndex.openWriter(file, store);
    expect(rebuilt).toMatch(/written since/);
    expect(index.query({ limit: 1 }).items[0]?.wo_id).toBe('WO-BEHIND');
    index.close();
  });

  it('a rewritten record with the same count is caught too', async () => {
    const { dir, store, file } = setup();
    const rs = recs(5);
    await writeAll(store, rs);
    (await WoIndex.openWriter(file, store)).index.close();
    await new StateStore(dir).write({ ...rs[0]!, status: 'failed' });
    const { index, rebuilt } = await WoIndex.openWriter(file, store);
    expect(rebuilt).not.toBeNull();
    expect(index.allRows().find((r) => r.wo_id === rs[0]!.wo_id)?.status).toBe('failed');
    index.close();
  });

  it('a garbage file is removed and rebuilt; deleting it loses nothing', async () => {
    const { store, file } = setup();
    const rs = recs(12);
    await writeAll(store, rs);
    const first = await WoIndex.openWriter(file, store);
    const want = first.index.allRows();
    first.index.close();
    for (const f of [`${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
    fs.writeFileSync(file, Buffer.alloc(8192, 0x5a));
    expect(WoIndex.openReader(file, path.dirname(file), false)).toBeNull();
    const got = await WoIndex.openWriter(file, store);
    expect(got.rebuilt).toMatch(/unreadable/);
    expect(got.index.allRows()).toEqual(want);
    got.index.close();
    fs.rmSync(file);
    const fresh = await WoIndex.openWriter(file, store);
    expect(fresh.index.allRows()).toEqual(want);
    fresh.index.close();
  });

  it('a SQLite file of another shape or version is made anew', async () => {
    const { store, file } = setup();
    await writeAll(store, recs(6));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const Database = (await import('better-sqlite3')).default;
    const other = new Database(file);
    other.exec("CREATE TABLE wos (wo_id TEXT PRIMARY KEY, something TEXT); CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL); INSERT INTO meta VALUES ('version', '0')");
    other.close();
    const got = await WoIndex.openWriter(file, store);
    expect(got.rebuilt).toMatch(/removed/);
    expect(got.index.query({ limit: 50 }).total).toBe(6);
    got.index.close();
    const unversioned = new Database(file);
    unversioned.exec("DROP TABLE wos; CREATE TABLE wos (wo_id TEXT PRIMARY KEY, something TEXT); DELETE FROM meta");
    unversioned.close();
    const again = await WoIndex.openWriter(file, store);
    expect(again.rebuilt).not.toBeNull();
    expect(again.index.query({ limit: 50 }).total).toBe(6);
    again.index.close();
  });

  it('lists foreign files as unreadable at rebuild; remove(ids) drops rows and counts', async () => {
    const { dir, store, file } = setup();
    await writeAll(store, recs(8));
    fs.writeFileSync(path.join(dir, 'WO-JUNK.json'), 'not json');
    fs.writeFileSync(path.join(dir, 'bad name!.json'), '{}');
    const { index } = await WoIndex.openWriter(file, store, { names: 10 });
    try {
      expect(index.unreadable().map((u) => u.file)).toEqual(['WO-JUNK.json', 'bad name!.json']);
      index.remove(['WO-0000', 'WO-0001', 'WO-NOPE']);
      expect(index.query({ limit: 50 }).total).toBe(6);
      expect(index.counts()).toMatchObject({ succeeded: 1, failed: 1 });
    } finally {
      index.close();
    }
  });

  it('a rebuild while records are being written keeps the newest row of each', async () => {
    const { store, file } = setup();
    const rs = recs(300);
    await writeAll(store, rs);
    const { index } = await WoIndex.openWriter(file, store);
    store.listener = index.listener();
    try {
      const rebuild = index.rebuild(store);
      const writes = (async () => {
        for (let i = 0; i < 40; i++) await store.write({ ...rs[(i * 37) % rs.length]!, status: 'cancelled', attempt: 2 });
      })();
      await Promise.all([rebuild, writes]);
      const fresh = WoIndex.fromScan((await store.scan()).records, []);
      expect(index.allRows()).toEqual(fresh.allRows());
      fresh.close();
    } finally {
      store.listener = null;
      index.close();
    }
  });
});
