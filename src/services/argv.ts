/** The manager command lines for each service action (pure): launchd's domain verbs, systemd's --user verbs. */
import { SHOW_PROPS, type ServiceAction, type ServiceKind } from './status.js';

export interface ManagerCall {
  program: 'launchctl' | 'systemctl';
  args: string[];
}

/** A service as the manager addresses it: its label (+ plist for bootstrap) or its unit. */
export interface ServiceRef {
  kind: ServiceKind;
  name: string;
  /** launchd: the plist's absolute path (bootstrap needs it). */
  plistAbs?: string;
}

/** Why: each action is exactly one manager call; the argv is recorded as "what ran" (no shell ever). */
export function actionCall(ref: ServiceRef, action: ServiceAction | 'start', uid: number): ManagerCall {
  if (ref.kind === 'launchd') {
    const target = `gui/${uid}/${ref.name}`;
    if (action === 'load') return { program: 'launchctl', args: ['bootstrap', `gui/${uid}`, ref.plistAbs ?? ref.name] };
    if (action === 'unload') return { program: 'launchctl', args: ['bootout', target] };
    return { program: 'launchctl', args: ['kickstart', '-k', target] };
  }
  if (action === 'load') return { program: 'systemctl', args: ['--user', 'enable', '--now', ref.name] };
  if (action === 'unload') return { program: 'systemctl', args: ['--user', 'disable', '--now', ref.name] };
  return { program: 'systemctl', args: ['--user', 'restart', ref.name] };
}

/** The status query of one service. */
export function statusCall(ref: ServiceRef, uid: number): ManagerCall {
  return ref.kind === 'launchd'
    ? { program: 'launchctl', args: ['print', `gui/${uid}/${ref.name}`] }
    : { program: 'systemctl', args: ['--user', 'show', '-p', SHOW_PROPS, ref.name] };
}

/** One call as a line for records and logs. */
export function callText(c: ManagerCall): string {
  return [c.program, ...c.args].join(' ');
}
