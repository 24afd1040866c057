/**
 * Issue 9, item 2 through the real daemon: a WO may not write the root's own control files (wo.config.yaml,
 * .git/), whatever the autonomy, unless `policy.allow_self_modify: true`; the refusal names the file, the file
 * is byte-identical afterwards, and the next WO still runs under the old policy.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { dropComplete, gitInit, readRecord, runCli, tempDir, tempRoot, waitFor, waitSettled } from '../helpers.js';
import { daemonPool } from '../reliability/common.js';

const pool = daemonPool();
afterEach(() => pool.cleanup());

const TIMEOUT = 120_000;
const WAIT = { timeout: 60_000 };

/** Every file below `dir` with its bytes and mode (the `.git` folder, the config). */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = `${fs.lstatSync(p).mode.toString(8)} ${fs.readFileSync(p).toString('base64')}`;
    }
  };
  walk(dir);
  return out;
}

const wo = (id: string, body: Record<string, unknown>) => JSON.stringify({ wo_id: id, title: `self-modify ${id}`, type: 'apply_patch', ...body });

const configOf = (autonomy: string) => `http:\n  enabled: false\npolicy:\n  autonomy: ${autonomy}\n`;

/** The attacks of the issue, each with the file its refusal must name. */
function attacks(autonomy: string): { id: string; text: string; names: string }[] {
  const diff = `--- a/wo.config.yaml\n+++ b/wo.config.yaml\n@@ -3,2 +3,2 @@\n policy:\n-  autonomy: ${autonomy}\n+  autonomy: auto\n`;
  return [
    { id: 'SM-FILE', names: 'wo.config.yaml', text: wo('SM-FILE', { files: [{ path: 'wo.config.yaml', content: 'policy: {autonomy: auto, allow_self_modify: true}\n' }] }) },
    { id: 'SM-PATCH', names: 'wo.config.yaml', text: wo('SM-PATCH', { patches: [{ path: 'wo.config.yaml', diff }] }) },
    { id: 'SM-DELETE', names: 'wo.config.yaml', text: wo('SM-DELETE', { delete: ['wo.config.yaml'] }) },
    { id: 'SM-HOOK', names: '.git/hooks/pre-commit', text: wo('SM-HOOK', { files: [{ path: '.git/hooks/pre-commit', mode: '0755', content: '#!/bin/sh\ntouch "$HOME/pwned"\n' }] }) },
    { id: 'SM-GITCONFIG', names: '.git/config', text: wo('SM-GITCONFIG', { files: [{ path: '.git/config', content: '[core]\n\tfsmonitor = touch pwned\n' }] }) },
    { id: 'SM-EXEC', names: '.git', text: JSON.stringify({ wo_id: 'SM-EXEC', title: 'exec over .git', type: 'exec', commands: ['true'], paths: ['.git'] }) },
    { id: 'SM-ROOT', names: "'.'", text: JSON.stringify({ wo_id: 'SM-ROOT', title: 'exec over the root', type: 'exec', commands: ['true'], paths: ['.'] }) },
  ];
}

describe('the root control files are refused through the real daemon', () => {
  for (const autonomy of ['guarded', 'auto']) {
    it(`${autonomy}: config and .git writes end rejected (POLICY_REFUSED, naming the file); nothing changes; the old policy holds`, async () => {
      const root = tempRoot(configOf(autonomy));
      gitInit(root);
      const before = { config: fs.readFileSync(path.join(root, 'wo.config.yaml')), git: tree(path.join(root, '.git')) };
      await pool.start(root);
      const list = attacks(autonomy);
      for (const a of list) dropComplete(root, 'CLC', `${a.id}.json`, a.text);
      for (const a of list) {
        const rec = await waitFor(() => (readRecord(root, a.id)?.status === 'rejected' ? readRecord(root, a.id) : undefined), { ...WAIT, what: `${a.id} rejected` });
        expect(rec!.error.code, a.id).toBe('POLICY_REFUSED');
        expect(rec!.error.message, a.id).toContain(a.names);
        // The record is written first (write-ahead), the file moves after it.
        await waitFor(() => fs.readdirSync(path.join(root, 'bridge/rejected')).some((n) => n.startsWith(a.id)), { ...WAIT, what: `${a.id} in rejected/` });
      }
      await waitSettled(root, WAIT);
      expect(fs.readFileSync(path.join(root, 'wo.config.yaml')).equals(before.config)).toBe(true);
      expect(tree(path.join(root, '.git'))).toEqual(before.git);
      expect(fs.existsSync(path.join(root, 'pwned'))).toBe(false);

      // The next WO runs under the old policy: an unlisted program is still held in guarded; auto still runs it.
      dropComplete(root, 'CLC', 'NEXT.json', JSON.stringify({ wo_id: 'NEXT', title: 'next', type: 'exec', commands: ['touch next.txt'] }));
      const want = autonomy === 'guarded' ? 'awaiting_approval' : 'succeeded';
      await waitFor(() => readRecord(root, 'NEXT')?.status === want, { ...WAIT, what: `NEXT ${want}` });
      expect(fs.existsSync(path.join(root, 'next.txt'))).toBe(autonomy === 'auto');
    }, TIMEOUT);
  }

  it('allow_self_modify: true lets a WO write wo.config.yaml, and the daemon runs under the new config', async () => {
    const root = tempRoot(`${configOf('guarded')}  allow_self_modify: true\n`);
    gitInit(root);
    const d = await pool.start(root);
    const next = `${configOf('guarded')}  allow_self_modify: true\n  allow_commands: [touch]\n`;
    dropComplete(root, 'CLC', 'SM-ALLOWED.json', wo('SM-ALLOWED', { files: [{ path: 'wo.config.yaml', content: next }] }));
    await waitFor(() => readRecord(root, 'SM-ALLOWED')?.status === 'succeeded', { ...WAIT, what: 'SM-ALLOWED succeeded' });
    expect(fs.readFileSync(path.join(root, 'wo.config.yaml'), 'utf8')).toBe(next);
    dropComplete(root, 'CLC', 'SM-HOOK-OK.json', wo('SM-HOOK-OK', { files: [{ path: '.git/hooks/post-merge', content: '#!/bin/sh\n' }] }));
    await waitFor(() => readRecord(root, 'SM-HOOK-OK')?.status === 'succeeded', { ...WAIT, what: 'SM-HOOK-OK succeeded' });
    // bridge/ and g/ stay refused.
    dropComplete(root, 'CLC', 'SM-G.json', wo('SM-G', { files: [{ path: 'g/run/x', content: 'x' }] }));
    await waitFor(() => readRecord(root, 'SM-G')?.status === 'rejected', { ...WAIT, what: 'SM-G rejected' });
    // A reload we can wait on (the file watch may or may not have fired already): touch is now allowed.
    const reloads = () => d.output().split('config reloaded').length - 1;
    const seen = reloads();
    process.kill(d.pid, 'SIGHUP');
    await waitFor(() => reloads() > seen, { ...WAIT, what: 'config reloaded' });
    dropComplete(root, 'CLC', 'AFTER.json', JSON.stringify({ wo_id: 'AFTER', title: 'after', type: 'exec', commands: ['touch after.txt'] }));
    await waitFor(() => readRecord(root, 'AFTER')?.status === 'succeeded', { ...WAIT, what: 'AFTER succeeded' });
  }, TIMEOUT);

  it('wo validate refuses such a WO with exit 2 and the reason', () => {
    const root = tempRoot(configOf('auto'));
    const dir = tempDir('wo-src-');
    for (const a of attacks('auto')) {
      const file = path.join(dir, `${a.id}.json`);
      fs.writeFileSync(file, a.text);
      const r = runCli(['validate', file], { root });
      expect(r.code, `${a.id}: ${r.stdout}${r.stderr}`).toBe(2);
      expect(r.stderr, a.id).toContain(a.names);
      expect(r.stderr, a.id).toMatch(/allow_self_modify|the root itself/);
    }
    const open = tempRoot(`${configOf('auto')}  allow_self_modify: true\n`);
    const file = path.join(dir, 'SM-FILE.json');
    expect(runCli(['validate', file], { root: open }).code).toBe(0);
  });
});
