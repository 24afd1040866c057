/** WO and config fixtures for the schema tests: the examples, plus the literal YAML/JSON strings the other tests use. */
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from '../helpers.js';

export interface Fixture {
  /** Where it came from (file and a short excerpt), for failure messages. */
  where: string;
  text: string;
  kind: 'yaml' | 'json';
}

/** Cook the escapes of a JS string literal's body (the few the tests use); undefined when it has others. */
function cook(body: string): string | undefined {
  if (/\\[xu]/.test(body)) return undefined;
  const map: Record<string, string> = { n: '\n', t: '\t', '\\': '\\', "'": "'", '"': '"', '`': '`', '0': '\0' };
  let ok = true;
  const out = body.replace(/\\(.)/g, (_, c: string) => {
    if (!(c in map)) ok = false;
    return map[c] ?? c;
  });
  return ok ? out : undefined;
}

function testFiles(dir = path.join(REPO, 'tests')): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory() && e.name !== 'docs') out.push(...testFiles(p));
    else if (e.isFile() && e.name.endsWith('.ts')) out.push(p);
  }
  return out.sort();
}

/** Every string literal in the tests' sources (single-quoted, or a template without `${`), cooked. */
function literals(): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  for (const file of testFiles()) {
    const src = fs.readFileSync(file, 'utf8');
    const rel = path.relative(REPO, file);
    for (const m of src.matchAll(/'((?:[^'\\\n]|\\.)*)'|`((?:[^`\\$]|\\.|\$(?!\{))*)`/g)) {
      const text = cook(m[1] ?? m[2] ?? '');
      if (text !== undefined) out.push({ file: rel, text });
    }
  }
  return out;
}

const short = (s: string) => JSON.stringify(s.slice(0, 60));

/** WO fixtures: literals that are a whole WO (YAML with a title line, or a JSON object with a title). */
export function woFixtures(): Fixture[] {
  const out: Fixture[] = [];
  for (const { file, text } of literals()) {
    if (/^\s*\{[\s\S]*"title"\s*:[\s\S]*\}\s*$/.test(text)) out.push({ where: `${file} ${short(text)}`, text, kind: 'json' });
    else if (/^(wo_id|title):/.test(text) && /^title:/m.test(text) && text.includes('\n')) out.push({ where: `${file} ${short(text)}`, text, kind: 'yaml' });
  }
  return out;
}

/** Config fixtures: the literal first argument of every `tempRoot(...)` call in the tests. */
export function configFixtures(): Fixture[] {
  const out: Fixture[] = [];
  for (const file of testFiles()) {
    const src = fs.readFileSync(file, 'utf8');
    for (const m of src.matchAll(/tempRoot\(\s*(?:'((?:[^'\\\n]|\\.)*)'|`((?:[^`\\$]|\\.|\$(?!\{))*)`)\s*\)/g)) {
      const text = cook(m[1] ?? m[2] ?? '');
      if (text !== undefined && text.trim()) out.push({ where: `${path.relative(REPO, file)} ${short(text)}`, text, kind: 'yaml' });
    }
  }
  return out;
}

/** The files in examples/ (WOs in YAML, and the ENTRY bundle in JSON). */
export function exampleFiles(): Fixture[] {
  const dir = path.join(REPO, 'examples');
  return fs
    .readdirSync(dir)
    .filter((n) => /\.(ya?ml|json)$/.test(n))
    .sort()
    .map((n) => ({ where: `examples/${n}`, text: fs.readFileSync(path.join(dir, n), 'utf8'), kind: n.endsWith('.json') ? ('json' as const) : ('yaml' as const) }));
}
