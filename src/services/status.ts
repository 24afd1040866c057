/** What a service manager says about one service, parsed from its own output (pure: no I/O). */

export type ServiceKind = 'launchd' | 'systemd';
export type ServiceAction = 'load' | 'unload' | 'restart';

/** One service as a WO names it: a launchd agent (its plist; label = file name) or a systemd user unit. */
export type ServiceSpec =
  | { kind: 'launchd'; plist: string; label: string; action: ServiceAction }
  | { kind: 'systemd'; unit: string; action: ServiceAction };

/** The health of one service as its manager reports it. */
export interface ServiceStatus {
  loaded: boolean;
  running: boolean;
  pid: number | null;
  last_exit: number | null;
  /** What the last exit status means, when it is a known failure (127: the program is missing). */
  exit_meaning?: string;
  /** launchd: the plist launchd loaded it from (`path = …`), so a guardrail restore can bootstrap it again. */
  plist?: string;
}

export const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
export const UNIT_RE = /^[A-Za-z0-9][A-Za-z0-9@._:\\-]{0,250}\.(service|timer|socket|path|target)$/;

/** The name a person knows the service by (label or unit). */
export function serviceName(s: { kind: ServiceKind; label?: string; unit?: string }): string {
  return s.kind === 'launchd' ? s.label! : s.unit!;
}

/** Why: exit 127 is the seeds' failure (a plist pointing at a script that is gone): name it, never just a number. */
export function exitMeaning(code: number | null): string | undefined {
  if (code === null || code === 0) return undefined;
  if (code === 127) return 'command not found: the program the service runs is missing';
  if (code === 126) return 'permission denied: the program the service runs is not executable';
  if (code === 78) return 'EX_CONFIG: the service is misconfigured';
  if (code < 0) return `killed by signal ${-code}`;
  return `exited ${code}`;
}

function withMeaning(s: Omit<ServiceStatus, 'exit_meaning'>): ServiceStatus {
  const m = exitMeaning(s.last_exit);
  return m ? { ...s, exit_meaning: m } : s;
}

/** A service launchd does not know (`launchctl print` exits non-zero: "Could not find service"). */
export const NOT_LOADED: ServiceStatus = { loaded: false, running: false, pid: null, last_exit: null };

/**
 * Why: `launchctl print gui/<uid>/<label>` is launchd's only full view of one agent; its body is
 * `key = value` lines (`state = running`, `pid = 123`, `last exit code = 127` or `(never exited)`, newer
 * macOS adds `: EX_…`). Exit status non-zero means not loaded.
 */
export function parseLaunchctlPrint(stdout: string, exitCode: number): ServiceStatus | null {
  // 113: "Could not find service … in domain": not loaded. Any other failure says nothing about the service.
  if (exitCode !== 0) return exitCode === 113 || /Could not find service/.test(stdout) ? NOT_LOADED : null;
  // The service's own keys are indented one tab; nested blocks (environment, endpoints) deeper.
  const top = (key: string) => (new RegExp(`^\\t${key} = (.*)$`, 'm').exec(stdout) ?? new RegExp(`^\\s*${key} = (.*)$`, 'm').exec(stdout))?.[1]?.trim();
  const state = top('state');
  const pidText = top('pid');
  const exitText = top('last exit code') ?? top('last exit status');
  const pid = pidText && /^\d+$/.test(pidText) ? Number(pidText) : null;
  const plist = top('path');
  const exitNum = exitText ? /^-?\d+/.exec(exitText)?.[0] : undefined;
  return withMeaning({ loaded: true, running: state === 'running' || (state === undefined && pid !== null), pid, last_exit: exitNum !== undefined ? Number(exitNum) : null, ...(plist?.startsWith('/') ? { plist } : {}) });
}

/** `systemctl show` output (`Key=Value` lines, in systemd's own order) → a map. */
export function parseShow(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

/** The properties asked of systemd (one `systemctl --user show -p …` call). */
export const SHOW_PROPS = 'LoadState,ActiveState,SubState,MainPID,ExecMainStatus,UnitFileState';

/**
 * Why: for a user unit, "loaded" in the launchd sense means enabled or active (LoadState=loaded only says the
 * unit file parsed); running is ActiveState=active with SubState=running (or a MainPID); the last exit is
 * ExecMainStatus when the unit has run and is no longer active.
 */
export function parseSystemctlShow(stdout: string): ServiceStatus {
  const p = parseShow(stdout);
  if (p.LoadState !== 'loaded') return NOT_LOADED;
  const enabled = /^(enabled|enabled-runtime|linked|linked-runtime|static|alias|generated|transient)$/.test(p.UnitFileState ?? '');
  const active = p.ActiveState === 'active' || p.ActiveState === 'activating' || p.ActiveState === 'reloading';
  const pid = p.MainPID && /^\d+$/.test(p.MainPID) && p.MainPID !== '0' ? Number(p.MainPID) : null;
  const status = p.ExecMainStatus && /^-?\d+$/.test(p.ExecMainStatus) ? Number(p.ExecMainStatus) : null;
  const running = p.ActiveState === 'active' && (p.SubState === 'running' || pid !== null);
  return withMeaning({ loaded: enabled || active || p.ActiveState === 'failed', running, pid, last_exit: status });
}

/** Why: one judgement for the WO step and the guardrail: what is wrong with a service that should be up (or null). */
export function problemOf(s: ServiceStatus): 'not loaded' | 'exited 127' | `exited ${number}` | 'not running' | null {
  if (!s.loaded) return 'not loaded';
  if (s.last_exit === 127 && !s.running) return 'exited 127';
  if (!s.running && s.last_exit !== null && s.last_exit !== 0) return `exited ${s.last_exit}`;
  if (!s.running) return 'not running';
  return null;
}
