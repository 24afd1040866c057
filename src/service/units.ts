/** Where units live and what goes in them, derived from the environment (home, platform, node, PATH). */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ServiceKind, UnitSpec } from './render.js';

/** The repository folder holding launchd/ and systemd/ (two levels above src/service or dist/service). */
export const REPO_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const TEMPLATES: Record<ServiceKind, string> = {
  launchd: path.join(REPO_DIR, 'launchd', 'com.wo.daemon.plist.template'),
  systemd: path.join(REPO_DIR, 'systemd', 'wo.service.template'),
};

/** The folders every unit's PATH ends with: the system's, and the usual package managers'. */
export const SYSTEM_PATH = ['/usr/local/bin', '/opt/homebrew/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'];

/** Read the template of a kind. */
export function readTemplate(kind: ServiceKind): string {
  return fs.readFileSync(TEMPLATES[kind], 'utf8');
}

/** The default kind for a platform: launchd on macOS, systemd elsewhere. */
export function defaultKind(platform: NodeJS.Platform = process.platform): ServiceKind {
  return platform === 'darwin' ? 'launchd' : 'systemd';
}

/** The root as units name it (symlinks resolved when it exists, so one folder gets one unit). */
export function canonicalRoot(root: string): string {
  const abs = path.resolve(root);
  try {
    return fs.realpathSync(abs);
  } catch {
    return abs;
  }
}

/** Short stable id of a root: several roots can each have their own unit. */
export function rootHash(root: string): string {
  return crypto.createHash('sha256').update(canonicalRoot(root)).digest('hex').slice(0, 12);
}

/** The root's folder name as a unit-name word: [A-Za-z0-9_-], at most 32 characters, never empty. */
export function rootSlug(root: string): string {
  const s = path.basename(canonicalRoot(root)).replace(/[^A-Za-z0-9_-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '').slice(0, 32).replace(/-$/, '');
  return s || 'root';
}

/** The readable unit name of a root without its suffix: `wo-<folder>-<hash6>` (`com.wo.daemon.<folder>-<hash6>` for launchd). */
export function unitBaseName(kind: ServiceKind, root: string): string {
  const word = `${rootSlug(root)}-${rootHash(root).slice(0, 6)}`;
  return kind === 'launchd' ? `com.wo.daemon.${word}` : `wo-${word}`;
}

export interface UnitLocation {
  kind: ServiceKind;
  /** launchd Label or systemd unit name (wo-<folder>-<hash6>.service). */
  name: string;
  /** The unit file. */
  file: string;
  /** A name an earlier version installed (wo-<hash12>): found, replaced and removed, never written. */
  legacy?: boolean;
}

function placed(kind: ServiceKind, base: string, env: NodeJS.ProcessEnv, legacy: boolean): UnitLocation {
  const home = env.HOME;
  if (!home || !path.isAbsolute(home)) throw new Error('HOME is not set to an absolute path; cannot place the service unit');
  const extra = legacy ? { legacy: true } : {};
  if (kind === 'launchd') return { kind, name: base, file: path.join(home, 'Library', 'LaunchAgents', `${base}.plist`), ...extra };
  const xdg = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(home, '.config');
  const name = `${base}.service`;
  return { kind, name, file: path.join(xdg, 'systemd', 'user', name), ...extra };
}

/** Where the unit for a root is installed (the current name). */
export function unitLocation(kind: ServiceKind, root: string, env: NodeJS.ProcessEnv = process.env): UnitLocation {
  return placed(kind, unitBaseName(kind, root), env, false);
}

/** Where an earlier version installed the unit for a root (`wo-<hash12>`, `com.wo.daemon.<hash12>`). */
export function legacyLocation(kind: ServiceKind, root: string, env: NodeJS.ProcessEnv = process.env): UnitLocation {
  const h = rootHash(root);
  return placed(kind, kind === 'launchd' ? `com.wo.daemon.${h}` : `wo-${h}`, env, true);
}

/** Every place a unit for this root may be: the current name first, then the legacy one. */
export function unitLocations(kind: ServiceKind, root: string, env: NodeJS.ProcessEnv = process.env): UnitLocation[] {
  return [unitLocation(kind, root, env), legacyLocation(kind, root, env)];
}

/**
 * A minimal PATH: node's folder, the user's additions (`service.path_extra`), then the system folders —
 * never the installing shell's PATH, which changes with every terminal.
 */
export function servicePath(node: string, extra: readonly string[] = []): string {
  const parts = [path.dirname(node), ...extra, ...SYSTEM_PATH];
  return [...new Set(parts.filter((p) => p.startsWith('/') && !p.includes(':') && !p.includes('\n')).map((p) => p.replace(/(.)\/+$/, '$1')))].join(':');
}

function realOrNull(p: string): string | null {
  try {
    return fs.realpathSync(p);
  } catch {
    return null;
  }
}

/**
 * Why: `process.execPath` is version-specific (Homebrew's Cellar/node/22.1.0, nvm's versions/node/v20.11.0) and
 * breaks at the next upgrade. Prefer a stable `node` that is the same binary today: one on the unit's PATH
 * (path_extra, then the system folders) or nvm's `current` link; else the exec path itself (`stable: false`).
 */
export function stableNode(execPath: string, extra: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): { node: string; stable: boolean } {
  const target = realOrNull(execPath) ?? execPath;
  const nvmDir = env.NVM_DIR && path.isAbsolute(env.NVM_DIR) ? env.NVM_DIR : env.HOME && path.isAbsolute(env.HOME) ? path.join(env.HOME, '.nvm') : undefined;
  const dirs = [...extra, ...SYSTEM_PATH, ...(nvmDir ? [path.join(nvmDir, 'current', 'bin')] : [])];
  for (const d of dirs) {
    if (!d.startsWith('/')) continue;
    const candidate = path.join(d, 'node');
    if (candidate !== execPath && realOrNull(candidate) === target) return { node: candidate, stable: true };
  }
  return { node: execPath, stable: !looksVersioned(execPath) };
}

/** True for a node path holding a version folder (nvm, Homebrew Cellar, fnm, asdf): it moves at the next upgrade. */
export function looksVersioned(p: string): boolean {
  return /\/v?\d+\.\d+\.\d+(?:[^/]*)\//.test(p) || /\/Cellar\//.test(p);
}

/** The spec for this installation: a stable node, this checkout's dist/cli/main.js, this root, a minimal PATH. */
export function currentSpec(root: string, opts: { stopTimeoutS: number; env?: NodeJS.ProcessEnv; node?: string; mainJs?: string; pathExtra?: readonly string[] }): UnitSpec {
  const env = opts.env ?? process.env;
  const extra = opts.pathExtra ?? [];
  const node = opts.node ?? stableNode(process.execPath, extra, env).node;
  const mainJs = opts.mainJs ?? canonicalRoot(path.join(REPO_DIR, 'dist', 'cli', 'main.js'));
  const r = canonicalRoot(root);
  return { node, mainJs, root: r, path: servicePath(node, extra), label: unitBaseName('launchd', r), stopTimeoutS: opts.stopTimeoutS };
}

/** Why: the unit runs the root's current release (switched by `wo upgrade`), never the checkout a later `npm ci` rewrites. */
export function releaseMainJs(root: string): string {
  return path.join(canonicalRoot(root), 'g', 'releases', 'current', 'bin', 'wo');
}
