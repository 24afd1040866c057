/**
 * The JSON Schemas agree with the zod schemas the daemon uses: every example validates, and for every WO and config
 * fixture the tests use, ajv and the real parser give the same verdict (valid or not).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import Ajv2020Module from 'ajv/dist/2020.js';
import YAML from 'yaml';
import { decodeDocument, validateWo } from '../../src/wo/parse.js';
import { KNOWN_KEYS } from '../../src/wo/schema.js';
import { configSchema } from '../../src/config/schema.js';
import { configDefaults } from '../../src/config/reference.js';
import { REPO } from '../helpers.js';
import { configFixtures, exampleFiles, woFixtures, type Fixture } from './fixtures.js';

// ajv is CommonJS: under node's ESM interop its class is the module's `default`.
const Ajv2020 = (Ajv2020Module as unknown as { default: typeof Ajv2020Module.default }).default ?? Ajv2020Module.default;
const load = (name: string) => JSON.parse(fs.readFileSync(path.join(REPO, 'schemas', name), 'utf8'));
const ajv = new Ajv2020({ allErrors: true, strict: true, strictTypes: false, strictTuples: false, strictRequired: false });
// zod's z.url() emits `format: uri`; ajv knows no formats without ajv-formats, so define the one we use.
ajv.addFormat('uri', (v: string) => URL.canParse(v));
const woValid = ajv.compile(load('wo.schema.json'));
const configValid = ajv.compile(load('config.schema.json'));
const limits = { ...configDefaults().limits, entry: true };

function decode(f: Fixture): unknown {
  const d = decodeDocument(f.text, f.kind);
  if (!d.ok) throw new Error(`${f.where}: ${d.message}`);
  return d.value;
}

/** The daemon's verdict on a WO (any lane: wo_id and type are lane rules, not shape), unknown keys refused unless x-. */
function parserAccepts(value: unknown): boolean {
  const r = validateWo(value, limits);
  if (!r.ok) return false;
  const unknown = Object.keys(value as object).filter((k) => !(KNOWN_KEYS as readonly string[]).includes(k) && !k.startsWith('x-'));
  return unknown.length === 0;
}

describe('JSON Schemas', () => {
  it('every example validates against wo.schema.json and is valid for the parser', () => {
    const examples = exampleFiles();
    expect(examples.length).toBeGreaterThanOrEqual(4);
    for (const f of examples) {
      const value = decode(f);
      expect(woValid(value), `${f.where}: ${ajv.errorsText(woValid.errors)}`).toBe(true);
      const wos = (value as { wos?: unknown[] }).wos ?? [value];
      for (const wo of wos) expect(parserAccepts(wo), f.where).toBe(true);
      if (f.kind === 'yaml') expect(f.text.split('\n')[0]).toBe('# yaml-language-server: $schema=../schemas/wo.schema.json');
    }
  });

  it('the WO fixtures of the other tests: ajv and the parser agree on every one', () => {
    const fixtures = woFixtures().flatMap((f) => {
      const d = decodeDocument(f.text, f.kind);
      // Undecodable text (malformed YAML, alias bombs) never reaches a schema: the parser refuses it first.
      return d.ok && typeof d.value === 'object' && d.value !== null && !Array.isArray(d.value) && !('wos' in d.value) ? [{ ...f, value: d.value }] : [];
    });
    expect(fixtures.length).toBeGreaterThanOrEqual(20);
    const disagree = fixtures.filter((f) => woValid(f.value) !== parserAccepts(f.value)).map((f) => `${f.where}: ajv ${woValid(f.value)} (${ajv.errorsText(woValid.errors)})`);
    expect(disagree).toEqual([]);
    // Both kinds are in the corpus: accepted WOs and refused ones.
    expect(fixtures.filter((f) => parserAccepts(f.value)).length).toBeGreaterThanOrEqual(10);
    expect(fixtures.filter((f) => !parserAccepts(f.value)).length).toBeGreaterThanOrEqual(3);
  });

  it('states the rules the parser checks in code', () => {
    const base = { wo_id: 'WO-1', title: 't', type: 'apply_patch' };
    const file = (extra: object) => ({ ...base, files: [{ path: 'a.txt', ...extra }] });
    const cases: [string, unknown][] = [
      ['mode "0644"', file({ content: 'x', mode: '0644' })],
      ['mode "755"', file({ content: 'x', mode: '755' })],
      ['mode "00644"', file({ content: 'x', mode: '00644' })],
      ['mode 644 (a number)', file({ content: 'x', mode: 644 })],
      ['mode "4755" (setuid)', file({ content: 'x', mode: '4755' })],
      ['mode "0o644"', file({ content: 'x', mode: '0o644' })],
      ['both content and content_base64', file({ content: 'x', content_base64: 'eA==' })],
      ['neither content nor content_base64', file({})],
      ['content_base64 only', file({ content_base64: 'eA==' })],
      ['an exec WO with files', { ...file({ content: 'x' }), type: 'exec' }],
      ['an exec WO with commands', { ...base, type: 'exec', commands: ['true', { argv: ['echo', 'hi'], name: 'hi' }] }],
      ['wo_id ..', { ...base, wo_id: '..' }],
      ['wo_id with a slash', { ...base, wo_id: 'a/b' }],
      ['an x- key', { ...base, 'x-ticket': 'OPS-1' }],
      ['a typo', { ...base, post_verfy: ['true'] }],
      ['no title', { wo_id: 'WO-1', type: 'exec' }],
      ['a bad priority', { ...base, priority: 'P9' }],
      ['expected as a number', { ...base, tests: [{ name: 'n', command: 'echo 3', expected: 3 }] }],
      ['an argv without a program', { ...base, commands: [{ argv: [] }] }],
      ['a path with a NUL', { ...base, delete: ['a\0b'] }],
    ];
    const got = cases.map(([what, v]) => [what, woValid(v)]);
    expect(got).toEqual(cases.map(([what, v]) => [what, parserAccepts(v)]));
    // Sanity: the table holds both verdicts.
    expect(new Set(got.map(([, ok]) => ok))).toEqual(new Set([true, false]));
  });

  it('an ENTRY bundle validates; a bundle with a bad WO does not', () => {
    expect(woValid({ wos: [{ title: 'a', files: [{ path: 'x', content: 'y' }] }] })).toBe(true);
    expect(woValid({ wos: [{ title: 'a', nope: 1 }] })).toBe(false);
    expect(woValid({ wos: [] })).toBe(false);
  });

  it('config fixtures of the other tests: ajv and the zod config schema agree', () => {
    const fixtures = configFixtures();
    expect(fixtures.length).toBeGreaterThanOrEqual(5);
    const extra: Fixture[] = [
      { where: 'typo', text: 'concurency: 2\n', kind: 'yaml' },
      { where: 'bad autonomy', text: 'policy:\n  autonomy: yolo\n', kind: 'yaml' },
      { where: 'port too big', text: 'http:\n  port: 70000\n', kind: 'yaml' },
      { where: 'bad lane', text: 'lanes: ["a/b"]\n', kind: 'yaml' },
      { where: 'full', text: YAML.stringify(configDefaults()), kind: 'yaml' },
      { where: 'guard file', text: 'guardrail:\n  files:\n    - { path: tools/x.sh, executable: true, sha256: ' + 'a'.repeat(64) + ' }\n', kind: 'yaml' },
      { where: 'notify', text: 'notify:\n  command: "notify-send wo"\n', kind: 'yaml' },
    ];
    const all = [...fixtures, ...extra].map((f) => ({ ...f, value: YAML.parse(f.text) ?? {} }));
    const disagree = all.filter((f) => configValid(f.value) !== configSchema.safeParse(f.value).success).map((f) => `${f.where}: ajv ${configValid(f.value)} (${ajv.errorsText(configValid.errors)})`);
    expect(disagree).toEqual([]);
    expect(all.filter((f) => !configValid(f.value)).length).toBeGreaterThanOrEqual(4);
  });
});
