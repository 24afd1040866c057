/**
 * Is a parsed JSON value a wo state record for this id? Pure: the one check every reader relies on, so a file
 * wo did not write (a migrating user's old state, a folder, garbage) is reported, never used as a record.
 */
import { z } from 'zod';
import { STAGES, STATUSES } from './record.js';

/** The biggest record file read (output tails and diffs are capped far below this). */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

const str = z.string();
const strs = z.array(str);

// The fields the CLI, the API, the dashboard and the daemon read; unknown fields are kept (loose objects).
const recordSchema = z.looseObject({
  schema: z.literal(1),
  wo_id: str,
  title: str,
  lane: str,
  type: str,
  priority: str,
  status: z.enum(STATUSES),
  stage: z.enum(STAGES),
  stage_index: z.number().int().min(0).max(STAGES.length),
  stages_total: z.number().int().min(0).max(STAGES.length),
  attempt: z.number().int().min(0),
  attempts: z.array(z.looseObject({ attempt: z.number(), status: str })),
  sha256: str,
  file: str,
  source_name: str,
  rolled_back: z.boolean(),
  dry_run: z.boolean(),
  times: z.record(str, str),
  files: z.array(z.looseObject({ path: str, action: str, before_sha256: str.nullable(), after_sha256: str.nullable(), mode: str.nullable().optional() })),
  commands: z.array(z.looseObject({ phase: str, cmd: str, stdout_tail: str, stderr_tail: str, duration_ms: z.number() })),
  tests: z.array(z.looseObject({ name: str, passed: z.boolean() })),
  warnings: strs,
  error: z.looseObject({ code: str, message: str }).optional(),
  hold_reasons: strs.optional(),
  plan: z.array(z.looseObject({ step: str, verdict: str, diff: str.optional() })).optional(),
  routed_ids: strs.optional(),
});

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/** Why: say what is wrong with a parsed record file in one line, or undefined when it is a record of `id`. */
export function recordProblem(value: unknown, id: string): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `holds ${kindOf(value)}, not a JSON object`;
  const v = value as Record<string, unknown>;
  if (v.schema === undefined && v.wo_id === undefined) return 'has no schema or wo_id';
  if (v.schema !== 1) return v.schema === undefined ? 'has no schema' : `has schema ${JSON.stringify(v.schema)}, not 1`;
  if (v.wo_id !== id) return v.wo_id === undefined ? 'has no wo_id' : `holds wo_id ${JSON.stringify(v.wo_id)}, not ${JSON.stringify(id)} (its file name)`;
  const r = recordSchema.safeParse(v);
  if (r.success) return undefined;
  const issues = r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`);
  return `has wrong fields: ${issues.join('; ')}${r.error.issues.length > 3 ? ` (and ${r.error.issues.length - 3} more)` : ''}`;
}
