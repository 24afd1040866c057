/**
 * kill -9 of `wo upgrade` at each step (WO_TEST_UPGRADE_CRASH_AT): afterwards the old or the new release serves
 * the root — never neither — and the WOs dropped around it are all taken. Quick: the handover's points (and one
 * rollback point); WO_RELIABILITY=full: every step.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readRecord, runCliAsync, waitFor } from '../helpers.js';
import { dropAtomic, FULL, woText } from './common.js';
import { CURRENT, linkTarget, releasesDir, runningRelease } from '../../src/upgrade/releases.js';
import { baseReleases, candidate, CRASH_LIVE, rootWithRelease, startCurrent, stopAll, waitReadyPid } from '../upgrade/fixture.js';

const QUICK = ['switched', 'successor-spawned', 'old-stopped', 'after:handover'];
const ALL = ['after:upgrade.lock', 'after:preflight', 'after:stage', 'after:gates.tests', 'after:gates.canary', 'after:shadow', 'before-switch', ...QUICK, 'after:live canary', 'after:prune'];
const ROLLBACK_QUICK = ['rollback-switched'];
const ROLLBACK_ALL = ['after:handover', 'rollback-switched', 'after:rollback'];

const roots: string[] = [];
let base = '';
let good = '';
let bad = '';

beforeAll(async () => {
  base = linkTarget(releasesDir(await baseReleases()), CURRENT)!;
  good = candidate('0.8.1');
  bad = candidate('0.8.2', { binPrelude: CRASH_LIVE });
}, 180_000);
afterEach(async () => {
  for (const r of roots.splice(0)) await stopAll(r);
});

async function crashAt(point: string, from: string): Promise<{ root: string; serving: number; release: string | undefined }> {
  const root = await rootWithRelease();
  roots.push(root);
  await startCurrent(root);
  const r = await runCliAsync(['upgrade', '--from', from, '--yes'], { root, env: { WO_TEST_UPGRADE_CRASH_AT: point } });
  expect(r.code, `the upgrader was not killed at ${point}:\n${r.stdout}${r.stderr}`).toBe(-1);
  // Someone serves: the old daemon, or the successor that takes the lock once the old one has stopped.
  const serving = await waitReadyPid(root, () => true, 150_000);
  const release = process.platform === 'linux' ? runningRelease(root, serving) : undefined;
  const id = `WO-AFTER-${point.replace(/[^A-Za-z0-9]+/g, '-')}`;
  dropAtomic(path.join(root, 'bridge/inbox/CLC'), `${id}.yaml`, woText(id, 'verify'));
  await waitFor(() => readRecord(root, id)?.status === 'succeeded', { timeout: 60_000, what: `${id} succeeded after a kill at ${point}` });
  // The guard (started at the handover) has decided before the test's teardown stops the daemons.
  const guardLog = path.join(root, 'g/logs/upgrade-guard.log');
  if (fs.existsSync(guardLog)) await waitFor(() => fs.readFileSync(guardLog, 'utf8').includes('wo upgrade guard:'), { timeout: 60_000, what: 'the guard to decide' });
  return { root, serving, release };
}

describe('kill -9 of wo upgrade at each step: the old or the new release serves, never neither', () => {
  for (const point of FULL ? ALL : QUICK) {
    it(`killed at ${point}`, async () => {
      const { root, release } = await crashAt(point, good);
      if (process.platform === 'linux') expect([base, linkTarget(releasesDir(root), CURRENT)]).toContain(release);
      if (point === 'switched') {
        // The link already names the candidate but the old daemon runs: the next upgrade takes the stale lock over and finishes.
        const again = await runCliAsync(['upgrade', '--from', good, '--yes'], { root });
        expect(again.code, again.stdout + again.stderr).toBe(0);
        expect(again.stdout).toMatch(/taken over from a dead upgrader/);
        expect(again.stdout).toMatch(/promoted/);
        const pid = await waitReadyPid(root);
        if (process.platform === 'linux') expect(runningRelease(root, pid)).toBe(linkTarget(releasesDir(root), CURRENT));
      }
    }, 240_000);
  }

  for (const point of FULL ? ROLLBACK_ALL : ROLLBACK_QUICK) {
    it(`a candidate crashing after the switch, upgrader killed at ${point} of the rollback`, async () => {
      const { release } = await crashAt(point, bad);
      // The broken candidate never serves (its daemon exits at start on a live root): the old release does.
      if (process.platform === 'linux') expect(release).toBe(base);
    }, 240_000);
  }
});
