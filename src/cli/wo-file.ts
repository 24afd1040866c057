/** Reading a WO file from the CLI: the same parser and limits as the daemon, errors a person can act on. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../config/load.js';
import { parseWo, decodeFile } from '../wo/parse.js';
import { planRoute, routeId } from '../processors/route.js';
import { woTargets } from '../policy/targets.js';
import { pathPolicy } from '../policy/context.js';
import { UsageError } from '../errors.js';
import { sha256 } from '../util/fsx.js';

export interface CheckedFile {
  file: string;
  /** The name it is judged by: the file's base name, or `stdin.yaml` / `stdin.json` for standard input. */
  name: string;
  bytes: Buffer;
  sha256: string;
  /** Empty when the daemon would take it. */
  errors: { path: string; message: string }[];
  warnings: string[];
  /** The id its record will have (ENTRY: `route-<sha8>`). */
  id?: string;
  type?: string;
  /** ENTRY: how many WOs it routes. */
  routes?: number;
}

export interface CheckOptions {
  /** Unknown top-level keys are warnings, not errors (`--lenient`); default: the config's `intake.lenient`. */
  lenient?: boolean;
}

/** The name `-` means standard input. */
export const STDIN = '-';

/** Why: `cat wo.yaml | wo submit -` has no file name to say YAML or JSON, so the text says it. */
export function sniffKind(bytes: Buffer): 'json' | 'yaml' {
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '').trimStart();
  if (!text.startsWith('{') && !text.startsWith('[')) return 'yaml';
  try {
    JSON.parse(text);
    return 'json';
  } catch {
    return 'yaml';
  }
}

/** Read standard input whole, stopping one byte past `max` (the caller reports the size). */
async function readStdin(max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    n += chunk.length;
    if (n > max) break;
  }
  return Buffer.concat(chunks);
}

/** Read and validate a WO file (or `-`, standard input) as the daemon would for `lane` (schema, then path confinement). */
export async function checkWoFile(file: string, root: string, lane: string, opts: CheckOptions = {}): Promise<CheckedFile> {
  const loaded = await loadConfig(root);
  const config = { ...loaded, intake: { ...loaded.intake, lenient: opts.lenient ?? loaded.intake.lenient } };
  const base = { file, name: file === STDIN ? 'stdin.yaml' : path.basename(file), bytes: Buffer.alloc(0), sha256: '', warnings: [] as string[] };
  const tooBig = (size: number): CheckedFile => ({ ...base, errors: [{ path: '(file)', message: `the file is ${size} bytes, over the limit of ${config.limits.wo_bytes} (limits.wo_bytes)` }] });
  let bytes: Buffer;
  let name: string;
  if (file === STDIN) {
    if (process.stdin.isTTY) throw new UsageError('wo submit - reads the WO from standard input: pipe it in (cat wo.yaml | wo submit -)');
    bytes = await readStdin(config.limits.wo_bytes);
    if (bytes.length > config.limits.wo_bytes) return tooBig(bytes.length);
    name = `stdin.${sniffKind(bytes)}`;
  } else {
    const st = await fsp.stat(file).catch(() => undefined);
    if (!st) throw new UsageError(`cannot read ${file}: no such file`);
    if (!st.isFile()) throw new UsageError(`${file} is not a regular file`);
    if (st.size > config.limits.wo_bytes) return tooBig(st.size);
    bytes = await fsp.readFile(file);
    name = path.basename(file);
  }
  base.name = name;
  const digest = sha256(bytes);
  if (lane === 'ENTRY') {
    const doc = decodeFile(bytes, name);
    if (!doc.ok) return { ...base, bytes, sha256: digest, errors: [{ path: '(file)', message: doc.message }] };
    try {
      const deliveries = planRoute(doc.value, config, new Date());
      return { ...base, bytes, sha256: digest, errors: [], id: routeId(digest), type: 'route', routes: deliveries.length };
    } catch (err) {
      const details = (err as { details?: { path: string; message: string }[] }).details;
      return { ...base, bytes, sha256: digest, errors: details?.length ? details : [{ path: '(file)', message: (err as Error).message }] };
    }
  }
  const result = parseWo(bytes, name, { ...config.limits, lenient: config.intake.lenient });
  if (!result.ok) return { ...base, bytes, sha256: digest, errors: result.errors };
  const { refusals: errors } = woTargets(result.wo, pathPolicy(config));
  return { ...base, bytes, sha256: digest, errors, warnings: result.warnings, id: result.wo.wo_id!, type: result.wo.type };
}

/** Format errors as indented lines. */
export function formatErrors(errors: { path: string; message: string }[]): string {
  return errors.map((e) => `  ${e.path}: ${e.message}`).join('\n');
}
