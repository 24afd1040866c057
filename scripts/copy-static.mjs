// Copies the dashboard's static files (src/http/static/*.{html,js,css}) next to the compiled server in dist/http/static/.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const from = path.join(repo, 'src/http/static');
const to = path.join(repo, 'dist/http/static');
fs.mkdirSync(to, { recursive: true });
const files = fs.readdirSync(from).filter((f) => /\.(html|js|css)$/.test(f));
for (const f of files) fs.copyFileSync(path.join(from, f), path.join(to, f));
for (const f of fs.readdirSync(to)) if (!files.includes(f)) fs.rmSync(path.join(to, f), { force: true });
