/**
 * `wo upgrade` end to end: a real base release serving a root, real candidates staged from copies of this worktree,
 * the pipeline in-process (so the shadow runner can be injected), daemons as real detached processes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLI, readEvents, readRecord, runCliAsync, tempDir, waitFor } from '../helpers.js';
import { checkInvariants, dropAtomic, woText } from '../reliability/common.js';
import { loadConfig } from '../../src/config/load.js';
import { runUpgrade, type UpgradeOptions } from '../../src/upgrade/pipeline.js';
import { acquireUpgradeLock } from '../../src/upgrade/lock.js';
import { CURRENT, PREVIOUS, linkTarget, releasesDir, runningRelease } from '../../src/upgrade/releases.js';
import type { ShadowRunner } from '../../src/upgrade/shadow-contract.js';
import { REPO } from '../helpers.js';
import { baseReleases, candidate, CRASH_ALWAYS, CRASH_LIVE, lockHolder, rootWithRelease, startCurrent, stopAll, waitReadyPid } from './fixture.js';

const noShadow: ShadowRunner = async () => ({ compared: 0, skipped: [], diffs: [] });
const roots: string[] = [];
let base = '';

async function upgrade(root: string, from: string, extra: Partial<UpgradeOptions> = {}) {
  const events: string[] = [];
  const r = await runUpgrade({
    root,
    config: await loadConfig(root),
    from,
    dryRun: false,
    allowDirty: false,
    acceptShadowDiff: false,
    shadow: noShadow,
    checkout: REPO,
    selfArgv: [process.execPath, CLI],
    confirm: async () => true,
    emit: (e) => void events.push(e),
    say: () => {},
    ...extra,
  });
  return { ...r, events, status: Object.fromEntries(r.steps.map((s) => [s.name, s.status])) };
}

async function liveRoot(): Promise<{ root: string; pid: number }> {
  const root = await rootWithRelease();
  roots.push(root);
  return { root, pid: await startCurrent(root) };
}

/** A WO dropped now is taken and succeeds (someone serves the root). */
async function serves(root: string, id: string): Promise<void> {
  dropAtomic(path.join(root, 'bridge/inbox/CLC'), `${id}.yaml`, woText(id, 'verify'));
  await waitFor(() => readRecord(root, id)?.status === 'succeeded', { timeout: 60_000, what: `${id} succeeded` });
}

beforeAll(async () => {
  await baseReleases();
  base = linkTarget(releasesDir(await baseReleases()), CURRENT)!;
}, 180_000);
afterEach(async () => {
  for (const r of roots.splice(0)) await stopAll(r);
});
afterAll(async () => {
  for (const r of roots.splice(0)) await stopAll(r);
});

describe('wo upgrade', () => {
  it('promotes a good candidate while WOs stream in: every WO succeeds exactly once across the switch', async () => {
    const { root, pid } = await liveRoot();
    const from = candidate('0.9.1');
    const wos: { id: string; kind: 'verify'; pre: false }[] = [];
    let n = 0;
    let streaming = true;
    const stream = (async () => {
      while (streaming) {
        const id = `WO-UPG-${String(n++).padStart(4, '0')}`;
        wos.push({ id, kind: 'verify', pre: false });
        dropAtomic(path.join(root, 'bridge/inbox/CLC'), `${id}.yaml`, woText(id, 'verify'));
        await new Promise((r) => setTimeout(r, 40)); // the stream's pace, not a synchronisation
      }
    })();
    const r = await upgrade(root, from);
    streaming = false;
    await stream;
    expect(r.outcome, JSON.stringify(r.steps, null, 1)).toBe('promoted');
    expect(r.status).toMatchObject({ 'upgrade.lock': 'ok', stage: 'ok', 'gates.tests': 'ok', 'gates.canary': 'ok', handover: 'ok', 'live canary': 'ok' });
    expect(r.steps.find((s) => s.name === 'stage')!.summary).toMatch(/copied node_modules from the current release/);
    const dir = releasesDir(root);
    expect(linkTarget(dir, CURRENT)).toBe(r.candidate);
    expect(linkTarget(dir, PREVIOUS)).toBe(base);
    const now = await waitReadyPid(root);
    expect(now).not.toBe(pid);
    if (process.platform === 'linux') expect(runningRelease(root, now)).toBe(r.candidate);
    await waitFor(() => wos.every((w) => ['succeeded', 'failed'].includes(readRecord(root, w.id)?.status)), { timeout: 120_000, what: 'every streamed WO settled' });
    const f = checkInvariants(root, wos);
    expect(f.problems).toEqual([]);
    expect(f.succeeded).toBe(wos.length);
    expect(wos.length).toBeGreaterThan(3);
    expect(r.events).toEqual(expect.arrayContaining(['wo_upgrade_started', 'wo_upgrade_step', 'wo_upgrade_promoted']));
    const steps = JSON.parse(fs.readFileSync(path.join(r.reportDir, 'steps.json'), 'utf8'));
    expect(steps.outcome).toBe('promoted');
    expect(fs.readFileSync(path.join(r.reportDir, 'report.md'), 'utf8')).toContain('| handover | ok |');
    // The CLI shows the release and --list names both.
    const st = await runCliAsync(['status', '--json'], { root });
    expect(JSON.parse(st.stdout).release).toMatchObject({ current: r.candidate, previous: base });
    const list = await runCliAsync(['upgrade', '--list'], { root });
    expect(list.stdout).toMatch(new RegExp(`current\\s+${r.candidate}`));
    // By hand: back to the previous release, which serves again.
    const back = await runCliAsync(['upgrade', '--rollback'], { root });
    expect(back.code, back.stdout + back.stderr).toBe(0);
    expect(linkTarget(dir, CURRENT)).toBe(base);
    await serves(root, 'WO-AFTER-MANUAL-ROLLBACK');
    expect(readEvents(root).some((e) => e.event === 'wo_upgrade_rolled_back' && e.by === 'hand')).toBe(true);
  });

  it('a candidate failing its tests is stopped at the gate: nothing switched, the old daemon serves', async () => {
    const { root, pid } = await liveRoot();
    const r = await upgrade(root, candidate('0.9.2', { testScript: 'node -e "process.exit(1)"' }));
    expect(r.outcome).toBe('failed');
    expect(r.status['gates.tests']).toBe('failed');
    expect(r.status.handover).toBeUndefined();
    expect(linkTarget(releasesDir(root), CURRENT)).toBe(base);
    expect(await lockHolder(root)).toBe(pid);
    await serves(root, 'WO-AFTER-TESTS');
  });

  it('a candidate failing its canary (its daemon does not start) is stopped at the gate', async () => {
    const { root, pid } = await liveRoot();
    const r = await upgrade(root, candidate('0.9.3', { binPrelude: CRASH_ALWAYS }));
    expect(r.outcome).toBe('failed');
    expect(r.status).toMatchObject({ 'gates.tests': 'ok', 'gates.canary': 'failed' });
    expect(r.steps.find((s) => s.name === 'gates.canary')!.output_tail).toMatch(/candidate: crash at start/);
    expect(linkTarget(releasesDir(root), CURRENT)).toBe(base);
    expect(await lockHolder(root)).toBe(pid);
    await serves(root, 'WO-AFTER-CANARY');
  });

  it('a shadow diff fails the gate unless --accept-shadow-diff', async () => {
    const { root, pid } = await liveRoot();
    const seen: unknown[] = [];
    const differs: ShadowRunner = async (req) => {
      seen.push(req);
      return { compared: 2, skipped: [], diffs: [{ wo_id: 'WO-X', file: 'bridge/archive/CLC/WO-X.yaml', diff: '-mode 0644\n+mode 0600' }] };
    };
    const from = candidate('0.9.4');
    const r = await upgrade(root, from, { shadow: differs });
    expect(r.outcome).toBe('failed');
    expect(r.status.shadow).toBe('failed');
    expect(r.steps.find((s) => s.name === 'shadow')!.output_tail).toContain('+mode 0600');
    expect(seen[0]).toMatchObject({ liveRoot: root, limit: 50 });
    expect(linkTarget(releasesDir(root), CURRENT)).toBe(base);
    expect(await lockHolder(root)).toBe(pid);
    const ok = await upgrade(root, from, { shadow: differs, acceptShadowDiff: true, dryRun: true });
    expect(ok.outcome).toBe('dry_run');
    expect(ok.status).toMatchObject({ stage: 'ok', shadow: 'warning' });
    expect(ok.steps.find((s) => s.name === 'stage')!.summary).toMatch(/already staged/);
    expect(await lockHolder(root)).toBe(pid);
  });

  it('a candidate crashing after the switch is rolled back automatically; WOs dropped meanwhile are all taken', async () => {
    const { root } = await liveRoot();
    const events: string[] = [];
    let k = 0;
    const r = await upgrade(root, candidate('0.9.5', { binPrelude: CRASH_LIVE }), {
      // WOs dropped at every step, the handover and the rollback included (the pipeline's own hook between steps).
      emit: (e) => {
        events.push(e);
        if (e !== 'wo_upgrade_step') return;
        for (let i = 0; i < 2; i++) {
          const id = `WO-DURING-${String(k++).padStart(3, '0')}`;
          dropAtomic(path.join(root, 'bridge/inbox/CLC'), `${id}.yaml`, woText(id, 'verify'));
        }
      },
    });
    expect(r.outcome, JSON.stringify(r.steps, null, 1)).toBe('rolled_back');
    expect(r.status).toMatchObject({ 'gates.canary': 'ok', handover: 'failed', rollback: 'ok' });
    expect(r.steps.find((s) => s.name === 'handover')!.summary).toMatch(/exited before it was ready|not ready/);
    expect(events).toContain('wo_upgrade_rolled_back');
    expect(linkTarget(releasesDir(root), CURRENT)).toBe(base);
    const pid = await waitReadyPid(root);
    if (process.platform === 'linux') expect(runningRelease(root, pid)).toBe(base);
    const wos = Array.from({ length: k }, (_, i) => ({ id: `WO-DURING-${String(i).padStart(3, '0')}`, kind: 'verify' as const, pre: false }));
    expect(wos.length).toBeGreaterThanOrEqual(12);
    await waitFor(() => wos.every((w) => readRecord(root, w.id)?.status === 'succeeded'), { timeout: 90_000, what: 'WOs dropped around the handover succeeded' });
    expect(checkInvariants(root, wos).problems).toEqual([]);
  });

  it('under a service manager the handover restarts the unit (a stand-in systemctl on PATH, never the real one)', async () => {
    const { root, pid } = await liveRoot();
    const home = tempDir('wo-home-');
    const bin = tempDir('wo-fakebin-');
    const log = path.join(bin, 'calls.log');
    // The stand-in: logs its arguments; `restart` stops the root's daemon (the lock's pid) and starts g/releases/current.
    fs.writeFileSync(path.join(bin, 'systemctl'), `#!/bin/sh
echo "$*" >> ${log}
case "$*" in
  *restart*)
    pid=$(${process.execPath} -e "try{console.log(JSON.parse(require('fs').readFileSync(process.argv[1],'utf8')).pid)}catch{}" ${root}/g/run/daemon.lock)
    [ -n "$pid" ] && kill -TERM "$pid"
    while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    setsid ${process.execPath} ${root}/g/releases/current/bin/wo daemon --root ${root} >> ${root}/daemon.out 2>&1 < /dev/null &
    ;;
esac
exit 0
`, { mode: 0o755 });
    const inst = await runCliAsync(['service', 'install', '--systemd', '--no-load'], { root, env: { HOME: home } });
    expect(inst.code, inst.stderr).toBe(0);
    expect(inst.stdout).toMatch(/kept: release .* is current/);
    const saved = { HOME: process.env.HOME, PATH: process.env.PATH };
    process.env.HOME = home;
    process.env.PATH = `${bin}:${process.env.PATH}`;
    let r: Awaited<ReturnType<typeof upgrade>>;
    try {
      r = await upgrade(root, candidate('0.9.6'), { config: { ...(await loadConfig(root)), upgrade: { ...(await loadConfig(root)).upgrade, restart: 'auto' } } });
    } finally {
      process.env.HOME = saved.HOME;
      process.env.PATH = saved.PATH;
    }
    expect(r.outcome, JSON.stringify(r.steps, null, 1)).toBe('promoted');
    expect(r.steps.find((s) => s.name === 'handover')!.summary).toMatch(/systemd wo-.*\.service.*restarted by systemctl --user restart/);
    const calls = fs.readFileSync(log, 'utf8');
    expect(calls).toMatch(/--user is-active wo-/);
    expect(calls).toMatch(/--user restart wo-/);
    const now = await waitReadyPid(root);
    expect(now).not.toBe(pid);
    if (process.platform === 'linux') expect(runningRelease(root, now)).toBe(r.candidate);
  });

  it('two upgrades at once: the second is refused and names the holder', async () => {
    const root = await rootWithRelease();
    roots.push(root);
    const held = await acquireUpgradeLock(root);
    if ('held' in held) throw new Error('could not take the upgrade lock');
    try {
      const r = await runCliAsync(['upgrade', '--dry-run', '--from', REPO], { root });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`another wo upgrade is running (pid ${process.pid}`);
      const st = JSON.parse((await runCliAsync(['status', '--json'], { root })).stdout);
      expect(st.upgrade).toMatchObject({ in_progress: true, pid: process.pid });
    } finally {
      await held.release();
    }
  });
});
