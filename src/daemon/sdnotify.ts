/**
 * systemd readiness for `Type=notify`. The protocol is one datagram to the unix socket in $NOTIFY_SOCKET, and Node
 * has no unix datagram sockets; so the message is sent by `systemd-notify` (shipped with systemd, hence present
 * wherever NOTIFY_SOCKET is set). It runs as a child, so the unit says `NotifyAccess=all`; since systemd 246 it
 * waits (a barrier) until systemd has read the message, so the child's exit cannot race the attribution.
 */
import { spawn } from 'node:child_process';

export type NotifyOutcome = { sent: true } | { sent: false; why: string };

/** Take NOTIFY_SOCKET out of the environment (as sd_notify's unset_environment does): no child may inherit it. */
export function takeNotifySocket(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const socket = env.NOTIFY_SOCKET;
  delete env.NOTIFY_SOCKET;
  return socket && (socket.startsWith('/') || socket.startsWith('@')) ? socket : undefined;
}

/** The systemd-notify argv for some assignments (READY=1, STATUS=…, STOPPING=1): one line each, no newlines. */
export function notifyArgs(fields: Record<string, string>): string[] {
  return Object.entries(fields).map(([k, v]) => `${k}=${v.replace(/[\r\n]+/g, ' ')}`);
}

/** Why: tell systemd the daemon is ready (or stopping); a no-op without a socket, never throws, bounded to 10 s. */
export function sdNotify(socket: string | undefined, fields: Record<string, string>, opts: { program?: string; timeoutMs?: number } = {}): Promise<NotifyOutcome> {
  if (!socket) return Promise.resolve({ sent: false, why: 'no NOTIFY_SOCKET' });
  return new Promise((resolve) => {
    let done = false;
    const finish = (o: NotifyOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(o);
    };
    const child = spawn(opts.program ?? 'systemd-notify', notifyArgs(fields), {
      env: { NOTIFY_SOCKET: socket, PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-500)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish({ sent: false, why: 'systemd-notify did not finish within the time bound' });
    }, opts.timeoutMs ?? 10_000);
    timer.unref();
    child.on('error', (e) => finish({ sent: false, why: `cannot run systemd-notify: ${e.message}` }));
    child.on('close', (code) => finish(code === 0 ? { sent: true } : { sent: false, why: `systemd-notify exited ${code}: ${err.trim()}` }));
  });
}
