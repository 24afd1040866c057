/** Load, validate and resolve the config once: file + defaults + environment overrides. */
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { configSchema, type ConfigFile } from './schema.js';
import { UsageError } from '../errors.js';
import { formatIssues } from '../util/suggest.js';
import { layout } from '../layout.js';

export interface Config extends ConfigFile {
  root: string;
  /** WO_DRY_RUN=1 or autonomy observe: nothing is applied. */
  dryRun: boolean;
  /** Whether `port` came from the file (a busy explicit port is an error; the default falls back). */
  portExplicit: boolean;
  /** allowed_roots resolved to absolute paths (~ expanded). */
  allowedRoots: string[];
  /** policy.allow_self_modify (dangerous): WOs may write wo.config.yaml, .git/ and this root's service unit. */
  allowSelfModify: boolean;
}

/** Known keys at a path of the config schema, for did-you-mean (a record's key, e.g. a lane name, steps into its values). */
function keysAt(p: PropertyKey[]): string[] {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const unwrap = (n: any): any => (n?._zod?.def?.innerType ? unwrap(n._zod.def.innerType) : n);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let node: any = configSchema;
  for (const k of p) {
    node = unwrap(node);
    node = node?._zod?.def?.type === 'record' ? node._zod.def.valueType : node?.shape?.[k as string];
    if (!node) return [];
  }
  return Object.keys(unwrap(node)?.shape ?? {});
}

/** Parse config text; throws UsageError with every problem listed. */
export function parseConfig(text: string, root: string, env: NodeJS.ProcessEnv = process.env): Config {
  let raw: unknown;
  try {
    raw = YAML.parse(text, { maxAliasCount: 100, uniqueKeys: true }) ?? {};
  } catch (err) {
    throw new UsageError(`wo.config.yaml: not valid YAML: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError('wo.config.yaml: the top level must be a mapping of keys');
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = formatIssues(parsed.error.issues as never, keysAt).map((i) => `  ${i.path}: ${i.message}`);
    throw new UsageError(`wo.config.yaml is invalid:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  const expand = (p: string) => path.resolve(p.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p);
  return {
    ...c,
    // WO_NOTIFY_DESKTOP=0 (tests, CI, headless hosts) turns desktop notifications off whatever the file says.
    notify: { ...c.notify, desktop: c.notify.desktop && env.WO_NOTIFY_DESKTOP !== '0' },
    root,
    dryRun: env.WO_DRY_RUN === '1' || c.policy.autonomy === 'observe',
    portExplicit: (raw as { http?: { port?: unknown } }).http?.port !== undefined,
    allowedRoots: c.policy.allowed_roots.map(expand),
    allowSelfModify: c.policy.allow_self_modify,
  };
}

/** Load `<root>/wo.config.yaml` (absent ⇒ all defaults). */
export async function loadConfig(root: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  let text = '';
  try {
    text = await fsp.readFile(layout(root).configFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return parseConfig(text, root, env);
}
