/** The one adapter to launchd and systemd user units: run a manager call (execFile, no shell, a timeout), read status. */
import { execFile } from 'node:child_process';
import { buildEnv } from '../exec/run.js';
import { redact } from '../exec/redact.js';
import { actionCall, callText, statusCall, type ManagerCall, type ServiceRef } from './argv.js';
import { parseLaunchctlPrint, parseSystemctlShow, type ServiceAction, type ServiceStatus } from './status.js';

export interface ManagerOptions {
  /** The WO exec PATH (`exec.path`): the manager binaries are looked up there (a stand-in can come first). */
  path: string;
  timeoutMs: number;
  uid?: number;
  tailBytes?: number;
}

/** A finished manager call: data for success and failure alike. */
export interface CallResult {
  cmd: string;
  exit_code: number | null;
  timed_out: boolean;
  /** The program was not found in exec.path (or could not run). */
  error?: string;
  output_tail: string;
  stdout: string;
}

const uidOf = (o: ManagerOptions) => o.uid ?? process.getuid?.() ?? 0;

/** Why: one place runs launchctl/systemctl: bounded in time, its environment clean, its outcome data. */
export function runCall(call: ManagerCall, o: ManagerOptions): Promise<CallResult> {
  const extra: Record<string, string> = {};
  for (const k of ['XDG_RUNTIME_DIR', 'DBUS_SESSION_BUS_ADDRESS']) if (process.env[k]) extra[k] = process.env[k]!;
  const tail = o.tailBytes ?? 4096;
  return new Promise((resolve) => {
    execFile(call.program, call.args, { env: buildEnv(o.path, extra), timeout: o.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024, windowsHide: true }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { killed?: boolean; signal?: string; code?: number | string }) | null;
      const timedOut = Boolean(e?.killed && e.signal === 'SIGKILL');
      const out = redact(`${stdout}${stderr}`);
      const res: CallResult = {
        cmd: callText(call),
        exit_code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
        timed_out: timedOut,
        output_tail: out.length > tail ? out.slice(-tail) : out,
        stdout: String(stdout),
      };
      if (e && typeof e.code === 'string') res.error = e.code === 'ENOENT' ? `${call.program} not found in exec.path (${o.path})` : `${call.program} could not run: ${e.code}`;
      if (timedOut) res.error = `${call.program} did not answer within ${Math.round(o.timeoutMs / 1000)}s (killed)`;
      resolve(res);
    });
  });
}

/** Why: the status of one service now, or why it could not be read (a hung or missing manager is not "not loaded"). */
export async function serviceStatus(ref: ServiceRef, o: ManagerOptions): Promise<{ status: ServiceStatus | null; call: CallResult }> {
  const call = await runCall(statusCall(ref, uidOf(o)), o);
  if (call.error) return { status: null, call };
  const status = ref.kind === 'launchd' ? parseLaunchctlPrint(`${call.stdout}${call.exit_code === 0 ? '' : call.output_tail}`, call.exit_code ?? 1) : call.exit_code === 0 ? parseSystemctlShow(call.stdout) : null;
  return { status, call };
}

/** Why: one action (load/unload/restart, or the compensation's own) through the manager. */
export function serviceAction(ref: ServiceRef, action: ServiceAction, o: ManagerOptions): Promise<CallResult> {
  return runCall(actionCall(ref, action, uidOf(o)), o);
}

/** The manager options from the resolved config (exec.path, exec.manager_timeout_s). */
export function managerOptions(cfg: { exec: { path: string; manager_timeout_s: number } }): ManagerOptions {
  return { path: cfg.exec.path, timeoutMs: cfg.exec.manager_timeout_s * 1000 };
}
