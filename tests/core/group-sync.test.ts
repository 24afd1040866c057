/** Group commit of folder fsyncs: a caller is covered only by an fsync that started after its call. */
import { describe, expect, it } from 'vitest';
import { groupSync } from '../../src/util/fsx.js';

/** A fake fsync whose completion the test controls; records the order of starts. */
function fakeSyncs() {
  const started: number[] = [];
  const finish: (() => void)[] = [];
  const fail: ((e: Error) => void)[] = [];
  let n = 0;
  const fn = () => {
    const i = n++;
    started.push(i);
    return new Promise<void>((res, rej) => {
      finish[i] = res;
      fail[i] = rej;
    });
  };
  return { fn, started, finish, fail };
}
const tick = () => new Promise<void>((r) => setImmediate(r));

describe('groupSync', () => {
  it('callers during a running fsync share ONE fsync queued behind it, never the running one', async () => {
    const s = fakeSyncs();
    const key = `k-${Math.random()}`;
    const order: string[] = [];
    const a = groupSync(key, s.fn).then(() => order.push('a'));
    const b = groupSync(key, s.fn).then(() => order.push('b'));
    const c = groupSync(key, s.fn).then(() => order.push('c'));
    expect(s.started).toEqual([0]);
    s.finish[0]!();
    await a;
    await tick();
    expect(order).toEqual(['a']); // b and c called while #0 ran: #0 does not cover them
    expect(s.started).toEqual([0, 1]);
    s.finish[1]!();
    await Promise.all([b, c]);
    expect(order).toEqual(['a', 'b', 'c']);
    expect(s.started).toEqual([0, 1]); // three callers, two fsyncs
  });

  it('a failed fsync fails its callers only; the next callers get a fresh one', async () => {
    const s = fakeSyncs();
    const key = `k-${Math.random()}`;
    const a = groupSync(key, s.fn);
    const b = groupSync(key, s.fn);
    s.fail[0]!(new Error('EIO'));
    await expect(a).rejects.toThrow('EIO');
    await tick();
    s.finish[1]!();
    await expect(b).resolves.toBeUndefined();
    const c = groupSync(key, s.fn); // idle again: starts at once
    expect(s.started).toEqual([0, 1, 2]);
    s.finish[2]!();
    await c;
  });

  it('different folders never share', async () => {
    const s = fakeSyncs();
    const a = groupSync(`x-${Math.random()}`, s.fn);
    const b = groupSync(`y-${Math.random()}`, s.fn);
    expect(s.started).toEqual([0, 1]);
    s.finish[0]!();
    s.finish[1]!();
    await Promise.all([a, b]);
  });
});
