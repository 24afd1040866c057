/** One evaluation pass, shared by the daemon and `wo guardrail check`: load specs, observe, detect. */
import { checkServices } from './services.js';
import fsp from 'node:fs/promises';
import type { Config } from '../config/load.js';
import { detectDrift } from './drift.js';
import { observeAll } from './observe.js';
import { guardPaths, loadSpecs, writeHealth, type GuardrailHealth, type SpecSet } from './store.js';
import type { Drift, Observation, ProtectedSpec } from './types.js';

export interface Evaluation {
  set: SpecSet;
  /** The specs looked at this time (in scope, not locked). */
  active: ProtectedSpec[];
  observed: Observation[];
  drift: Drift[];
}

/** The root with symlinks resolved (macOS /var → /private/var), falling back to the given path. */
export async function realRoot(root: string): Promise<string> {
  try {
    return await fsp.realpath(root);
  } catch {
    return root;
  }
}

/** Whether a spec path is one of `paths` or under one of them. */
export function inScope(specPath: string, paths: Iterable<string>): boolean {
  for (const p of paths) if (specPath === p || specPath.startsWith(p + '/')) return true;
  return false;
}

/** Observe and judge the specs in scope (all when `scope` is null), skipping locked ones. */
export async function evaluate(config: Config, rootReal: string, scope: Iterable<string> | null, isLocked: (p: string) => boolean, now: Date): Promise<Evaluation> {
  const set = await loadSpecs(config, rootReal);
  const scoped = scope === null ? set.specs : set.specs.filter((s) => inScope(s.path, scope));
  const active = scoped.filter((s) => s.invalid || !isLocked(s.path));
  const observed = await observeAll(rootReal, guardPaths(config.root).vault, active, now);
  const byPath = new Map(observed.map((o) => [o.path, o]));
  // A retired path (deleted on purpose by a WO) is not expected while it is absent.
  const drift = detectDrift(active, observed).filter((d) => !(set.retired.has(d.path) && d.kind === 'missing' && !byPath.get(d.path)?.exists));
  return { set, active, observed, drift };
}

/** `wo guardrail check`: evaluate everything once (no watchers, no vault writes, no alerts), persist health. */
export async function checkOnce(config: Config, now = new Date()): Promise<Evaluation & { health: GuardrailHealth }> {
  const rootReal = await realRoot(config.root);
  const ev = await evaluate(config, rootReal, null, () => false, now);
  const services = config.guardrail.services.length ? await checkServices(config) : undefined;
  const health: GuardrailHealth = {
    healthy: ev.drift.length === 0 && !(services ?? []).some((s) => !s.ok),
    checked_at: now.toISOString(), protected: ev.set.specs.length, drift: ev.drift,
    ...(services ? { services } : {}),
  };
  await writeHealth(config.root, health);
  return { ...ev, health };
}
