// Write the generated docs and schemas (docs/config.md, schemas/*.json) from the built zod schemas. Run: npm run docs:gen
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generatedFiles } from '../dist/config/reference.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
for (const { path: rel, text } of generatedFiles()) {
  const file = path.join(repo, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null;
  if (old === text) continue;
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
  process.stdout.write(`wrote ${rel}\n`);
}
