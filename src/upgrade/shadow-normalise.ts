/**
 * The shadow run's comparison, pure: a `wo plan --json` document reduced to what the release decides (decision, hold
 * reasons, rejections, files, modes, diffs, commands and their verdicts), with what differs between two runs of the
 * same release removed (the view's path, the WO copy's path, times, ids a route assigns, the order of reason lists),
 * rendered as YAML in a fixed key order so a unified diff of two of them reads line by line.
 */
import YAML from 'yaml';
import { createTwoFilesPatch } from 'diff';

/** The plan fields compared (a field a newer release adds is not a difference until it is listed here). */
const KEEP = ['wo_id', 'type', 'lane', 'valid', 'decision', 'hold_reasons', 'errors', 'plan_error', 'warnings', 'steps'] as const;
const STEP_KEEP = ['step', 'path', 'cmd', 'verdict', 'policy', 'why', 'diff'] as const;
/** Lists whose order is noise (reasons, errors, warnings); steps keep their order (it is the order they run in). */
const UNORDERED = new Set(['hold_reasons', 'errors', 'warnings', 'why']);

export interface Scrub {
  /** Absolute paths to replace, each with its stand-in (e.g. the view → `<root>`), longest first is applied. */
  paths: { from: string; to: string }[];
}

const ISO_TIME = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})\b/g;
/** An id a route assigns (`WO-YYYYMMDD-HHMMSS-<slug>-<4 hex>`): its time and random suffix differ on every run. */
const ASSIGNED_ID = /\bWO-\d{8}-\d{6}-([a-z0-9-]*?)-[0-9a-f]{4}\b/g;

function scrubText(s: string, scrub: Scrub): string {
  let out = s;
  for (const { from, to } of [...scrub.paths].sort((a, b) => b.from.length - a.from.length)) if (from) out = out.split(from).join(to);
  return out.replace(ISO_TIME, '<time>').replace(ASSIGNED_ID, 'WO-<assigned>-$1');
}

function scrubValue(v: unknown, scrub: Scrub, key = ''): unknown {
  if (typeof v === 'string') return scrubText(v, scrub);
  if (Array.isArray(v)) {
    const items = v.map((x) => scrubValue(x, scrub));
    return UNORDERED.has(key) ? items.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))) : items;
  }
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => [k, scrubValue(x, scrub, k)]));
  return v;
}

function pick(obj: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => obj[k] !== undefined).map((k) => [k, obj[k]]));
}

/** Why: two releases' plans of one WO compare equal exactly when they decide the same thing (pure). */
export function normalisePlan(plan: Record<string, unknown>, scrub: Scrub): Record<string, unknown> {
  // Scrub first (it sorts every object's keys: key order is noise), then put the compared fields in a reading order.
  const kept = pick(scrubValue(plan, scrub) as Record<string, unknown>, KEEP);
  if (Array.isArray(kept.steps)) kept.steps = kept.steps.map((s) => (s && typeof s === 'object' ? pick(s as Record<string, unknown>, STEP_KEEP) : s));
  return kept;
}

/** Why: the text the diff is made of: YAML, one field a line, multi-line diffs as indented blocks (pure). */
export function renderNormalised(plan: Record<string, unknown>): string {
  return YAML.stringify(plan, { lineWidth: 0 });
}

/** Why: the gate's evidence: a unified diff old → new of two normalised plans, undefined when they are the same (pure). */
export function planDiff(label: string, oldPlan: Record<string, unknown>, newPlan: Record<string, unknown>): string | undefined {
  const a = renderNormalised(oldPlan);
  const b = renderNormalised(newPlan);
  if (a === b) return undefined;
  return createTwoFilesPatch(`old/${label}`, `new/${label}`, a, b, 'active release', 'candidate', { context: 3 });
}
