/** The hand-written docs cover what the code has (every route, event, WO field, error code), and link only inside the repo. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROUTES } from '../../src/http/routes.js';
import { EVENTS } from '../../src/state/telemetry.js';
import { KNOWN_KEYS } from '../../src/wo/schema.js';
import { ERROR_CODES } from '../../src/errors.js';
import { REPO } from '../helpers.js';

const doc = (name: string) => fs.readFileSync(path.join(REPO, 'docs', name), 'utf8');

/** A route's path as the docs write it: `/api/wos/:id/approve` for `^/api/wos/(id)/(approve|reject|cancel)$`. */
function documentedPaths(pattern: RegExp): string[] {
  const src = pattern.source.replace(/^\^/, '').replace(/\$$/, '').replace(/\\\//g, '/').replace(/\\\./g, '.');
  const withId = src.replace('([A-Za-z0-9._-]{1,128})', ':id');
  const alt = /\(([a-z|]+)\)/.exec(withId);
  return alt ? alt[1]!.split('|').map((a) => withId.replace(alt[0], a)) : [withId];
}

describe('docs cover the code', () => {
  it('docs/http.md has a row for every route and method', () => {
    const md = doc('http.md');
    for (const r of ROUTES) {
      for (const p of documentedPaths(r.pattern)) {
        for (const m of Object.keys(r.methods)) {
          expect(md, `${m} ${p}`).toMatch(new RegExp(`\\| ${m} \\| \`${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\` \\| ${r.auth ? 'token' : 'open'}`));
        }
      }
    }
  });

  it('docs/telemetry.md has a row for every event', () => {
    const md = doc('telemetry.md');
    for (const e of EVENTS) expect(md, e).toContain(`| \`${e}\` |`);
  });

  it('docs/wo-format.md has a row for every WO field', () => {
    const md = doc('wo-format.md');
    for (const k of KNOWN_KEYS) expect(md, k).toContain(`| \`${k}\` |`);
  });

  it('docs/exit-codes.md has the exit-code table and every WO error code', () => {
    const md = doc('exit-codes.md');
    for (const c of ['0', '1', '2', '3', '4']) expect(md).toContain(`| \`${c}\` |`);
    for (const c of ERROR_CODES) expect(md, c).toContain(`| \`${c}\` |`);
  });

  it('every relative link in docs/ points at a file in the repo, and none leaves it', () => {
    const bad: string[] = [];
    for (const name of fs.readdirSync(path.join(REPO, 'docs')).filter((n) => n.endsWith('.md'))) {
      for (const m of doc(name).matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target) || target.startsWith('#')) continue;
        const file = path.resolve(REPO, 'docs', target.split('#')[0]!);
        if (!file.startsWith(REPO + path.sep) || !fs.existsSync(file)) bad.push(`${name}: ${target}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
