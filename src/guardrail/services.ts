/** The guardrail's service supervision: `guardrail.services` checked through the manager, drift told, restarted. */
import type { Config } from '../config/load.js';
import { managerOptions, serviceAction, serviceStatus, type CallResult } from '../services/manager.js';
import { problemOf, UNIT_RE, type ServiceKind, type ServiceStatus } from '../services/status.js';
import type { ServiceRef } from '../services/argv.js';

/** One supervised service as the last check saw it. */
export interface ServiceHealth {
  service: string;
  kind: ServiceKind;
  ok: boolean;
  /** "exited 127" | "not loaded" | "not running" | "exited N" | why its status could not be read. */
  why?: string;
  status: ServiceStatus | null;
}

/** Why: `guardrail.services` is a plain list of names: a systemd unit name has a unit suffix, anything else is a launchd label. */
export function kindOfName(name: string): ServiceKind {
  return UNIT_RE.test(name) ? 'systemd' : 'launchd';
}

/** Why: the drift of one service from its status (pure): the manager's own failure is drift too, said as such. */
export function serviceWhy(status: ServiceStatus | null, call?: Pick<CallResult, 'error' | 'exit_code' | 'output_tail'>): string | null {
  if (!status) return `status unknown: ${call?.error ?? `the manager exited ${call?.exit_code ?? '?'}`}`;
  return problemOf(status);
}

/** Check each supervised service once. */
export async function checkServices(config: Config): Promise<ServiceHealth[]> {
  const o = managerOptions(config);
  const out: ServiceHealth[] = [];
  for (const name of config.guardrail.services) {
    const kind = kindOfName(name);
    const { status, call } = await serviceStatus({ kind, name }, o);
    const why = serviceWhy(status, call);
    out.push({ service: name, kind, ok: why === null, ...(why ? { why } : {}), status });
  }
  return out;
}

/**
 * Why: `guardrail.restore: true` puts a service back: a loaded one restarted, an unloaded unit enabled again,
 * an unloaded agent bootstrapped from the plist launchd last reported (unknown: not restored, said why).
 */
export async function restartService(config: Config, h: ServiceHealth, lastPlist: string | undefined): Promise<{ ok: boolean; cmd: string; why?: string; status: ServiceStatus | null }> {
  if (!h.status) return { ok: false, cmd: '', why: h.why ?? 'status unknown', status: null };
  const o = managerOptions(config);
  const ref: ServiceRef = { kind: h.kind, name: h.service, ...(lastPlist ? { plistAbs: lastPlist } : {}) };
  let action: 'restart' | 'load' = 'restart';
  if (!h.status.loaded) {
    if (h.kind === 'launchd' && !lastPlist) return { ok: false, cmd: '', why: 'not loaded and its plist is not known (launchd never reported it loaded to this daemon)', status: h.status };
    action = 'load';
  }
  const call = await serviceAction(ref, action, o);
  const after = await serviceStatus(ref, o);
  const why = call.error ?? (call.exit_code !== 0 ? `${call.cmd} exited ${call.exit_code}` : serviceWhy(after.status, after.call));
  return { ok: !why || why === 'not running', cmd: call.cmd, ...(why ? { why } : {}), status: after.status };
}
