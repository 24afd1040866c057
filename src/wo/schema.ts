/** The work-order schema (SPEC §3): strict on types and limits, with messages a person can act on. */
import { z } from 'zod';

export const WO_ID_RE = /^[A-Za-z0-9._-]{1,128}$/;

export interface WoLimits {
  file_bytes: number;
  files: number;
}

const pathField = z
  .string({ error: 'must be a path (a string)' })
  .min(1, 'must not be empty')
  .refine((p) => Buffer.byteLength(p) <= 4096, 'is longer than 4096 bytes')
  .refine((p) => !p.includes('\0'), 'must not contain a NUL byte');

/** A mode is a quoted octal string; numbers and special bits are refused with the reason. */
const modeField = z.unknown().transform((v, ctx) => {
  if (typeof v === 'number') {
    ctx.addIssue({
      code: 'custom',
      message: `must be a quoted octal string such as "0644": the unquoted ${v} is read by YAML 1.2 as the decimal number ${v}`,
    });
    return z.NEVER;
  }
  if (typeof v !== 'string' || !/^0?[0-7]{3,4}$/.test(v)) {
    ctx.addIssue({ code: 'custom', message: 'must be a quoted octal string such as "0644" or "0755"' });
    return z.NEVER;
  }
  const n = parseInt(v, 8);
  if (n & 0o7000) {
    ctx.addIssue({ code: 'custom', message: `setuid, setgid and sticky bits are refused (got "${v}"); use a mode up to "0777"` });
    return z.NEVER;
  }
  return n;
});

const command = z.union(
  [
    z.string().min(1, 'a command must not be empty'),
    z.strictObject({ argv: z.array(z.string()).min(1, 'argv needs at least the program'), name: z.string().optional() }),
  ],
  { error: 'a command is a string (run through /bin/sh -c) or { argv: [program, args…] }' },
);

const serviceAction = z.enum(['load', 'unload', 'restart'], { error: 'must be one of load, unload, restart' });
/** A launchd plist: its file name is the agent's label (`com.x.agent.plist` → `com.x.agent`). */
const plistField = pathField.refine((p) => /(^|\/)[A-Za-z0-9][A-Za-z0-9._-]{0,254}\.plist$/.test(p), 'must be a plist path whose file name is the label: <label>.plist (letters, digits, . _ -)');
const unitField = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9@._:\\-]{0,250}\.(service|timer|socket|path|target)$/, 'must be a systemd unit name such as x.service (no path, no spaces)');
const serviceEntry = z.union(
  [z.strictObject({ launchd: plistField, action: serviceAction }), z.strictObject({ systemd: unitField, action: serviceAction })],
  { error: 'a service is {launchd: <plist path>, action: load|unload|restart} or {systemd: <unit>, action: …}' },
);

/** Build the WO schema for the configured limits. */
export function woSchema(limits: WoLimits) {
  const b64max = Math.ceil((limits.file_bytes * 4) / 3) + 4;
  const fileEntry = z
    .strictObject({
      path: pathField,
      mode: modeField.optional(),
      content: z.string().max(limits.file_bytes, `content is larger than the limit of ${limits.file_bytes} bytes`).optional(),
      content_base64: z
        .string()
        .max(b64max, `content is larger than the limit of ${limits.file_bytes} bytes`)
        .regex(/^[A-Za-z0-9+/=\s]*$/, 'is not base64')
        .optional(),
      validate: z.string().min(1).optional(),
    })
    .refine((f) => (f.content === undefined) !== (f.content_base64 === undefined), {
      message: 'give exactly one of content or content_base64',
    });

  return z.looseObject({
    wo_id: z.string().regex(WO_ID_RE, 'must be 1–128 characters of A-Z a-z 0-9 . _ -').refine((s) => s !== '.' && s !== '..', 'must not be . or ..').optional(),
    title: z.string({ error: 'is required: a short title (a string)' }).min(1, 'must not be empty').max(500),
    type: z.enum(['apply_patch', 'exec', 'route'], { error: 'must be one of apply_patch, exec, route' }).optional(),
    priority: z.enum(['P0', 'P1', 'P2', 'P3'], { error: 'must be one of P0, P1, P2, P3 (P0 first)' }).default('P2'),
    owner: z.string().max(200).optional(),
    created_at: z.string().max(100).optional(),
    description: z.string().max(1_000_000).optional(),
    lane: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'a lane is a folder name: letters, digits, . _ -').optional(),
    dry_run: z.boolean().default(false),
    files: z.array(fileEntry).max(limits.files, `more than ${limits.files} files`).default([]),
    patches: z.array(z.strictObject({ path: pathField, diff: z.string().min(1).max(limits.file_bytes) })).max(limits.files).default([]),
    delete: z.array(pathField).max(limits.files).default([]),
    commands: z.array(command).max(1000).default([]),
    idempotent: z.boolean().default(false),
    paths: z.array(pathField).max(limits.files).optional(),
    post_verify: z.array(command).max(1000).default([]),
    tests: z
      .array(
        z.strictObject({
          name: z.string().min(1),
          command: command,
          expected: z.union([z.string(), z.number(), z.boolean()]).transform(String),
        }),
      )
      .max(1000)
      .default([]),
    services: z.array(serviceEntry).max(100).default([]),
    timeout_s: z.number().positive().max(86_400).optional(),
    retry: z.number().int().min(0).max(100).optional(),
  });
}

export type WoSchema = ReturnType<typeof woSchema>;
export type RawWo = z.output<WoSchema>;
export type Command = RawWo['commands'][number];

/** The top-level keys the schema knows (for unknown-field warnings and did-you-mean). */
export const KNOWN_KEYS = [
  'wo_id', 'title', 'type', 'priority', 'owner', 'created_at', 'description', 'lane', 'dry_run', 'files', 'patches',
  'delete', 'commands', 'idempotent', 'paths', 'post_verify', 'tests', 'services', 'timeout_s', 'retry',
] as const;
