/**
 * Hostile (issue 14): only wo's own folders under g/ are internals. Through the real daemon in `auto`: wo's
 * folders reached by case variants, `./`, `..` (resolved in the text, then judged), an exec `paths` holding them, a user symlink
 * g/reports/x → ../followup/state and a symlinked g/tools → ../run (refused: links are never followed in a
 * target) all end rejected or failed with nothing written inside wo's folders; a user's g/reports/deploy.md and
 * g/tools/x.zsh are written, and a command writing g/reports/ runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempRoot } from '../helpers.js';
import { CONFIG, daemonPool, dropAtomic, settledRecord, T } from './common.js';

const pool = daemonPool();
afterEach(() => pool.cleanup());

const settled = (root: string, id: string) => settledRecord(root, id);

const write = (id: string, p: string) => JSON.stringify({ wo_id: id, title: id, type: 'apply_patch', files: [{ path: p, content: `${id}\n` }] });

describe("reliability: wo's folders under g/ and the user's", () => {
  it('refuses every spelling and link into wo folders; writes the user files next to them', async () => {
    const root = tempRoot(CONFIG);
    fs.mkdirSync(path.join(root, 'g/followup/state'), { recursive: true });
    fs.mkdirSync(path.join(root, 'g/reports'), { recursive: true });
    fs.mkdirSync(path.join(root, 'g/run'), { recursive: true });
    fs.symlinkSync('../followup/state', path.join(root, 'g/reports/x'));
    fs.symlinkSync('run', path.join(root, 'g/tools'));
    await pool.start(root);
    const inbox = path.join(root, 'bridge/inbox/CLC');

    const refused: [string, string, RegExp][] = [
      ['R-LINK-STATE', 'g/reports/x/R-VICTIM.json', /symbolic link/],
      ['R-LINK-RUN', 'g/tools/token', /symbolic link/],
      ['R-RUN-CASE', 'g/Run/evil', /daemon's internals/],
      ['R-RUN-DOT', 'g/./run/evil', /daemon's internals/],
      ['R-RUN-DOTDOT', 'g/reports/../run/evil', /daemon's internals/],
      ['R-STATE', 'G/FollowUp/State/R-VICTIM.json', /daemon's internals/],
      ['R-INDEX', 'g/followup/index/x.sqlite', /daemon's internals/],
      ['R-UPGRADE', 'g/reports/upgrade/x.json', /daemon's internals/],
      ['R-WOREPORT', 'g/reports/wo/x.json', /daemon's internals/],
      ['R-LOGS', 'g/logs/daemon.log', /daemon's internals/],
      ['R-IGNORABLE', 'g/r\u200cun/evil', /daemon's internals/],
    ];
    for (const [id, p] of refused) dropAtomic(inbox, `${id}.json`, write(id, p));
    dropAtomic(inbox, 'R-EXEC-G.json', JSON.stringify({ wo_id: 'R-EXEC-G', title: 't', type: 'exec', commands: ['true'], paths: ['g'] }));
    dropAtomic(inbox, 'R-EXEC-REPORTS.json', JSON.stringify({ wo_id: 'R-EXEC-REPORTS', title: 't', type: 'exec', commands: ['true'], paths: ['g/reports'] }));
    for (const [id, , why] of [...refused, ['R-EXEC-G', '', /daemon's internals/] as const, ['R-EXEC-REPORTS', '', /daemon's internals/] as const]) {
      const rec = await settled(root, id);
      expect(['rejected', 'failed', 'rolled_back'], `${id}: ${JSON.stringify(rec.error)}`).toContain(rec.status);
      expect(rec.error?.code, id).toBe('POLICY_REFUSED');
      expect(rec.error.message, id).toMatch(why);
    }
    expect(fs.existsSync(path.join(root, 'g/followup/state/R-VICTIM.json'))).toBe(false);
    expect(fs.readdirSync(path.join(root, 'g/run')).filter((n) => /evil|token/.test(n) && n !== 'token')).toEqual([]);
    expect(fs.lstatSync(path.join(root, 'g/reports/x')).isSymbolicLink()).toBe(true);

    // The user's files under g/ are ordinary targets.
    dropAtomic(inbox, 'U-DEPLOY.json', write('U-DEPLOY', 'g/reports/deploy.md'));
    dropAtomic(inbox, 'U-TOOL.json', JSON.stringify({ wo_id: 'U-TOOL', title: 't', type: 'apply_patch', files: [{ path: 'g/bin/x.zsh', mode: '0755', content: '#!/bin/sh\necho ok\n' }] }));
    dropAtomic(inbox, 'U-CMD.json', JSON.stringify({ wo_id: 'U-CMD', title: 't', type: 'exec', commands: ['echo made > g/reports/by_cmd.md'] }));
    for (const id of ['U-DEPLOY', 'U-TOOL', 'U-CMD']) expect((await settled(root, id)).status, id).toBe('succeeded');
    expect(fs.readFileSync(path.join(root, 'g/reports/deploy.md'), 'utf8')).toBe('U-DEPLOY\n');
    expect(fs.statSync(path.join(root, 'g/bin/x.zsh')).mode & 0o777).toBe(0o755);
    expect(fs.readFileSync(path.join(root, 'g/reports/by_cmd.md'), 'utf8')).toBe('made\n');
  }, T(120_000, 600_000));
});
