/** StateStore on real temp folders: foreign files at a record's path are told apart, listed, and never overwritten. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ForeignRecord, StateStore } from '../../src/state/store.js';
import { recordProblem } from '../../src/state/valid.js';
import { tempDir } from '../helpers.js';
import { record } from '../http/fixtures.js';

function store(): { dir: string; s: StateStore } {
  const dir = path.join(tempDir('wo-store-'), 'state');
  fs.mkdirSync(dir, { recursive: true });
  return { dir, s: new StateStore(dir) };
}

const put = (dir: string, name: string, text: string) => fs.writeFileSync(path.join(dir, name), text);

describe('recordProblem', () => {
  it('accepts a complete record and names what is wrong with anything else', () => {
    expect(recordProblem(record({ wo_id: 'A' }), 'A')).toBeUndefined();
    expect(recordProblem({ status: 'done' }, 'A')).toBe('has no schema or wo_id');
    expect(recordProblem([], 'A')).toMatch(/array/);
    expect(recordProblem('x', 'A')).toMatch(/string/);
    expect(recordProblem(null, 'A')).toMatch(/null/);
    expect(recordProblem({ wo_id: 5 }, 'A')).toBe('has no schema');
    expect(recordProblem({ ...record({ wo_id: 'B' }) }, 'A')).toMatch(/holds wo_id "B", not "A"/);
    expect(recordProblem({ ...record({ wo_id: 'A' }), schema: 2 }, 'A')).toMatch(/schema 2/);
    expect(recordProblem({ ...record({ wo_id: 'A' }), status: 'done' }, 'A')).toMatch(/^has wrong fields: status/);
    expect(recordProblem({ ...record({ wo_id: 'A' }), files: 'none' }, 'A')).toMatch(/files/);
    expect(recordProblem({ ...record({ wo_id: 'A' }), stage_index: -1 }, 'A')).toMatch(/stage_index/);
    expect(recordProblem({ ...record({ wo_id: 'A' }), times: { received: 5 } }, 'A')).toMatch(/times/);
    // Unknown extra fields are kept: a newer wo's record still reads.
    expect(recordProblem({ ...record({ wo_id: 'A' }), future_field: { x: 1 } }, 'A')).toBeUndefined();
  });
});

describe('StateStore', () => {
  it('inspect: absent, ok, and each kind of foreign file', async () => {
    const { dir, s } = store();
    put(dir, 'OK.json', JSON.stringify(record({ wo_id: 'OK' })));
    put(dir, 'OLD.json', '{"status":"done"}');
    put(dir, 'EMPTY.json', '');
    put(dir, 'GARBAGE.json', '{not json');
    put(dir, 'OTHER.json', JSON.stringify(record({ wo_id: 'SOMEONE' })));
    fs.mkdirSync(path.join(dir, 'DIR.json'));
    fs.symlinkSync(path.join(dir, 'OK.json'), path.join(dir, 'LINK.json'));
    expect(await s.inspect('NONE')).toEqual({ kind: 'absent' });
    expect((await s.inspect('OK')).kind).toBe('ok');
    const why = async (id: string) => {
      const got = await s.inspect(id);
      expect(got.kind, id).toBe('foreign');
      return got.kind === 'foreign' ? `${got.file} ${got.why}` : '';
    };
    expect(await why('OLD')).toBe('g/followup/state/OLD.json has no schema or wo_id');
    expect(await why('EMPTY')).toMatch(/empty/);
    expect(await why('GARBAGE')).toMatch(/not JSON/);
    expect(await why('OTHER')).toMatch(/holds wo_id "SOMEONE"/);
    expect(await why('DIR')).toMatch(/is a folder/);
    expect(await why('LINK')).toMatch(/symbolic link/);
    // read never returns a non-record
    for (const id of ['OLD', 'EMPTY', 'GARBAGE', 'OTHER', 'DIR', 'LINK', 'NONE', '../x', '']) expect(await s.read(id), id).toBeUndefined();
    expect((await s.read('OK'))?.wo_id).toBe('OK');
  });

  it('write refuses to replace a foreign file or a folder (ForeignRecord, CONFLICT) and leaves it as it was', async () => {
    const { dir, s } = store();
    put(dir, 'OLD.json', '{"status":"done"}');
    fs.mkdirSync(path.join(dir, 'DIR.json'));
    for (const id of ['OLD', 'DIR']) {
      const err = await s.write(record({ wo_id: id })).then(() => undefined, (e: unknown) => e);
      expect(err, id).toBeInstanceOf(ForeignRecord);
      expect((err as ForeignRecord).code).toBe('CONFLICT');
      expect((err as ForeignRecord).message).toContain(`g/followup/state/${id}.json`);
    }
    expect(fs.readFileSync(path.join(dir, 'OLD.json'), 'utf8')).toBe('{"status":"done"}');
    expect(fs.statSync(path.join(dir, 'DIR.json')).isDirectory()).toBe(true);
    // Its own records are rewritten as before.
    await s.write(record({ wo_id: 'MINE', status: 'queued' }));
    await s.write(record({ wo_id: 'MINE', status: 'succeeded' }));
    expect((await s.read('MINE'))?.status).toBe('succeeded');
  });

  it('a folder made at a known record path after it was written: the next write throws ForeignRecord', async () => {
    const { dir, s } = store();
    await s.write(record({ wo_id: 'V', status: 'queued' }));
    fs.rmSync(path.join(dir, 'V.json'));
    fs.mkdirSync(path.join(dir, 'V.json', 'sub'), { recursive: true });
    await expect(s.write(record({ wo_id: 'V', status: 'running' }))).rejects.toBeInstanceOf(ForeignRecord);
    expect(fs.statSync(path.join(dir, 'V.json')).isDirectory()).toBe(true);
  });

  it('a folder made at a record path later is seen (never taken for an absent record)', async () => {
    const { dir, s } = store();
    fs.mkdirSync(path.join(dir, 'LATE.json'));
    expect(await s.read('LATE')).toBeUndefined();
    expect((await s.inspect('LATE')).kind).toBe('foreign');
    await expect(s.write(record({ wo_id: 'LATE' }))).rejects.toBeInstanceOf(ForeignRecord);
  });

  it('scan lists records and every unreadable file by name; list keeps only records', async () => {
    const { dir, s } = store();
    put(dir, 'A.json', JSON.stringify(record({ wo_id: 'A', times: { received: '2025-01-01T00:00:00.000Z' } })));
    put(dir, 'B.json', JSON.stringify(record({ wo_id: 'B', times: { received: '2025-02-01T00:00:00.000Z' } })));
    put(dir, 'X.json', '[]');
    put(dir, 'my old state.json', '{}');
    put(dir, 'notes.txt', 'not a .json name: not looked at');
    put(dir, '.A.json.1.tmp', 'a writer temp: hidden');
    fs.mkdirSync(path.join(dir, 'D.json'));
    const { records, unreadable } = await s.scan();
    expect(records.map((r) => r.wo_id)).toEqual(['B', 'A']);
    expect(unreadable.map((u) => u.file)).toEqual(['D.json', 'X.json', 'my old state.json']);
    expect(unreadable.every((u) => typeof u.why === 'string' && u.why.length > 0)).toBe(true);
    expect((await s.list()).map((r) => r.wo_id)).toEqual(['B', 'A']);
  });

  it('a missing state folder lists nothing', async () => {
    const s = new StateStore(path.join(tempDir('wo-store-'), 'nope'));
    expect(await s.scan()).toEqual({ records: [], unreadable: [] });
    expect(await s.inspect('A')).toEqual({ kind: 'absent' });
  });
});
