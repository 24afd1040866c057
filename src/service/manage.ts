/** Installing, removing and inspecting the unit: the file is the source of truth, launchctl/systemctl are best effort. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../util/fsx.js';
import { renderUnit, xmlEscape, type ServiceKind, type UnitSpec } from './render.js';
import { legacyLocation, readTemplate, unitLocation, unitLocations, type UnitLocation } from './units.js';

/** Outcome of running a manager command; `missing` when the program is not on PATH. */
export interface RunResult {
  code: number | null;
  output: string;
  missing: boolean;
}
export type Runner = (cmd: string, args: string[]) => RunResult;

/** Run a command synchronously (30 s bound), as data. */
export const runCommand: Runner = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  const missing = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
  return { code: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error && !missing ? r.error.message : ''}`.trim(), missing };
};

export interface ServiceOptions {
  kind: ServiceKind;
  root: string;
  env?: NodeJS.ProcessEnv;
  /** false: only touch the unit file, never call launchctl/systemctl. */
  load: boolean;
  run?: Runner;
  uid?: number;
}

export interface ServiceOutcome {
  location: UnitLocation;
  /** Every line to tell the user. */
  messages: string[];
  /** The manager command ran and succeeded (false when skipped or failed). */
  loaded: boolean;
  /** The manager was asked and failed or is missing: the user must run `todo`. */
  failed: boolean;
  todo: string[];
}

function uidOf(opts: ServiceOptions): number {
  return opts.uid ?? process.getuid?.() ?? 0;
}

/** The manager commands that load (or unload) a unit, as argv lists. */
export function managerCommands(loc: UnitLocation, uid: number, action: 'load' | 'unload'): string[][] {
  if (loc.kind === 'launchd') {
    return action === 'load'
      ? [['launchctl', 'bootout', `gui/${uid}/${loc.name}`], ['launchctl', 'bootstrap', `gui/${uid}`, loc.file]]
      : [['launchctl', 'bootout', `gui/${uid}/${loc.name}`]];
  }
  return action === 'load'
    ? [['systemctl', '--user', 'daemon-reload'], ['systemctl', '--user', 'enable', '--now', loc.name]]
    : [['systemctl', '--user', 'disable', '--now', loc.name], ['systemctl', '--user', 'daemon-reload']];
}

const quote = (a: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
const shown = (argv: string[]) => argv.map(quote).join(' ');

/** Run manager commands in order; the first launchd `bootout` before a load may fail (not loaded yet). */
function runAll(cmds: string[][], run: Runner, tolerateFirst: boolean): { ok: boolean; messages: string[] } {
  const messages: string[] = [];
  for (const [i, argv] of cmds.entries()) {
    const r = run(argv[0]!, argv.slice(1));
    if (r.missing) return { ok: false, messages: [`${argv[0]} is not available on this machine`] };
    if (r.code !== 0 && !(tolerateFirst && i === 0)) {
      return { ok: false, messages: [...messages, `\`${shown(argv)}\` failed (exit ${r.code})${r.output ? `: ${r.output.split('\n').slice(0, 3).join(' / ')}` : ''}`] };
    }
  }
  return { ok: true, messages };
}

/** Who the linger hint names: $USER, else the account name. */
function userName(env: NodeJS.ProcessEnv): string {
  if (env.USER && /^[A-Za-z0-9._-]+$/.test(env.USER)) return env.USER;
  try {
    return os.userInfo().username;
  } catch {
    return '$USER';
  }
}

/** Why: a user unit stops at logout and waits for a login after boot unless lingering is on; say so once at install. */
export function lingerHint(env: NodeJS.ProcessEnv = process.env, lingerDir = '/var/lib/systemd/linger'): string | undefined {
  const user = userName(env);
  if (fs.existsSync(path.join(lingerDir, user))) return undefined;
  return `to keep the daemon running after you log out and start it at boot, run once: loginctl enable-linger ${user}`;
}

/** A unit installed under the legacy name (wo-<hash12>): unloaded (best effort) and removed so one root has one unit. */
async function retireLegacy(opts: ServiceOptions): Promise<string[]> {
  const old = legacyLocation(opts.kind, opts.root, opts.env);
  if (!fs.existsSync(old.file)) return [];
  const messages: string[] = [];
  if (opts.load) {
    const r = runAll(managerCommands(old, uidOf(opts), 'unload').slice(0, 1), opts.run ?? runCommand, false);
    if (!r.ok) messages.push(...r.messages);
  } else {
    messages.push(`not unloaded (--no-load); if ${old.name} is loaded run: ${managerCommands(old, uidOf(opts), 'unload').map(shown).join(' && ')}`);
  }
  await fsp.unlink(old.file);
  messages.push(`removed the unit installed under the earlier name ${old.file}`);
  return messages;
}

/** Write the unit (atomically, 0644), retire a legacy-named one, then load it unless told not to. */
export async function installService(spec: UnitSpec, opts: ServiceOptions): Promise<ServiceOutcome> {
  const loc = unitLocation(opts.kind, opts.root, opts.env);
  const text = renderUnit(opts.kind, readTemplate(opts.kind), spec);
  await fsp.mkdir(path.dirname(loc.file), { recursive: true, mode: 0o755 });
  await writeFileAtomic(loc.file, text, { mode: 0o644 });
  const messages = [`wrote ${loc.file}`, ...(await retireLegacy(opts))];
  const hint = opts.kind === 'systemd' ? lingerHint(opts.env) : undefined;
  const tail = hint ? [hint] : [];
  const cmds = managerCommands(loc, uidOf(opts), 'load');
  const todo = cmds.slice(opts.kind === 'launchd' ? 1 : 0).map(shown);
  if (!opts.load) return { location: loc, messages: [...messages, `not loaded (--no-load); to start it run: ${todo.join(' && ')}`, ...tail], loaded: false, failed: false, todo };
  const r = runAll(cmds, opts.run ?? runCommand, opts.kind === 'launchd');
  if (!r.ok) return { location: loc, messages: [...messages, ...r.messages, `the unit file is in place; to start it run: ${todo.join(' && ')}`, ...tail], loaded: false, failed: true, todo };
  return { location: loc, messages: [...messages, `loaded ${loc.name} (${opts.kind})`, ...tail], loaded: true, failed: false, todo: [] };
}

/** Unload (unless told not to) and remove the unit file, under the current and the legacy name; nothing installed is not an error. */
export async function uninstallService(opts: ServiceOptions): Promise<ServiceOutcome> {
  const all = unitLocations(opts.kind, opts.root, opts.env);
  const present = all.filter((l) => fs.existsSync(l.file));
  if (!present.length) return { location: all[0]!, messages: [`not installed (${all[0]!.file} does not exist)`], loaded: false, failed: false, todo: [] };
  const messages: string[] = [];
  let failed = false;
  const todo: string[] = [];
  for (const loc of present) {
    const cmds = managerCommands(loc, uidOf(opts), 'unload');
    if (opts.load) {
      // Unload first, while the unit file still exists for the manager to read.
      const r = runAll(cmds.slice(0, 1), opts.run ?? runCommand, false);
      if (!r.ok) {
        failed = true;
        todo.push(...cmds.slice(0, 1).map(shown));
        messages.push(...r.messages, `it may still be loaded; run: ${cmds.slice(0, 1).map(shown).join(' && ')}`);
      }
    } else {
      todo.push(...cmds.map(shown));
      messages.push(`not unloaded (--no-load); if it is loaded run: ${cmds.map(shown).join(' && ')}`);
    }
    await fsp.unlink(loc.file);
    messages.push(`removed ${loc.file}`);
  }
  if (opts.load && opts.kind === 'systemd') runAll([['systemctl', '--user', 'daemon-reload']], opts.run ?? runCommand, false);
  return { location: present[0]!, messages, loaded: false, failed, todo };
}

export interface ServiceStatus {
  kind: ServiceKind;
  file: string;
  name: string;
  installed: boolean;
  /** The unit runs `daemon --root <this root>`. */
  pointsHere: boolean;
  /** The unit is exactly what `install` would write now (same name, node, main.js, PATH). */
  upToDate: boolean;
  /** Installed only under the legacy name (wo-<hash12>): `install` renames it. */
  legacy: boolean;
  /** What the manager says (undefined when not asked). */
  manager?: { active: boolean; detail: string };
}

/** Inspect the unit file (and, when `load`, ask the manager whether it is running). */
export function serviceStatus(spec: UnitSpec, opts: ServiceOptions): ServiceStatus {
  let loc = unitLocation(opts.kind, opts.root, opts.env);
  let text: string | undefined;
  for (const l of unitLocations(opts.kind, opts.root, opts.env)) {
    try {
      text = fs.readFileSync(l.file, 'utf8');
      loc = l;
      break;
    } catch {
      text = undefined;
    }
  }
  const rootInUnit = opts.kind === 'launchd' ? `<string>${xmlEscape(spec.root)}</string>` : spec.root.replace(/%/g, '%%');
  const st: ServiceStatus = {
    kind: opts.kind,
    file: loc.file,
    name: loc.name,
    installed: text !== undefined,
    pointsHere: text !== undefined && text.includes(rootInUnit),
    upToDate: text !== undefined && !loc.legacy && text === renderUnit(opts.kind, readTemplate(opts.kind), spec),
    legacy: loc.legacy === true,
  };
  if (opts.load && st.installed) {
    const run = opts.run ?? runCommand;
    const r = opts.kind === 'launchd' ? run('launchctl', ['print', `gui/${uidOf(opts)}/${loc.name}`]) : run('systemctl', ['--user', 'is-active', loc.name]);
    const detail = r.missing ? `${opts.kind === 'launchd' ? 'launchctl' : 'systemctl'} is not available` : r.output.split('\n')[0] ?? '';
    st.manager = { active: !r.missing && r.code === 0, detail };
  }
  return st;
}
