/** Reading a WO file from the CLI: the same parser and limits as the daemon, errors a person can act on. */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../config/load.js';
import { parseWo, decodeDocument, kindOf, type ParseResult } from '../wo/parse.js';
import { planRoute } from '../processors/route.js';
import { lexicalTarget } from '../policy/paths.js';
import { UsageError } from '../errors.js';
import { declaredPaths } from '../daemon/admit.js';

export interface CheckedFile {
  file: string;
  bytes: Buffer;
  result: ParseResult;
  /** Problems beyond the schema (paths outside the root, …). */
  pathErrors: { path: string; message: string }[];
}

/** Read and validate a WO file as the daemon would for `lane`. */
export async function checkWoFile(file: string, root: string, lane: string): Promise<CheckedFile> {
  const config = await loadConfig(root);
  let st;
  try {
    st = await fsp.stat(file);
  } catch {
    throw new UsageError(`cannot read ${file}: no such file`);
  }
  if (!st.isFile()) throw new UsageError(`${file} is not a regular file`);
  if (st.size > config.limits.wo_bytes) {
    return { file, bytes: Buffer.alloc(0), result: { ok: false, code: 'PARSE_ERROR', errors: [{ path: '(file)', message: `the file is ${st.size} bytes, over the limit of ${config.limits.wo_bytes}` }], sha256: '' }, pathErrors: [] };
  }
  const bytes = await fsp.readFile(file);
  const name = path.basename(file);
  if (lane === 'ENTRY') {
    const kind = kindOf(name);
    const doc = kind ? decodeDocument(bytes.toString('utf8'), kind) : { ok: false as const, message: 'a WO file name ends in .yaml, .yml or .json' };
    if (!doc.ok) return { file, bytes, result: { ok: false, code: 'PARSE_ERROR', errors: [{ path: '(file)', message: doc.message }], sha256: '' }, pathErrors: [] };
    try {
      planRoute(doc.value, config, new Date());
    } catch (err) {
      const details = (err as { details?: { path: string; message: string }[] }).details;
      return { file, bytes, result: { ok: false, code: 'INVALID', errors: details?.length ? details : [{ path: '(file)', message: (err as Error).message }], sha256: '' }, pathErrors: [] };
    }
  }
  const result = lane === 'ENTRY' ? parseWo(bytes, name, { ...config.limits, entry: true }) : parseWo(bytes, name, config.limits);
  const pathErrors: { path: string; message: string }[] = [];
  if (result.ok && lane !== 'ENTRY') {
    for (const p of declaredPaths(result.wo)) {
      try {
        lexicalTarget(p, { root: path.resolve(root), allowedRoots: config.allowedRoots });
      } catch (err) {
        pathErrors.push({ path: p, message: (err as Error).message });
      }
    }
  }
  return { file, bytes, result, pathErrors };
}

/** Format errors as indented lines. */
export function formatErrors(errors: { path: string; message: string }[]): string {
  return errors.map((e) => `  ${e.path}: ${e.message}`).join('\n');
}
