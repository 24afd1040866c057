/**
 * Tell a person: run `notify.command` through /bin/sh with the event as JSON on stdin, and the desktop notifier
 * (`notify.desktop`), for the kinds listed in `notify.events`. Never throws.
 */
import fs from 'node:fs';
import path from 'node:path';
import { runContained } from './exec/run.js';
import { redact } from './exec/redact.js';
import type { PlanStep, WoRecord } from './state/record.js';
import type { NotifyEvent } from './config/schema.js';

const TIMEOUT_MS = 10_000;
const GRACE_MS = 1000;
const TAIL = 2048;

/** The daemon's environment minus unset values: notify is the user's own command (notify-send needs the desktop's variables). */
function inherited(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return env;
}

/**
 * Run `command` (SPEC §12 `notify.command`) with `event` as JSON on stdin, bounded by 10 s (its whole tree is
 * killed then, and when it ends). Resolves when it ends; failures are logged (secrets redacted), never thrown.
 */
export async function notify(command: string | null, event: object, opts: { timeoutMs?: number; log?: (msg: string) => void } = {}): Promise<void> {
  if (!command) return;
  const log = opts.log ?? ((msg: string) => process.stderr.write(`wo notify: ${msg}\n`));
  const timeoutMs = opts.timeoutMs ?? TIMEOUT_MS;
  try {
    const r = await runContained('/bin/sh', ['-c', command], { cwd: process.cwd(), env: inherited(), timeoutMs, killGraceMs: GRACE_MS, tailBytes: TAIL, input: JSON.stringify(event) + '\n' });
    const what = JSON.stringify(redact(command));
    if (r.spawnError) log(`could not run ${what}: ${r.spawnError}`);
    else if (r.timedOut) log(`${what} timed out after ${timeoutMs / 1000} s and was killed`);
    else if (r.code !== 0) log(`${what} failed (${r.signal ? `signal ${r.signal}` : `exit ${r.code}`})${r.stderr.trim() ? `: ${r.stderr.trim()}` : ''}`);
  } catch (err) {
    log(`could not run ${JSON.stringify(redact(command))}: ${redact((err as Error).message)}`);
  }
}

/** Why: a held notification says what approving would do, in one line (pure). */
export function planSummary(plan: readonly PlanStep[]): string {
  const files = plan.filter((s) => s.cmd === undefined && s.path !== undefined);
  const changing = files.filter((s) => s.verdict === 'will change');
  const cmds = plan.filter((s) => s.cmd !== undefined);
  const held = cmds.filter((s) => s.policy === 'held');
  const unplanned = plan.filter((s) => s.cmd === undefined && s.path === undefined);
  const parts: string[] = [];
  if (files.length) parts.push(`${changing.length} of ${files.length} file${files.length === 1 ? '' : 's'} will change${changing.length ? ` (${changing.slice(0, 5).map((s) => s.step).join(', ')}${changing.length > 5 ? ', …' : ''})` : ''}`);
  if (cmds.length) parts.push(`${cmds.length} command${cmds.length === 1 ? '' : 's'}${held.length ? `, ${held.length} not allowed by policy (${held.slice(0, 3).map((s) => s.cmd!.slice(0, 60)).join('; ')}${held.length > 3 ? '; …' : ''})` : ''}`);
  for (const s of unplanned) parts.push(s.step);
  return parts.join('; ') || 'nothing to do';
}

/** Why: the `wo_held` event `notify.command` receives: the reasons and the plan (steps and verdicts, no diffs). */
export function heldEvent(rec: WoRecord): object {
  const plan = rec.plan ?? [];
  return {
    event: 'wo_held',
    wo_id: rec.wo_id,
    title: rec.title,
    reasons: rec.hold_reasons,
    plan_summary: planSummary(plan),
    plan: plan.map((s) => ({ step: s.step, verdict: s.verdict, ...(s.path !== undefined ? { path: s.path } : {}), ...(s.cmd !== undefined ? { cmd: s.cmd } : {}), ...(s.policy ? { policy: s.policy } : {}) })),
  };
}

/** What `tell` needs of the config (`notify`). */
export interface NotifySettings {
  command: string | null;
  desktop: boolean;
  events: readonly NotifyEvent[];
}

/** The dashboard's deep link to a WO (its `#wo=` fragment opens the WO). */
export function deepLink(port: number | null | undefined, woId: string): string | undefined {
  return port ? `http://127.0.0.1:${port}/#wo=${encodeURIComponent(woId)}` : undefined;
}

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** Why: one short title and body per event, the same on every platform. Pure; the text is data, never code. */
export function desktopMessage(kind: NotifyEvent, e: Record<string, unknown>): { title: string; body: string } {
  const id = typeof e.wo_id === 'string' ? e.wo_id : '';
  const woTitle = typeof e.title === 'string' ? e.title : '';
  const err = e.error as { code?: string; message?: string } | undefined;
  const reasons = Array.isArray(e.reasons) ? (e.reasons as unknown[]).map(String) : [];
  const url = typeof e.url === 'string' ? e.url : undefined;
  const what: Record<NotifyEvent, () => [string, string[]]> = {
    failed: () => [`wo: ${id} failed`, [woTitle, err ? `${err.code ?? ''}: ${err.message ?? ''}` : '']],
    held: () => [`wo: ${id} waits for approval`, [woTitle, reasons.join('; ')]],
    succeeded: () => [`wo: ${id} succeeded`, [woTitle]],
    cancelled: () => [`wo: ${id} cancelled`, [woTitle]],
    drift: () => [`wo: guardrail drift`, [`${String(e.missing ?? e.broken ?? '')}: ${String(e.why ?? (e.missing ? 'missing' : 'changed'))}`]],
    breaker: () => [`wo: breaker open for lane ${String(e.lane ?? '')}`, [String(e.reason ?? '')]],
  };
  const [title, lines] = what[kind]();
  return { title: clip(title, 120), body: [...lines.filter(Boolean).map((l) => clip(l, 300)), ...(url ? [url] : [])].join('\n') };
}

/**
 * Why: the platform's notifier, given the text as arguments (no shell, no script source built from WO text):
 * `osascript` on macOS (an `on run argv` handler), `notify-send` elsewhere. Pure.
 */
export function desktopCommand(platform: NodeJS.Platform, msg: { title: string; body: string }): { program: string; args: string[] } {
  if (platform === 'darwin') {
    return { program: 'osascript', args: ['-e', 'on run argv', '-e', 'display notification (item 2 of argv) with title (item 1 of argv)', '-e', 'end run', msg.title, msg.body] };
  }
  return { program: 'notify-send', args: ['--app-name=wo', '--', msg.title, msg.body] };
}

/** The first executable `name` on `PATH`, or undefined. */
export function onPath(name: string, PATH = process.env.PATH ?? ''): string | undefined {
  for (const dir of PATH.split(':')) {
    if (!dir.startsWith('/')) continue;
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

const saidMissing = new Set<string>();

/** Run the desktop notifier for one event; a missing notifier is said once per process. Never throws. */
async function desktop(kind: NotifyEvent, event: Record<string, unknown>, log: (msg: string) => void, platform: NodeJS.Platform): Promise<void> {
  if (platform !== 'darwin' && platform !== 'linux' && platform !== 'freebsd' && platform !== 'openbsd') return;
  const { program, args } = desktopCommand(platform, desktopMessage(kind, event));
  const found = onPath(program);
  if (!found) {
    if (!saidMissing.has(program)) log(`notify.desktop: ${program} is not on PATH; no desktop notifications (install it, or set notify.desktop: false)`);
    saidMissing.add(program);
    return;
  }
  try {
    const r = await runContained(found, args, { cwd: process.cwd(), env: inherited(), timeoutMs: TIMEOUT_MS, killGraceMs: GRACE_MS, tailBytes: TAIL });
    if (r.spawnError) log(`could not run ${program}: ${r.spawnError}`);
    else if (r.timedOut) log(`${program} timed out and was killed`);
    else if (r.code !== 0) log(`${program} failed (${r.signal ? `signal ${r.signal}` : `exit ${r.code}`})${r.stderr.trim() ? `: ${redact(r.stderr.trim())}` : ''}`);
  } catch (err) {
    log(`could not run ${program}: ${redact((err as Error).message)}`);
  }
}

/**
 * Why: the one way the daemon tells a person: when `kind` is in `notify.events`, run `notify.command` (the event
 * JSON on stdin) and the desktop notifier (`notify.desktop`) side by side. Resolves when both end; never throws.
 */
export async function tell(cfg: NotifySettings, kind: NotifyEvent, event: Record<string, unknown>, opts: { log?: (msg: string) => void; platform?: NodeJS.Platform } = {}): Promise<void> {
  if (!cfg.events.includes(kind)) return;
  const log = opts.log ?? ((msg: string) => process.stderr.write(`wo notify: ${msg}\n`));
  await Promise.all([notify(cfg.command, event, { log }), cfg.desktop ? desktop(kind, event, log, opts.platform ?? process.platform) : undefined]);
}
