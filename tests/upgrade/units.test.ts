/** The pure parts of `wo upgrade`: release naming and pruning, engines ranges, step recording, links, the lock. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { CURRENT, PREVIOUS, linkTarget, listReleases, promoteLinks, pruneChoice, pruneReleases, releaseName, sealRelease } from '../../src/upgrade/releases.js';
import { nodeSatisfies } from '../../src/upgrade/preflight.js';
import { Recorder, renderReport, tail } from '../../src/upgrade/report.js';
import { acquireUpgradeLock, upgradeInProgress, writeProgress } from '../../src/upgrade/lock.js';
import { reportStamp } from '../../src/upgrade/pipeline.js';

describe('releases', () => {
  it('names a release <version>-<sha12>, one path word', () => {
    expect(releaseName('1.2.3', 'abcdef0123456789')).toBe('1.2.3-abcdef012345');
    expect(releaseName('1.0.0/../x', 'a b')).toBe('1.0.0_.._x-a_b');
    expect(releaseName('', '')).toBe('0.0.0-unknown');
  });

  it('prunes beyond keep, newest first, never current or previous', () => {
    const r = (name: string, current = false, previous = false) => ({ name, current, previous });
    expect(pruneChoice([r('e'), r('d', true), r('c'), r('b'), r('a', false, true)], 3)).toEqual(['c', 'b']);
    expect(pruneChoice([r('c', true), r('b', false, true), r('a')], 2)).toEqual(['a']);
    expect(pruneChoice([r('c'), r('b', true), r('a', false, true)], 2)).toEqual(['c']);
    expect(pruneChoice([r('a', true)], 3)).toEqual([]);
  });

  it('switches current and previous by atomic renames; pruning keeps the linked ones', async () => {
    const dir = tempDir('wo-rel-');
    for (const [i, n] of ['r1', 'r2', 'r3', 'r4'].entries()) {
      fs.mkdirSync(path.join(dir, n, 'bin'), { recursive: true });
      fs.writeFileSync(path.join(dir, n, 'release.json'), JSON.stringify({ name: n, created_at: `2026-01-0${i + 1}T00:00:00Z` }));
      fs.writeFileSync(path.join(dir, n, 'bin', 'wo'), 'x', { mode: 0o755 });
    }
    await promoteLinks(dir, 'r1');
    expect([linkTarget(dir, CURRENT), linkTarget(dir, PREVIOUS)]).toEqual(['r1', undefined]);
    await promoteLinks(dir, 'r2');
    expect([linkTarget(dir, CURRENT), linkTarget(dir, PREVIOUS)]).toEqual(['r2', 'r1']);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    await sealRelease(path.join(dir, 'r4'));
    expect(fs.statSync(path.join(dir, 'r4', 'bin', 'wo')).mode & 0o777).toBe(0o555);
    expect(listReleases(dir).map((r) => r.name)).toEqual(['r4', 'r3', 'r2', 'r1']);
    expect(await pruneReleases(dir, 3)).toEqual(['r3']);
    expect(fs.readdirSync(dir).sort()).toEqual([CURRENT, PREVIOUS, 'r1', 'r2', 'r4'].sort());
  });
});

describe('preflight', () => {
  it("reads engines ranges as npm does for the usual forms", () => {
    expect(nodeSatisfies('>=20.19', 'v20.20.2')).toBe(true);
    expect(nodeSatisfies('>=20.19', 'v20.18.0')).toBe(false);
    expect(nodeSatisfies('>=18 <21', 'v20.1.0')).toBe(true);
    expect(nodeSatisfies('>=18 <20', 'v20.1.0')).toBe(false);
    expect(nodeSatisfies('^22', 'v20.1.0')).toBe(false);
    expect(nodeSatisfies('^18 || ^20', 'v20.1.0')).toBe(true);
    expect(nodeSatisfies('~20.19.1', 'v20.19.5')).toBe(true);
    expect(nodeSatisfies('20.x', 'v20.19.5')).toBe(true);
    expect(nodeSatisfies('22', 'v20.19.5')).toBe(false);
  });

  it('gets caret on 0.x, hyphen ranges and bad ranges right (the hand-written check did not)', () => {
    expect(nodeSatisfies('^0.2.3', '0.2.9')).toBe(true);
    expect(nodeSatisfies('^0.2.3', '0.3.0')).toBe(false);
    expect(nodeSatisfies('^0.0.3', '0.0.4')).toBe(false);
    expect(nodeSatisfies('18 - 20', 'v20.19.5')).toBe(true);
    expect(nodeSatisfies('18 - 20', 'v21.0.0')).toBe(false);
    expect(nodeSatisfies('20.1 - 20.19', 'v20.19.5')).toBe(true);
    expect(nodeSatisfies('20.1 - 20.19', 'v20.20.0')).toBe(false);
    expect(nodeSatisfies('>=20 <=banana', 'v20.1.0')).toBe(false);
  });
});

describe('step recording', () => {
  it('writes steps.json and report.md after every step; an exception is a failed step', async () => {
    const dir = path.join(tempDir('wo-rep-'), 'upgrade', reportStamp(new Date('2026-12-01T06:00:00.123Z'), 42));
    expect(path.basename(dir)).toBe('20261201T060000Z-42');
    const seen: string[] = [];
    const rec = new Recorder(dir, false, (st) => {
      // The record is on disk when the hook runs (before the next step starts).
      const onDisk = JSON.parse(fs.readFileSync(path.join(dir, 'steps.json'), 'utf8'));
      seen.push(`${onDisk.steps.length}:${st.status}`);
    });
    await rec.open();
    await rec.step('a', async () => ({ status: 'ok', summary: 'fine' }));
    await rec.step('b', async () => ({ status: 'warning', summary: 'hmm', output: 'x'.repeat(10_000) }));
    await rec.step('c', async () => {
      throw new Error('boom');
    });
    await rec.finish('failed');
    expect(seen).toEqual(['1:ok', '2:warning', '3:failed']);
    const j = JSON.parse(fs.readFileSync(path.join(dir, 'steps.json'), 'utf8'));
    expect(j.outcome).toBe('failed');
    expect(j.steps.map((s: { name: string; status: string }) => `${s.name}=${s.status}`)).toEqual(['a=ok', 'b=warning', 'c=failed']);
    expect(j.steps[2].summary).toBe('boom');
    expect(j.steps[1].output_tail.length).toBeLessThanOrEqual(4000);
    expect(typeof j.steps[0].duration_ms).toBe('number');
    const md = fs.readFileSync(path.join(dir, 'report.md'), 'utf8');
    expect(md).toContain('| 3 | c | failed |');
    expect(md).toContain('outcome: **failed**');
    expect(renderReport({ started_at: 't', dry_run: true, steps: [] })).toContain('dry run');
    expect(tail('a\nb\nc', 3)).toBe('c'); // cut at a line start
    expect(tail('short')).toBe('short');
  });
});

describe('upgrade.lock', () => {
  it('is single flight (the holder is named), shows progress, and is free again after release', async () => {
    const root = tempDir('wo-ulock-');
    const a = await acquireUpgradeLock(root);
    if ('held' in a) throw new Error('first acquire refused');
    const b = await acquireUpgradeLock(root);
    expect('held' in b && b.held?.pid).toBe(process.pid);
    await writeProgress(root, { pid: process.pid, step: 'stage', report: 'r', started_at: a.info.started_at });
    expect(await upgradeInProgress(root)).toMatchObject({ pid: process.pid, step: 'stage' });
    await a.release();
    expect(await upgradeInProgress(root)).toBeUndefined();
  });

  it('a dead holder is stale and taken over', async () => {
    const root = tempDir('wo-ulock-');
    fs.mkdirSync(path.join(root, 'g', 'run'), { recursive: true });
    fs.writeFileSync(path.join(root, 'g', 'run', 'upgrade.lock'), JSON.stringify({ pid: 2 ** 22 + 7, proc_start: '1', started_at: 'then', root }));
    expect(await upgradeInProgress(root)).toMatchObject({ stale: true });
    const a = await acquireUpgradeLock(root);
    if ('held' in a) throw new Error('stale lock not taken over');
    expect(a.tookOver?.pid).toBe(2 ** 22 + 7);
    await a.release();
  });
});
