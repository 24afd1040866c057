/**
 * JSON Schemas (draft 2020-12) for WO files and wo.config.yaml, generated from the zod schemas (input side: what a
 * person writes) so editors can check a file as it is typed. Pure: no I/O.
 */
import { z } from 'zod';
import { woSchema } from './schema.js';
import { configSchema } from '../config/schema.js';

type Json = Record<string, unknown>;

/** What each WO field means, keyed by its path (`files[].mode`); shown by editors on hover. */
export const WO_DESCRIPTIONS: Record<string, string> = {
  wo_id: 'The WO id: 1–128 characters of A-Z a-z 0-9 . _ - (not . or ..). Required except in the ENTRY lane, which assigns one.',
  title: 'A short title (required).',
  type: 'apply_patch (files, patches, delete, then commands) | exec (commands only) | route (what the ENTRY lane produces). Required except in ENTRY; there it is inferred.',
  priority: 'P0..P3, P0 runs first.',
  owner: 'Who asked for it (free text; route rules can match it).',
  created_at: 'When it was written (free text, ISO-8601 by convention).',
  description: 'Free text.',
  lane: 'In an ENTRY WO: the lane to route it to.',
  dry_run: 'Plan and diff only: nothing is applied.',
  files: 'Whole-file writes (apply_patch), each snapshotted first.',
  'files[].path': 'Relative to the root, or absolute under a configured policy.allowed_roots entry.',
  'files[].mode': 'A quoted octal string such as "0644" or "0755" (an unquoted 0644 is the decimal 644 in YAML 1.2 and is refused); no setuid, setgid or sticky bits. Omitted: an existing file keeps its mode, a new one is 0644.',
  'files[].content': 'The text content (give exactly one of content and content_base64).',
  'files[].content_base64': 'Binary content, base64 (give exactly one of content and content_base64).',
  'files[].validate': 'A command run on the temp file before it replaces the target; %s is the temp file path.',
  patches: 'Unified diffs against existing files (apply_patch).',
  'patches[].path': 'The file to patch.',
  'patches[].diff': 'A unified diff (@@ hunks); headers are optional.',
  delete: 'Paths to remove (apply_patch), snapshotted first.',
  commands: 'The main work of an exec WO (also allowed after files in apply_patch). A string runs through /bin/sh -c; {argv: [...]} runs with no shell.',
  idempotent: 'May its commands be run again after a crash interrupted them?',
  paths: 'exec: what its commands may change (snapshotted, locked and rolled back).',
  post_verify: 'Commands run after apply; any failure fails the WO (and rolls it back).',
  tests: 'Acceptance tests: each command\'s trimmed stdout must equal expected.',
  'tests[].name': 'The test\'s name, shown in the record and the dashboard.',
  'tests[].command': 'The command (a string for /bin/sh -c, or {argv: [...]}).',
  'tests[].expected': 'The expected trimmed stdout (numbers and booleans are compared as text).',
  timeout_s: 'Bound on the whole WO, in seconds (each command also has exec.timeout_s).',
  retry: 'How many more tries after a transient failure (a busy resource, not a failed check); default 0.',
  'command.argv': 'The program and its arguments; no shell is involved.',
  'command.name': 'A label shown instead of the argv.',
};

/** The limits the published WO schema states (the config defaults; a root may configure others). */
export function defaultWoLimits(): { file_bytes: number; files: number } {
  const d = configSchema.parse({}).limits;
  return { file_bytes: d.file_bytes, files: d.files };
}

/** Walk object properties and array items, calling `fn` with the dotted path (`files[].mode`) of each property. */
function walk(node: Json, prefix: string, fn: (path: string, prop: Json, parent: Json) => void): void {
  const props = node.properties as Record<string, Json> | undefined;
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      const p = prefix ? `${prefix}.${k}` : k;
      fn(p, v, node);
      walk(v, p, fn);
    }
  }
  const items = node.items as Json | undefined;
  if (items) walk(items, `${prefix}[]`, fn);
  for (const alt of (node.anyOf as Json[] | undefined) ?? []) walk(alt, prefix, fn);
}

/** Put `descriptions[path]` on each property that has one (placed first, so it reads well in the file). */
function describe(root: Json, descriptions: Record<string, string>, fallback: (path: string) => string | undefined = () => undefined): void {
  walk(root, '', (p, prop) => {
    const d = descriptions[p] ?? fallback(p);
    if (!d) return;
    const rest = { ...prop };
    for (const k of Object.keys(prop)) delete prop[k];
    Object.assign(prop, { description: d }, rest);
  });
}

function at(root: Json, ...keys: string[]): Json {
  let node: unknown = root;
  for (const k of keys) {
    node = (node as Json | undefined)?.[k];
    if (node === undefined) throw new Error(`jsonschema: the zod schema no longer has ${keys.join('.')}`);
  }
  return node as Json;
}

/**
 * The WO file schema. Beyond what zod emits it states the rules zod checks in code: `mode` as a quoted octal string
 * without special bits, exactly one of content/content_base64, ids other than . and .., exec WOs without files, and
 * unknown top-level keys refused unless prefixed `x-`. A bundle `{"wos": [...]}` (ENTRY lane) is accepted too.
 */
export function woJsonSchema(limits = defaultWoLimits()): Json {
  const wo = z.toJSONSchema(woSchema(limits), { io: 'input', unrepresentable: 'any' }) as Json;
  delete wo.$schema;
  const props = at(wo, 'properties');
  const file = at(props, 'files', 'items');
  at(file, 'properties', 'mode');
  (file.properties as Json).mode = { type: 'string', pattern: '^0{0,2}[0-7]{3}$' };
  file.oneOf = [{ required: ['content'] }, { required: ['content_base64'] }];
  const id = at(props, 'wo_id');
  id.not = { enum: ['.', '..'] };
  // Paths: at most 4096 (bytes in the parser; characters here) and no NUL.
  const pathRule = { maxLength: 4096, pattern: '^[^\\u0000]*$' };
  for (const k of ['delete', 'paths']) Object.assign(at(props, k, 'items'), pathRule);
  for (const k of ['files', 'patches']) Object.assign(at(props, k, 'items', 'properties', 'path'), pathRule);
  wo.if = { required: ['type'], properties: { type: { const: 'exec' } } };
  wo.then = { properties: { files: { maxItems: 0 }, patches: { maxItems: 0 }, delete: { maxItems: 0 } } };
  wo.additionalProperties = false;
  wo.patternProperties = { '^x-': {} };
  describe(wo, WO_DESCRIPTIONS, (p) => {
    const m = /\.(argv|name)$/.exec(p);
    return m ? WO_DESCRIPTIONS[`command.${m[1]}`] : undefined;
  });
  const defs = (wo.$defs as Json | undefined) ?? {};
  delete wo.$defs;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'wo work order',
    description: `A work order for wo (docs/wo-format.md). It states limits.file_bytes ${limits.file_bytes} and limits.files ${limits.files} (the defaults, unless printed by \`wo schema wo\` for a root that sets others). In the ENTRY lane a JSON file may be a bundle {"wos": [...]}.`,
    anyOf: [
      { $ref: '#/$defs/work_order' },
      { type: 'object', properties: { wos: { type: 'array', minItems: 1, items: { $ref: '#/$defs/work_order' } } }, required: ['wos'], additionalProperties: false },
    ],
    $defs: { ...defs, work_order: wo },
  };
}

/** The wo.config.yaml schema: every key optional, with its default and its description. */
export function configJsonSchema(descriptions: Record<string, string>): Json {
  const c = z.toJSONSchema(configSchema, { io: 'input' }) as Json;
  delete c.$schema;
  describe(c, descriptions);
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'wo.config.yaml',
    description: 'The configuration of a wo root (docs/config.md). Every key is optional; unknown keys are errors.',
    ...c,
  };
}

/** A schema as the committed file holds it: two-space JSON with a final newline. */
export function schemaText(schema: Json): string {
  return JSON.stringify(schema, null, 2) + '\n';
}
