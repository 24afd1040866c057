/** Parse once, at intake: bytes → typed WorkOrder, or every error a person needs to fix it. */
import YAML from 'yaml';
import { woSchema, KNOWN_KEYS, type RawWo, type Command, type WoLimits } from './schema.js';
import { didYouMean, formatIssues } from '../util/suggest.js';
import { sha256 } from '../util/fsx.js';
import type { WoType } from '../state/record.js';
import type { ServiceSpec } from '../services/status.js';

export interface FileSpec {
  path: string;
  mode: number | undefined;
  content: Buffer;
  validate: string | undefined;
}

export type CommandSpec = { kind: 'sh'; cmd: string; name?: string } | { kind: 'argv'; argv: string[]; name?: string };

export interface TestSpec {
  name: string;
  command: CommandSpec;
  expected: string;
}

/** A validated work order: what processors receive. */
export interface WorkOrder {
  wo_id: string | undefined;
  title: string;
  type: WoType;
  priority: 'P0' | 'P1' | 'P2' | 'P3';
  owner: string | undefined;
  created_at: string | undefined;
  description: string | undefined;
  lane: string | undefined;
  dry_run: boolean;
  files: FileSpec[];
  patches: { path: string; diff: string }[];
  delete: string[];
  commands: CommandSpec[];
  idempotent: boolean;
  paths: string[] | undefined;
  post_verify: CommandSpec[];
  tests: TestSpec[];
  /** Services to load/unload/restart after the files and commands, undone on rollback. */
  services: ServiceSpec[];
  timeout_s: number | undefined;
  retry: number | undefined;
  /** Unknown top-level fields, kept. */
  extra: Record<string, unknown>;
}

export interface ParseError {
  path: string;
  message: string;
}

export type ParseResult =
  | { ok: true; wo: WorkOrder; warnings: string[]; sha256: string }
  | { ok: false; code: 'PARSE_ERROR' | 'INVALID'; errors: ParseError[]; sha256: string; wo_id?: string };

export interface ParseOptions extends WoLimits {
  wo_bytes: number;
  /** ENTRY lane: wo_id and type may be missing (the router assigns them). */
  entry?: boolean;
  /** Unknown top-level keys are warnings (kept in `extra`) instead of errors (`--lenient`, `intake.lenient`). */
  lenient?: boolean;
}

/** Why: a typo'd key (`post_verfy`) must not let a WO run without its checks; `x-` keys are the user's own. */
export function unknownKeys(obj: Record<string, unknown>): { key: string; hint: string | undefined }[] {
  return Object.keys(obj)
    .filter((k) => !(KNOWN_KEYS as readonly string[]).includes(k) && !k.startsWith('x-'))
    .map((key) => ({ key, hint: didYouMean(key, KNOWN_KEYS) }));
}

const schemaCache = new Map<string, ReturnType<typeof woSchema>>();
function schemaFor(l: WoLimits) {
  const key = `${l.file_bytes}/${l.files}`;
  let s = schemaCache.get(key);
  if (!s) schemaCache.set(key, (s = woSchema(l)));
  return s;
}

/** Render a command for display and records. */
export function commandText(c: CommandSpec): string {
  return c.kind === 'sh' ? c.cmd : c.argv.map((a) => (/^[A-Za-z0-9_./=:@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function toCommand(c: Command): CommandSpec {
  return typeof c === 'string' ? { kind: 'sh', cmd: c } : { kind: 'argv', argv: c.argv, ...(c.name ? { name: c.name } : {}) };
}

/** Decode the file's text: YAML (aliases bounded, duplicate keys refused) or JSON (duplicate keys refused). */
export function decodeDocument(text: string, kind: 'yaml' | 'json'): { ok: true; value: unknown } | { ok: false; message: string } {
  if (kind === 'json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return { ok: false, message: `not valid JSON: ${(err as Error).message}` };
    }
    try {
      YAML.parse(text, { schema: 'json', uniqueKeys: true, maxAliasCount: 0 });
    } catch (err) {
      const msg = (err as Error).message;
      if (/unique|duplicate/i.test(msg)) return { ok: false, message: `duplicate key: ${msg.split('\n')[0]}` };
    }
    return { ok: true, value };
  }
  try {
    const doc = YAML.parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true });
    const docs = Array.isArray(doc) ? doc : [doc];
    if (docs.length > 1) return { ok: false, message: 'a file holds one WO: found several YAML documents (---)' };
    const d = docs[0];
    if (!d) return { ok: false, message: 'the file is empty' };
    if (d.errors.length) return { ok: false, message: `not valid YAML: ${d.errors[0]!.message}` };
    return { ok: true, value: d.toJS({ maxAliasCount: 100 }) };
  } catch (err) {
    return { ok: false, message: `not valid YAML: ${(err as Error).message}` };
  }
}

/** The document kind from a file name. */
export function kindOf(name: string): 'yaml' | 'json' | undefined {
  const n = name.toLowerCase();
  if (n.endsWith('.yaml') || n.endsWith('.yml')) return 'yaml';
  if (n.endsWith('.json')) return 'json';
  return undefined;
}

/** Parse and validate one WO object (already decoded). */
export function validateWo(value: unknown, opts: ParseOptions): { ok: true; wo: WorkOrder; warnings: string[] } | { ok: false; errors: ParseError[]; wo_id?: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, errors: [{ path: '(top level)', message: 'a WO is a mapping of fields (wo_id, title, type, …)' }] };
  }
  const obj = value as Record<string, unknown>;
  const maybeId = typeof obj.wo_id === 'string' ? obj.wo_id : undefined;
  if (Array.isArray(obj.wos)) {
    return { ok: false, errors: [{ path: 'wos', message: 'a bundle {"wos": [...]} is routed by the ENTRY lane: drop it in bridge/inbox/ENTRY/ (wo submit --lane ENTRY)' }] };
  }
  const parsed = schemaFor(opts).safeParse(obj);
  const errors: ParseError[] = [];
  if (!parsed.success) errors.push(...formatIssues(parsed.error.issues as never, () => []));
  if (!opts.entry && obj.wo_id === undefined) errors.push({ path: 'wo_id', message: 'is required outside the ENTRY lane (1–128 characters of A-Z a-z 0-9 . _ -)' });
  if (!opts.entry && obj.type === undefined) errors.push({ path: 'type', message: 'is required: one of apply_patch, exec, route' });
  const unknown = unknownKeys(obj);
  if (!opts.lenient) {
    for (const u of unknown) errors.push({ path: u.key, message: `unknown field${u.hint ? ` (did you mean '${u.hint}'?)` : ''}; prefix your own fields with x- (x-${u.key}), or pass --lenient / set intake.lenient: true to keep it as a warning` });
  }
  if (errors.length || !parsed.success) return { ok: false, errors, ...(maybeId ? { wo_id: maybeId } : {}) };
  const raw: RawWo = parsed.data;
  const warnings: string[] = [];
  const extra: Record<string, unknown> = {};
  for (const key of Object.keys(obj)) {
    if (!(KNOWN_KEYS as readonly string[]).includes(key)) extra[key] = obj[key];
  }
  for (const u of unknown) warnings.push(`unknown field '${u.key}' kept but not used${u.hint ? ` (did you mean '${u.hint}'?)` : ''}`);
  const type: WoType = raw.type ?? (raw.files.length || raw.patches.length || raw.delete.length ? 'apply_patch' : 'exec');
  if (type === 'exec' && (raw.files.length || raw.patches.length || raw.delete.length)) {
    return { ok: false, errors: [{ path: 'type', message: 'an exec WO runs commands only: use type apply_patch for files, patches and delete' }], ...(maybeId ? { wo_id: maybeId } : {}) };
  }
  const wo: WorkOrder = {
    wo_id: raw.wo_id,
    title: raw.title,
    type,
    priority: raw.priority,
    owner: raw.owner,
    created_at: raw.created_at,
    description: raw.description,
    lane: raw.lane,
    dry_run: raw.dry_run,
    files: raw.files.map((f) => ({
      path: f.path,
      mode: f.mode as number | undefined,
      content: f.content !== undefined ? Buffer.from(f.content) : Buffer.from(f.content_base64!.replace(/\s+/g, ''), 'base64'),
      validate: f.validate,
    })),
    patches: raw.patches,
    delete: raw.delete,
    commands: raw.commands.map(toCommand),
    idempotent: raw.idempotent,
    paths: raw.paths,
    post_verify: raw.post_verify.map(toCommand),
    tests: raw.tests.map((t) => ({ name: t.name, command: toCommand(t.command), expected: t.expected })),
    services: raw.services.map((sv): ServiceSpec => ('launchd' in sv
      ? { kind: 'launchd', plist: sv.launchd, label: sv.launchd.slice(sv.launchd.lastIndexOf('/') + 1, -'.plist'.length), action: sv.action }
      : { kind: 'systemd', unit: sv.systemd, action: sv.action })),
    timeout_s: raw.timeout_s,
    retry: raw.retry,
    extra,
  };
  for (const f of wo.files) {
    if (f.content.length > opts.file_bytes) return { ok: false, errors: [{ path: `files(${f.path}).content_base64`, message: `decodes to more than ${opts.file_bytes} bytes` }] };
  }
  return { ok: true, wo, warnings };
}

/** A WO file's bytes → its document: the name says YAML or JSON; binary and non-UTF-8 text are refused. */
export function decodeFile(bytes: Buffer, name: string): { ok: true; value: unknown } | { ok: false; message: string } {
  const kind = kindOf(name);
  if (!kind) return { ok: false, message: 'a WO file name ends in .yaml, .yml or .json' };
  if (bytes.includes(0)) return { ok: false, message: 'the file holds binary data (a NUL byte): a WO is YAML or JSON text' };
  const text = bytes.toString('utf8');
  if (text.includes('\uFFFD')) return { ok: false, message: 'the file is not valid UTF-8 text' };
  return decodeDocument(text, kind);
}

/** Parse a WO file's bytes (size is checked by the caller before reading). */
export function parseWo(bytes: Buffer, name: string, opts: ParseOptions): ParseResult {
  const digest = sha256(bytes);
  const fail = (code: 'PARSE_ERROR' | 'INVALID', message: string, path = '(file)'): ParseResult => ({ ok: false, code, errors: [{ path, message }], sha256: digest });
  if (bytes.length > opts.wo_bytes) return fail('PARSE_ERROR', `the file is ${bytes.length} bytes, over the limit of ${opts.wo_bytes}`);
  const doc = decodeFile(bytes, name);
  if (!doc.ok) return fail('PARSE_ERROR', doc.message);
  const v = validateWo(doc.value, opts);
  if (!v.ok) return { ok: false, code: 'INVALID', errors: v.errors, sha256: digest, ...(v.wo_id ? { wo_id: v.wo_id } : {}) };
  return { ok: true, wo: v.wo, warnings: v.warnings, sha256: digest };
}
