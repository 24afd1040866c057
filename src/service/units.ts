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

export interface UnitLocation {
  kind: ServiceKind;
  /** launchd Label or systemd unit name (wo-<hash>.service). */
  name: string;
  /** The unit file. */
  file: string;
}

/** Where the unit for a root is installed. */
export function unitLocation(kind: ServiceKind, root: string, env: NodeJS.ProcessEnv = process.env): UnitLocation {
  const home = env.HOME;
  if (!home || !path.isAbsolute(home)) throw new Error('HOME is not set to an absolute path; cannot place the service unit');
  const h = rootHash(root);
  if (kind === 'launchd') {
    const name = `com.wo.daemon.${h}`;
    return { kind, name, file: path.join(home, 'Library', 'LaunchAgents', `${name}.plist`) };
  }
  const xdg = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(home, '.config');
  const name = `wo-${h}.service`;
  return { kind, name, file: path.join(xdg, 'systemd', 'user', name) };
}

/** An explicit PATH: node's folder first, then the caller's absolute entries, then the usual system folders. */
export function servicePath(node: string, envPath: string | undefined): string {
  const parts = [path.dirname(node), ...(envPath ?? '').split(':'), '/usr/local/bin', '/opt/homebrew/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
  return [...new Set(parts.filter((p) => p.startsWith('/') && !p.includes('\n')))].join(':');
}

/** The spec for this installation: this node, this checkout's dist/cli/main.js, this root. */
export function currentSpec(root: string, opts: { stopTimeoutS: number; env?: NodeJS.ProcessEnv; node?: string; mainJs?: string }): UnitSpec {
  const env = opts.env ?? process.env;
  const node = opts.node ?? process.execPath;
  const mainJs = opts.mainJs ?? canonicalRoot(path.join(REPO_DIR, 'dist', 'cli', 'main.js'));
  const r = canonicalRoot(root);
  return { node, mainJs, root: r, path: servicePath(node, env.PATH), label: `com.wo.daemon.${rootHash(r)}`, stopTimeoutS: opts.stopTimeoutS };
}
