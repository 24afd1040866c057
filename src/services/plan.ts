/** The plan steps of a services: list (dry run, held WOs): what each action would run. Pure. */
import type { PlanStep } from '../state/record.js';
import { actionCall, callText } from './argv.js';
import { serviceName, type ServiceSpec } from './status.js';

/** Why: observe / dry run shows each service action (never run to plan), with the manager call it would make. */
export function serviceSteps(specs: readonly ServiceSpec[], uid = process.getuid?.() ?? 0): PlanStep[] {
  return specs.map((s, i): PlanStep => {
    const call = actionCall(s.kind === 'launchd' ? { kind: 'launchd', name: s.label, plistAbs: s.plist } : { kind: 'systemd', name: s.unit }, s.action, uid);
    return { step: `services[${i}]: ${s.action} ${s.kind} ${serviceName(s)}: ${callText(call)}`, ...(s.kind === 'launchd' ? { path: s.plist } : {}), verdict: 'unknown' };
  });
}
