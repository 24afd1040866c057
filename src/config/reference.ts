/**
 * The config reference, generated from the zod schema (keys, types, bounds, defaults) plus one sentence per key, so
 * docs/config.md and schemas/config.schema.json cannot drift from what the daemon accepts. Pure: no I/O.
 */
import YAML from 'yaml';
import { configSchema, type ConfigFile } from './schema.js';
import { configJsonSchema, schemaText, woJsonSchema } from '../wo/jsonschema.js';

/** What each config key means, keyed by its path (`guardrail.files[].path`). A key without one still gets its row. */
export const CONFIG_DESCRIPTIONS: Record<string, string> = {
  lanes: 'Lanes (folders under bridge/inbox/) created at start; any other folder there is a lane too.',
  submit_lane: 'Where `wo submit` drops a WO given without `--lane`.',
  route: 'How the ENTRY lane routes the WOs dropped in it.',
  'route.default_lane': 'The lane a routed WO goes to when no rule matches.',
  'route.rules': 'Routing rules, first match wins, e.g. `[{when: {type: exec}, lane: OPS}, {when: {owner: mary}, lane: CLC}]`.',
  'route.rules[].when': 'What the WO must have; every given field must match.',
  'route.rules[].when.type': "The WO's type (apply_patch, exec).",
  'route.rules[].when.owner': "The WO's owner.",
  'route.rules[].when.lane': "The lane the WO asks for (its `lane` field): the rule redirects WOs naming that lane. A rule without it applies only to WOs that name no lane.",
  'route.rules[].lane': 'Where a matching WO goes.',
  concurrency: 'How many WOs that run commands (exec, validate, commands, post_verify, tests) run at the same time (WOs touching the same paths never run together).',
  io_concurrency: 'How many WOs that run no command (pure file I/O) run at the same time, beside `concurrency`; 0 makes them share the `concurrency` slots.',
  attempts: 'Tries per WO (an interrupted or transiently failed run counts as one) before it is given up.',
  intake: 'How inbox files are picked up.',
  'intake.settle_ms': 'A file written in place (owner-execute bit not set) is taken once its size and mtime were stable this long.',
  'intake.rescan_s': 'Every inbox is rescanned this often, besides file-system watching.',
  'intake.lenient': 'Unknown top-level WO keys are warnings instead of errors (keys prefixed `x-` are always allowed); `wo validate --lenient` / `wo submit --lenient` do the same for one file.',
  policy: 'Who may do what (docs/SPEC.md §6).',
  'policy.autonomy': '`observe`: plan and diff only, nothing applied; `approve`: every WO waits for `wo approve`; `guarded`: held only when a path or a program is outside the policy; `auto`: everything runs.',
  'policy.lanes': 'Per lane (by folder name), e.g. `{OPS: {autonomy: approve}, SCRATCH: {autonomy: auto, rate: {max: 20, per_s: 60}}}`.',
  'policy.lanes.<lane>.autonomy': "The lane's level: replaces `policy.autonomy` for WOs dropped in this lane (a global `observe` still wins). Hold reasons name it (`policy.lanes.OPS.autonomy is approve`).",
  'policy.lanes.<lane>.rate': 'At most `max` WOs of this lane start within any `per_s` seconds; the next ones are held for approval with the rule named (counted in memory: a restart forgets it).',
  'policy.lanes.<lane>.rate.max': 'WOs that may start in the window.',
  'policy.lanes.<lane>.rate.per_s': 'The sliding window, in seconds.',
  'policy.owners': "Per WO `owner`, e.g. `{intern-bot: {autonomy: approve}}`.",
  'policy.owners.<owner>.autonomy': "The owner's level: it only tightens the lane's (or global) level, never loosens it, since a WO names its own owner.",
  'policy.breaker': 'A lane whose WOs keep failing drops to `approve` until a person resets it (`wo resume --lane L`); the state is kept in g/run/breaker.json across restarts.',
  'policy.breaker.failures': 'Failed WOs in one lane within `window_s` that open its breaker; 0: off (e.g. 5).',
  'policy.breaker.window_s': 'The window, in seconds.',
  'policy.allow_commands': 'Programs a command may run without approval in `guarded` mode (every segment of every pipeline is checked). Not a sandbox: an allowed program runs with the daemon\'s rights.',
  'policy.allowed_roots': 'Absolute folders outside the root that WOs may write (`~/` is expanded), e.g. `~/Library/LaunchAgents`.',
  'policy.allow_self_modify': 'DANGEROUS: lets WOs write wo.config.yaml, any .git/ and this root\'s service unit (one WO could then switch policy off). bridge/ and g/ stay refused.',
  exec: 'How commands run.',
  'exec.path': 'PATH given to every command (the environment is otherwise clean).',
  'exec.timeout_s': 'Bound on each command, in seconds; its whole process tree is killed then.',
  'exec.kill_grace_s': 'Seconds between SIGTERM and SIGKILL when a command is stopped.',
  'exec.manager_timeout_s': 'Bound, in seconds, on each `launchctl`/`systemctl --user` call (a WO\'s `services:` step, the guardrail\'s service checks); the manager is killed then.',
  'policy.allow_services': 'launchd labels or systemd units a WO\'s `services:` step may load, unload or restart without approval in `guarded` mode.',
  'guardrail.services': 'launchd labels or systemd user units the guardrail checks on start and each sweep: not loaded, not running or exited 127 is drift (`wo_pipeline_drift` with `service`); `restore: true` restarts them. `wo migrate` adds the old pipeline\'s agents here.',
  'exec.output_tail_bytes': 'How much of each command\'s stdout and stderr (the tail) is kept in the record.',
  limits: 'Bounds on what a WO may hold.',
  'limits.wo_bytes': 'Largest WO file, checked before it is parsed.',
  'limits.file_bytes': "Largest content of one file in a WO (and of one patch's diff).",
  'limits.files': 'Most entries in files, patches, delete or paths of one WO.',
  'limits.min_free_bytes': 'Claiming pauses while the root\'s disk has less free space than this.',
  guardrail: 'Protected components, checked on start, on change and on a sweep (docs/SPEC.md §7).',
  'guardrail.sweep_s': 'Seconds between full sweeps (a healthy sweep emits `wo_pipeline_healthy`).',
  'guardrail.restore': 'Put a vanished or altered protected file back from the vault (the altered one is kept in the vault first).',
  'guardrail.files': 'Protected files, relative to the root.',
  'guardrail.files[].path': 'The file.',
  'guardrail.files[].executable': 'It must be executable.',
  'guardrail.files[].sha256': 'It must have exactly this content (64 lowercase hex digits).',
  'guardrail.files[].json': 'It must parse as JSON.',
  'guardrail.files[].max_age_s': 'It must have been modified within this many seconds.',
  'guardrail.dirs': 'Protected folders, relative to the root.',
  'guardrail.dirs[].path': 'The folder.',
  notify: 'Telling a person (docs/notify.md).',
  'notify.command': 'Run through /bin/sh -c with the event as one JSON line on stdin, for the events in `notify.events`; null: off.',
  'notify.desktop': 'Show a desktop notification (title, outcome, dashboard link) with the platform notifier: `osascript` on macOS, `notify-send` on Linux when it is on PATH. `WO_NOTIFY_DESKTOP=0` turns it off.',
  'notify.events': 'What is told: `failed`, `held`, `drift` (guardrail), `succeeded`, `cancelled`, `breaker` (a lane\'s breaker opened).',
  telemetry: 'The JSONL event stream g/telemetry/unified.jsonl (docs/telemetry.md).',
  'telemetry.rotate_bytes': 'The stream is rotated when it would grow past this size.',
  'telemetry.keep': 'How many rotated `unified.<stamp>.jsonl` files are kept; older ones are removed at each rotation.',
  'telemetry.otlp': 'OpenTelemetry traces: one trace per WO, a span per stage and per command (docs/metrics.md).',
  'telemetry.otlp.endpoint': 'OTLP/HTTP base URL (e.g. http://127.0.0.1:4318); null: off, and nothing OpenTelemetry is loaded. `OTEL_EXPORTER_OTLP_ENDPOINT` works too. A change needs a restart.',
  service: 'The installed service unit (docs/service-units.md).',
  'service.path_extra': 'Absolute folders added to the unit\'s PATH, after node\'s folder and before the system folders (the installing shell\'s PATH is never copied).',
  logs: 'Size rotation of g/logs/daemon.log, guardrail_alerts.log, rollback_*.log and the service manager\'s launchd.out.log / launchd.err.log.',
  'upgrade.keep_releases': '`wo upgrade` keeps this many releases under g/releases/ (the current and the previous one are never pruned).',
  'upgrade.min_free_bytes': 'Preflight refuses an upgrade when the root has less free disk than this (a release holds its own node_modules).',
  'upgrade.shadow_count': 'How many of the most recent archived WOs the shadow run replays with the old and the new release.',
  'upgrade.ready_deadline_s': 'After the switch, the new daemon must be ready (and /readyz 200) within this many seconds, else it is rolled back.',
  'upgrade.test_timeout_s': "Deadline of the candidate's `npm run test:upgrade` gate.",
  'upgrade.canary_timeout_s': 'Deadline of each canary (the throw-away root gate and the live canary after the switch).',
  'upgrade.restart': 'How the handover restarts the daemon: `auto` (the service manager when an installed unit runs g/releases/current and is active, else self), `self` (spawn it detached), `service`.',
  'logs.rotate_bytes': 'A log is rotated to `<name>.1.log` when it would grow past this size.',
  'logs.keep': 'How many rotated files of each log are kept.',
  retention: 'What the daemon removes once a day and `wo prune` removes (docs/retention.md). 0 or null: keep forever. A WO that is not terminal is never pruned, nor the record of a WO whose backup is kept.',
  'retention.records_days': 'State records of terminal WOs finished longer ago than this are removed (once their backup is gone).',
  'retention.archive_days': 'Files in bridge/archive/ older than this are removed.',
  'retention.rejected_days': 'Files in bridge/rejected/ older than this are removed; absent: as `archive_days`.',
  'retention.backups_days': 'Backups (g/backups/<id>/) of terminal WOs finished longer ago than this are removed; `wo rollback` needs them.',
  'retention.logs_days': 'Rotated telemetry and logs, past days\' rollback logs, stale live output and the reports wo writes (canary, forensic) older than this are removed.',
  'retention.interval_h': 'Hours between the daemon\'s passes; the first runs at start. 0: only `wo prune`.',
  'retention.batch': 'Deletions per batch; the daemon yields between batches, so a backlog never stalls it.',
  http: 'The local HTTP server on 127.0.0.1 (docs/http.md).',
  'http.enabled': 'Serve the dashboard, /api, /metrics, /healthz and /readyz.',
  'http.port': 'The port; 0 means any free port. A busy default falls back to a free one, a busy port set here is a start-up error.',
  shutdown: 'Stopping on SIGTERM / SIGINT.',
  'shutdown.deadline_s': 'Seconds a running WO gets to finish its step before it is cancelled and rolled back.',
};

/** The defaults: what a root without wo.config.yaml runs with. */
export function configDefaults(): ConfigFile {
  return configSchema.parse({});
}

/** The config keys of a loaded config (drops what loading adds: root, dryRun, …), in schema order. */
export function configKeysOf(c: ConfigFile): ConfigFile {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(configSchema.shape)) out[k] = (c as unknown as Record<string, unknown>)[k];
  return out as unknown as ConfigFile;
}

type Js = Record<string, unknown>;

/** The schema of a mapping's values when its keys are names the user picks (`policy.lanes.<lane>`). */
function namedValues(s: Js): Js | undefined {
  const v = s.additionalProperties;
  return v && typeof v === 'object' && (v as Js).type === 'object' ? (v as Js) : undefined;
}

/** `lanes` → `<lane>`: how the docs name a key the user picks. */
const placeholder = (key: string) => `<${key.replace(/s$/, '')}>`;

/** Describe the keys under named values (which the JSON Schema walker does not reach), as `rows` names them. */
function describeNamed(node: Js, prefix: string, under = false): void {
  for (const [k, s] of Object.entries((node.properties ?? {}) as Record<string, Js>)) {
    const p = prefix ? `${prefix}.${k}` : k;
    const d = CONFIG_DESCRIPTIONS[p];
    if (under && d && !s.description) Object.assign(s, { description: d });
    const inner = namedValues(s);
    if (inner) describeNamed(inner, `${p}.${placeholder(k)}`, true);
    if (s.type === 'object') describeNamed(s, p, under);
  }
}

/** The config JSON Schema with the descriptions above. */
export function configJsonSchemaDescribed(): Record<string, unknown> {
  const schema = configJsonSchema(CONFIG_DESCRIPTIONS);
  describeNamed(schema, '');
  return schema;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (v: unknown) => `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;

function typeOf(s: Js): string {
  if (Array.isArray(s.anyOf)) return (s.anyOf as Js[]).map(typeOf).join(' or ');
  if (s.enum) return 'one of ' + (s.enum as unknown[]).map(code).join(', ');
  if (s.type === 'array') return `list of ${typeOf((s.items as Js) ?? {})}`;
  if (s.type === 'object') return 'mapping';
  if (s.type === 'null') return 'null';
  return String(s.type ?? 'any');
}

function boundsOf(s: Js): string {
  const out: string[] = [];
  const big = (n: unknown) => typeof n === 'number' && Math.abs(n) >= Number.MAX_SAFE_INTEGER;
  const min = big(s.minimum) ? undefined : s.minimum;
  const max = big(s.maximum) ? undefined : s.maximum;
  if (min !== undefined && max !== undefined) out.push(`${min}–${max}`);
  else if (min !== undefined) out.push(`≥ ${min}`);
  if (s.exclusiveMinimum !== undefined) out.push(`> ${s.exclusiveMinimum}`);
  if (min === undefined && max !== undefined) out.push(`≤ ${max}`);
  if (s.minLength !== undefined) out.push(`at least ${s.minLength} character${s.minLength === 1 ? '' : 's'}`);
  if (s.pattern) out.push(`matches ${code(s.pattern)}`);
  const items = s.items as Js | undefined;
  if (items && items.type !== 'object') {
    const inner = boundsOf(items);
    if (inner) out.push(`each ${inner}`);
  }
  if (Array.isArray(s.anyOf)) for (const a of s.anyOf as Js[]) out.push(boundsOf(a));
  return out.filter(Boolean).join('; ');
}

function rows(node: Js, prefix: string, out: string[], required: string[] = []): void {
  const props = (node.properties ?? {}) as Record<string, Js>;
  for (const [k, s] of Object.entries(props)) {
    const p = prefix ? `${prefix}.${k}` : k;
    const isObj = s.type === 'object';
    const def = 'default' in s && !(isObj && JSON.stringify(s.default) === '{}') ? code(s.default) : required.includes(k) ? 'required' : isObj ? '(its keys)' : '—';
    out.push(`| \`${p}\` | ${cell(typeOf(s))} | ${cell(def)} | ${cell(boundsOf(s) || '—')} | ${cell(CONFIG_DESCRIPTIONS[p] ?? '—')} |`);
    if (isObj) rows(s, p, out, (s.required as string[]) ?? []);
    const named = namedValues(s);
    if (named) rows(named, `${p}.${placeholder(k)}`, out, (named.required as string[]) ?? []);
    const items = s.items as Js | undefined;
    if (items?.type === 'object') rows(items, `${p}[]`, out, (items.required as string[]) ?? []);
  }
}

/** docs/config.md: every key with type, default, bounds and meaning, then the defaults as a file. */
export function configReferenceMarkdown(): string {
  const table: string[] = [];
  rows(configJsonSchemaDescribed(), '', table);
  return [
    '# Configuration reference (`wo.config.yaml`)',
    '',
    '<!-- Generated from src/config/schema.ts and src/config/reference.ts by `npm run docs:gen` (or `wo config --reference`). Do not edit by hand: tests/docs/generated.test.ts fails when this file differs. -->',
    '',
    'The root\'s `wo.config.yaml` is optional, and so is every key in it: a missing key takes its default.',
    'Unknown keys are an error naming the key (with a did-you-mean). The daemon reloads the file when it changes',
    'and on SIGHUP; an invalid new file is refused and the old config stays. `WO_ROOT` chooses the root and',
    '`WO_DRY_RUN=1` forces dry runs (as `policy.autonomy: observe`).',
    '',
    '- `wo config --defaults` prints the effective config (these defaults merged with the root\'s file; `--json` too).',
    '- `wo schema config` prints the JSON Schema (also `schemas/config.schema.json`); start the file with',
    '  `# yaml-language-server: $schema=<path to>/schemas/config.schema.json` for completion and checks in editors.',
    '',
    '## Every key',
    '',
    '| key | type | default | allowed | meaning |',
    '|---|---|---|---|---|',
    ...table,
    '',
    '## The defaults as a file',
    '',
    '```yaml',
    YAML.stringify(configDefaults(), { lineWidth: 0 }).trimEnd(),
    '```',
    '',
  ].join('\n');
}

/** Every generated file (path relative to the repo) with its content: written by `npm run docs:gen`, compared by a test. */
export function generatedFiles(): { path: string; text: string }[] {
  return [
    { path: 'docs/config.md', text: configReferenceMarkdown() },
    { path: 'schemas/wo.schema.json', text: schemaText(woJsonSchema()) },
    { path: 'schemas/config.schema.json', text: schemaText(configJsonSchemaDescribed()) },
  ];
}
