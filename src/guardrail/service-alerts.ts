/** How a service's drift, recovery and restart are told: as a file's (telemetry, alert log, notify). */
import { tell } from '../notify.js';
import { alertLine, type AlertCtx } from './alerts.js';
import type { ServiceHealth } from './services.js';

const emitSafe = (ctx: AlertCtx, event: 'wo_pipeline_drift' | 'guardrail_restored', fields: Record<string, unknown>) => {
  try {
    ctx.telemetry.emit('guardrail', event, fields as { ok: boolean });
  } catch (err) {
    ctx.log(`guardrail: cannot write telemetry: ${(err as Error).message}`);
  }
};

/** Why: a supervised service went wrong (or wrong differently): `wo_pipeline_drift {"service", "why"}`, the alert log, notify. */
export function alertServiceDrift(ctx: AlertCtx, h: ServiceHealth): void {
  const fields = { ok: false, service: h.service, kind: h.kind, why: h.why, ...(h.status?.exit_meaning ? { exit_meaning: h.status.exit_meaning } : {}) };
  emitSafe(ctx, 'wo_pipeline_drift', fields);
  const text = `service ${h.service} (${h.kind}): ${h.why}${h.status?.exit_meaning && h.why?.startsWith('exited') ? ` (${h.status.exit_meaning})` : ''}`;
  alertLine(ctx, `DRIFT ${text}`);
  ctx.log(`guardrail: drift ${text}`, fields);
  ctx.track(tell(ctx.config.notify, 'drift', { ts: ctx.now().toISOString(), agent: 'guardrail', event: 'wo_pipeline_drift', root: ctx.config.root, ...fields }));
}

/** A supervised service is healthy again. */
export function alertServiceRecovered(ctx: AlertCtx, service: string): void {
  alertLine(ctx, `RECOVERED service ${service}: healthy again`);
  ctx.log(`guardrail: service ${service} healthy again`);
}

/** Why: a restart by `restore: true` is recorded (telemetry `guardrail_restored` with `service`, the alert log), failed or not. */
export function alertServiceRestart(ctx: AlertCtx, service: string, r: { ok: boolean; cmd: string; why?: string }): void {
  emitSafe(ctx, 'guardrail_restored', { ok: r.ok, service, cmd: r.cmd, ...(r.why ? { why: r.why } : {}) });
  alertLine(ctx, r.ok ? `RESTORED service ${service}: ${r.cmd}` : `NOT RESTORED service ${service}: ${r.cmd ? `${r.cmd}: ` : ''}${r.why}`);
  ctx.log(`guardrail: ${r.ok ? 'restarted' : 'could not restart'} service ${service}${r.why ? `: ${r.why}` : ''}`);
}
