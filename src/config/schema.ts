/** The config file's schema (SPEC §12): what the user writes, every key optional with its default. */
import { z } from 'zod';

export const DEFAULT_ALLOW_COMMANDS = [
  'test', '[', 'true', 'false', 'echo', 'printf', 'cat', 'ls', 'grep', 'wc', 'head', 'tail', 'sort', 'uniq',
  'cut', 'tr', 'stat', 'sha256sum', 'shasum', 'diff', 'cmp', 'date', 'pwd', 'basename', 'dirname', 'mkdir', 'sleep',
];

/** What a lane name may be (config lanes and folders under bridge/inbox/ alike). */
export const LANE_RE = /^[A-Za-z0-9._-]{1,64}$/;

const laneName = z.string().regex(LANE_RE, 'a lane is a folder name: letters, digits, . _ -');

const routeRule = z.strictObject({
  when: z.strictObject({ type: z.string().optional(), owner: z.string().optional(), lane: z.string().optional() }),
  lane: laneName,
});

const guardFile = z.strictObject({
  path: z.string().min(1),
  executable: z.boolean().optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 is 64 lowercase hex digits').optional(),
  json: z.boolean().optional(),
  max_age_s: z.number().int().positive().optional(),
});

/** A retention age in days: 0 or null keep forever. */
const days = z.number().min(0).max(36_500).nullable();

const autonomy = z.enum(['observe', 'approve', 'guarded', 'auto']);

/** What a notification can be about (`notify.events`); the default tells failures, holds and drift. */
export const NOTIFY_EVENTS = ['failed', 'held', 'drift', 'succeeded', 'cancelled', 'breaker'] as const;
export type NotifyEvent = (typeof NOTIFY_EVENTS)[number];

const lanePolicy = z.strictObject({
  autonomy: autonomy.optional(),
  rate: z.strictObject({ max: z.number().int().min(1).max(1_000_000), per_s: z.number().positive().max(86_400 * 7) }).optional(),
});

export const configSchema = z.strictObject({
  lanes: z.array(laneName).default(['ENTRY', 'CLC']),
  submit_lane: laneName.default('CLC'),
  route: z.strictObject({
    default_lane: laneName.default('CLC'),
    rules: z.array(routeRule).default([]),
  }).prefault({}),
  concurrency: z.number().int().min(1).max(64).default(2),
  // WOs that run no command (pure file I/O) run in their own pool of this size; 0: they share `concurrency`.
  io_concurrency: z.number().int().min(0).max(256).default(16),
  attempts: z.number().int().min(1).max(100).default(3),
  intake: z.strictObject({
    settle_ms: z.number().int().min(0).max(600_000).default(200),
    rescan_s: z.number().min(1).max(86_400).default(30),
    // true: unknown top-level WO keys are warnings (kept), not INVALID (the pre-0.2 behaviour)
    lenient: z.boolean().default(false),
  }).prefault({}),
  policy: z.strictObject({
    autonomy: autonomy.default('guarded'),
    // Per lane: its own level (replaces policy.autonomy there) and a rate limit; per owner: a level that only tightens.
    lanes: z.record(laneName, lanePolicy).default({}),
    owners: z.record(z.string().min(1).max(200), z.strictObject({ autonomy })).default({}),
    // After `failures` failed WOs in a lane within `window_s`, the lane holds every WO until reset; 0 failures: off.
    breaker: z.strictObject({
      failures: z.number().int().min(0).max(10_000).default(0),
      window_s: z.number().positive().max(86_400 * 7).default(600),
    }).prefault({}),
    allow_commands: z.array(z.string().min(1)).default(DEFAULT_ALLOW_COMMANDS),
    allowed_roots: z.array(z.string().min(1)).default([]),
    // launchd labels / systemd units a WO's services: step may act on without approval in guarded mode.
    allow_services: z.array(z.string().min(1)).default([]),
    // DANGEROUS: true lets WOs write the root's control files (wo.config.yaml, any .git/, this root's installed
    // service unit): one file-only WO can then turn policy off or run code at the next git command.
    allow_self_modify: z.boolean().default(false),
  }).prefault({}),
  exec: z.strictObject({
    path: z.string().min(1).default('/usr/local/bin:/opt/homebrew/bin:/usr/bin:/bin:/usr/sbin:/sbin'),
    timeout_s: z.number().positive().max(86_400).default(60),
    kill_grace_s: z.number().min(0).max(600).default(5),
    output_tail_bytes: z.number().int().min(256).max(16 * 1024 * 1024).default(65_536),
    // Bound on each launchctl/systemctl call (services: steps, the guardrail's service checks).
    manager_timeout_s: z.number().positive().max(3600).default(30),
  }).prefault({}),
  limits: z.strictObject({
    wo_bytes: z.number().int().positive().default(16 * 1024 * 1024),
    file_bytes: z.number().int().positive().default(10 * 1024 * 1024),
    files: z.number().int().positive().default(1000),
    min_free_bytes: z.number().int().min(0).default(100 * 1024 * 1024),
  }).prefault({}),
  guardrail: z.strictObject({
    sweep_s: z.number().min(1).max(86_400).default(300),
    restore: z.boolean().default(false),
    files: z.array(guardFile).default([]),
    dirs: z.array(z.strictObject({ path: z.string().min(1) })).default([]),
    // launchd labels / systemd user units checked on start and each sweep (loaded, running, last exit).
    services: z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9@._:\\-]{0,254}$/, 'a launchd label or systemd unit name (letters, digits, @ . _ : - \\)')).default([]),
  }).prefault({}),
  notify: z.strictObject({
    command: z.string().min(1).nullable().default(null),
    desktop: z.boolean().default(true),
    events: z.array(z.enum(NOTIFY_EVENTS)).default(['failed', 'held', 'drift']),
  }).prefault({}),
  telemetry: z.strictObject({
    rotate_bytes: z.number().int().min(4096).default(64 * 1024 * 1024),
    // Rotated unified.<stamp>.jsonl files kept (the oldest beyond this are removed at each rotation).
    keep: z.number().int().min(1).max(10_000).default(20),
    // OTLP/HTTP traces (one per WO attempt); null ⇒ OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, else no tracing.
    otlp: z.strictObject({ endpoint: z.url({ protocol: /^https?$/ }).nullable().default(null) }).prefault({}),
  }).prefault({}),
  http: z.strictObject({
    enabled: z.boolean().default(true),
    port: z.number().int().min(0).max(65_535).default(8765),
  }).prefault({}),
  shutdown: z.strictObject({ deadline_s: z.number().positive().max(3600).default(10) }).prefault({}),
  // Folders added to the service unit's PATH (after node's folder, before the system folders).
  service: z.strictObject({ path_extra: z.array(z.string().regex(/^\/[^:\n]*$/, 'an absolute folder without ":"')).default([]) }).prefault({}),
  // `wo upgrade`: releases under g/releases/, preflight floor, shadow size, handover deadline, how the daemon is restarted.
  upgrade: z.strictObject({
    keep_releases: z.number().int().min(2).max(100).default(3),
    min_free_bytes: z.number().int().min(0).default(1024 * 1024 * 1024),
    shadow_count: z.number().int().min(0).max(10_000).default(50),
    ready_deadline_s: z.number().positive().max(3600).default(60),
    test_timeout_s: z.number().positive().max(7200).default(300),
    canary_timeout_s: z.number().positive().max(3600).default(60),
    restart: z.enum(['auto', 'self', 'service']).default('auto'),
  }).prefault({}),
  // Size rotation of g/logs/daemon.log, guardrail_alerts.log and rollback_*.log: `keep` older files each.
  logs: z.strictObject({
    rotate_bytes: z.number().int().min(1024).default(10 * 1024 * 1024),
    keep: z.number().int().min(1).max(100).default(5),
  }).prefault({}),
  // What the daemon (once a day) and `wo prune` remove; 0 or null: keep forever. Live WOs are never pruned.
  retention: z.strictObject({
    records_days: days.default(90),
    archive_days: days.default(30),
    // Absent: as archive_days.
    rejected_days: days.optional(),
    backups_days: days.default(14),
    logs_days: days.default(30),
    // Hours between the daemon's passes (the first runs at start); 0: only `wo prune`.
    interval_h: z.number().min(0).max(24 * 365).default(24),
    // Deletions per batch; the daemon yields to its loop between batches.
    batch: z.number().int().min(1).max(100_000).default(500),
  }).prefault({}),
});

export type ConfigInput = z.input<typeof configSchema>;
export type ConfigFile = z.output<typeof configSchema>;
