/** The generated docs and schemas cannot drift: the committed files equal what the generator produces now. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generatedFiles } from '../../src/config/reference.js';
import { configSchema } from '../../src/config/schema.js';
import { REPO } from '../helpers.js';

describe('generated files', () => {
  for (const { path: rel, text } of generatedFiles()) {
    it(`${rel} is what \`npm run docs:gen\` writes`, () => {
      const file = path.join(REPO, rel);
      const committed = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '(missing)';
      // On failure: run `npm run docs:gen` and commit the result.
      expect(committed, `${rel} is stale: run npm run docs:gen`).toBe(text);
    });
  }

  it('docs/config.md lists every key of the config schema with its default', () => {
    const md = fs.readFileSync(path.join(REPO, 'docs/config.md'), 'utf8');
    const defaults = configSchema.parse({});
    for (const [section, value] of Object.entries(defaults)) {
      expect(md).toContain(`| \`${section}\` |`);
      if (value && typeof value === 'object' && !Array.isArray(value)) {
        const rows = (prefix: string, obj: Record<string, unknown>): void => {
          for (const [k, v] of Object.entries(obj)) {
            const key = `${prefix}.${k}`;
            const row = md.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
            expect(row, key).toBeDefined();
            // A nested mapping (telemetry.otlp) lists its own keys, each with its default.
            if (v && typeof v === 'object' && !Array.isArray(v)) rows(key, v as Record<string, unknown>);
            else expect(row!, key).toContain(`\`${JSON.stringify(v).replace(/^"(.*)"$/, '$1')}\``);
          }
        };
        rows(section, value as Record<string, unknown>);
      }
    }
  });
});
