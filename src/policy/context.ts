/**
 * The `PathPolicy` of a resolved config, with what only the disk knows: this root's installed service units and
 * the root's other spellings through symlinked allowed roots. The one place admission and `wo validate` build it.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/load.js';
import { unitLocations } from '../service/units.js';
import type { ServiceKind } from '../service/render.js';
import type { ControlFile, PathPolicy, RootAlias } from './paths.js';
import { isInside } from './roots.js';
import type { Brakes } from './brakes.js';
import type { VerdictContext } from './verdict.js';

const KINDS: ServiceKind[] = ['systemd', 'launchd'];

/** realpath of the deepest existing ancestor, with the missing tail joined back on (a unit need not exist yet). */
function realish(p: string): string {
  const tail: string[] = [];
  let cur = path.resolve(p);
  for (;;) {
    try {
      return path.join(fs.realpathSync(cur), ...tail.reverse());
    } catch {
      const up = path.dirname(cur);
      if (up === cur) return path.resolve(p);
      tail.push(path.basename(cur));
      cur = up;
    }
  }
}

/** Every lexical spelling, under the root and the allowed roots, of a real path (`real`). */
function spellings(real: string, bases: readonly { abs: string; real: string }[]): string[] {
  return bases.filter((b) => isInside(real, b.real)).map((b) => path.join(b.abs, path.relative(b.real, real)));
}

/** This root's service units (both kinds: a unit of either changes how the daemon runs), each way a WO could name it. */
export function controlFilesOf(root: string, bases: readonly { abs: string; real: string }[], env: NodeJS.ProcessEnv): ControlFile[] {
  const out: ControlFile[] = [];
  for (const kind of KINDS) {
    let files: string[];
    try {
      files = unitLocations(kind, root, env).map((l) => l.file); // the current name and the legacy one
    } catch {
      continue; // no HOME: no unit can be installed either
    }
    const why = `this root's installed ${kind} service unit (it sets how the daemon runs)`;
    for (const file of files) for (const abs of new Set([file, ...spellings(realish(file), bases)])) out.push({ abs, why });
  }
  return out;
}

/** The root (or a folder of it) as reached through an allowed root whose real path is the root's parent or child. */
export function rootAliasesOf(rootReal: string, bases: readonly { abs: string; real: string }[]): RootAlias[] {
  const out: RootAlias[] = [];
  for (const b of bases) {
    if (isInside(rootReal, b.real)) out.push({ abs: path.join(b.abs, path.relative(b.real, rootReal)), rel: '' });
    else if (isInside(b.real, rootReal)) out.push({ abs: b.abs, rel: path.relative(rootReal, b.real) });
  }
  return out;
}

const cache = new WeakMap<Config, PathPolicy>();

/** Why: admission and `wo validate` must judge paths with the same policy; built once per loaded config. */
export function pathPolicy(cfg: Config, env: NodeJS.ProcessEnv = process.env): PathPolicy {
  const hit = env === process.env ? cache.get(cfg) : undefined;
  if (hit) return hit;
  const root = path.resolve(cfg.root);
  const rootReal = realish(root);
  const bases = [root, ...cfg.allowedRoots].map((abs) => ({ abs, real: realish(abs) }));
  const policy: PathPolicy = {
    root,
    allowedRoots: cfg.allowedRoots,
    allowSelfModify: cfg.allowSelfModify,
    controlFiles: controlFilesOf(root, bases, env),
    rootAliases: rootAliasesOf(rootReal, bases).filter((a) => !(a.abs === root && a.rel === '')),
  };
  if (env === process.env) cache.set(cfg, policy);
  return policy;
}

/**
 * Why: admission and `wo plan` (the upgrade's shadow run) must judge a WO with the same policy; one place builds
 * the verdict's context from the config and the lane's brakes (`rateFull` only where the daemon's rate window lives).
 */
export function verdictContext(cfg: Config, lane: string, brakes: { breakerFor: Brakes['breakerFor'] }, rateFull?: string): VerdictContext {
  return {
    autonomy: cfg.policy.autonomy, allowCommands: cfg.policy.allow_commands, root: path.resolve(cfg.root), allowedRoots: cfg.allowedRoots,
    allowSelfModify: cfg.allowSelfModify, dryRunEnv: cfg.dryRun, allowServices: cfg.policy.allow_services,
    lane, lanes: cfg.policy.lanes, owners: cfg.policy.owners, breaker: brakes.breakerFor(lane, cfg.policy.breaker),
    ...(rateFull !== undefined ? { rateFull } : {}),
  };
}
