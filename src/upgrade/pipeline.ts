/** `wo upgrade`: lock → preflight → stage → gates → shadow → handover → (rollback), each step recorded; the shadow runner is injected. */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { layout } from '../layout.js';
import type { Config } from '../config/load.js';
import type { LockInfo } from '../daemon/lock.js';
import { pidAlive } from '../exec/proc.js';
import type { EventName } from '../state/telemetry.js';
import type { ShadowRunner } from './shadow-contract.js';
import { acquireUpgradeLock, clearProgress, writeProgress } from './lock.js';
import { preflight } from './preflight.js';
import { readPackage, resolveSource, stageRelease, type Source } from './stage.js';
import { canaryGate, testsGate } from './gates.js';
import { startGuard } from './guard.js';
import { crashPoint, detectMode, liveCanary, liveDaemon, restartOn, type RestartMode } from './handover.js';
import { CURRENT, PREVIOUS, linkTarget, promoteLinks, pruneReleases, readMeta, releaseBin, releasesDir, runningRelease, sealRelease, switchLink } from './releases.js';
import { Recorder, type StepOutcome, type StepRecord, type UpgradeSummary } from './report.js';

export type Emit = (event: EventName, fields: Record<string, unknown> & { ok?: boolean }) => void;

export interface UpgradeOptions {
  root: string;
  config: Config;
  from?: string;
  ref?: string;
  dryRun: boolean;
  allowDirty: boolean;
  acceptShadowDiff: boolean;
  shadow: ShadowRunner;
  /** The checkout this `wo` runs from: the default source when the current release names none. */
  checkout: string;
  /** argv that runs this `wo` (for `wo doctor`). */
  selfArgv: string[];
  /** Asked before the handover (false: stop after the gates). */
  confirm: (candidate: string) => Promise<boolean>;
  emit: Emit;
  /** One line per step for the terminal. */
  say: (line: string) => void;
}

export interface UpgradeResult {
  outcome: NonNullable<UpgradeSummary['outcome']> | 'up_to_date';
  reportDir: string;
  candidate?: string;
  holder?: LockInfo;
  steps: StepRecord[];
}

/** The report folder's name: a sortable UTC stamp and the pid (two upgraders never share one). */
export function reportStamp(d: Date, pid: number): string {
  return `${d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${pid}`;
}

/** Remove staging folders left by a dead upgrader (`.staging-<name>-<pid>`, `.pruning-…`). */
async function sweepStaging(dir: string): Promise<void> {
  for (const f of await fsp.readdir(dir).catch(() => [] as string[])) {
    const m = /^\.(?:staging|pruning)-.*-(\d+)$/.exec(f);
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) await fsp.rm(path.join(dir, f), { recursive: true, force: true });
  }
}

/** Run the whole upgrade; never throws for a failed step (the result and the report say what happened). */
export async function runUpgrade(o: UpgradeOptions): Promise<UpgradeResult> {
  const root = path.resolve(o.root);
  const L = layout(root);
  const relDir = releasesDir(root);
  const cfg = o.config.upgrade;
  const reportDir = path.join(L.reports, 'upgrade', reportStamp(new Date(), process.pid));
  const rec = new Recorder(reportDir, o.dryRun, (st) => {
    o.say(`${st.status.padEnd(7)} ${st.name}: ${st.summary}`);
    o.emit('wo_upgrade_step', { ok: st.status !== 'failed', step: st.name, status: st.status, duration_ms: st.duration_ms, summary: st.summary, report: reportDir });
    crashPoint(`after:${st.name}`);
  });
  await rec.open();
  const result = (outcome: UpgradeResult['outcome'], extra: Partial<UpgradeResult> = {}): UpgradeResult => ({ outcome, reportDir, steps: rec.summary.steps, ...extra });

  // 1. Single flight.
  const lock = await acquireUpgradeLock(root);
  if ('held' in lock) {
    const h = lock.held;
    await rec.step('upgrade.lock', async () => ({ status: 'failed', summary: `another wo upgrade holds ${path.join('g', 'run', 'upgrade.lock')}: pid ${h?.pid ?? '?'} since ${h?.started_at ?? '?'}` }));
    await rec.finish('refused');
    return result('refused', h ? { holder: h } : {});
  }
  let step = 'upgrade.lock';
  const progress = async (s: string, candidate?: string) => {
    step = s;
    await writeProgress(root, { pid: process.pid, step: s, report: reportDir, started_at: rec.summary.started_at, ...(candidate ? { candidate } : {}) });
  };
  try {
    await progress(step);
    const fromRelease = linkTarget(relDir, CURRENT);
    if (fromRelease) rec.summary.from_release = fromRelease;
    o.emit('wo_upgrade_started', { ok: true, report: reportDir, dry_run: o.dryRun, ...(fromRelease ? { from_release: fromRelease } : {}) });
    await rec.step('upgrade.lock', async () => ({ status: 'ok', summary: lock.tookOver ? `taken over from a dead upgrader (pid ${lock.tookOver.pid ?? '?'})` : `held by pid ${process.pid}` }));

    // 2. Preflight (the candidate is resolved here: its engines are checked).
    await progress('preflight');
    const curMeta = fromRelease ? readMeta(path.join(relDir, fromRelease)) : undefined;
    const checkout = curMeta?.source && fs.existsSync(path.join(curMeta.source, 'package.json')) ? curMeta.source : o.checkout;
    let source: Source | undefined;
    const pre = await rec.step('preflight', async (): Promise<StepOutcome> => {
      source = await resolveSource({ ...(o.from ? { from: o.from } : {}), ...(o.ref ? { ref: o.ref } : {}), checkout });
      const pkg = readPackage(source.dir);
      return preflight({
        root,
        doctorArgv: o.selfArgv,
        minFreeBytes: cfg.min_free_bytes,
        ...(pkg.engines?.node ? { engines: pkg.engines.node } : {}),
        nodeVersion: process.version,
        ...(o.ref ? {} : { source: source.dir }),
        allowDirty: o.allowDirty,
      });
    });
    if (pre.status === 'failed' || !source) return await fail('failed');

    // 3. Stage (a first release from the running checkout when there is none yet: the rollback target).
    await progress('stage');
    await fsp.mkdir(relDir, { recursive: true, mode: 0o700 });
    await sweepStaging(relDir);
    let candidate: { name: string; dir: string } | undefined;
    const staged = await rec.step('stage', async (): Promise<StepOutcome> => {
      const notes: string[] = [];
      if (!fromRelease) {
        const base = await stageRelease(relDir, await resolveSource({ checkout: o.checkout }));
        if (base.outcome.status === 'failed' || !base.name) return { ...base.outcome, summary: `first release from ${o.checkout}: ${base.outcome.summary}` };
        await sealRelease(base.dir!);
        await switchLink(relDir, CURRENT, base.name);
        rec.summary.from_release = base.name;
        notes.push(`first release ${base.name} from the running checkout ${o.checkout} (now current)`);
      }
      const s = await stageRelease(relDir, source!);
      if (s.name && s.dir) candidate = { name: s.name, dir: s.dir };
      return { ...s.outcome, summary: [...notes, s.outcome.summary].join('; ') };
    });
    if (source.cleanup) await fsp.rm(source.cleanup, { recursive: true, force: true }).catch(() => {});
    if (staged.status === 'failed' || !candidate) return await fail('failed');
    rec.summary.candidate = candidate.name;
    await progress('gates', candidate.name);
    const live = await liveDaemon(root);
    const running = live ? runningRelease(root, live.pid) : undefined;
    const oldName = linkTarget(relDir, CURRENT)!;
    if (candidate.name === oldName && (!live || running === candidate.name)) {
      await rec.step('handover', async () => ({ status: 'skipped', summary: `${candidate!.name} is already the current release${live ? ' and the daemon runs it' : ''}: nothing to upgrade` }));
      await rec.finish('dry_run');
      return result('up_to_date', { candidate: candidate.name });
    }

    // 4. Gates.
    const tests = await rec.step('gates.tests', () => testsGate(candidate!.dir, cfg.test_timeout_s));
    if (tests.status === 'failed') return await fail('failed', candidate.name);
    const canary = await rec.step('gates.canary', () => canaryGate(candidate!.dir, cfg.canary_timeout_s));
    if (canary.status === 'failed') return await fail('failed', candidate.name);
    await sealRelease(candidate.dir);

    // 5. Shadow.
    await progress('shadow', candidate.name);
    const shadow = await rec.step('shadow', async (): Promise<StepOutcome> => {
      if (cfg.shadow_count === 0) return { status: 'skipped', summary: 'upgrade.shadow_count is 0' };
      const workDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'wo-upgrade-shadow-'));
      try {
        const r = await o.shadow({ liveRoot: root, oldBin: releaseBin(path.join(relDir, oldName)), newBin: releaseBin(candidate!.dir), limit: cfg.shadow_count, workDir, timeoutMs: cfg.canary_timeout_s * 1000 });
        const skipped = r.skipped.map((s) => `skipped ${s.file}: ${s.why}`);
        const diffs = r.diffs.map((d) => `--- ${d.wo_id} (${d.file})\n${d.diff}`);
        const output = [...diffs, ...skipped].join('\n');
        if (r.diffs.length) {
          const what = `${r.diffs.length} of ${r.compared} replayed WO(s) plan differently: ${r.diffs.map((d) => d.wo_id).slice(0, 10).join(', ')}`;
          return o.acceptShadowDiff ? { status: 'warning', summary: `${what} (accepted: --accept-shadow-diff)`, output } : { status: 'failed', summary: `${what}; review them in the report, then re-run with --accept-shadow-diff to accept`, output };
        }
        if (r.compared === 0) return { status: 'skipped', summary: r.skipped.length ? `no WO compared (${r.skipped.length} skipped: ${r.skipped[0]!.why})` : 'no archived WO to replay', output };
        return { status: r.skipped.length ? 'warning' : 'ok', summary: `${r.compared} WO(s) plan identically${r.skipped.length ? `, ${r.skipped.length} skipped` : ''}`, output };
      } finally {
        await fsp.rm(workDir, { recursive: true, force: true }).catch(() => {});
      }
    });
    if (shadow.status === 'failed') return await fail('failed', candidate.name);
    if (o.dryRun) {
      await rec.finish('dry_run');
      return result('dry_run', { candidate: candidate.name });
    }
    if (!(await o.confirm(candidate.name))) {
      await rec.step('handover', async () => ({ status: 'skipped', summary: 'not confirmed (pass --yes to promote without asking)' }));
      await rec.finish('refused');
      return result('refused', { candidate: candidate.name });
    }

    // 6. Handover.
    await progress('handover', candidate.name);
    const mode = await detectMode(root, cfg.restart);
    const t = { stopMs: (o.config.shutdown.deadline_s + 15) * 1000, readyMs: cfg.ready_deadline_s * 1000 };
    const prevBefore = linkTarget(relDir, PREVIOUS);
    let why = '';
    const hand = await rec.step('handover', async (): Promise<StepOutcome> => {
      // From here a killed upgrader must not leave the root without a daemon: the guard outlives it.
      startGuard(o.selfArgv, root);
      crashPoint('before-switch');
      await promoteLinks(relDir, candidate!.name);
      crashPoint('switched');
      const r = await restartOn(root, candidate!.dir, mode, t);
      if (!r.ok) why = r.detail;
      return { status: r.ok ? 'ok' : 'failed', summary: `current → ${candidate!.name} (${modeName(mode)}): ${r.detail}` };
    });
    if (hand.status === 'ok') {
      const lc = await rec.step('live canary', async (): Promise<StepOutcome> => {
        const c = await liveCanary(candidate!.dir, root, cfg.canary_timeout_s);
        if (!c.ok) why = 'the live canary failed on the new release';
        return { status: c.ok ? 'ok' : 'failed', summary: c.ok ? `wo canary passed on ${candidate!.name}` : why, output: c.output };
      });
      if (lc.status === 'ok') {
        const pid = (await liveDaemon(root))?.pid;
        o.emit('wo_upgrade_promoted', { ok: true, release: candidate.name, from_release: oldName, pid, report: reportDir });
        await rec.step('prune', async () => {
          const gone = await pruneReleases(relDir, cfg.keep_releases);
          return { status: 'ok', summary: gone.length ? `removed ${gone.join(', ')} (keeping ${cfg.keep_releases})` : `nothing beyond ${cfg.keep_releases} releases` };
        });
        await rec.finish('promoted');
        return result('promoted', { candidate: candidate.name });
      }
    }

    // 7. Roll back.
    await progress('rollback', candidate.name);
    const back = await rec.step('rollback', async (): Promise<StepOutcome> => {
      await switchLink(relDir, CURRENT, oldName);
      if (prevBefore) await switchLink(relDir, PREVIOUS, prevBefore);
      crashPoint('rollback-switched');
      const r = await restartOn(root, path.join(relDir, oldName), mode, t);
      if (!r.ok) return { status: 'failed', summary: `current → ${oldName}, but the daemon did not come back: ${r.detail}` };
      const c = await liveCanary(path.join(relDir, oldName), root, cfg.canary_timeout_s);
      return { status: c.ok ? 'ok' : 'failed', summary: `current → ${oldName}: ${r.detail}; canary ${c.ok ? 'passed' : 'FAILED'}`, output: c.output };
    });
    o.emit('wo_upgrade_rolled_back', { ok: back.status === 'ok', release: oldName, from_release: candidate.name, why, by: 'auto', report: reportDir });
    await rec.finish('rolled_back');
    return result('rolled_back', { candidate: candidate.name });
  } catch (err) {
    await rec.step(step, async () => ({ status: 'failed', summary: `unexpected: ${(err as Error).message}`, output: (err as Error).stack ?? '' }));
    await rec.finish('failed');
    return result('failed');
  } finally {
    await clearProgress(root);
    await lock.release();
  }

  async function fail(outcome: 'failed', candidate?: string): Promise<UpgradeResult> {
    await rec.finish(outcome);
    return result(outcome, candidate ? { candidate } : {});
  }
}

function modeName(m: RestartMode): string {
  return m.kind === 'self' ? 'self mode' : m.kind === 'systemd' ? `systemd ${m.unit}` : `launchd ${m.label}`;
}

/** `wo upgrade --rollback`: switch current and previous, restart on the previous release, canary it. */
export async function rollbackByHand(o: Pick<UpgradeOptions, 'root' | 'config' | 'emit' | 'say' | 'selfArgv'>): Promise<UpgradeResult> {
  const root = path.resolve(o.root);
  const relDir = releasesDir(root);
  const reportDir = path.join(layout(root).reports, 'upgrade', reportStamp(new Date(), process.pid));
  const rec = new Recorder(reportDir, false, (st) => o.say(`${st.status.padEnd(7)} ${st.name}: ${st.summary}`));
  await rec.open();
  const lock = await acquireUpgradeLock(root);
  if ('held' in lock) {
    await rec.step('upgrade.lock', async () => ({ status: 'failed', summary: `another wo upgrade holds the lock: pid ${lock.held?.pid ?? '?'} since ${lock.held?.started_at ?? '?'}` }));
    await rec.finish('refused');
    return { outcome: 'refused', reportDir, steps: rec.summary.steps, ...(lock.held ? { holder: lock.held } : {}) };
  }
  try {
    const cur = linkTarget(relDir, CURRENT);
    const prev = linkTarget(relDir, PREVIOUS);
    rec.summary.from_release = cur;
    if (!prev || prev === cur) {
      await rec.step('rollback', async () => ({ status: 'failed', summary: `no previous release to go back to (current: ${cur ?? 'none'})` }));
      await rec.finish('failed');
      return { outcome: 'failed', reportDir, steps: rec.summary.steps };
    }
    rec.summary.candidate = prev;
    const mode = await detectMode(root, o.config.upgrade.restart);
    const back = await rec.step('rollback', async (): Promise<StepOutcome> => {
      startGuard(o.selfArgv, root);
      await promoteLinks(relDir, prev);
      const r = await restartOn(root, path.join(relDir, prev), mode, { stopMs: (o.config.shutdown.deadline_s + 15) * 1000, readyMs: o.config.upgrade.ready_deadline_s * 1000 });
      if (!r.ok) return { status: 'failed', summary: `current → ${prev}, but the daemon is not ready: ${r.detail}` };
      const c = await liveCanary(path.join(relDir, prev), root, o.config.upgrade.canary_timeout_s);
      return { status: c.ok ? 'ok' : 'failed', summary: `current → ${prev} (previous → ${cur}): ${r.detail}; canary ${c.ok ? 'passed' : 'FAILED'}`, output: c.output };
    });
    o.emit('wo_upgrade_rolled_back', { ok: back.status === 'ok', release: prev, from_release: cur, why: 'by hand', by: 'hand', report: reportDir });
    await rec.finish(back.status === 'ok' ? 'rolled_back' : 'failed');
    return { outcome: back.status === 'ok' ? 'rolled_back' : 'failed', reportDir, candidate: prev, steps: rec.summary.steps };
  } finally {
    await lock.release();
  }
}
