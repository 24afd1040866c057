/** Upgrade-test fixtures: a tree hash (what "nothing changed" means), cheap releases made from this worktree, an archive. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, dropComplete, readRecord, startDaemon, tempDir, waitFor, waitSettled } from '../helpers.js';

/** A hash of everything under `dir`: names, types, modes, sizes, mtimes, bytes and link targets (links never followed). */
export function treeHash(dir: string): string {
  const h = crypto.createHash('sha256');
  const walk = (d: string, rel: string): void => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = path.join(d, name);
      const r = path.join(rel, name);
      const st = fs.lstatSync(p);
      h.update(`${r}\0${st.mode}\0${st.size}\0${st.mtimeMs}\0${st.nlink}\0`);
      if (st.isSymbolicLink()) h.update(`link:${fs.readlinkSync(p)}\0`);
      else if (st.isFile()) h.update(fs.readFileSync(p));
      else if (st.isDirectory()) walk(p, r);
    }
  };
  const st = fs.lstatSync(dir);
  h.update(`.\0${st.mode}\0${st.mtimeMs}\0`);
  walk(dir, '');
  return h.digest('hex');
}

/** A release folder made from this worktree: bin/, dist/, package.json, node_modules linked; `edit` changes its dist. */
export function makeRelease(edit?: (dist: string) => void): { dir: string; bin: string } {
  const dir = tempDir('wo-release-');
  fs.cpSync(path.join(REPO, 'bin'), path.join(dir, 'bin'), { recursive: true });
  fs.cpSync(path.join(REPO, 'dist'), path.join(dir, 'dist'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'package.json'), path.join(dir, 'package.json'));
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
  edit?.(path.join(dir, 'dist'));
  return { dir, bin: path.join(dir, 'bin', 'wo') };
}

/** Replace `from` with `to` in one dist file; throws when `from` is not there (the edit must really change behaviour). */
export function editDist(dist: string, file: string, from: string, to: string): void {
  const p = path.join(dist, file);
  const text = fs.readFileSync(p, 'utf8');
  if (!text.includes(from)) throw new Error(`${file} does not contain ${JSON.stringify(from)}`);
  fs.writeFileSync(p, text.split(from).join(to));
}

/** Run WOs through the real daemon on `root` until each has a terminal record, then stop it: a real bridge/archive/. */
export async function archiveThrough(root: string, wos: { id: string; text: string; lane?: string }[]): Promise<void> {
  const d = await startDaemon(root);
  try {
    for (const w of wos) dropComplete(root, w.lane ?? 'CLC', `${w.id}.yaml`, w.text);
    await waitFor(() => wos.every((w) => ['succeeded', 'failed', 'rejected', 'cancelled'].includes(readRecord(root, w.id)?.status)), { timeout: 90_000, what: 'every WO terminal' }).catch((err: Error) => {
      const seen = wos.map((w) => `${w.id}: ${readRecord(root, w.id)?.status ?? 'no record'}`).join(', ');
      throw new Error(`${err.message} (${seen}; rejected/: ${fs.readdirSync(path.join(root, 'bridge/rejected')).join(' ')})\n${d.output().slice(-2000)}`);
    });
    await waitSettled(root, { timeout: 60_000 });
    await waitFor(() => fs.readdirSync(path.join(root, 'bridge/archive')).filter((n) => !n.startsWith('.')).length >= wos.length, { timeout: 60_000, what: 'every WO archived' });
  } finally {
    await d.stop();
  }
}
