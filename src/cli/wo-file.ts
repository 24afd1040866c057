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

/** Read and validate a WO file as the daemon would for `lane` (schema, then path confinement). */
export async function checkWoFile(file: string, root: string, lane: string): Promise<CheckedFile> {
  const config = await loadConfig(root);
  const st = await fsp.stat(file).catch(() => undefined);
  if (!st) throw new UsageError(`cannot read ${file}: no such file`);
  if (!st.isFile()) throw new UsageError(`${file} is not a regular file`);
  const base = { file, bytes: Buffer.alloc(0), sha256: '', warnings: [] as string[] };
  if (st.size > config.limits.wo_bytes) return { ...base, errors: [{ path: '(file)', message: `the file is ${st.size} bytes, over the limit of ${config.limits.wo_bytes} (limits.wo_bytes)` }] };
  const bytes = await fsp.readFile(file);
  const name = path.basename(file);
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
  const result = parseWo(bytes, name, config.limits);
  if (!result.ok) return { ...base, bytes, sha256: digest, errors: result.errors };
  const { refusals: errors } = woTargets(result.wo, pathPolicy(config));
  return { ...base, bytes, sha256: digest, errors, warnings: result.warnings, id: result.wo.wo_id!, type: result.wo.type };
}

/** Format errors as indented lines. */
export function formatErrors(errors: { path: string; message: string }[]): string {
  return errors.map((e) => `  ${e.path}: ${e.message}`).join('\n');
}
