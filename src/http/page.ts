/**
 * The dashboard's files: `index.html`, `dashboard.js` and `dashboard.css` live in ./static/ (src/ for the tests,
 * copied to dist/ by the build), are read once and served under a CSP that allows only same-origin scripts,
 * styles and fetches (no inline code at all).
 */
import fsp from 'node:fs/promises';

/** The assets by URL path: file name and content type. */
export const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
};

/** Content-Security-Policy for the page: its own script and style files and same-origin fetches, nothing else. */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const DIR = new URL('./static/', import.meta.url);
const cache = new Map<string, Promise<Buffer>>();

/** Why: the files never change while the daemon runs, so each is read once (a failed read is retried next time). */
export function readAsset(file: string): Promise<Buffer> {
  let got = cache.get(file);
  if (!got) {
    got = fsp.readFile(new URL(file, DIR));
    got.catch(() => cache.delete(file));
    cache.set(file, got);
  }
  return got;
}
