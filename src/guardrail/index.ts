/**
 * The in-process guardrail (SPEC §7): protected paths checked on start, on every change event of a
 * protected path (through parent-folder watches), and on a sweep; drift told once per change of
 * state; with `restore: true`, vanished or altered files put back from the vault.
 */
import type { Config } from '../config/load.js';
import type { Telemetry } from '../state/telemetry.js';
import { ensureDir } from '../util/fsx.js';
import { alertDrift, alertNotRestored, alertRecovered, alertRestored, type AlertCtx } from './alerts.js';
import { detectDrift, driftKey } from './drift.js';
import { evaluate, inScope, realRoot } from './evaluate.js';
import { observe } from './observe.js';
import { toRel, UnsafePath } from './paths.js';
import { acceptPaths, vaultBaseline } from './accept.js';
import { keepCurrent, restorable, restore } from './restore.js';
import { guardPaths, protectPath, readProtected, writeHealth, writeProtected, type GuardrailHealth } from './store.js';
import type { Drift } from './types.js';
import { createWatchSet, type WatchSet } from './watch.js';
import { checkServices, restartService, type ServiceHealth } from './services.js';
import { alertServiceDrift, alertServiceRecovered, alertServiceRestart } from './service-alerts.js';

export { detectDrift, driftFields, driftKey, describeDrift } from './drift.js';
export { readHealth, protectPath, type GuardrailHealth } from './store.js';
export { checkOnce } from './evaluate.js';
export { UnsafePath } from './paths.js';
export type { Drift, DriftCode, Observation, ProtectedSpec } from './types.js';

export interface GuardrailDeps {
  config: Config;
  telemetry: Telemetry;
  /** True while a running WO holds the path: it is left alone until `unlocked`. */
  isLocked: (relPath: string) => boolean;
  log?: (msg: string, extra?: object) => void;
  now?: () => Date;
}

export interface Guardrail {
  /** Check everything once (baseline-vaulting healthy files), then watch and sweep. */
  start(): Promise<void>;
  /** A full check now; resolves with the health after it. */
  check(): Promise<GuardrailHealth>;
  /** The last known health (no I/O). */
  health(): GuardrailHealth;
  /** Protect a path (inside the root, no symlink, exists), vaulting its content. Throws UnsafePath. */
  protect(relPath: string): Promise<void>;
  /** A WO changed or deleted these paths on purpose: re-vault the new content / drop the expectation. */
  acceptChange(relPaths: string[]): Promise<void>;
  /** A WO released these paths: check them now. */
  unlocked(relPaths: string[]): Promise<void>;
  /** Stop watchers and timers, wait for the running check and pending notifies. Safe twice. */
  close(): Promise<void>;
}

const PROTECTED_JSON = 'g/guardrail/protected.json';
const DEBOUNCE_MS = 10;

/** Build a guardrail for one root; nothing runs until start(). */
export function createGuardrail(deps: GuardrailDeps): Guardrail {
  const { config, telemetry, isLocked } = deps;
  const now = deps.now ?? (() => new Date());
  const log = deps.log ?? ((msg: string, extra?: object) => process.stderr.write(`${msg}${extra ? ` ${JSON.stringify(extra)}` : ''}\n`));
  const g = guardPaths(config.root);
  const notifies = new Set<Promise<void>>();
  const ctx: AlertCtx = {
    config, telemetry, now, log,
    track: (p) => {
      notifies.add(p);
      void p.finally(() => notifies.delete(p));
    },
  };
  const state = new Map<string, Drift>();
  /** Supervised services: the last drift told (by name), the last health, the plist launchd last reported. */
  const svcTold = new Map<string, string>();
  let svcHealth: ServiceHealth[] | undefined;
  const svcPlist = new Map<string, string>();
  const told = new Set<string>();
  let rootReal = config.root;
  let current: GuardrailHealth = { healthy: true, checked_at: '', protected: 0, drift: [] };
  let queue: Promise<unknown> = Promise.resolve();
  let watches: WatchSet | null = null;
  let sweepTimer: NodeJS.Timeout | null = null;
  let debounce: NodeJS.Timeout | null = null;
  const pending = new Set<string>();
  let closed = false;
  /** The protected paths as of the last pass (refreshed by every pass, protect and protected.json changes). */
  let knownSpecs: string[] | null = null;
  /** Cheap pre-filter for the per-WO hooks: does any path touch a protected one? (null = not known yet: yes) */
  const concernsProtected = (paths: string[]) => knownSpecs === null || knownSpecs.some((sp) => inScope(sp, paths));

  /** Run checks one at a time (events, sweeps, API calls never overlap). */
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = queue.then(fn, fn);
    queue = p.catch(() => {});
    return p;
  };
  const tellOnce = (msg: string) => {
    if (told.has(msg)) return;
    told.add(msg);
    log(`guardrail: ${msg}`);
  };

  /** One pass over `scope` (null = everything). */
  async function run(scope: Set<string> | null, opts: { heartbeat: boolean }): Promise<GuardrailHealth> {
    const t = now();
    const wasHealthy = state.size === 0;
    let ev = await evaluate(config, rootReal, scope, isLocked, t);
    knownSpecs = ev.set.specs.map((sp) => sp.path);
    // A scoped pass that concerns no protected path (most WOs' accepted/unlocked hooks) changes nothing: skip the writes.
    if (scope !== null && ev.active.length === 0) return current;
    ev.set.problems.forEach(tellOnce);
    // A vault copy found corrupt while the file itself is intact: repair the copy from the file.
    const corrupt = ev.drift.filter((d) => d.kind === 'broken' && d.code === 'vault_corrupt').map((d) => d.path);
    if (corrupt.length) {
      for (const p of corrupt) {
        await keepCurrent(rootReal, g.vault, p).then(
          () => log(`guardrail: the vault copy of ${p} was corrupt; re-vaulted it from the intact file`),
          (err: Error) => tellOnce(`the vault copy of ${p} is corrupt and could not be repaired: ${err.message}`),
        );
      }
      ev = await evaluate(config, rootReal, scope, isLocked, t);
    }
    await vaultBaseline(rootReal, g.vault, ev.active, new Set(ev.drift.map((d) => d.path)), ev.set.index, now(), tellOnce);
    await unretire(ev);
    const driftOf = new Map(ev.drift.map((d) => [d.path, d]));
    const recovered: string[] = [];
    for (const spec of ev.active) {
      let d = driftOf.get(spec.path);
      const prev = state.get(spec.path);
      const changed = driftKey(d) !== driftKey(prev);
      const heal = Boolean(d && config.guardrail.restore && restorable(spec, d));
      let kept: string | undefined;
      let keepFailed: string | undefined;
      if (d && heal && d.kind === 'broken') {
        // A person's edit is never lost: no restore unless the current content is safely in the vault.
        kept = await keepCurrent(rootReal, g.vault, spec.path).catch((err: Error) => {
          keepFailed = `could not keep its current content in the vault first (${err.message}); not overwriting it`;
          return undefined;
        });
      }
      // The telemetry stream must not keep writing into a deleted folder: reopen it (emit recreates it).
      if (d?.kind === 'missing' && spec.path === 'g/telemetry') telemetry.close();
      if (d && changed) alertDrift(ctx, d, kept);
      if (!d && prev) {
        alertRecovered(ctx, spec.path);
        recovered.push(spec.path);
      }
      if (d && heal && keepFailed) {
        if (changed) alertNotRestored(ctx, spec.path, keepFailed);
      } else if (d && heal) {
        const res = await restore(rootReal, g.vault, spec, ev.set.index);
        if (res.ok) {
          if (!res.already) alertRestored(ctx, spec.path, { sha256: res.sha256, mode: res.mode, kept });
          const fresh = { ...spec, ...(res.sha256 && !spec.sha256 ? { sha256: res.sha256, fromVault: true } : {}) };
          d = detectDrift([fresh], [await observe(rootReal, g.vault, fresh, now())])[0];
          // Healthy after the restore: anything seen now (deleted again at once, …) is a new change.
          if (d) alertDrift(ctx, d);
        } else if (changed) {
          alertNotRestored(ctx, spec.path, res.why);
        }
      }
      if (d) state.set(spec.path, d);
      else state.delete(spec.path);
    }
    const known = new Set(ev.set.specs.map((s) => s.path));
    for (const p of [...state.keys()]) if (!known.has(p)) state.delete(p);
    if (scope === null) svcHealth = config.guardrail.services.length ? await superviseServices() : undefined;
    const svcBad = (svcHealth ?? []).filter((h) => !h.ok).length;
    current = {
      healthy: state.size === 0 && svcBad === 0,
      checked_at: t.toISOString(),
      protected: ev.set.specs.length,
      drift: [...state.values()].sort((a, b) => a.path.localeCompare(b.path)),
      ...(svcHealth ? { services: svcHealth } : {}),
    };
    if (current.healthy && (opts.heartbeat || !wasHealthy)) {
      try {
        telemetry.emit('guardrail', 'wo_pipeline_healthy', { ok: true, protected: current.protected, ...(recovered.length ? { recovered } : {}) });
      } catch (err) {
        tellOnce(`cannot write telemetry: ${(err as Error).message}`);
      }
    }
    await writeHealth(config.root, current).catch((err: Error) => log(`guardrail: cannot write ${g.healthFile}: ${err.message}`));
    watches?.sync([...ev.set.specs.filter((s) => !s.invalid).map((s) => s.path), PROTECTED_JSON]);
    return current;
  }

  /** Check `guardrail.services` (full passes only): drift told once per change, restarted with `restore: true`. */
  async function superviseServices(): Promise<ServiceHealth[]> {
    const out: ServiceHealth[] = [];
    for (let h of await checkServices(config)) {
      if (h.status?.plist) svcPlist.set(h.service, h.status.plist);
      const prev = svcTold.get(h.service);
      if (!h.ok && prev !== h.why) alertServiceDrift(ctx, h);
      if (!h.ok && config.guardrail.restore && h.status) {
        const r = await restartService(config, h, svcPlist.get(h.service));
        alertServiceRestart(ctx, h.service, r);
        if (r.ok) h = { service: h.service, kind: h.kind, ok: true, status: r.status };
      }
      if (h.ok && prev !== undefined) alertServiceRecovered(ctx, h.service);
      if (h.ok) svcTold.delete(h.service);
      else svcTold.set(h.service, h.why!);
      out.push(h);
    }
    return out;
  }

  /** A retired path that exists again is expected again. */
  async function unretire(ev: Awaited<ReturnType<typeof evaluate>>): Promise<void> {
    const back = ev.observed.filter((o) => o.exists && ev.set.retired.has(o.path)).map((o) => o.path);
    if (!back.length) return;
    const { list } = await readProtected(config.root);
    list.retired = list.retired.filter((p) => !back.includes(p));
    await writeProtected(config.root, list);
  }

  /** Run a pass, logging (never throwing) for background triggers. */
  const background = (scope: Set<string> | null, heartbeat: boolean) =>
    serial(() => run(scope, { heartbeat })).catch((err: Error) => log(`guardrail: check failed: ${err.stack ?? err.message}`));

  function onChange(paths: string[]): void {
    if (closed) return;
    for (const p of paths) pending.add(p);
    if (debounce) return;
    debounce = setTimeout(() => {
      debounce = null;
      const scope = new Set(pending);
      pending.clear();
      void background(scope.has(PROTECTED_JSON) ? null : scope, false);
    }, DEBOUNCE_MS);
    debounce.unref();
  }

  /** Normalize caller paths (relative or absolute) to root-relative ones; unusable ones are logged and dropped. */
  function rels(paths: string[]): string[] {
    const out: string[] = [];
    for (const p of paths) {
      try {
        out.push(toRel(config.root, rootReal, p));
      } catch (err) {
        if (!(err instanceof UnsafePath)) throw err;
        log(`guardrail: ignoring ${err.message}`);
      }
    }
    return out;
  }

  return {
    async start() {
      if (closed) throw new Error('guardrail: start() after close()');
      rootReal = await realRoot(config.root);
      await ensureDir(g.vault);
      watches = createWatchSet(rootReal, onChange, (m) => log(m));
      await serial(() => run(null, { heartbeat: true }));
      sweepTimer = setInterval(() => void background(null, true), config.guardrail.sweep_s * 1000);
      sweepTimer.unref();
    },
    check: () => serial(() => run(null, { heartbeat: true })),
    health: () => ({ ...current, drift: [...current.drift] }),
    async protect(relPath) {
      const p = await serial(() => protectPath(config.root, relPath, now()));
      await serial(() => run(new Set([p.rel]), { heartbeat: false }));
    },
    async acceptChange(relPaths) {
      const paths = rels(relPaths);
      if (!paths.length || !concernsProtected(paths)) return;
      await serial(async () => {
        for (const p of await acceptPaths(config, rootReal, paths, now(), log)) state.delete(p);
      });
      await serial(() => run(new Set(paths), { heartbeat: false }));
    },
    async unlocked(relPaths) {
      const paths = rels(relPaths);
      if (paths.length && concernsProtected(paths)) await serial(() => run(new Set(paths), { heartbeat: false }));
    },
    async close() {
      if (closed) return;
      closed = true;
      if (debounce) clearTimeout(debounce);
      if (sweepTimer) clearInterval(sweepTimer);
      watches?.close();
      await queue;
      await Promise.all([...notifies]);
    },
  };
}

/** Kept for callers that want to test scope matching. */
export { inScope };
